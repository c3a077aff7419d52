/**
 * Keyless signatures through the controller: a ChartRepository with spec.keyless (identity policy,
 * trusted_root.json from a Secret: the air-gapped set-up), charts pushed by real helm to a registry with
 * the referrers API and signed for real against a private Sigstore on loopback (test/harness/sigstore.ts),
 * installed by real helm. Status, Ready condition and the metric behind HelmChartSignatureInvalid.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { packageChart, pushChart, scratchDir } from '../harness/charts.ts';
import { applyChartRepository, applyObject, chartOriginWhere } from '../harness/chart-origins.ts';
import { ensureNamespace, kubectl } from '../harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess, type ControllerProcess } from '../harness/controller-process.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { helmInstall } from '../harness/helm.ts';
import { manifestDescriptor } from '../harness/oci-artifacts.ts';
import { startReferrersRegistry } from '../harness/referrers-registry.ts';
import type { Registry } from '../harness/registry.ts';
import { pushBundleReferrer, startSigstore, type Sigstore } from '../harness/sigstore.ts';

interface ChartOriginObject {
  status?: {
    origin?: { match: string; signature?: { type: string; verified: boolean; reason: string; required: boolean; signer?: string; message: string }; referrers?: { digest: string; verified?: boolean }[] };
    conditions?: { type: string; status: string; reason: string; message: string }[];
  };
}

const GHA = 'https://token.actions.githubusercontent.com';
const env = testEnv();
const cluster = env.cluster;
const ns = uniqueNamespace('e2e-keyless');
const prefix = ns.replace(/[^a-z0-9-]/g, '');
let controller: ControllerProcess;
let registry: Registry;
let sigstore: Sigstore;

async function signedChart(name: string, subject: string): Promise<void> {
  const pkg = await packageChart({ name, version: '1.0.0' }, scratchDir('e2e-keyless'));
  await pushChart(pkg.path, `${registry.url}/charts`);
  const manifest = await manifestDescriptor(registry.host, `charts/${name}`, '1.0.0');
  await pushBundleReferrer(registry.host, `charts/${name}`, manifest, await sigstore.signManifestDsse(manifest.digest, { issuer: GHA, subject }));
}

before(async () => {
  await installCrds(cluster);
  await ensureNamespace(cluster, ns);
  [registry, sigstore] = await Promise.all([startReferrersRegistry(), startSigstore()]);
  await signedChart('keylessgood', 'https://github.com/acme/charts/.github/workflows/release.yaml@refs/heads/main');
  await signedChart('keylessforeign', 'https://github.com/evil/charts/.github/workflows/release.yaml@refs/heads/main');
  await applyObject(cluster, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sigstore-root', namespace: ns }, stringData: { 'trusted_root.json': sigstore.trustedRootJson } });
  await applyChartRepository(cluster, `${prefix}-keyless`, {
    url: `${registry.url}/charts`,
    plainHTTP: true,
    requireSignature: true,
    keyless: { matchOIDCIdentity: [{ issuer: GHA, subjectRegExp: '^https://github\\.com/acme/' }], trustedRootSecretRef: { name: 'sigstore-root', namespace: ns } },
  });
  await Promise.all(['keylessgood', 'keylessforeign'].map((c) => helmInstall(cluster, 4, c.replace('keyless', ''), `${registry.url}/charts/${c}`, { namespace: ns, version: '1.0.0' })));
  controller = await startControllerProcess(cluster, ['--leader-elect=false', '--namespaces', ns]);
  await eventually('controller ready', async () => ((await controller.ready()) ? true : undefined), 60_000);
});

after(async () => {
  await controller?.stop();
  for (const r of ['keyless', 'badroot']) await kubectl(cluster, ['delete', 'chartrepository', `${prefix}-${r}`, '--ignore-not-found']).catch(() => undefined);
  await Promise.allSettled([registry?.close(), sigstore?.close()]);
});

describe('controller: keyless signatures', () => {
  it('an allowed identity verifies; another identity is IdentityMismatch with Ready False; the metric feeds the alert', async () => {
    const good = await chartOriginWhere<ChartOriginObject>(cluster, ns, 'good', (o) => o.status?.origin?.signature !== undefined, 'good has a signature');
    assert.equal(good.status?.origin?.match, 'Verified');
    assert.deepEqual({ ...good.status?.origin?.signature, message: undefined }, { type: 'cosign-keyless', verified: true, reason: 'Verified', required: true, signer: `https://github.com/acme/charts/.github/workflows/release.yaml@refs/heads/main (issuer ${GHA})`, message: undefined });
    assert.equal(good.status?.origin?.referrers?.[0]?.verified, true);
    assert.equal(good.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');

    const foreign = await chartOriginWhere<ChartOriginObject>(cluster, ns, 'foreign', (o) => o.status?.origin?.signature !== undefined, 'foreign has a signature');
    assert.equal(foreign.status?.origin?.match, 'Verified', 'the content is the registry\'s');
    assert.equal(foreign.status?.origin?.signature?.reason, 'IdentityMismatch');
    const ready = foreign.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.reason, 'SignatureNotVerified');
    assert.match(ready?.message ?? '', /github\.com\/evil\/charts/);

    const text = await eventually('both releases in the metrics', async () => {
      const t = await controller.metrics();
      return (t.match(/^chartorigin_release_signature_verified\{[^}]*type="cosign-keyless"/gm)?.length ?? 0) >= 2 ? t : undefined;
    }, 60_000);
    const line = (release: string): string => text.split('\n').find((l) => l.startsWith('chartorigin_release_signature_verified{') && l.includes(`release="${release}"`)) ?? '';
    assert.match(line('good'), /type="cosign-keyless",reason="Verified",key_id="",required="true"\} 1$/);
    assert.match(line('foreign'), /type="cosign-keyless",reason="IdentityMismatch",key_id="",required="true"\} 0$/);
  });

  it('a trusted-root Secret that is not a trusted_root.json makes the ChartRepository InvalidSpec, naming the Secret', async () => {
    await applyObject(cluster, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'bad-root', namespace: ns }, stringData: { 'trusted_root.json': '{"hello":"world"}' } });
    await applyChartRepository(cluster, `${prefix}-badroot`, { url: `${registry.url}/charts`, plainHTTP: true, keyless: { matchOIDCIdentity: [{ issuer: GHA, subject: 'x' }], trustedRootSecretRef: { name: 'bad-root', namespace: ns } } });
    const cond = await eventually('badroot InvalidSpec', async () => {
      const r = JSON.parse(await kubectl(cluster, ['get', 'chartrepository', `${prefix}-badroot`, '-o', 'json'])) as { status?: { conditions?: { type: string; status: string; reason: string; message: string }[] } };
      const c = r.status?.conditions?.find((x) => x.type === 'Ready');
      return c?.reason === 'InvalidSpec' ? c : undefined;
    }, 60_000);
    assert.match(cond.message, new RegExp(`Secret ${ns}/bad-root: trusted_root\\.json has no certificateAuthorities`));
  });
});
