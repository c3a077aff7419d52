/**
 * Signed provenance end to end: charts signed with real GnuPG keys by the real `helm package --sign`,
 * served by an HTTP repository (.prov next to the .tgz) and pushed to the OCI registry by `helm push`
 * (provenance layer), installed by real helm, checked by the controller against a keyring Secret.
 * Cases: verified (HTTP and OCI), unsigned, wrong key and tampered, in one repository that requires
 * signatures; each shows in status.origin.signature, the Ready condition and the metrics, and the others
 * are unaffected.
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startChartRepoServer, type ChartRepoServer } from '../harness/chart-repo-server.ts';
import { applyObject, getChartOrigin } from '../harness/chart-origins.ts';
import { packageChart, pushChart, repoIndex, scratchDir } from '../harness/charts.ts';
import { ensureNamespace, kubectl } from '../harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess, type ControllerProcess } from '../harness/controller-process.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { createSigningKey, packageSignedChart, stopGpgAgents, type SigningKey } from '../harness/gpg.ts';
import { helmInstall } from '../harness/helm.ts';

interface Signature {
  type: string;
  verified: boolean;
  reason: string;
  required: boolean;
  keyID?: string;
  signer?: string;
  message: string;
}
interface ChartOriginObject {
  status?: {
    origin?: { match: string; repository?: string; tarballDigest?: string; signature?: Signature };
    conditions?: { type: string; status: string; reason: string; message: string }[];
  };
}

const env = testEnv();
const cluster = env.cluster;
const ns = uniqueNamespace('e2e-sig');
const prefix = ns.replace(/[^a-z0-9-]/g, '');
let controller: ControllerProcess;
let server: ChartRepoServer;
let trusted: SigningKey;
let stranger: SigningKey;
let ociRef = '';
let tamperedSignedDigest = '';
let tamperedServedDigest = '';

const origin = (name: string): Promise<ChartOriginObject | undefined> => getChartOrigin<ChartOriginObject>(cluster, ns, name);

const signatureOf = (name: string): Promise<{ o: ChartOriginObject; s: Signature }> =>
  eventually(`${name} has a signature in status`, async () => {
    const o = await origin(name);
    const s = o?.status?.origin?.signature;
    return o && s ? { o, s } : undefined;
  }, 60_000);

const ready = (o: ChartOriginObject) => o.status?.conditions?.find((c) => c.type === 'Ready');

const apply = (doc: object): Promise<void> => applyObject(cluster, doc);

before(async () => {
  await installCrds(cluster);
  await ensureNamespace(cluster, ns);
  [trusted, stranger] = await Promise.all([createSigningKey('Chart Publisher'), createSigningKey('Somebody Else')]);

  const dir = scratchDir('signed-repo');
  await packageSignedChart({ name: 'signedapp', version: '1.0.0' }, dir, trusted, 'helm4');
  await packageSignedChart({ name: 'signedapp', version: '1.1.0' }, dir, trusted, 'helm3');
  await packageChart({ name: 'plainapp', version: '1.0.0' }, dir);
  await packageSignedChart({ name: 'strangerapp', version: '1.0.0' }, dir, stranger);
  // Tampered: the publisher signed one tarball, the repository now serves another under the same name
  // (its index digest updated too, so only the signature can tell).
  const good = await packageSignedChart({ name: 'tamperedapp', version: '1.0.0' }, dir, trusted);
  tamperedSignedDigest = good.digest;
  const evil = await packageChart({ name: 'tamperedapp', version: '1.0.0', templateVariant: 'evil' }, scratchDir('evil'));
  tamperedServedDigest = evil.digest;
  copyFileSync(evil.path, good.path);
  await repoIndex(dir);
  server = await startChartRepoServer({ dir });

  const ociDir = scratchDir('signed-oci');
  const ociChart = await packageSignedChart({ name: 'ocisigned', version: '1.0.0' }, ociDir, trusted);
  const pushed = await pushChart(ociChart.path, `${env.registry.url}/${prefix}`);
  ociRef = pushed.ref.startsWith('oci://') ? pushed.ref.replace(/:[^:/]+$/, '') : `oci://${pushed.ref.replace(/:[^:/]+$/, '')}`;

  await apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'publisher-keys', namespace: ns }, stringData: { 'publisher.asc': trusted.publicKey } });
  await apply({
    apiVersion: 'chartorigin.io/v1alpha1',
    kind: 'ChartRepository',
    metadata: { name: `${prefix}-signed` },
    spec: { url: server.url, interval: '1h', requireSignature: true, keyringSecretRef: { name: 'publisher-keys', namespace: ns } },
  });
  await apply({
    apiVersion: 'chartorigin.io/v1alpha1',
    kind: 'ChartRepository',
    metadata: { name: `${prefix}-oci` },
    spec: { url: `${env.registry.url}/${prefix}`, plainHTTP: true, interval: '1h', keyringSecretRef: { name: 'publisher-keys', namespace: ns } },
  });
  await Promise.all([
    helmInstall(cluster, 4, 'signed', 'signedapp', { namespace: ns, repo: server.url, version: '1.0.0' }),
    helmInstall(cluster, 3, 'signed-h3', 'signedapp', { namespace: ns, repo: server.url, version: '1.1.0' }),
    helmInstall(cluster, 4, 'unsigned', 'plainapp', { namespace: ns, repo: server.url, version: '1.0.0' }),
    helmInstall(cluster, 3, 'wrong-key', 'strangerapp', { namespace: ns, repo: server.url, version: '1.0.0' }),
    helmInstall(cluster, 4, 'tampered', 'tamperedapp', { namespace: ns, repo: server.url, version: '1.0.0' }),
    helmInstall(cluster, 4, 'from-oci', ociRef, { namespace: ns, version: '1.0.0' }),
  ]);
  controller = await startControllerProcess(cluster, ['--leader-elect=false', '--namespaces', ns]);
  await eventually('controller ready', async () => ((await controller.ready()) ? true : undefined), 60_000);
});

after(async () => {
  await controller?.stop();
  await server?.close();
  await stopGpgAgents();
  for (const r of ['signed', 'oci']) await kubectl(cluster, ['delete', 'chartrepository', `${prefix}-${r}`, '--ignore-not-found']).catch(() => undefined);
});

describe('signed provenance (.prov) end to end', () => {
  it('verified: signed by a keyring key over the served tarball, over HTTP (helm 4 and helm 3 signatures) and OCI', async () => {
    for (const name of ['signed', 'signed-h3']) {
      const { o, s } = await signatureOf(name);
      assert.equal(o.status?.origin?.match, 'Verified');
      assert.deepEqual({ type: s.type, verified: s.verified, reason: s.reason, required: s.required, keyID: s.keyID, signer: s.signer }, {
        type: 'helm-prov', verified: true, reason: 'Verified', required: true, keyID: trusted.keyID, signer: trusted.uid,
      });
      assert.equal(ready(o)?.status, 'True');
    }
    const { o, s } = await signatureOf('from-oci');
    assert.equal(o.status?.origin?.repository, `${prefix}-oci`);
    assert.equal(s.verified, true, s.message);
    assert.equal(s.required, false);
    assert.equal(s.keyID, trusted.keyID);
  });

  it('unsigned, wrong key and tampered: not verified, Ready False (the repository requires signatures), content match unchanged', async () => {
    const expected: Record<string, { reason: string; message: RegExp }> = {
      unsigned: { reason: 'Unsigned', message: /serves no provenance/ },
      'wrong-key': { reason: 'UnknownKey', message: new RegExp(`signed by key ${stranger.keyID}, which is not in the repository keyring`) },
      tampered: { reason: 'DigestMismatch', message: new RegExp(`signed digest of tamperedapp-1.0.0.tgz is ${tamperedSignedDigest}, the repository served ${tamperedServedDigest}`) },
    };
    for (const [name, want] of Object.entries(expected)) {
      const { o, s } = await signatureOf(name);
      // The installed chart is what the repository serves: content says Verified, the signature says no.
      assert.equal(o.status?.origin?.match, 'Verified', name);
      assert.equal(s.verified, false, name);
      assert.equal(s.reason, want.reason, `${name}: ${s.message}`);
      assert.match(s.message, want.message);
      assert.equal(s.required, true);
      const r = ready(o);
      assert.equal(r?.status, 'False', name);
      assert.equal(r?.reason, 'SignatureNotVerified', name);
    }
    assert.equal((await origin('tampered'))?.status?.origin?.tarballDigest, tamperedServedDigest);
  });

  it('metrics: a signature label on chartorigin_release_info and chartorigin_release_signature_verified for the alert', async () => {
    const text = await eventually('all six releases in the metrics', async () => {
      const t = await controller.metrics();
      return (t.match(/^chartorigin_release_signature_verified\{/gm)?.length ?? 0) >= 6 ? t : undefined;
    }, 60_000);
    const line = (release: string): string => text.split('\n').find((l) => l.startsWith('chartorigin_release_signature_verified{') && l.includes(`release="${release}"`)) ?? '';
    assert.match(line('signed'), /type="helm-prov",reason="Verified",key_id="[0-9a-f]{16}",required="true"\} 1$/);
    assert.match(line('from-oci'), /reason="Verified".*required="false"\} 1$/);
    assert.match(line('unsigned'), /reason="Unsigned".*required="true"\} 0$/);
    assert.match(line('wrong-key'), /reason="UnknownKey".*required="true"\} 0$/);
    assert.match(line('tampered'), /reason="DigestMismatch".*required="true"\} 0$/);
    // What the shipped alert HelmChartSignatureInvalid selects: exactly the three bad ones.
    const firing = text.split('\n').filter((l) => l.startsWith('chartorigin_release_signature_verified{') && l.includes('required="true"') && l.endsWith(' 0'));
    assert.deepEqual(firing.map((l) => /release="([^"]+)"/.exec(l)?.[1]).sort(), ['tampered', 'unsigned', 'wrong-key']);
    assert.match(text, /chartorigin_release_info\{[^}]*release="tampered"[^}]*signature="digest_mismatch"\} 1/);
    assert.match(text, /chartorigin_release_info\{[^}]*release="signed"[^}]*signature="verified"\} 1/);
    // Key material never reaches the metrics: only the 16-hex key ID.
    assert.doesNotMatch(text, /BEGIN PGP/);
  });

  it('a keyring Secret without keys makes the ChartRepository InvalidSpec, naming the Secret', async () => {
    await apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'no-keys', namespace: ns }, stringData: { 'junk.asc': 'not a key' } });
    await apply({
      apiVersion: 'chartorigin.io/v1alpha1',
      kind: 'ChartRepository',
      metadata: { name: `${prefix}-badkeys` },
      spec: { url: server.url, interval: '1h', requireSignature: true, keyringSecretRef: { name: 'no-keys', namespace: ns } },
    });
    try {
      const cond = await eventually('badkeys InvalidSpec', async () => {
        const r = JSON.parse(await kubectl(cluster, ['get', 'chartrepository', `${prefix}-badkeys`, '-o', 'json'])) as { status?: { conditions?: { type: string; status: string; reason: string; message: string }[] } };
        const c = r.status?.conditions?.find((x) => x.type === 'Ready');
        return c?.reason === 'InvalidSpec' ? c : undefined;
      });
      assert.equal(cond.status, 'False');
      assert.match(cond.message, new RegExp(`Secret ${ns}/no-keys: the keyring holds no OpenPGP public key`));
    } finally {
      await kubectl(cluster, ['delete', 'chartrepository', `${prefix}-badkeys`, '--ignore-not-found']).catch(() => undefined);
    }
  });
});
