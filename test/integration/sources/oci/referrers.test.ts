import { strict as assert } from 'node:assert';
import { after, describe, it } from 'node:test';
import { OciChartSource } from '../../../../src/sources/oci/oci-source.ts';
import type { ChartVersionEntry } from '../../../../src/model/repository.ts';
import { packageChart, pushChart, scratchDir } from '../../../harness/charts.ts';
import {
  cosignKey,
  manifestDescriptor,
  pushCosignAttestation,
  pushCosignSignature,
  pushReferrer,
  pushTagSchemaIndex,
  type Descriptor,
} from '../../../harness/oci-artifacts.ts';
import { startReferrersRegistry } from '../../../harness/referrers-registry.ts';
import { startRegistry, type Registry } from '../../../harness/registry.ts';

const registries: Registry[] = [];
const sources: OciChartSource[] = [];
after(async () => {
  await Promise.all(sources.map((s) => s.close()));
  await Promise.all(registries.map((r) => r.close()));
});

function source(reg: Registry, intervalSeconds = 3600): OciChartSource {
  const s = new OciChartSource({ name: 'oci', url: `${reg.url}/charts`, priority: 0, intervalSeconds, insecureSkipTLSVerify: false, plainHTTP: true });
  sources.push(s);
  return s;
}

const SPDX = 'application/spdx+json';

/** helm push of a chart, then an SBOM referrer, a cosign .sig and a cosign .att for its manifest. */
async function chartWithReferrers(reg: Registry, name: string, tagSchema: boolean, key = cosignKey()): Promise<{ chart: Descriptor; sbom: Descriptor; sig: Descriptor; att: Descriptor }> {
  const pkg = await packageChart({ name, version: '1.0.0' }, scratchDir('oci-referrers'));
  const pushed = await pushChart(pkg.path, `${reg.url}/charts`);
  const repo = `charts/${name}`;
  const chart = await manifestDescriptor(reg.host, repo, '1.0.0');
  assert.equal(chart.digest, pushed.manifestDigest);
  const sbom = await pushReferrer(reg.host, repo, chart, SPDX, SPDX, Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name })));
  if (tagSchema) await pushTagSchemaIndex(reg.host, repo, chart, [sbom]);
  const sig = await pushCosignSignature(reg.host, repo, chart, key);
  const att = await pushCosignAttestation(reg.host, repo, chart, key);
  return { chart, sbom, sig, att };
}

describe('OCI referrers against a registry with the referrers API (go-containerregistry)', () => {
  it('lists the SBOM from the referrers API and cosign signature and attestation from their tags', async () => {
    const reg = await startReferrersRegistry();
    registries.push(reg);
    // The registry really answers the referrers API (not a 404 fallback).
    const { chart, sbom, sig, att } = await chartWithReferrers(reg, 'signed', false);
    const direct = await fetch(`http://${reg.host}/v2/charts/signed/referrers/${chart.digest}`);
    assert.equal(direct.status, 200);
    await direct.arrayBuffer();

    const s = source(reg);
    const report = await s.referrers('signed', chart.digest);
    assert.equal(report.note, undefined);
    assert.equal(report.total, 3);
    assert.deepEqual(
      report.referrers.map((r) => [r.kind, r.source, r.digest]),
      [
        ['signature', 'cosign-tag', sig.digest],
        ['attestation', 'cosign-tag', att.digest],
        ['sbom', 'referrers-api', sbom.digest],
      ],
    );
    assert.equal(report.referrers[0]?.artifactType, 'application/vnd.dev.cosign.simplesigning.v1+json');
    assert.equal(report.referrers[1]?.artifactType, 'application/vnd.dsse.envelope.v1+json');
    assert.equal(report.referrers[2]?.artifactType, SPDX);
  });

  it('the probe notices a referrer pushed later and reports changed; the next read lists it', async () => {
    const reg = await startReferrersRegistry();
    registries.push(reg);
    const { chart } = await chartWithReferrers(reg, 'later', false);
    const s = source(reg);
    assert.equal((await s.probe()).changed, true); // first success
    assert.equal((await s.referrers('later', chart.digest)).total, 3);
    assert.equal((await s.probe()).changed, false);
    const cdx = await pushReferrer(reg.host, 'charts/later', chart, 'application/vnd.cyclonedx+json', 'application/vnd.cyclonedx+json', Buffer.from('{"bomFormat":"CycloneDX"}'));
    assert.equal((await s.probe()).changed, true);
    const after = await s.referrers('later', chart.digest);
    assert.equal(after.total, 4);
    assert.ok(after.referrers.some((r) => r.digest === cdx.digest && r.kind === 'sbom'));
    assert.equal((await s.probe()).changed, false);
  });

  it('reports none for a chart nothing refers to, and a note (not an error) when the registry is gone', async () => {
    const reg = await startReferrersRegistry();
    registries.push(reg);
    const pkg = await packageChart({ name: 'plain', version: '1.0.0' }, scratchDir('oci-referrers'));
    const pushed = await pushChart(pkg.path, `${reg.url}/charts`);
    const s = source(reg, 0);
    const none = await s.referrers('plain', pushed.manifestDigest);
    assert.deepEqual(none, { referrers: [], total: 0, note: undefined });
    await reg.close();
    const down = await s.referrers('plain', pushed.manifestDigest);
    assert.deepEqual(down.referrers, []);
    assert.match(down.note ?? '', /referrers lookup failed \(network/);
  });
});

describe('OCI referrers against docker-registry (no referrers API: the sha256-<hex> tag schema)', () => {
  it('falls back to the tag-schema index and still reads cosign tags', async () => {
    const reg = await startRegistry();
    registries.push(reg);
    const { chart, sbom, sig, att } = await chartWithReferrers(reg, 'signed', true);
    const direct = await fetch(`http://${reg.host}/v2/charts/signed/referrers/${chart.digest}`);
    assert.equal(direct.status, 404);
    await direct.arrayBuffer();

    const report = await source(reg).referrers('signed', chart.digest);
    assert.equal(report.note, undefined);
    assert.deepEqual(
      report.referrers.map((r) => [r.kind, r.source, r.digest]),
      [
        ['signature', 'cosign-tag', sig.digest],
        ['attestation', 'cosign-tag', att.digest],
        ['sbom', 'tag-schema', sbom.digest],
      ],
    );
  });
});

describe('mutable OCI tags', () => {
  for (const kind of ['docker-registry', 'referrers-registry'] as const) {
    it(`${kind}: the probe notices a tag re-pushed with other content and the source then serves the new content`, async () => {
      const reg = kind === 'docker-registry' ? await startRegistry() : await startReferrersRegistry();
      registries.push(reg);
      const dir = scratchDir('oci-moved');
      const first = await packageChart({ name: 'moving', version: '1.2.3' }, dir);
      const pushed1 = await pushChart(first.path, `${reg.url}/charts`);
      const s = source(reg);
      assert.equal((await s.probe()).changed, true); // first success
      const [entry] = await s.versions('moving');
      assert.ok(entry);
      const got1 = await s.fetchChart(entry);
      assert.equal(got1.manifestDigest, pushed1.manifestDigest);
      assert.equal((await s.probe()).changed, false);
      assert.equal(s.movedTag('moving', '1.2.3'), undefined);

      const second = await packageChart({ name: 'moving', version: '1.2.3', templateVariant: 'tampered' }, scratchDir('oci-moved'));
      const pushed2 = await pushChart(second.path, `${reg.url}/charts`);
      assert.notEqual(pushed2.manifestDigest, pushed1.manifestDigest);

      const probed = await s.probe();
      assert.equal(probed.changed, true);
      const moved = s.movedTag('moving', '1.2.3');
      assert.equal(moved?.tag, '1.2.3');
      assert.equal(moved?.previousManifestDigest, pushed1.manifestDigest);
      assert.equal(moved?.manifestDigest, pushed2.manifestDigest);
      const [again] = await s.versions('moving');
      assert.equal(again?.digest, undefined, 'the listing no longer carries the old layer digest');
      const detailed: ChartVersionEntry = await s.details(again as ChartVersionEntry);
      assert.equal(detailed.digest, second.digest);
      const got2 = await s.fetchChart(detailed);
      assert.equal(got2.manifestDigest, pushed2.manifestDigest);
      assert.deepEqual(got2.bytes, second.bytes);
      assert.equal((await s.probe()).changed, false, 'settles once the new content was read');

      // Moved back to the first manifest (same bytes, by the API): changed again, and nothing left to report.
      const old = await fetch(`http://${reg.host}/v2/charts/moving/manifests/${pushed1.manifestDigest}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      const oldBytes = Buffer.from(await old.arrayBuffer());
      const put = await fetch(`http://${reg.host}/v2/charts/moving/manifests/1.2.3`, { method: 'PUT', body: oldBytes, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
      assert.equal(put.status, 201);
      await put.arrayBuffer();
      assert.equal((await s.probe()).changed, true);
      assert.equal(s.movedTag('moving', '1.2.3'), undefined);
      const back = await s.fetchChart(await s.details((await s.versions('moving'))[0] as ChartVersionEntry));
      assert.equal(back.manifestDigest, pushed1.manifestDigest);
    });
  }
});
