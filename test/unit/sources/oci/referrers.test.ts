import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  applyArtifactTypeFilter,
  classifyArtifactType,
  classifyManifest,
  digestTag,
  mergeReferrers,
  parseReferrersIndex,
} from '../../../../src/sources/oci/referrers.ts';
import type { Referrer } from '../../../../src/model/repository.ts';

// Bytes captured from go-containerregistry's registry after `helm push` and the pushes of
// test/harness/oci-artifacts.ts (cosign-format signature and attestation, SPDX and CycloneDX referrers).
const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`./fixtures/referrers/${name}`, import.meta.url), 'utf8'));
const obj = (name: string): Record<string, unknown> => fixture(name) as Record<string, unknown>;

describe('classifyArtifactType', () => {
  const cases: [string, string][] = [
    ['application/vnd.dev.cosign.simplesigning.v1+json', 'signature'],
    ['application/vnd.cncf.notary.signature', 'signature'],
    ['application/vnd.dev.sigstore.bundle.v0.3+json', 'signature'],
    ['application/vnd.dsse.envelope.v1+json', 'attestation'],
    ['application/vnd.in-toto+json', 'attestation'],
    ['application/spdx+json', 'sbom'],
    ['text/spdx', 'sbom'],
    ['application/vnd.cyclonedx+json', 'sbom'],
    ['application/vnd.syft+json', 'sbom'],
    ['application/vnd.oci.empty.v1+json', 'other'],
    ['application/vnd.cncf.helm.config.v1+json', 'other'],
    ['APPLICATION/SPDX+JSON; charset=utf-8', 'sbom'],
  ];
  for (const [type, kind] of cases) it(`${type} → ${kind}`, () => assert.equal(classifyArtifactType(type), kind));
});

describe('parseReferrersIndex', () => {
  it('reads a real referrers API answer (artifactType from config.mediaType, as go-containerregistry fills it)', () => {
    const found = parseReferrersIndex(fixture('ggcr-referrers-response.json'), 'referrers-api');
    assert.equal(found.length, 2);
    for (const r of found) {
      assert.equal(r.kind, 'other');
      assert.equal(r.artifactType, 'application/vnd.oci.empty.v1+json');
      assert.equal(r.mediaType, 'application/vnd.oci.image.manifest.v1+json');
      assert.equal(r.source, 'referrers-api');
      assert.match(r.digest, /^sha256:[0-9a-f]{64}$/);
    }
  });

  it('reads a real tag-schema index and classifies by artifactType', () => {
    const [sbom, ...rest] = parseReferrersIndex(fixture('tag-schema-index.json'), 'tag-schema');
    assert.equal(rest.length, 0);
    assert.equal(sbom?.kind, 'sbom');
    assert.equal(sbom?.artifactType, 'application/spdx+json');
    assert.equal(sbom?.source, 'tag-schema');
  });

  it('refuses what is not an OCI image index, skips descriptors without a valid digest', () => {
    assert.throws(() => parseReferrersIndex(obj('cosign-sig-manifest.json'), 'tag-schema'), /not an image index/);
    assert.throws(() => parseReferrersIndex({ mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json', manifests: [] }, 'tag-schema'), /not an OCI image index/);
    const found = parseReferrersIndex({ manifests: [{ digest: 'nope', artifactType: 'application/spdx+json' }, 7, { digest: `sha256:${'A'.repeat(64)}` }] }, 'referrers-api');
    assert.deepEqual(found, [{ kind: 'other', artifactType: 'unknown', digest: `sha256:${'a'.repeat(64)}`, mediaType: undefined, source: 'referrers-api' }]);
  });
});

describe('classifyManifest', () => {
  it('a cosign .sig manifest is a simple-signing signature (the generic image config is skipped)', () => {
    const r = classifyManifest(obj('cosign-sig-manifest.json'), 'sha256:x', 'cosign-tag', 'sig');
    assert.equal(r.kind, 'signature');
    assert.equal(r.artifactType, 'application/vnd.dev.cosign.simplesigning.v1+json');
    assert.equal(r.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  });

  it('a cosign .att manifest is a DSSE attestation', () => {
    const r = classifyManifest(obj('cosign-att-manifest.json'), 'sha256:x', 'cosign-tag', 'att');
    assert.equal(r.kind, 'attestation');
    assert.equal(r.artifactType, 'application/vnd.dsse.envelope.v1+json');
  });

  it('an OCI 1.1 artifact manifest is classified by its artifactType', () => {
    const r = classifyManifest(obj('spdx-referrer-manifest.json'), 'sha256:x', 'referrers-api');
    assert.equal(r.kind, 'sbom');
    assert.equal(r.artifactType, 'application/spdx+json');
  });

  it('the cosign tag suffix decides only when the media types say nothing', () => {
    const vague = { schemaVersion: 2, config: { mediaType: 'application/vnd.oci.image.config.v1+json' }, layers: [{ mediaType: 'application/octet-stream' }] };
    assert.equal(classifyManifest(vague, 'sha256:x', 'cosign-tag', 'sbom').kind, 'sbom');
    assert.equal(classifyManifest(vague, 'sha256:x', 'cosign-tag', 'att').kind, 'attestation');
    assert.equal(classifyManifest(vague, 'sha256:x', 'referrers-api').kind, 'other');
  });
});

describe('merge, filter, tag names', () => {
  const r = (digest: string, kind: Referrer['kind'], source: Referrer['source'], artifactType = 'x'): Referrer => ({ digest, kind, source, artifactType });

  it('deduplicates by digest (first source wins) and lists signatures, attestations, SBOMs, others', () => {
    const merged = mergeReferrers([
      [r('sha256:3', 'sbom', 'referrers-api'), r('sha256:4', 'other', 'referrers-api'), r('sha256:1', 'signature', 'referrers-api')],
      [r('sha256:1', 'signature', 'cosign-tag'), r('sha256:2', 'attestation', 'cosign-tag')],
    ]);
    assert.deepEqual(
      merged.map((m) => [m.digest, m.source]),
      [
        ['sha256:1', 'referrers-api'],
        ['sha256:2', 'cosign-tag'],
        ['sha256:3', 'referrers-api'],
        ['sha256:4', 'referrers-api'],
      ],
    );
  });

  it('filters client-side unless the registry says OCI-Filters-Applied: artifactType', () => {
    const list = [r('sha256:1', 'sbom', 'referrers-api', 'application/spdx+json'), r('sha256:2', 'signature', 'referrers-api', 'application/vnd.cncf.notary.signature')];
    assert.deepEqual(applyArtifactTypeFilter(list, 'application/spdx+json', null).map((x) => x.digest), ['sha256:1']);
    assert.equal(applyArtifactTypeFilter(list, 'application/spdx+json', 'artifactType').length, 2);
    assert.equal(applyArtifactTypeFilter(list, undefined, null).length, 2);
  });

  it('the tag schema and cosign name referrer tags sha256-<hex>', () => {
    const digest = readFileSync(new URL('./fixtures/referrers/chart-manifest-digest.txt', import.meta.url), 'utf8').trim();
    assert.equal(digestTag(digest), `sha256-${digest.slice(7)}`);
  });
});
