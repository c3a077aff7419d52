import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { Bundle } from '@sigstore/bundle';
import type { Signer, TrustMaterial } from '@sigstore/verify';
import { isObject, str, type JsonObject } from '../util/guards.ts';
import { normalizeDigest } from '../sources/http/index-parse.ts';
import { COSIGN_SIMPLESIGNING } from '../sources/oci/referrers.ts';
import type { SignatureStatus, SignatureType } from '../model/report.ts';
import type { ArtifactReader, OidcIdentity, Referrer } from '../model/repository.ts';

/**
 * cosign signatures of an OCI chart manifest, as cosign writes them:
 * - `cosign sign --key`: tag `sha256-<hex>.sig`, a simple-signing payload layer naming the manifest
 *   digest, the signature in an annotation, checked against the repository's PEM keys;
 * - `cosign sign` keyless, old form: the same tag and payload plus the Fulcio certificate, its chain and
 *   the Rekor entry (a signed entry timestamp) in annotations;
 * - `cosign sign` keyless, bundle form (cosign 3's default): a Sigstore bundle (DSSE envelope of an
 *   in-toto statement whose subject is the manifest digest) attached as an OCI 1.1 referrer.
 * Keyless signatures are verified with @sigstore/verify: certificate chain to a trusted Fulcio CA,
 * transparency-log entry, the signature time inside the certificate's validity (from the log or an RFC
 * 3161 timestamp), then the repository's identity policy. Notation signatures are only detected: no
 * maintained JavaScript verifier exists (the reference implementation, notation-go, is Go only).
 */

const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
const CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate';
const CHAIN_ANNOTATION = 'dev.sigstore.cosign/chain';
const REKOR_BUNDLE_ANNOTATION = 'dev.sigstore.cosign/bundle';
const RFC3161_ANNOTATION = 'dev.sigstore.cosign/rfc3161timestamp';
export const SIGSTORE_BUNDLE_TYPES = new Set(['application/vnd.dev.sigstore.bundle.v0.3+json', 'application/vnd.dev.sigstore.bundle+json']);
const NOTATION_TYPE = 'application/vnd.cncf.notary.signature';
/** Signature layers read per `.sig` manifest and signature referrers checked per chart: bounded work per reconcile. */
const MAX_LAYERS = 10;
const MAX_CHECKED = 10;
const MAX_PAYLOAD_BYTES = 64 * 1024;
const MAX_BUNDLE_BYTES = 1024 * 1024;

// @sigstore/* are loaded on the first keyless check (hundreds of ms of module loading): key-only and
// unsigned repositories, and every CLI run without keyless signatures, never pay for them.
let sigstore: Promise<[typeof import('@sigstore/bundle'), typeof import('@sigstore/verify')]> | undefined;
const libraries = () => (sigstore ??= Promise.all([import('@sigstore/bundle'), import('@sigstore/verify')]));

/** PEM public keys → key objects; a PEM that is not a public key is an error naming its position only. */
export function cosignKeys(pems: readonly string[]): KeyObject[] {
  return pems.map((pem, i) => {
    try {
      return createPublicKey(pem);
    } catch {
      throw new Error(`cosign public key ${i + 1} is not a PEM public key`);
    }
  });
}

/** The simple-signing payload is cosign's and names `subject` as the signed manifest. */
export function payloadNames(payload: Buffer, subject: string): boolean {
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    return false;
  }
  const critical = isObject(doc) && isObject(doc['critical']) ? doc['critical'] : undefined;
  const image = critical && isObject(critical['image']) ? critical['image'] : undefined;
  return !!critical && str(critical['type']) === 'cosign container image signature' && normalizeDigest(image?.['docker-manifest-digest']) === subject;
}

/**
 * cosign's simple signing (`cosign sign --key`): the payload must name `subject` as the signed manifest
 * and the signature (base64, over the payload bytes) must verify with one of `keys` (ECDSA/RSA with
 * SHA-256, Ed25519).
 */
export function verifySimpleSigning(payload: Buffer, signatureB64: string, subject: string, keys: readonly KeyObject[]): boolean {
  if (!payloadNames(payload, subject)) return false;
  const sig = Buffer.from(signatureB64, 'base64');
  if (sig.length === 0) return false;
  return keys.some((key) => {
    try {
      return verify(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', payload, key, sig);
    } catch {
      return false;
    }
  });
}

/** The identity policy of one repository, compiled once (a bad regular expression is a config error). */
export interface IdentityMatcher {
  matches(issuer: string | undefined, subject: string | undefined): boolean;
  /** For messages: what was required. */
  describe(): string;
}

export function identityMatcher(identities: readonly OidcIdentity[]): IdentityMatcher {
  const compiled = identities.map((id, i) => {
    const re = (v: string | undefined, field: string): RegExp | undefined => {
      if (v === undefined) return undefined;
      try {
        return new RegExp(v, 'u');
      } catch {
        throw new Error(`keyless identity ${i + 1}: ${field} is not a regular expression`);
      }
    };
    if ((id.issuer === undefined) === (id.issuerRegExp === undefined)) throw new Error(`keyless identity ${i + 1}: give issuer or issuerRegExp`);
    if ((id.subject === undefined) === (id.subjectRegExp === undefined)) throw new Error(`keyless identity ${i + 1}: give subject or subjectRegExp`);
    return { ...id, issuerRe: re(id.issuerRegExp, 'issuerRegExp'), subjectRe: re(id.subjectRegExp, 'subjectRegExp') };
  });
  const one = (want: string | undefined, re: RegExp | undefined, got: string | undefined): boolean => got !== undefined && (re ? re.test(got) : want === got);
  return {
    matches: (issuer, subject) => compiled.some((c) => one(c.issuer, c.issuerRe, issuer) && one(c.subject, c.subjectRe, subject)),
    describe: () =>
      compiled
        .map((c) => `issuer ${c.issuer !== undefined ? JSON.stringify(c.issuer) : `~/${c.issuerRegExp ?? ''}/`} subject ${c.subject !== undefined ? JSON.stringify(c.subject) : `~/${c.subjectRegExp ?? ''}/`}`)
        .join(' or '),
  };
}

export interface OciSignaturePolicy {
  keys: readonly KeyObject[];
  keyless?: { identities: IdentityMatcher; trust: () => Promise<TrustMaterial> } | undefined;
  required: boolean;
}

interface Finding {
  type: SignatureType;
  verified: boolean;
  reason: string;
  message: string;
  signer?: string | undefined;
  /** The referrer it came from, to mark it verified. */
  digest: string;
}

function pemBlocks(text: string): Buffer[] {
  const out: Buffer[] = [];
  const re = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64'));
  return out;
}

/**
 * The old keyless form in Sigstore bundle v0.1 shape (what cosign itself converts it to before verifying):
 * message signature over the payload, certificate chain, and the Rekor entry with its signed entry
 * timestamp (an inclusion promise; v0.1 bundles need no inclusion proof).
 */
export async function bundleFromSigAnnotations(payload: Buffer, annotations: Record<string, unknown>): Promise<Bundle> {
  const signature = str(annotations[SIGNATURE_ANNOTATION]);
  const leaf = pemBlocks(str(annotations[CERTIFICATE_ANNOTATION]) ?? '');
  const chain = pemBlocks(str(annotations[CHAIN_ANNOTATION]) ?? '');
  if (!signature || leaf.length !== 1) throw new Error('no signature or no single certificate');
  let rekor: unknown;
  try {
    rekor = JSON.parse(str(annotations[REKOR_BUNDLE_ANNOTATION]) ?? 'null');
  } catch {
    throw new Error('the Rekor bundle annotation is not JSON');
  }
  const tlogEntries: unknown[] = [];
  if (isObject(rekor)) {
    const p = isObject(rekor['Payload']) ? rekor['Payload'] : {};
    const body = str(p['body']) ?? '';
    let kind: JsonObject = {};
    try {
      const parsed: unknown = JSON.parse(Buffer.from(body, 'base64').toString('utf8'));
      if (isObject(parsed)) kind = parsed;
    } catch {
      throw new Error('the Rekor entry body is not JSON');
    }
    tlogEntries.push({
      logIndex: String(p['logIndex'] ?? '0'),
      logId: { keyId: Buffer.from(str(p['logID']) ?? '', 'hex').toString('base64') },
      kindVersion: { kind: str(kind['kind']) ?? '', version: str(kind['apiVersion']) ?? '' },
      integratedTime: String(p['integratedTime'] ?? '0'),
      inclusionPromise: { signedEntryTimestamp: str(rekor['SignedEntryTimestamp']) ?? '' },
      canonicalizedBody: body,
    });
  }
  let rfc3161: unknown;
  try {
    rfc3161 = JSON.parse(str(annotations[RFC3161_ANNOTATION]) ?? 'null');
  } catch {
    throw new Error('the RFC 3161 timestamp annotation is not JSON');
  }
  const timestamp = isObject(rfc3161) ? str(rfc3161['SignedRFC3161Timestamp']) : undefined;
  const [{ bundleFromJSON }] = await libraries();
  return bundleFromJSON({
    mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
    verificationMaterial: {
      x509CertificateChain: { certificates: [...leaf, ...chain].map((c) => ({ rawBytes: c.toString('base64') })) },
      tlogEntries,
      timestampVerificationData: { rfc3161Timestamps: timestamp ? [{ signedTimestamp: timestamp }] : [] },
    },
    messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(payload).digest('base64') }, signature },
  });
}

/** The statement in a DSSE bundle names `subject` (sha256) among its subjects. */
function statementNames(bundle: Bundle, subject: string): boolean {
  if (bundle.content.$case !== 'dsseEnvelope') return false;
  let st: unknown;
  try {
    st = JSON.parse(Buffer.from(bundle.content.dsseEnvelope.payload).toString('utf8'));
  } catch {
    return false;
  }
  const hex = subject.replace(/^sha256:/, '');
  return isObject(st) && Array.isArray(st['subject']) && st['subject'].some((s) => isObject(s) && isObject(s['digest']) && s['digest']['sha256'] === hex);
}

/** A @sigstore/verify failure → a stable reason, from its VerificationError code (checked by shape: the library loads lazily). */
export function keylessReason(err: unknown): string {
  const code = err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
  if (!(err instanceof Error) || code === undefined) return 'Malformed';
  if (code === 'UNTRUSTED_SIGNER_ERROR') return 'IdentityMismatch';
  const detail = `${err.message} ${causeOf(err)}`;
  switch (code) {
    case 'CERTIFICATE_ERROR':
      // The chain verifier says why in its cause: no path to a trusted CA, or a certificate not valid
      // at the signing time (from the log or a timestamp authority); SCT failures are certificate ones.
      return /no (trusted|valid) certificate path|issuer/i.test(detail) ? 'UntrustedRoot' : 'CertificateInvalid';
    case 'TLOG_MISSING_INCLUSION_ERROR':
      return 'TlogMissing';
    case 'TLOG_ERROR':
    case 'TLOG_INCLUSION_PROOF_ERROR':
    case 'TLOG_INCLUSION_PROMISE_ERROR':
      return /expected \d+ tlog entries|missing|threshold/i.test(detail) ? 'TlogMissing' : 'TlogInvalid';
    case 'TIMESTAMP_ERROR':
      return 'TimestampInvalid';
    case 'SIGNATURE_ERROR':
    case 'TLOG_BODY_ERROR':
      return 'BadSignature';
    default:
      return 'Malformed';
  }
}

function causeOf(err: Error): string {
  const cause: unknown = err.cause;
  return cause instanceof Error ? cause.message : '';
}

function errText(err: unknown): string {
  const cause = err instanceof Error ? causeOf(err) : '';
  const m = (err instanceof Error ? err.message : String(err)) + (cause ? ` (${cause})` : '');
  return m.length > 300 ? `${m.slice(0, 299)}…` : m;
}

/** Verifies one bundle (artifact: the signed bytes of a message signature) and the identity policy. */
async function verifyKeyless(bundle: Bundle, artifact: Buffer | undefined, trust: TrustMaterial, identities: IdentityMatcher, digest: string, form: string): Promise<Finding> {
  const [, { toSignedEntity, Verifier }] = await libraries();
  let signer: Signer;
  try {
    // One tlog entry and one timestamp (the entry's integrated time or an RFC 3161 one) like cosign;
    // SCTs are required when the trusted root names CT logs.
    signer = new Verifier(trust, { tlogThreshold: 1, ctlogThreshold: trust.ctlogs.length > 0 ? 1 : 0, timestampThreshold: 1 }).verify(toSignedEntity(bundle, artifact));
  } catch (err) {
    const reason = keylessReason(err);
    return { type: 'cosign-keyless', verified: false, reason, message: `keyless signature (${form}) not verified: ${errText(err)}`, digest };
  }
  const subject = signer.identity?.subjectAlternativeName;
  const issuer = signer.identity?.extensions?.issuer;
  const who = `${subject ?? '?'} (issuer ${issuer ?? '?'})`;
  if (!identities.matches(issuer, subject)) {
    return { type: 'cosign-keyless', verified: false, reason: 'IdentityMismatch', signer: who, message: `keyless signature (${form}) by ${who}, which is not an allowed identity (${identities.describe()})`, digest };
  }
  return { type: 'cosign-keyless', verified: true, reason: 'Verified', signer: who, message: `keyless signature (${form}) by ${who}, certificate from a trusted Fulcio CA, logged in Rekor`, digest };
}

async function checkSigTag(reader: ArtifactReader, subject: string, r: Referrer, policy: OciSignaturePolicy, signal?: AbortSignal): Promise<Finding[]> {
  const m = await reader.manifest(r.digest, signal);
  if (!m) return [];
  const layers = Array.isArray(m.body['layers']) ? m.body['layers'].filter(isObject) : [];
  const out: Finding[] = [];
  for (const l of layers.slice(0, MAX_LAYERS)) {
    const digest = normalizeDigest(l['digest']);
    const annotations = isObject(l['annotations']) ? l['annotations'] : {};
    const signature = str(annotations[SIGNATURE_ANNOTATION]);
    if (str(l['mediaType']) !== COSIGN_SIMPLESIGNING || !digest || !signature) continue;
    const size = typeof l['size'] === 'number' ? l['size'] : undefined;
    const payload = await reader.blob({ digest, size }, MAX_PAYLOAD_BYTES, `cosign payload of ${subject}`, signal);
    const keyless = str(annotations[CERTIFICATE_ANNOTATION]) !== undefined;
    if (!payloadNames(payload, subject)) {
      out.push({ type: keyless ? 'cosign-keyless' : 'cosign', verified: false, reason: 'DigestMismatch', message: 'the cosign payload names another manifest than this chart', digest: r.digest });
      continue;
    }
    if (keyless) {
      if (!policy.keyless) {
        out.push({ type: 'cosign-keyless', verified: false, reason: 'NotVerifiable', message: 'keyless cosign signature present; the repository names no keyless identities to verify it against', digest: r.digest });
        continue;
      }
      let bundle: Bundle;
      try {
        bundle = await bundleFromSigAnnotations(payload, annotations);
      } catch (err) {
        out.push({ type: 'cosign-keyless', verified: false, reason: 'Malformed', message: `keyless cosign signature: ${errText(err)}`, digest: r.digest });
        continue;
      }
      out.push(await verifyKeyless(bundle, payload, await policy.keyless.trust(), policy.keyless.identities, r.digest, '.sig tag'));
    } else if (policy.keys.length) {
      const ok = verifySimpleSigning(payload, signature, subject, policy.keys);
      out.push({ type: 'cosign', verified: ok, reason: ok ? 'Verified' : 'UnknownKey', message: ok ? 'cosign signature by a configured public key' : 'cosign signature does not verify with any configured public key', digest: r.digest });
    } else {
      out.push({ type: 'cosign', verified: false, reason: 'NotVerifiable', message: 'cosign key signature present; the repository names no cosign public keys', digest: r.digest });
    }
  }
  return out;
}

async function checkBundleReferrer(reader: ArtifactReader, subject: string, r: Referrer, policy: OciSignaturePolicy, signal?: AbortSignal): Promise<Finding[]> {
  if (!policy.keyless) return [{ type: 'cosign-keyless', verified: false, reason: 'NotVerifiable', message: 'Sigstore bundle present; the repository names no keyless identities to verify it against', digest: r.digest }];
  const m = await reader.manifest(r.digest, signal);
  if (!m) return [];
  const layers = Array.isArray(m.body['layers']) ? m.body['layers'].filter(isObject) : [];
  const layer = layers.find((l) => SIGSTORE_BUNDLE_TYPES.has((str(l['mediaType']) ?? '').split(';')[0] ?? '')) ?? layers[0];
  const digest = normalizeDigest(layer?.['digest']);
  if (!layer || !digest) return [{ type: 'cosign-keyless', verified: false, reason: 'Malformed', message: 'Sigstore bundle referrer without a bundle layer', digest: r.digest }];
  const size = typeof layer['size'] === 'number' ? layer['size'] : undefined;
  const bytes = await reader.blob({ digest, size }, MAX_BUNDLE_BYTES, `Sigstore bundle of ${subject}`, signal);
  const [{ bundleFromJSON }] = await libraries();
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(JSON.parse(bytes.toString('utf8')));
  } catch (err) {
    return [{ type: 'cosign-keyless', verified: false, reason: 'Malformed', message: `Sigstore bundle: ${errText(err)}`, digest: r.digest }];
  }
  if (bundle.content.$case !== 'dsseEnvelope') {
    return [{ type: 'cosign-keyless', verified: false, reason: 'Malformed', message: 'Sigstore bundle with a message signature: only DSSE (in-toto statement) bundles, as cosign writes, are checked', digest: r.digest }];
  }
  if (!statementNames(bundle, subject)) {
    return [{ type: 'cosign-keyless', verified: false, reason: 'DigestMismatch', message: 'the Sigstore bundle\'s statement names another manifest than this chart', digest: r.digest }];
  }
  return [await verifyKeyless(bundle, undefined, await policy.keyless.trust(), policy.keyless.identities, r.digest, 'bundle referrer')];
}

const RANK: Record<string, number> = { 'cosign-keyless': 0, cosign: 1, notation: 2 };

/**
 * The signature status of an OCI chart manifest from its referrers: a verified signature wins (keyless
 * first); otherwise the most telling failure. Marks each checked referrer `verified`. undefined when the
 * manifest has no signature and none is required or configured. Registry failures while reading a
 * signature are reported as not verified (reason Unreachable), never thrown.
 */
export async function ociSignatureOf(reader: ArtifactReader, subject: string, referrers: Referrer[], policy: OciSignaturePolicy, signal?: AbortSignal): Promise<SignatureStatus | undefined> {
  const findings: Finding[] = [];
  for (const r of referrers.filter((x) => x.kind === 'signature').slice(0, MAX_CHECKED)) {
    const type = r.artifactType.toLowerCase().split(';')[0] ?? '';
    try {
      if (r.source === 'cosign-tag') findings.push(...(await checkSigTag(reader, subject, r, policy, signal)));
      else if (SIGSTORE_BUNDLE_TYPES.has(type)) findings.push(...(await checkBundleReferrer(reader, subject, r, policy, signal)));
      else if (type === NOTATION_TYPE) findings.push({ type: 'notation', verified: false, reason: 'NotVerifiable', message: 'Notation signature present; chartorigin detects Notation signatures but cannot verify them', digest: r.digest });
    } catch (err) {
      if (signal?.aborted) throw err;
      findings.push({ type: SIGSTORE_BUNDLE_TYPES.has(type) ? 'cosign-keyless' : 'cosign', verified: false, reason: 'Unreachable', message: `signature ${r.digest} not read: ${errText(err)}`, digest: r.digest });
    }
  }
  for (const f of findings) {
    const r = referrers.find((x) => x.digest === f.digest);
    if (r && f.reason !== 'NotVerifiable') r.verified = (r.verified ?? false) || f.verified;
  }
  const configured = policy.keys.length > 0 || policy.keyless !== undefined;
  if (!findings.length) {
    if (!configured && !policy.required) return undefined;
    return { type: policy.keyless ? 'cosign-keyless' : 'cosign', verified: false, reason: 'Unsigned', message: 'no cosign signature refers to the chart manifest', required: policy.required };
  }
  const best =
    findings.filter((f) => f.verified).sort((a, b) => (RANK[a.type] ?? 9) - (RANK[b.type] ?? 9))[0] ??
    findings.filter((f) => f.reason !== 'NotVerifiable').sort((a, b) => (RANK[a.type] ?? 9) - (RANK[b.type] ?? 9))[0] ??
    findings[0];
  if (!best) return undefined;
  return { type: best.type, verified: best.verified, reason: best.reason, signer: best.signer, message: best.message, required: policy.required };
}
