/**
 * Source claims Helm itself may write into a release (chart.metadata.repoURL, annotation
 * meta.helm.sh/release-source): read at decode time, shown as origin.claim, judged only by the proof.
 * And what decode keeps of the user values: nothing on the record.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { releaseFromJson } from '../../../src/decode/decode.ts';
import { discardProofInputs, proofInputsOf } from '../../../src/decode/proof-inputs.ts';
import type { OriginStatus } from '../../../src/model/report.ts';
import { applyClaim } from '../../../src/resolve/analyze.ts';
import { fixture } from '../helpers.ts';

function withChart(edit: (doc: Record<string, unknown>, metadata: Record<string, unknown>) => void): string {
  const doc = JSON.parse(fixture('helm4/release-web-dry-run.json').toString('utf8')) as Record<string, unknown>;
  const chart = doc['chart'] as Record<string, unknown>;
  edit(doc, chart['metadata'] as Record<string, unknown>);
  return JSON.stringify(doc);
}

describe('origin.claim', () => {
  it('chart.metadata.repoURL is read as a claim, credentials removed, and agrees with a Verified origin at the same URL', () => {
    const record = releaseFromJson(withChart((_, m) => (m['repoURL'] = 'https://user:pw@charts.example.com/stable/')), 'x', 'Secret');
    assert.deepEqual(record.claim, { field: 'chart.metadata.repoURL', value: 'https://user:pw@charts.example.com/stable/' });
    const origin: OriginStatus = { match: 'Verified', repoURL: 'https://charts.example.com/stable', message: 'identical to the published chart' };
    applyClaim(record, origin);
    assert.deepEqual(origin.claim, { field: 'chart.metadata.repoURL', repoURL: 'https://charts.example.com/stable/', agrees: true });
    assert.doesNotMatch(JSON.stringify(origin), /pw@/);
  });

  it('the annotation meta.helm.sh/release-source disagreeing with the proof is shown and named in the message', () => {
    const record = releaseFromJson(withChart((_, m) => (m['annotations'] = { 'meta.helm.sh/release-source': 'oci://ghcr.io/someone/charts' })), 'x', 'Secret');
    const origin: OriginStatus = { match: 'Verified', repoURL: 'https://charts.example.com', message: 'identical to the published chart' };
    applyClaim(record, origin);
    assert.equal(origin.claim?.agrees, false);
    assert.match(origin.message ?? '', /claims oci:\/\/ghcr\.io\/someone\/charts \(meta\.helm\.sh\/release-source\) but its content was proven to come from https:\/\/charts\.example\.com/);
  });

  it('an OCI claim naming the repository agrees with the chart URL; without a Verified origin it is shown, not judged', () => {
    const record = releaseFromJson(withChart((_, m) => (m['repoURL'] = 'oci://registry.example/charts')), 'x', 'Secret');
    const verified: OriginStatus = { match: 'Verified', repoURL: 'oci://registry.example/charts/demo' };
    applyClaim(record, verified);
    assert.equal(verified.claim?.agrees, true);
    // Docker Hub's two names are one registry: a claim on registry-1.docker.io agrees with oci://docker.io.
    const hub = releaseFromJson(withChart((_, m) => (m['repoURL'] = 'oci://registry-1.docker.io/bitnamicharts')), 'x', 'Secret');
    const viaHub: OriginStatus = { match: 'Verified', repoURL: 'oci://docker.io/bitnamicharts/demo' };
    applyClaim(hub, viaHub);
    assert.equal(viaHub.claim?.agrees, true);
    const mismatch: OriginStatus = { match: 'Mismatch' };
    applyClaim(record, mismatch);
    assert.deepEqual(mismatch.claim, { field: 'chart.metadata.repoURL', repoURL: 'oci://registry.example/charts' });
  });
});

describe('what decode keeps of user values', () => {
  it('the record carries no values; only booleans and table shape wait beside it for the proof, until discarded', () => {
    const json = withChart((doc) => (doc['config'] = { password: 'hunter2-canary', sub: { enabled: false, replicas: 3 } }));
    const record = releaseFromJson(json, 'x', 'Secret');
    assert.doesNotMatch(JSON.stringify(record), /hunter2-canary|replicas/);
    assert.deepEqual(JSON.parse(JSON.stringify(proofInputsOf(record)?.conditionValues)), { password: 0, sub: { enabled: false, replicas: 0 } });
    assert.equal(record.helmMajor, 4, 'a helm 4 release says so (schemamodtime, apply_method)');
    discardProofInputs(record);
    assert.equal(proofInputsOf(record), undefined);
  });
});
