/**
 * A private Sigstore on loopback for keyless signing tests: @sigstore/mock's Fulcio (CA issuing code-signing
 * certificates with the OIDC issuer extension, SCTs from its CT log), Rekor (signed entry timestamps and
 * inclusion proofs) and a timestamp authority, served over real HTTP by node:http, and signed with
 * @sigstore/sign exactly as cosign's JavaScript sibling signs. Its `trusted_root.json` is what an
 * air-gapped cluster would put in a Secret.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bundleToJSON, type Bundle } from '@sigstore/bundle';
import { fulcioHandler, initializeCA, initializeCTLog } from '@sigstore/mock/dist/fulcio/index.js';
import { initializeTLog, rekorHandler } from '@sigstore/mock/dist/rekor/index.js';
import { initializeTSA, tsaHandler } from '@sigstore/mock/dist/timestamp/index.js';
import { DSSEBundleBuilder, FulcioSigner, MessageSignatureBundleBuilder, RekorWitness, TSAWitness, type Witness } from '@sigstore/sign';
import { pushBlob, pushCosignManifest, pushReferrer, type Descriptor } from './oci-artifacts.ts';

export interface SigningIdentity {
  issuer: string;
  subject: string;
}

export interface SignOptions {
  /** Log in Rekor (default true): false makes a bundle without a transparency-log entry. */
  rekor?: boolean;
  /** RFC 3161 timestamp from the TSA (default false, as cosign without --timestamp-server-url). */
  tsa?: boolean;
}

export interface Sigstore {
  url: string;
  trustedRootJson: string;
  /** cosign 3's form: a DSSE bundle of an in-toto statement naming `subject` (sha256:<hex>). */
  signManifestDsse(subject: string, identity: SigningIdentity, options?: SignOptions): Promise<Bundle>;
  /** cosign 2's keyless `.sig` form: a message signature over the simple-signing payload. */
  signPayload(payload: Buffer, identity: SigningIdentity, options?: SignOptions): Promise<Bundle>;
  close(): Promise<void>;
}

const b64 = (b: ArrayBufferView): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
const b64url = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');

/** An OIDC token as the mock Fulcio reads it (claims only: the mock does not check the issuer's signature). */
function token(identity: SigningIdentity): string {
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ iss: identity.issuer, sub: identity.subject, aud: 'sigstore', exp: Math.floor(Date.now() / 1000) + 600 })}.`;
}

/**
 * Starts the three services. `certificateClock`: the time the CA issues certificates at (a certificate
 * is valid for 10 minutes from it), to make certificates that were not valid when Rekor logged them.
 */
export async function startSigstore(options: { certificateClock?: Date } = {}): Promise<Sigstore> {
  // The TSA's time is fixed, in whole seconds, a minute ahead: @sigstore/core reads GeneralizedTime with
  // exactly three fraction digits, and the mock writes "…05.12Z" for 120 ms. A minute ahead stays inside
  // the 10-minute certificates the CA issues during the test.
  const tsaClock = new Date(Math.floor(Date.now() / 1000) * 1000 + 60_000);
  const key = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ctlog = await initializeCTLog(key());
  const ca = await initializeCA(key(), ctlog, options.certificateClock);
  const tlog = await initializeTLog(url, key());
  const tsa = await initializeTSA(key(), tsaClock);
  const handlers = [fulcioHandler(ca), rekorHandler(tlog), tsaHandler(tsa)];
  server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const h = handlers.find((x) => x.path === req.url);
      if (!h || req.method !== 'POST') {
        res.writeHead(404).end();
        return;
      }
      h.fn(Buffer.concat(chunks).toString('utf8')).then(
        (r) => {
          res.writeHead(r.statusCode, { 'content-type': r.contentType ?? 'application/json' });
          res.end(typeof r.response === 'string' ? r.response : Buffer.from(r.response.buffer, r.response.byteOffset, r.response.byteLength));
        },
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    });
  });

  const start = new Date(Date.now() - 24 * 3600 * 1000).toISOString();
  const ecdsa = 'PKIX_ECDSA_P256_SHA_256';
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{ baseUrl: url, hashAlgorithm: 'SHA2_256', publicKey: { rawBytes: b64(tlog.publicKey), keyDetails: ecdsa, validFor: { start } }, logId: { keyId: b64(createHash('sha256').update(tlog.publicKey).digest()) } }],
    certificateAuthorities: [{ subject: { organization: 'sigstore.mock', commonName: 'sigstore' }, uri: url, certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] }, validFor: { start } }],
    ctlogs: [{ baseUrl: url, hashAlgorithm: 'SHA2_256', publicKey: { rawBytes: b64(ctlog.publicKey), keyDetails: ecdsa, validFor: { start } }, logId: { keyId: b64(ctlog.logID) } }],
    timestampAuthorities: [{ subject: { organization: 'sigstore.mock', commonName: 'tsa' }, uri: url, certChain: { certificates: [{ rawBytes: b64(tsa.intCertificate) }, { rawBytes: b64(tsa.rootCertificate) }] }, validFor: { start } }],
  };

  const witnesses = (o: SignOptions, entryType?: 'intoto'): Witness[] => [
    ...(o.rekor === false ? [] : [new RekorWitness({ rekorBaseURL: url, entryType, retry: false })]),
    ...(o.tsa !== true ? [] : [new TSAWitness({ tsaBaseURL: url, retry: false })]),
  ];
  const signer = (identity: SigningIdentity) => new FulcioSigner({ fulcioBaseURL: url, identityProvider: { getToken: () => Promise.resolve(token(identity)) }, retry: false });

  return {
    url,
    trustedRootJson: JSON.stringify(trustedRoot),
    async signManifestDsse(subject, identity, o = {}) {
      const statement = {
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ name: 'chart', digest: { sha256: subject.replace(/^sha256:/, '') } }],
        predicateType: 'https://sigstore.dev/cosign/sign/v1',
        predicate: {},
      };
      return new DSSEBundleBuilder({ signer: signer(identity), witnesses: witnesses(o, 'intoto') }).create({ data: Buffer.from(JSON.stringify(statement)), type: 'application/vnd.in-toto+json' });
    },
    async signPayload(payload, identity, o = {}) {
      return new MessageSignatureBundleBuilder({ signer: signer(identity), witnesses: witnesses(o) }).create({ data: payload });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export const SIGSTORE_BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** What cosign 3 attaches: the bundle as an OCI 1.1 referrer of the chart manifest (layer and artifactType the bundle type). */
export async function pushBundleReferrer(host: string, repo: string, subject: Descriptor, bundle: Bundle): Promise<Descriptor> {
  return pushReferrer(host, repo, subject, SIGSTORE_BUNDLE_V03, SIGSTORE_BUNDLE_V03, Buffer.from(JSON.stringify(bundleToJSON(bundle))));
}

/** cosign's simple-signing payload for `subject`. */
export function simpleSigningPayload(host: string, repo: string, subject: string): Buffer {
  return Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': `${host}/${repo}` }, image: { 'docker-manifest-digest': subject }, type: 'cosign container image signature' }, optional: null }));
}

const pem = (der: ArrayBufferView): string => `-----BEGIN CERTIFICATE-----\n${b64(der).replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;

/**
 * cosign 2's keyless `.sig` tag at `tag` (default: the subject's `sha256-<hex>.sig`): the payload layer with
 * the signature, the Fulcio certificate and chain, the Rekor entry as cosign's bundle annotation
 * (signed entry timestamp, body, integrated time, log index and ID) and the RFC 3161 timestamp if any.
 */
export async function pushKeylessSig(host: string, repo: string, subject: string, payload: Buffer, bundle: Bundle, tag = `${subject.replace(':', '-')}.sig`): Promise<Descriptor> {
  const vm = bundle.verificationMaterial;
  const certs = vm.content.$case === 'x509CertificateChain' ? vm.content.x509CertificateChain.certificates.map((c) => c.rawBytes) : vm.content.$case === 'certificate' ? [vm.content.certificate.rawBytes] : [];
  const content = bundle.content;
  if (content.$case !== 'messageSignature' || !certs[0]) throw new Error('pushKeylessSig needs a message-signature bundle with a certificate');
  const annotations: Record<string, string> = {
    'dev.cosignproject.cosign/signature': b64(content.messageSignature.signature),
    'dev.sigstore.cosign/certificate': pem(certs[0]),
    'dev.sigstore.cosign/chain': certs.slice(1).map(pem).join(''),
  };
  const entry = vm.tlogEntries[0];
  if (entry) {
    annotations['dev.sigstore.cosign/bundle'] = JSON.stringify({
      SignedEntryTimestamp: b64(entry.inclusionPromise?.signedEntryTimestamp ?? new Uint8Array()),
      Payload: { body: b64(entry.canonicalizedBody), integratedTime: Number(entry.integratedTime), logIndex: Number(entry.logIndex), logID: Buffer.from(entry.logId.keyId).toString('hex') },
    });
  }
  const ts = vm.timestampVerificationData?.rfc3161Timestamps[0];
  if (ts) annotations['dev.sigstore.cosign/rfc3161timestamp'] = JSON.stringify({ SignedRFC3161Timestamp: b64(ts.signedTimestamp) });
  await pushBlob(host, repo, payload);
  return pushCosignManifest(host, repo, 'application/vnd.dev.cosign.simplesigning.v1+json', payload, annotations, tag);
}
