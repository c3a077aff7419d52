/**
 * manifests/ is generated from charts/chartorigin by scripts/render-manifests.ts. This test renders again
 * and fails when anything differs, so that the chart stays the one source of truth.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CRD_SOURCE_DIR, existingManifests, helmTemplate, MANIFESTS_DIR, parseObjects, RELEASE_NAMESPACE, renderManifests } from '../../../scripts/render-manifests.ts';

const FIX = 'run `npx node scripts/render-manifests.ts` and commit manifests/';

describe('manifests/ = a fresh render of charts/chartorigin', () => {
  const fresh = renderManifests();

  test('the same set of files', () => {
    assert.deepEqual(existingManifests(), [...fresh.keys()].sort(), FIX);
  });

  test('every file byte for byte', () => {
    for (const [f, text] of fresh) assert.equal(readFileSync(join(MANIFESTS_DIR, f), 'utf8'), text, `manifests/${f} is stale: ${FIX}`);
  });

  test('install.yaml holds the Namespace (Pod Security restricted), both CRDs as in the chart, then the default rendering', () => {
    const objs = parseObjects(readFileSync(join(MANIFESTS_DIR, 'install.yaml'), 'utf8'));
    assert.equal(objs[0]?.kind, 'Namespace');
    assert.equal(objs[0]?.metadata.name, RELEASE_NAMESPACE);
    assert.equal(objs[0]?.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
    const crds = objs.filter((o) => o.kind === 'CustomResourceDefinition');
    assert.deepEqual(crds.map((c) => c.metadata.name).sort(), ['chartorigins.chartorigin.io', 'chartrepositories.chartorigin.io']);
    for (const f of ['chartorigin.io_chartorigins.yaml', 'chartorigin.io_chartrepositories.yaml']) {
      const chartCrd = readFileSync(join(CRD_SOURCE_DIR, f), 'utf8');
      assert.equal(readFileSync(join(MANIFESTS_DIR, 'crds', f), 'utf8'), chartCrd, `manifests/crds/${f} is a copy of the chart's`);
      assert.ok(crds.some((c) => JSON.stringify(c) === JSON.stringify(parseObjects(chartCrd)[0])), `install.yaml has the chart's ${f}`);
    }
    const rest = objs.slice(3).map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    const chart = parseObjects(helmTemplate([])).map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    assert.deepEqual(rest, chart, 'then exactly the objects of `helm template` with default values');
    assert.ok(objs.every((o) => o.metadata.labels?.['app.kubernetes.io/managed-by'] !== 'Helm'), 'kubectl-applied objects do not claim to be managed by Helm');
  });

  test('alerts/prometheusrule.yaml is the chart PrometheusRule with default thresholds', () => {
    const objs = parseObjects(readFileSync(join(MANIFESTS_DIR, 'alerts', 'prometheusrule.yaml'), 'utf8'));
    assert.deepEqual(objs.map((o) => o.kind), ['PrometheusRule']);
    const fromChart = parseObjects(helmTemplate(['--set', 'prometheusRule.enabled=true', '--show-only', 'templates/prometheusrule.yaml']))[0] as unknown as { spec: unknown };
    assert.deepEqual((objs[0] as unknown as { spec: unknown }).spec, fromChart.spec);
  });

  test('the drift check notices a change in the chart (values flip → different render)', () => {
    const changed = helmTemplate(['--set', 'controller.logLevel=debug']);
    assert.notEqual(changed, helmTemplate([]));
    assert.ok(!readFileSync(join(MANIFESTS_DIR, 'install.yaml'), 'utf8').includes('--log-level=debug'));
  });
});
