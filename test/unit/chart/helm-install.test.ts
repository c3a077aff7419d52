/**
 * Helm's install-time processing, pure parts: the per-version null rules (read from helm/helm at each
 * tag), the reduction of user values to what enablement reads, and the cache form of a chart tree. The
 * agreement with real helm binaries is pinned by test/e2e/helm-processing*.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coalesceValues, mergeValues, type Table } from '../../../src/chart/coalesce.ts';
import { chartFromJson, conditionValues, HELM_BEHAVIOURS, helmProcessChart, reusedValues, treeJson, type HelmChart } from '../../../src/chart/helm-install.ts';
import { globalToken, hasGlobalTokens, tokenizeGlobals } from '../../../src/chart/global-tokens.ts';
import { createHash } from 'node:crypto';

const plainJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
const behaviour = (id: string) => {
  const b = HELM_BEHAVIOURS.find((x) => x.id === id);
  assert.ok(b, id);
  return b;
};
const chart = (values: Table, subcharts: HelmChart[] = [], deps?: HelmChart['metadata']['dependencies']): HelmChart => ({
  metadata: { name: 'parent', version: '1.0.0', apiVersion: 'v2', ...(deps ? { dependencies: deps } : {}) },
  values,
  subcharts,
});

describe('Helm values rules per version', () => {
  it('a user null for a key the chart has no default for: kept before helm 3.19.5, removed by 3.19.5-3.20.0 and 4.0-4.1.2 ("fix null merge"), kept again from 3.20.1 / 4.1.3', () => {
    const c = chart({ t: { x: 1 } });
    const config = { t: { x: null, y: null } };
    for (const id of ['helm 3.8.2-3.12', 'helm 3.13.1-3.17.0', 'helm 3.17.1-3.19.4']) assert.deepEqual(plainJson(coalesceValues(c, config, behaviour(id))), { t: { y: null } }, id);
    assert.deepEqual(plainJson(coalesceValues(c, config, behaviour('helm 3.19.5-3.20.0'))), { t: {} });
    assert.deepEqual(plainJson(coalesceValues(c, config, behaviour('helm 4.0-4.1.2'))), { t: {} });
    assert.deepEqual(plainJson(coalesceValues(c, config, behaviour('helm 3.20.1+'))), { t: { y: null } });
    assert.deepEqual(plainJson(coalesceValues(c, config, behaviour('helm 4.1.3+'))), { t: { y: null } });
  });

  it('nulls in chart defaults: kept when coalescing before helm 4.2, dropped from 4.2; always kept when merging', () => {
    const c = chart({ t: { z: null, k: 1 }, u: null });
    assert.deepEqual(plainJson(coalesceValues(c, {}, behaviour('helm 4.1.3+'))), { t: { z: null, k: 1 }, u: null });
    assert.deepEqual(plainJson(coalesceValues(c, {}, behaviour('helm 4.2+'))), { t: { k: 1 } });
    assert.deepEqual(plainJson(mergeValues(c, {}, behaviour('helm 4.2+'))), { t: { z: null, k: 1 }, u: null });
  });

  it('--reuse-values starts from the previous values coalesced with the previous user values (user wins, null deletes)', () => {
    const b = behaviour('helm 3.20.1+');
    assert.deepEqual(plainJson(reusedValues({ a: 1, b: { c: 2, d: 3 }, e: 5 }, { b: { c: 9 }, e: null }, b)), { a: 1, b: { c: 9, d: 3 } });
  });

  it('globals flow from the parent into every enabled subchart, the parent winning; subchart defaults fill in', () => {
    const sub: HelmChart = { metadata: { name: 'sub', version: '1.0.0' }, values: { global: { g: 'sub', only: 'sub' }, v: 1 }, subcharts: [] };
    const c = chart({ global: { g: 'parent' } }, [sub], [{ name: 'sub', version: '1.0.0' }]);
    const out = helmProcessChart(c, {}, behaviour('helm 4.2+'));
    assert.deepEqual(plainJson(out.values), { global: { g: 'parent' }, sub: { global: { g: 'parent', only: 'sub' }, v: 1 } });
    assert.deepEqual(plainJson(out.metadata['dependencies']), [{ name: 'sub', version: '1.0.0', enabled: true }]);
    assert.equal(out.notes.subchartValues, true);
    assert.deepEqual(c.values, { global: { g: 'parent' } }, 'the input chart is not modified');
  });

  it('a condition that is not a bool is skipped for the next one; tags disable only when none is true', () => {
    const a: HelmChart = { metadata: { name: 'a', version: '1.0.0' }, values: {}, subcharts: [] };
    const deps = () => [{ name: 'a', version: '1.0.0', condition: 'a.flag,a.enabled', tags: ['x', 'y'] }];
    const run = (config: Table) => helmProcessChart(chart({ a: { flag: 'yes' } }, [a], deps()), conditionValues(config), behaviour('helm 3.20.1+'));
    assert.deepEqual(run({}).notes.disabled, []);
    assert.deepEqual(run({ a: { enabled: false } }).notes.disabled, ['a']);
    assert.deepEqual(run({ tags: { x: false } }).notes.disabled, ['a']);
    assert.deepEqual(run({ tags: { x: false, y: true } }).notes.disabled, []);
    assert.deepEqual(run({ tags: { x: false }, a: { enabled: true } }).notes.disabled, [], 'a condition overrides tags');
    assert.equal(run({ a: { enabled: false } }).metadata['dependencies'], null, 'no dependency left: none in the metadata');
  });
});

describe('user values kept for the proof', () => {
  it('keep tables, booleans and nulls only: strings, numbers and lists (where secrets live) are gone', () => {
    const reduced = conditionValues({ password: 'hunter2', db: { enabled: true, port: 5432, hosts: ['a'], token: 's3cr3t', gone: null } });
    assert.deepEqual(plainJson(reduced), { password: 0, db: { enabled: true, port: 0, hosts: 0, token: 0, gone: null } });
    assert.doesNotMatch(JSON.stringify(reduced), /hunter2|s3cr3t|5432/);
  });

  it('inside global tables (Helm < 3.13 stored them): keyed hashes that compare equal for equal values and reveal nothing', () => {
    const config = { global: { registry: 'r.example', password: 'hunter2', port: 5432, list: ['a'], on: true, off: null, t: { k: 's3cr3t' } }, sub: { global: { x: 'hunter2' } }, plain: 'hunter2' };
    const reduced = conditionValues(config) as { global: Record<string, unknown>; sub: { global: Record<string, unknown> }; plain: unknown };
    assert.doesNotMatch(JSON.stringify(reduced), /hunter2|s3cr3t|5432|r\.example/);
    assert.equal(reduced.plain, 0);
    assert.equal(reduced.global['on'], true);
    assert.equal(reduced.global['off'], null);
    assert.equal(reduced.global['password'], globalToken('hunter2'));
    assert.equal(reduced.sub.global['x'], reduced.global['password'], 'equal values, equal tokens');
    assert.notEqual(globalToken(5432), globalToken('5432'), 'a number and a string differ');
    assert.notEqual(globalToken('hunter2'), `\u0000global-token:${createHash('sha256').update('"hunter2"').digest('hex')}`, 'keyed, not a plain hash');
    assert.equal(hasGlobalTokens(reduced), true);
    assert.equal(hasGlobalTokens(conditionValues({ global: { on: true }, a: 'x' })), false, 'booleans only: nothing hashed');
  });

  it('stored values compared with their globals hashed: the user tokens stay, every other value inside a global table is hashed', () => {
    const stored = { global: { g: 'p' }, sub: { global: { g: 'p', user: 'u1', t: { n: 3 } }, v: 'x' } };
    const reproduced = { global: { g: 'p' }, sub: { global: { g: 'p', user: globalToken('u1'), t: { n: 3 } }, v: 'x' } };
    assert.deepEqual(plainJson(tokenizeGlobals(reproduced)), plainJson(tokenizeGlobals(stored)));
    assert.deepEqual((plainJson(tokenizeGlobals(stored)) as Record<string, unknown>)['sub'], { global: { g: globalToken('p'), user: globalToken('u1'), t: { n: globalToken(3) } }, v: 'x' });
    assert.notDeepEqual(plainJson(tokenizeGlobals({ ...stored, sub: { ...stored.sub, global: { ...stored.sub.global, user: 'u2' } } })), plainJson(tokenizeGlobals(stored)));
  });
});

describe('chart tree cache form', () => {
  it('round-trips, and a values key named __proto__ stays data', () => {
    const c: HelmChart = { metadata: { name: 'p', version: '1.0.0' }, values: JSON.parse('{"__proto__":{"polluted":true},"a":1}') as Table, subcharts: [] };
    const back = chartFromJson(treeJson(c));
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    assert.deepEqual(Object.keys(back.values ?? {}).sort(), ['__proto__', 'a']);
    assert.equal(treeJson(back), treeJson(c));
  });
});
