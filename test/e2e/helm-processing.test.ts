/**
 * Differential test of the content proof against real helm: charts exercising every part of Helm's
 * install-time processing are packaged by helm, installed by each tested helm (an older 3 (helm3-old, 3.12),
 * 3.17, newest 3, 4.1, newest 4; `--dry-run` prints the release Helm would store), and chartorigin's reproduction must equal
 * what that helm stored, naming what it accounted for. Edited charts must not: the edited part is named.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { decodeStoredRelease, storedValuesOf } from '../../src/decode/decode.ts';
import { proveContent } from '../../src/resolve/proof.ts';
import { valuesDigest } from '../../src/chart/fingerprint.ts';
import { chartFromJson, HELM_BEHAVIOURS, helmProcessChart, reusedValues } from '../../src/chart/helm-install.ts';
import { proofInputsOf } from '../../src/decode/proof-inputs.ts';
import type { StoredReleaseObject } from '../../src/model/release.ts';
import { ensureNamespace, kubectl } from '../harness/controlplane.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { dryRunInstall, helmAtLeast, helmVersionOf, install, publishedOf, runHelmBinary, upgrade } from '../harness/helm-proof.ts';
import { HELM_PROOF_BINARIES as HELM_BINARIES, type HelmBinaryName } from '../harness/tools.ts';
import { packageDir, writeChart, type UmbrellaSpec } from '../harness/umbrella.ts';

const env = testEnv();
const cluster = env.cluster;
const ns = uniqueNamespace('e2e-proof');
const work = mkdtempSync(join(tmpdir(), 'chartorigin-proof-'));

const leaf = { name: 'leaf', version: '0.3.0', values: { config: { level: 'info', nested: { a: 1 } }, global: { region: 'leaf-default', tier: { name: 'leaf' } } } };
const common = { name: 'common', version: '2.1.0', library: true, values: { exports: { defaults: { labels: { team: 'lib' } } } } };

/** The umbrella: every feature at once. */
function umbrella(edit: { value?: boolean; template?: boolean; subchartDefault?: boolean; globalDefault?: boolean } = {}): UmbrellaSpec {
  return {
    name: 'umbrella',
    version: '1.0.0',
    lock: true,
    binaryAndIgnore: true,
    description: 'An umbrella chart\nwith a two-line description\n',
    values: {
      replicas: edit.value ? 5 : 2,
      global: { region: 'eu', tier: { size: edit.globalDefault ? 'l' : 'm' } },
      backend: { enabled: true, replicas: 3, removeMe: null },
      cacheA: { enabled: false },
      importedDefaults: { keep: 'parent wins' },
    },
    templateVariant: edit.template ? 'edited' : undefined,
    dependencies: [
      {
        chart: {
          name: 'backend',
          version: '1.2.0',
          values: { enabled: true, replicas: 1, removeMe: 'default', image: { tag: edit.subchartDefault ? 'edited' : 'v1' }, exports: { data: { port: 8080, proto: 'tcp' } } },
          dependencies: [{ chart: leaf, importValues: [{ child: 'config', parent: 'leafConfig' }], form: 'tgz' }],
        },
        condition: 'backend.enabled',
        importValues: ['data'],
      },
      { chart: { name: 'cache', version: '0.5.0', values: { size: 128, enabled: true } }, alias: 'cacheA', condition: 'cacheA.enabled', tags: ['optional'], form: 'tgz' },
      { chart: { name: 'cache', version: '0.5.0', values: { size: 128, enabled: true } }, alias: 'cacheB', tags: ['optional'] },
      { chart: common, importValues: [{ child: 'exports.defaults', parent: 'importedDefaults' }], form: 'tgz' },
    ],
  };
}

const requirementsV1: UmbrellaSpec = {
  name: 'legacy',
  version: '0.9.0',
  apiVersion: 'v1',
  lock: true,
  values: { web: { port: 80 } },
  dependencies: [{ chart: { name: 'web', version: '1.0.0', values: { port: 8080, enabled: true } }, condition: 'web.enabled' }],
};

const plain: UmbrellaSpec = { name: 'plain', version: '3.0.0', values: { a: 1 }, binaryAndIgnore: true };

async function packaged(spec: UmbrellaSpec, tag: string): Promise<{ path: string; bytes: Buffer }> {
  const dir = await writeChart(join(work, `src-${tag}`), spec);
  return packageDir(dir, join(work, `out-${tag}`));
}

/**
 * The processing rules of a tested binary's release line (src/chart/helm-install.ts HELM_BEHAVIOURS, newest
 * first): the first whose id starts at or below the binary's own version.
 */
function ownRule(helm: HelmBinaryName): string {
  const [major, minor, patch] = helmVersionOf(helm);
  const at = major * 1e6 + minor * 1e3 + patch;
  for (const b of HELM_BEHAVIOURS) {
    const m = /^helm (\d+)\.(\d+)(?:\.(\d+))?/.exec(b.id);
    if (m && Number(m[1]) === major && Number(m[1]) * 1e6 + Number(m[2]) * 1e3 + Number(m[3] ?? 0) <= at) return b.id;
  }
  throw new Error(`no HELM_BEHAVIOURS rule for ${helm} ${major}.${minor}.${patch}`);
}

let seq = 0;
const releaseName = (): string => `p${++seq}`;

before(async () => {
  await ensureNamespace(cluster, ns);
});

describe('content proof = what each helm stores (differential, real helm)', () => {
  it('umbrella chart: nested subcharts, aliases, conditions and tags on and off via --set, import-values in both forms, library chart, globals, lock, binary file, .helmignore', async () => {
    const chart = await packaged(umbrella(), 'umbrella');
    const published = publishedOf(chart.bytes);
    const settings: { set: Record<string, string>; accounted: RegExp[] }[] = [
      { set: {}, accounted: [/subchart values coalesced/, /alias cache→cacheA, cache→cacheB/, /disabled cacheA dropped/, /import-values applied/] },
      { set: { 'backend.enabled': 'false' }, accounted: [/disabled backend, cacheA dropped/] },
      { set: { 'tags.optional': 'false' }, accounted: [/disabled cacheA, cacheB dropped/] },
      { set: { 'tags.optional': 'false', 'cacheA.enabled': 'true' }, accounted: [/disabled cacheB dropped/] },
      // Helm < 3.13 stores the user's globals in the subcharts' values (compared by keyed hash).
      { set: { 'global.region': 'us', 'global.token': 's3cr3t', 'global.tier.n': '3', 'backend.replicas': '5' }, accounted: [/subchart values coalesced/] },
    ];
    for (const helm of HELM_BINARIES) {
      for (const { set, accounted } of settings) {
        const record = await dryRunInstall(cluster, helm, ns, releaseName(), chart.path, set);
        const what = `${helm} --set ${JSON.stringify(set)}`;
        assert.equal(record.helmMajor, helm.startsWith('helm4') ? 4 : undefined, `${what}: Helm 4 is recognised by what it writes`);
        assert.notEqual(record.fingerprint.values, published.rawValuesDigest, `${what}: helm changed the values (the case exercises processing)`);
        assert.ok(Object.keys(record.fingerprint.files).includes('files/blob.bin') && !Object.keys(record.fingerprint.files).some((f) => f.endsWith('.tmp')), `${what}: binary kept, ignored files absent`);
        assert.notEqual(record.fingerprint.lock, '', `${what}: Chart.lock stored`);
        const proof = await proveContent(record, published);
        assert.deepEqual(proof.differences, [], `${what}: reproduction equals what helm stored`);
        for (const re of accounted) assert.match(proof.accounted.join('; '), re, what);
        if (set['global.token']) assert.equal(proof.accounted.some((a) => /user globals .* keyed hash/.test(a)), !helmAtLeast(helm, 3, 13), what);
      }
    }
  });

  it('import-values precedence: parent values over imported ones, string imports before and after child/parent ones, nulls on either side', async () => {
    const lib = { name: 'lib', version: '1.0.0', library: true, values: { exports: { defaults: { labels: { team: 'lib', tier: 'x' } }, data: { port: 8080, proto: 'tcp', nested: { k: 'lib', n: null } } } } };
    const app = { name: 'app', version: '1.0.0', values: { exports: { more: { extra: 'e', port: 7070 } }, cfg: { a: 1, b: null, n: { z: 2 } } } };
    const values = { port: 9090, nested: { k: 'parent', m: null }, proto: null, importedDefaults: { labels: { team: 'parent' } }, appCfg: { a: 'parent' }, global: { gk: 'p', gt: { p: 1 } } };
    const specs: UmbrellaSpec[] = [
      { name: 'imports', version: '1.0.0', values, dependencies: [{ chart: app, importValues: ['more', { child: 'cfg', parent: 'appCfg' }], form: 'tgz' }, { chart: lib, importValues: ['data', { child: 'exports.defaults', parent: 'importedDefaults' }], form: 'tgz' }] },
      { name: 'importsrev', version: '1.0.0', values, dependencies: [{ chart: lib, importValues: [{ child: 'exports.defaults', parent: 'importedDefaults' }, 'data'], form: 'tgz' }, { chart: app, importValues: ['more'], form: 'tgz' }] },
      { name: 'strings', version: '1.0.0', values, dependencies: [{ chart: app, importValues: ['more'], form: 'tgz' }, { chart: lib, importValues: ['data'], form: 'tgz' }] },
    ];
    for (const spec of specs) {
      const chart = await packaged(spec, spec.name);
      const published = publishedOf(chart.bytes);
      for (const helm of HELM_BINARIES) {
        const record = await dryRunInstall(cluster, helm, ns, releaseName(), chart.path, { 'global.gk': 'user' });
        const proof = await proveContent(record, published);
        assert.deepEqual(proof.differences, [], `${helm} ${spec.name}`);
        assert.match(proof.accounted.join('; '), /import-values applied/, `${helm} ${spec.name}`);
      }
    }
  });

  it('apiVersion v1 chart with requirements.yaml and requirements.lock; a chart without dependencies', async () => {
    const legacy = await packaged(requirementsV1, 'legacy');
    const simple = await packaged(plain, 'plain');
    for (const helm of HELM_BINARIES) {
      for (const set of [{}, { 'web.enabled': 'false' }] as Record<string, string>[]) {
        const record = await dryRunInstall(cluster, helm, ns, releaseName(), legacy.path, set);
        assert.ok(Object.keys(record.fingerprint.files).includes('requirements.yaml'), `${helm}: v1 keeps requirements.yaml as a file`);
        const proof = await proveContent(record, publishedOf(legacy.bytes));
        assert.deepEqual(proof.differences, [], `${helm} ${JSON.stringify(set)}`);
        // With its only dependency disabled, Helm stores the chart as published: nothing to account for.
        if (set['web.enabled'] === 'false') assert.deepEqual(proof.accounted, [], helm);
        else assert.match(proof.accounted.join('; '), /requirements\.yaml folded into metadata, subchart values coalesced/, helm);
      }
      const record = await dryRunInstall(cluster, helm, ns, releaseName(), simple.path);
      const proof = await proveContent(record, publishedOf(simple.bytes));
      assert.deepEqual(proof, { differences: [], accounted: [] }, `${helm}: a chart without dependencies is stored as published`);
    }
  });

  it('one value, one template, one subchart default, one global default edited → Mismatch naming the part', async () => {
    const published = publishedOf((await packaged(umbrella(), 'orig')).bytes);
    const cases = [
      { edit: { value: true }, parts: ['values'] },
      { edit: { template: true }, parts: ['templates/configmap.yaml'] },
      { edit: { subchartDefault: true }, parts: ['values'] },
      { edit: { globalDefault: true }, parts: ['values'] },
    ];
    for (const { edit, parts } of cases) {
      const edited = await packaged(umbrella(edit), `edit-${Object.keys(edit)[0]}`);
      for (const helm of ['helm3-old', 'helm3', 'helm4-latest'] as const) {
        // With user globals too: Helm < 3.13 then stores them, and the proof compares globals by keyed hash.
        const record = await dryRunInstall(cluster, helm, ns, releaseName(), edited.path, edit.globalDefault ? { 'global.region': 'us' } : {});
        const proof = await proveContent(record, published);
        assert.deepEqual(proof.differences, parts, `${helm} ${JSON.stringify(edit)}`);
        assert.deepEqual(proof.accounted, []);
      }
    }
  });

  it('helm upgrade --reuse-values and --reset-then-reuse-values to the next version are proven; without the previous revision it is Unverified, never Verified', async () => {
    const v1 = await packaged(umbrella(), 'reuse-1');
    const next = umbrella();
    next.version = '1.1.0';
    next.values = { ...next.values, replicas: 7, added: { in: 'v1.1.0' } };
    const v2 = await packaged(next, 'reuse-2');
    const published2 = publishedOf(v2.bytes);
    const secret = async (release: string, revision: number): Promise<StoredReleaseObject> =>
      JSON.parse(await kubectl(cluster, ['get', 'secret', '-n', ns, `sh.helm.release.v1.${release}.v${revision}`, '-o', 'json'])) as StoredReleaseObject;
    for (const helm of HELM_BINARIES) {
      // --reset-then-reuse-values came in Helm 3.14.
      for (const flag of helmAtLeast(helm, 3, 14) ? (['--reuse-values', '--reset-then-reuse-values'] as const) : (['--reuse-values'] as const)) {
        const release = releaseName();
        await install(cluster, helm, ns, release, v1.path, { 'backend.replicas': '4', 'cacheA.enabled': 'true' });
        await upgrade(cluster, helm, ns, release, v2.path, { 'backend.image.tag': 'v9' }, [flag]);
        const record = decodeStoredRelease(await secret(release, 2));
        const previous = storedValuesOf(await secret(release, 1));
        const proof = await proveContent(record, published2, { previous: async (n) => (n === 1 ? previous : undefined) });
        assert.deepEqual(proof.differences, [], `${helm} ${flag}`);
        if (flag === '--reuse-values') {
          assert.match(proof.accounted.join('; '), /values carried over by --reuse-values from revision 1/, helm);
          // Per version: the rules of this helm's own release line reproduce what it stored; the values carry
          // a null over a subchart default (backend.removeMe), which Helm 4.2+ drops and older Helm keeps.
          // --reuse-values by Helm 3 and 4 (Helm 2's is not reproduced: helmProcessChart refuses it for the Helm 2 rule).
          const matching = HELM_BEHAVIOURS.filter((b) => b.major !== 2).filter((b) => {
            const parts = helmProcessChart(chartFromJson(published2.tree), proofInputsOf(record)?.conditionValues ?? null, b, reusedValues(previous.values, previous.config, b));
            return valuesDigest(parts.values) === record.fingerprint.values;
          }).map((b) => b.id);
          assert.ok(matching.includes(ownRule(helm)), `${helm}: ${ownRule(helm)} among ${matching.join(', ')}`);
          if (helm === 'helm4-latest') assert.ok(!matching.includes('helm 4.1.3+'), `helm 4.3 differs from 4.1: ${matching.join(', ')}`);
          if (helm === 'helm4') assert.ok(!matching.includes('helm 4.2+'), `helm 4.1 differs from 4.3: ${matching.join(', ')}`);
          const again = decodeStoredRelease(await secret(release, 2));
          const blind = await proveContent(again, published2, {});
          assert.equal(blind.unverifiable !== undefined && blind.differences.length === 0, true, `${helm}: no previous revision → unverifiable`);
          const gone = await proveContent(decodeStoredRelease(await secret(release, 2)), published2, { previous: async () => undefined });
          assert.match(gone.unverifiable ?? '', /revision 1 .* no longer stored/);
          // helm rollback to the --reuse-values revision copies its chart and user values: proven from revision 1 still.
          await upgrade(cluster, helm, ns, release, v1.path);
          await runHelmBinary(cluster, helm, ['rollback', release, '2', '--namespace', ns]);
          const rolledBack = decodeStoredRelease(await secret(release, 4));
          assert.equal(rolledBack.rollbackTo, 2);
          const revisions = new Map<number, StoredReleaseObject>([[1, await secret(release, 1)], [3, await secret(release, 3)]]);
          const afterRollback = await proveContent(rolledBack, published2, { previous: async (n) => { const o = revisions.get(n); return o ? storedValuesOf(o) : undefined; } });
          assert.deepEqual(afterRollback.differences, [], `${helm} rollback`);
          assert.match(afterRollback.accounted.join('; '), /from revision 1/);
        } else {
          assert.doesNotMatch(proof.accounted.join('; '), /reuse-values/, `${helm}: the new chart's values are used as published`);
        }
      }
    }
  });
});
