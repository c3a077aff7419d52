/**
 * The controller with OCI charts installed by real helm: referrers of the chart manifest in
 * ChartOrigin status (a registry with the referrers API), and a tag re-pushed with other content after
 * installation turning the origin to Mismatch with a message naming the moved tag (docker-registry).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { packageChart, pushChart, scratchDir } from '../harness/charts.ts';
import { applyChartRepository, chartOriginWhere } from '../harness/chart-origins.ts';
import { ensureNamespace, kubectl } from '../harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess, type ControllerProcess } from '../harness/controller-process.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { helmInstall } from '../harness/helm.ts';
import { cosignKey, manifestDescriptor, pushCosignAttestation, pushCosignSignature, pushReferrer } from '../harness/oci-artifacts.ts';
import { startReferrersRegistry } from '../harness/referrers-registry.ts';
import { startRegistry, type Registry } from '../harness/registry.ts';

interface ChartOriginObject {
  status?: {
    origin?: {
      match: string;
      repository?: string;
      manifestDigest?: string;
      message?: string;
      referrers?: { kind: string; artifactType: string; digest: string; source: string; mediaType?: string; verified?: boolean }[];
      referrersMessage?: string;
    };
    conditions?: { type: string; status: string; reason: string; message: string }[];
  };
}

const env = testEnv();
const cluster = env.cluster;
const ns = uniqueNamespace('e2e-ocirefs');
const prefix = ns.replace(/[^a-z0-9-]/g, '');
let controller: ControllerProcess;
let withApi: Registry;
let plain: Registry;
// The repository verifies cosign signatures with this key (Secret referenced by cosignKeySecretRef).
const key = cosignKey();


const originWhere = (name: string, ok: (o: ChartOriginObject) => boolean, what: string, timeoutMs = 60_000): Promise<ChartOriginObject> =>
  chartOriginWhere(cluster, ns, name, ok, what, timeoutMs);

const applyRepository = (name: string, spec: Record<string, unknown>): Promise<void> => applyChartRepository(cluster, name, spec);

before(async () => {
  await installCrds(cluster);
  await ensureNamespace(cluster, ns);
  withApi = await startReferrersRegistry();
  plain = await startRegistry();
  // A short interval: the probe that notices moved tags runs every interval.
  await kubectl(cluster, ['create', 'secret', 'generic', 'cosign-key', '-n', ns, `--from-literal=cosign.pub=${key.publicKeyPem}`]);
  await applyRepository(`${prefix}-refs`, { url: `${withApi.url}/charts`, plainHTTP: true, interval: '2s', cosignKeySecretRef: { name: 'cosign-key', namespace: ns } });
  await applyRepository(`${prefix}-plain`, { url: `${plain.url}/charts`, plainHTTP: true, interval: '2s' });
  controller = await startControllerProcess(cluster, ['--leader-elect=false', '--namespaces', ns]);
  await eventually('controller ready', async () => ((await controller.ready()) ? true : undefined), 60_000);
});

after(async () => {
  await controller?.stop();
  for (const r of ['refs', 'plain']) await kubectl(cluster, ['delete', 'chartrepository', `${prefix}-${r}`, '--ignore-not-found']).catch(() => undefined);
  await withApi?.close();
  await plain?.close();
});

describe('controller: OCI referrers and mutable tags', () => {
  it('status.origin.referrers lists the signature, attestation and SBOM of the installed chart manifest', async () => {
    const pkg = await packageChart({ name: 'signedchart', version: '1.0.0' }, scratchDir('e2e-refs'));
    const pushed = await pushChart(pkg.path, `${withApi.url}/charts`);
    const repo = 'charts/signedchart';
    const subject = await manifestDescriptor(withApi.host, repo, '1.0.0');
    const sbom = await pushReferrer(withApi.host, repo, subject, 'application/spdx+json', 'application/spdx+json', Buffer.from('{"spdxVersion":"SPDX-2.3"}'));
    const sig = await pushCosignSignature(withApi.host, repo, subject, key);
    const att = await pushCosignAttestation(withApi.host, repo, subject, key);

    await helmInstall(cluster, 4, 'signed', `${withApi.url}/charts/signedchart`, { namespace: ns, version: '1.0.0' });
    const o = await originWhere('signed', (x) => x.status?.origin?.match === 'Verified' && (x.status.origin.referrers?.length ?? 0) > 0, 'signed Verified with referrers');
    assert.equal(o.status?.origin?.repository, `${prefix}-refs`);
    assert.equal(o.status?.origin?.manifestDigest, pushed.manifestDigest);
    assert.equal(o.status?.origin?.referrersMessage, undefined);
    assert.deepEqual(
      o.status?.origin?.referrers?.map((r) => [r.kind, r.source, r.digest, r.artifactType, r.verified]),
      [
        ['signature', 'cosign-tag', sig.digest, 'application/vnd.dev.cosign.simplesigning.v1+json', true],
        ['attestation', 'cosign-tag', att.digest, 'application/vnd.dsse.envelope.v1+json', undefined],
        ['sbom', 'referrers-api', sbom.digest, 'application/spdx+json', undefined],
      ],
    );

    // A referrer pushed after installation reaches the status through the repository probe.
    const cdx = await pushReferrer(withApi.host, repo, subject, 'application/vnd.cyclonedx+json', 'application/vnd.cyclonedx+json', Buffer.from('{"bomFormat":"CycloneDX"}'));
    const later = await originWhere('signed', (x) => (x.status?.origin?.referrers ?? []).some((r) => r.digest === cdx.digest), 'the later SBOM in status');
    assert.equal(later.status?.origin?.referrers?.length, 4);
    assert.equal(later.status?.origin?.match, 'Verified');
  });

  it('a tag re-pushed with other content after installation turns Verified into Mismatch, naming the moved tag', async () => {
    const first = await packageChart({ name: 'moving', version: '1.2.3' }, scratchDir('e2e-moved'));
    const pushed1 = await pushChart(first.path, `${plain.url}/charts`);
    await helmInstall(cluster, 4, 'moving', `${plain.url}/charts/moving`, { namespace: ns, version: '1.2.3' });
    const verified = await originWhere('moving', (x) => x.status?.origin?.match === 'Verified', 'moving Verified');
    assert.equal(verified.status?.origin?.manifestDigest, pushed1.manifestDigest);

    const second = await packageChart({ name: 'moving', version: '1.2.3', templateVariant: 'tampered' }, scratchDir('e2e-moved'));
    const pushed2 = await pushChart(second.path, `${plain.url}/charts`);
    assert.notEqual(pushed2.manifestDigest, pushed1.manifestDigest);
    const started = Date.now();
    const mismatch = await originWhere('moving', (x) => x.status?.origin?.match === 'Mismatch', 'moving Mismatch after the re-push', 60_000);
    const tookMs = Date.now() - started;
    const message = mismatch.status?.origin?.message ?? '';
    assert.ok(message.includes(`tag 1.2.3 in ${prefix}-plain now serves ${pushed2.manifestDigest}`), message);
    assert.ok(message.includes(`it served ${pushed1.manifestDigest} before`), message);
    assert.equal(mismatch.status?.origin?.manifestDigest, pushed2.manifestDigest);
    const ready = mismatch.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.reason, 'Mismatch');
    assert.match(ready?.message ?? '', /OCI tag re-pushed: tag 1\.2\.3/);
    // Noticed by the 2 s probe, not by a resync: well under the 60 s bound.
    assert.ok(tookMs < 60_000, `took ${tookMs} ms`);
    process.stdout.write(`# re-pushed tag noticed after ${tookMs} ms\n`);
  });
});
