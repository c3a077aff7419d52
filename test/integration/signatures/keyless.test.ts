/**
 * Keyless (Sigstore) signatures of OCI charts, really signed: a private Sigstore on loopback
 * (test/harness/sigstore.ts: @sigstore/mock's Fulcio, Rekor and TSA over HTTP, @sigstore/sign), charts
 * pushed by real helm to a registry with the OCI 1.1 referrers API and to docker-registry (tag-schema
 * fallback), signatures attached as cosign does (bundle referrer, `.sig` tag with annotations), read back
 * by OciChartSource and checked by src/signatures/cosign.ts.
 */
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OciChartSource } from '../../../src/sources/oci/oci-source.ts';
import { identityMatcher, ociSignatureOf, type OciSignaturePolicy } from '../../../src/signatures/cosign.ts';
import { trustFromJson } from '../../../src/signatures/sigstore-trust.ts';
import type { SignatureStatus } from '../../../src/model/report.ts';
import type { OidcIdentity } from '../../../src/model/repository.ts';
import { packageChart, pushChart, runHelm, scratchDir } from '../../harness/charts.ts';
import { runChartorigin } from '../../harness/cli.ts';
import { releaseSecret } from '../../unit/helpers.ts';
import { manifestDescriptor, pushTagSchemaIndex, type Descriptor } from '../../harness/oci-artifacts.ts';
import { startReferrersRegistry } from '../../harness/referrers-registry.ts';
import { startRegistry, type Registry } from '../../harness/registry.ts';
import { pushBundleReferrer, pushKeylessSig, simpleSigningPayload, startSigstore, type Sigstore } from '../../harness/sigstore.ts';

const GHA = 'https://token.actions.githubusercontent.com';
const PUBLISHER = { issuer: GHA, subject: 'https://github.com/acme/charts/.github/workflows/release.yaml@refs/heads/main' };
const ALLOWED: OidcIdentity[] = [{ issuer: GHA, subjectRegExp: '^https://github\\.com/acme/charts/' }];

let sigstore: Sigstore;
let stranger: Sigstore;
let expired: Sigstore;
let referrersRegistry: Registry;
let dockerRegistry: Registry;
const sources: OciChartSource[] = [];

before(async () => {
  [sigstore, stranger, expired, referrersRegistry, dockerRegistry] = await Promise.all([
    startSigstore(),
    startSigstore(),
    // Certificates issued two hours ago (valid 10 minutes), logged in Rekor now.
    startSigstore({ certificateClock: new Date(Date.now() - 2 * 3600 * 1000) }),
    startReferrersRegistry(),
    startRegistry(),
  ]);
});

after(async () => {
  await Promise.all(sources.map((s) => s.close()));
  await Promise.allSettled([sigstore?.close(), stranger?.close(), expired?.close(), referrersRegistry?.close(), dockerRegistry?.close()]);
});

function policy(identities: OidcIdentity[] = ALLOWED, trustedRootJson = sigstore.trustedRootJson): OciSignaturePolicy {
  const trust = trustFromJson(trustedRootJson);
  return { keys: [], keyless: { identities: identityMatcher(identities), trust: () => Promise.resolve(trust) }, required: true };
}

const packaged = new Map<string, string>();

/** helm push of a fresh chart; its manifest descriptor (the signed subject). */
async function chart(reg: Registry, name: string): Promise<Descriptor> {
  const pkg = await packageChart({ name, version: '1.0.0' }, scratchDir('keyless'));
  packaged.set(name, pkg.path);
  await pushChart(pkg.path, `${reg.url}/charts`);
  return manifestDescriptor(reg.host, `charts/${name}`, '1.0.0');
}

/** What chartorigin reports for the chart: referrers from the registry, then the signature check. */
async function check(reg: Registry, name: string, subject: Descriptor, p: OciSignaturePolicy = policy()): Promise<SignatureStatus | undefined> {
  const source = new OciChartSource({ name: 'oci', url: `${reg.url}/charts`, priority: 0, intervalSeconds: 3600, insecureSkipTLSVerify: false, plainHTTP: true });
  sources.push(source);
  const { referrers } = await source.referrers(name, subject.digest);
  return ociSignatureOf(source.artifacts(name), subject.digest, referrers.map((r) => ({ ...r })), p);
}

describe('keyless signatures: Sigstore bundle attached as an OCI referrer (cosign 3)', () => {
  it('verified: certificate from the trusted CA, Rekor entry, identity allowed; found through the referrers API', async () => {
    const subject = await chart(referrersRegistry, 'good');
    await pushBundleReferrer(referrersRegistry.host, 'charts/good', subject, await sigstore.signManifestDsse(subject.digest, PUBLISHER));
    const s = await check(referrersRegistry, 'good', subject);
    assert.equal(s?.type, 'cosign-keyless');
    assert.equal(s?.reason, 'Verified', s?.message);
    assert.equal(s?.verified, true);
    assert.equal(s?.signer, `${PUBLISHER.subject} (issuer ${GHA})`);
  });

  it('verified with an RFC 3161 timestamp from the TSA besides the Rekor entry', async () => {
    const subject = await chart(referrersRegistry, 'stamped');
    await pushBundleReferrer(referrersRegistry.host, 'charts/stamped', subject, await sigstore.signManifestDsse(subject.digest, PUBLISHER, { tsa: true }));
    const s = await check(referrersRegistry, 'stamped', subject);
    assert.equal(s?.reason, 'Verified', s?.message);
  });

  it('found through the sha256-<hex> tag schema on a registry without the referrers API', async () => {
    const subject = await chart(dockerRegistry, 'tagged');
    const ref = await pushBundleReferrer(dockerRegistry.host, 'charts/tagged', subject, await sigstore.signManifestDsse(subject.digest, PUBLISHER));
    await pushTagSchemaIndex(dockerRegistry.host, 'charts/tagged', subject, [ref]);
    const s = await check(dockerRegistry, 'tagged', subject);
    assert.equal(s?.reason, 'Verified', s?.message);
  });

  it('right signature, wrong identity: the subject is not allowed', async () => {
    const subject = await chart(referrersRegistry, 'forked');
    await pushBundleReferrer(referrersRegistry.host, 'charts/forked', subject, await sigstore.signManifestDsse(subject.digest, { issuer: GHA, subject: 'https://github.com/evil/charts/.github/workflows/release.yaml@refs/heads/main' }));
    const s = await check(referrersRegistry, 'forked', subject);
    assert.equal(s?.verified, false);
    assert.equal(s?.reason, 'IdentityMismatch');
    assert.match(s?.message ?? '', /github\.com\/evil\/charts.*not an allowed identity/);
    // The same signature is good for a policy that allows that repository.
    assert.equal((await check(referrersRegistry, 'forked', subject, policy([{ issuer: GHA, subjectRegExp: '^https://github\\.com/evil/' }])))?.verified, true);
  });

  it('wrong issuer: the right subject from another OIDC issuer is refused', async () => {
    const subject = await chart(referrersRegistry, 'issuer');
    await pushBundleReferrer(referrersRegistry.host, 'charts/issuer', subject, await sigstore.signManifestDsse(subject.digest, { issuer: 'https://gitlab.example', subject: PUBLISHER.subject }));
    const s = await check(referrersRegistry, 'issuer', subject);
    assert.equal(s?.reason, 'IdentityMismatch');
    assert.match(s?.signer ?? '', /issuer https:\/\/gitlab\.example/);
  });

  it('tampered chart: a valid bundle for another manifest attached to this one does not count', async () => {
    const signed = await chart(referrersRegistry, 'original');
    const bundle = await sigstore.signManifestDsse(signed.digest, PUBLISHER);
    const tampered = await chart(referrersRegistry, 'tampered');
    await pushBundleReferrer(referrersRegistry.host, 'charts/tampered', tampered, bundle);
    const s = await check(referrersRegistry, 'tampered', tampered);
    assert.equal(s?.verified, false);
    assert.equal(s?.reason, 'DigestMismatch');
  });

  it('certificate outside its validity when logged, no other timestamp: refused', async () => {
    const subject = await chart(referrersRegistry, 'expired');
    await pushBundleReferrer(referrersRegistry.host, 'charts/expired', subject, await expired.signManifestDsse(subject.digest, PUBLISHER));
    const s = await check(referrersRegistry, 'expired', subject, policy(ALLOWED, expired.trustedRootJson));
    assert.equal(s?.verified, false);
    assert.equal(s?.reason, 'CertificateInvalid', s?.message);
  });

  it('no transparency-log entry: refused even with a TSA timestamp', async () => {
    const subject = await chart(referrersRegistry, 'unlogged');
    await pushBundleReferrer(referrersRegistry.host, 'charts/unlogged', subject, await sigstore.signManifestDsse(subject.digest, PUBLISHER, { rekor: false, tsa: true }));
    const s = await check(referrersRegistry, 'unlogged', subject);
    assert.equal(s?.verified, false);
    assert.equal(s?.reason, 'TlogMissing', s?.message);
  });

  it('untrusted root: signed by another Sigstore instance than the trusted root names', async () => {
    const subject = await chart(referrersRegistry, 'foreign');
    await pushBundleReferrer(referrersRegistry.host, 'charts/foreign', subject, await stranger.signManifestDsse(subject.digest, PUBLISHER));
    const s = await check(referrersRegistry, 'foreign', subject);
    assert.equal(s?.verified, false);
    assert.equal(s?.reason, 'UntrustedRoot', s?.message);
  });
});

describe('keyless signatures: cosign 2 `.sig` tag with certificate and Rekor bundle annotations', () => {
  it('verified, and refused for a wrong identity, another instance, or a payload naming another manifest', async () => {
    const repo = 'charts/sigtag';
    const subject = await chart(dockerRegistry, 'sigtag');
    const payload = simpleSigningPayload(dockerRegistry.host, repo, subject.digest);
    await pushKeylessSig(dockerRegistry.host, repo, subject.digest, payload, await sigstore.signPayload(payload, PUBLISHER));
    const good = await check(dockerRegistry, 'sigtag', subject);
    assert.equal(good?.type, 'cosign-keyless');
    assert.equal(good?.reason, 'Verified', good?.message);
    assert.match(good?.message ?? '', /\.sig tag/);

    assert.equal((await check(dockerRegistry, 'sigtag', subject, policy([{ issuer: GHA, subject: 'someone-else' }])))?.reason, 'IdentityMismatch');
    assert.equal((await check(dockerRegistry, 'sigtag', subject, policy(ALLOWED, stranger.trustedRootJson)))?.reason, 'UntrustedRoot');

    // The signature bytes are also checked against the payload: another payload under the same signature fails.
    const other = await chart(dockerRegistry, 'sigtag-other');
    const otherPayload = simpleSigningPayload(dockerRegistry.host, 'charts/sigtag-other', other.digest);
    await pushKeylessSig(dockerRegistry.host, 'charts/sigtag-other', other.digest, otherPayload, await sigstore.signPayload(payload, PUBLISHER));
    const forged = await check(dockerRegistry, 'sigtag-other', other);
    assert.equal(forged?.verified, false);
    assert.equal(forged?.reason, 'BadSignature', forged?.message);

    // A valid `.sig` of one chart copied to another chart's tag: the payload names the first manifest.
    const copy = await chart(dockerRegistry, 'sigtag-copy');
    await pushKeylessSig(dockerRegistry.host, 'charts/sigtag-copy', subject.digest, payload, await sigstore.signPayload(payload, PUBLISHER), `${copy.digest.replace(':', '-')}.sig`);
    assert.equal((await check(dockerRegistry, 'sigtag-copy', copy))?.reason, 'DigestMismatch');
  });

  it('unsigned: a required signature is reported as Unsigned', async () => {
    const subject = await chart(dockerRegistry, 'plain');
    const s = await check(dockerRegistry, 'plain', subject);
    assert.deepEqual({ type: s?.type, verified: s?.verified, reason: s?.reason, required: s?.required }, { type: 'cosign-keyless', verified: false, reason: 'Unsigned', required: true });
  });
});

describe('keyless through chartorigin inspect: config, analysis, requireSignature', () => {
  it('a signed chart is Verified with a verified cosign-keyless signature; an unsigned one fails Ready with SignatureNotVerified', async () => {
    const signed = await chart(referrersRegistry, 'cli-signed');
    await pushBundleReferrer(referrersRegistry.host, 'charts/cli-signed', signed, await sigstore.signManifestDsse(signed.digest, PUBLISHER));
    await chart(referrersRegistry, 'cli-unsigned');
    const work = scratchDir('keyless-cli');
    writeFileSync(join(work, 'trusted_root.json'), sigstore.trustedRootJson);
    writeFileSync(
      join(work, 'repos.yaml'),
      `repositories:
  - name: oci
    url: ${referrersRegistry.url}/charts
    plainHTTP: true
    requireSignature: true
    keyless:
      matchOIDCIdentity:
        - issuer: ${GHA}
          subjectRegExp: ${JSON.stringify(ALLOWED[0]?.subjectRegExp)}
      trustedRoot: trusted_root.json
`,
    );
    const items = [];
    for (const name of ['cli-signed', 'cli-unsigned']) {
      const { stdout } = await runHelm(['install', name, packaged.get(name) ?? '', '--dry-run=client', '-o', 'json', '--namespace', 'apps']);
      items.push(releaseSecret(stdout, name, 1));
    }
    writeFileSync(join(work, 'releases.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
    const { code: status, stdout, stderr } = await runChartorigin(['inspect', join(work, 'releases.json'), '--config', join(work, 'repos.yaml'), '-o', 'json']);
    assert.equal(status, 0, stderr);
    type Out = { name: string; origin: { match: string; signature?: SignatureStatus; referrers?: { digest: string; verified?: boolean }[] }; conditions: { reason: string }[] };
    const results = JSON.parse(stdout) as Out[];
    const good = results.find((r) => r.name === 'cli-signed');
    assert.equal(good?.origin.match, 'Verified');
    assert.deepEqual({ ...good?.origin.signature, message: undefined }, { type: 'cosign-keyless', verified: true, reason: 'Verified', signer: `${PUBLISHER.subject} (issuer ${GHA})`, message: undefined, required: true });
    assert.equal(good?.origin.referrers?.[0]?.verified, true);
    assert.equal(good?.conditions[0]?.reason, 'Verified');
    const bad = results.find((r) => r.name === 'cli-unsigned');
    assert.equal(bad?.origin.match, 'Verified', 'the content is still the repository\'s');
    assert.equal(bad?.origin.signature?.reason, 'Unsigned');
    assert.equal(bad?.conditions[0]?.reason, 'SignatureNotVerified');
  });
});
