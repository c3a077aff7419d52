/**
 * The content proof of releases whose chart's templates wrote into the values (src/resolve/proof.ts
 * proveTemplateWrites), on releases really stored by helm 3.12.3, 3.17.2, 3.22.0 and 4.3.2
 * (scripts/capture-template-write-fixtures.ts; the chart is test/fixtures/template-writes/src/writes).
 * Before, every helm 3.12.3 capture was a false Mismatch ("values differ").
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { readChartTree } from '../../../src/chart/chart-tree.ts';
import { fingerprintChart } from '../../../src/chart/fingerprint.ts';
import { treeJson } from '../../../src/chart/helm-install.ts';
import { releaseFromJson, storedValuesFromJson } from '../../../src/decode/decode.ts';
import { proveContent, type ProofContext, type PublishedForProof } from '../../../src/resolve/proof.ts';
import { FIXTURES } from '../helpers.ts';

const DIR = `${FIXTURES}template-writes/`;
type Stored = { chart: { values: Record<string, unknown>; templates: { name: string; data: string }[] } };
const { content, tree } = readChartTree(readFileSync(`${DIR}writes-1.0.0.tgz`));
const published: PublishedForProof = { fingerprint: fingerprintChart(content), tree: treeJson(tree) };

/** The same chart as if its templates had only the writes a proof can place: a difference elsewhere is then a Mismatch. */
const placeable: PublishedForProof = { ...published, tree: treeJson({ ...tree, templateWrites: tree.templateWrites?.filter((w) => w.paths) }) };

async function prove(file: string, edit?: (r: Stored) => void, ctx?: ProofContext | 'no-reader', pub = published, revisions: Record<number, string> = {}, reread?: (r: Stored) => void) {
  const release = JSON.parse(readFileSync(`${DIR}${file}`, 'utf8')) as Stored;
  edit?.(release);
  const json = JSON.stringify(release);
  const record = releaseFromJson(json, file, 'Secret', 'writes');
  // What a second read of the same object returns: the same, or (reread) what it became in between.
  const again = JSON.parse(json) as Stored;
  reread?.(again);
  let reads = 0;
  const previous = async (revision: number) => {
    reads++;
    if (revision === record.release.revision) return storedValuesFromJson(JSON.stringify(again), file);
    const earlier = revisions[revision];
    return earlier ? storedValuesFromJson(readFileSync(`${DIR}${earlier}`, 'utf8'), earlier) : undefined;
  };
  const result = await proveContent(record, pub, ctx === 'no-reader' ? {} : (ctx ?? { previous }));
  return { result, reads };
}

const STATIC_NOTE = "values at podSecurityContext.appArmorProfile, serviceAccounts.operator.annotations.eks.amazonaws.com/role-arn, sub.written, sub.conf written by the chart's own templates (unset, set, mergeOverwrite; Helm before 3.13 stored such writes)";

describe('content proof: values written by the chart templates (Helm before 3.13)', () => {
  it('helm 3.12.3 stored the static writes: Verified, naming the written paths, with one read of the release', async () => {
    const { result, reads } = await prove('v3.12.3-static.json');
    assert.deepEqual(result.differences, []);
    assert.equal(result.unverifiable, undefined);
    assert.ok(result.accounted.some((a) => a.includes(STATIC_NOTE)), result.accounted.join(' / '));
    assert.equal(reads, 1);
  });
  it('helm 3.12.3 stored a set on `.` inside `with .Values.cfg`: Verified, naming cfg.touched', async () => {
    const { result } = await prove('v3.12.3-keyed.json');
    assert.equal(result.unverifiable, undefined);
    assert.deepEqual(result.differences, []);
    assert.ok(result.accounted.some((a) => a.includes("values at podSecurityContext.appArmorProfile, serviceAccounts.operator.annotations.eks.amazonaws.com/role-arn, cfg.touched, sub.written, sub.conf written by the chart's own templates")), result.accounted.join(' / '));
  });
  it('helm 3.17.2, 3.22.0 and 4.3.2 stored none: proven as before, the stored values never read', async () => {
    for (const v of ['v3.17.2', 'v3.22.0', 'v4.3.2']) {
      for (const kind of ['static', 'keyed', 'unknown']) {
        const f = `${v}-${kind}.json`;
        const { result, reads } = await prove(f);
        assert.deepEqual(result.differences, [], f);
        assert.equal((result as { unverifiable?: string }).unverifiable, undefined, f);
        assert.ok(!result.accounted.some((a) => a.includes('templates')), f);
        assert.equal(reads, 0, f);
      }
    }
  });
  it('a value changed outside the written places stays a Mismatch; Unverified when a template writes where the analysis cannot place it', async () => {
    const edit = (r: Stored) => {
      (r.chart.values['keep'] as Record<string, unknown>)['x'] = 2;
    };
    for (const f of ['v3.12.3-static.json', 'v3.12.3-keyed.json']) assert.deepEqual((await prove(f, edit, undefined, placeable)).result, { differences: ['values'], accounted: [] }, f);
    assert.match((await prove('v3.12.3-static.json', edit)).result.unverifiable ?? '', /templates\/configmap\.yaml: mergeOverwrite on a range variable/);
  });
  it("the parent's own set of a key directly on .Values is never stored: a value there is a Mismatch; a subchart's write is placed under the subchart only", async () => {
    const top = await prove('v3.12.3-static.json', (r) => {
      r.chart.values['renderedAt'] = 'x';
    }, undefined, placeable);
    assert.deepEqual(top.result, { differences: ['values'], accounted: [] });
    const conf = await prove('v3.12.3-static.json', (r) => {
      r.chart.values['conf'] = { level: 'x' };
    }, undefined, placeable);
    assert.deepEqual(conf.result, { differences: ['values'], accounted: [] });
  });
  it('the values read again must be the ones decoded: another object (a forged version, a rewrite in between) is Unverified, never Verified', async () => {
    const tampered = (r: Stored) => {
      (r.chart.values['keep'] as Record<string, unknown>)['x'] = 2;
    };
    const original = (JSON.parse(readFileSync(`${DIR}v3.12.3-static.json`, 'utf8')) as Stored).chart.values['keep'];
    const restored = (r: Stored) => {
      r.chart.values['keep'] = original;
    };
    const { result } = await prove('v3.12.3-static.json', tampered, undefined, published, {}, restored);
    assert.deepEqual(result.differences, []);
    assert.match(result.unverifiable ?? '', /read again were not the ones first read/);
  });
  it('helm 3.12.3 upgrade --reuse-values with another eni.iamRole (revision 1 carried its writes over, revision 2 wrote anew): Verified, each revision read once', async () => {
    const { result, reads } = await prove('v3.12.3-static-reuse.json', undefined, undefined, published, { 1: 'v3.12.3-static.json' });
    assert.equal(result.unverifiable, undefined);
    assert.deepEqual(result.differences, []);
    const note = result.accounted.join(' / ');
    assert.match(note, /values carried over by --reuse-values from revision 1/);
    assert.ok(note.includes("written by the chart's own templates (unset, set, mergeOverwrite; Helm before 3.13 stored such writes)"), note);
    assert.equal(reads, 2);
    // Without revision 1 the --reuse-values proof cannot be made: Unverified, as before.
    assert.match((await prove('v3.12.3-static-reuse.json')).result.unverifiable ?? '', /revision 1 \(needed to check --reuse-values\) is no longer stored/);
  });
  it('a changed template stays a Mismatch', async () => {
    const { result } = await prove('v3.12.3-static.json', (r) => {
      const t = r.chart.templates[0];
      if (t) t.data = Buffer.from('kind: ConfigMap\n').toString('base64');
    });
    assert.ok(result.differences.some((d) => d.startsWith('templates/')), result.differences.join(','));
    assert.equal(result.unverifiable, undefined);
  });
  it('helm 3.12.3 stored a merge into a range element: Unverified, naming the template and function', async () => {
    const { result } = await prove('v3.12.3-unknown.json');
    assert.deepEqual(result.differences, []);
    assert.equal(
      result.unverifiable,
      "values differ from a fresh install and the chart's templates may write to them (templates/configmap.yaml: mergeOverwrite on a range variable) — Helm before 3.13 stored such writes, so the difference is not evidence of tampering",
    );
    // Told only the placeable writes, the same release is a Mismatch: the unplaced write is what spares it.
    assert.deepEqual((await prove('v3.12.3-unknown.json', undefined, undefined, placeable)).result, { differences: ['values'], accounted: [] });
  });
  it('a Helm 4 release whose values differ stays a Mismatch (Helm 4 copies the values first)', async () => {
    const { result } = await prove('v4.3.2-static.json', (r) => {
      delete (r.chart.values['podSecurityContext'] as Record<string, unknown>)['appArmorProfile'];
    });
    assert.deepEqual(result, { differences: ['values'], accounted: [] });
  });
  it('without a reader of the stored values: Unverified, not Mismatch', async () => {
    const { result } = await prove('v3.12.3-static.json', undefined, 'no-reader');
    assert.match(result.unverifiable ?? '', /templates write to them/);
  });
});
