/**
 * The shipped alerts in a real rule engine: Debian's `prometheus` package provides `promtool` (.ci/run installs
 * it). `promtool check rules` on the shipped rule file and `promtool test rules` on test/alerts/*.test.yaml,
 * whose rule files scripts/alert-tests.ts renders from the chart. The tests cover every alert firing and
 * silent, the Outdated timer across an upstream release and a controller restart, and ChartOriginControllerDown
 * under a ServiceMonitor, a PodMonitor and a plain scrape config.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse } from 'yaml';
import { ALERT_TEST_RULES, writeAlertTests } from '../../../scripts/alert-tests.ts';
import { MANIFESTS_DIR } from '../../../scripts/render-manifests.ts';

const dir = mkdtempSync(join(tmpdir(), 'chartorigin-promtool-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function promtool(args: readonly string[]): { code: number | null; out: string } {
  const r = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw new Error(`promtool is not installed (Debian package prometheus; .ci/run installs it): ${r.error.message}`);
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

interface AlertTestFile {
  rule_files: string[];
  tests: { name: string; alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}

const testFiles = writeAlertTests(dir);
const parsed = new Map(testFiles.map((f) => [basename(f), parse(readFileSync(f, 'utf8')) as AlertTestFile]));
const shipped = (parse(readFileSync(join(dir, 'rules.yaml'), 'utf8')) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap((g) => g.rules.map((r) => r.alert));

describe('promtool', () => {
  test('check rules: the shipped rule file and every rendering the tests use are valid', () => {
    for (const f of [join(MANIFESTS_DIR, 'alerts', 'rules.yaml'), ...Object.keys(ALERT_TEST_RULES).map((r) => join(dir, r))]) {
      const r = promtool(['check', 'rules', f]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /SUCCESS: \d+ rules found/);
    }
  });

  test('every shipped alert has a firing and a silent case', () => {
    assert.equal(shipped.length, 10);
    const firing = new Set<string>();
    const silent = new Set<string>();
    for (const t of parsed.values()) {
      for (const c of t.tests) for (const a of c.alert_rule_test ?? []) ((a.exp_alerts ?? []).length > 0 ? firing : silent).add(a.alertname);
    }
    for (const a of shipped) {
      assert.ok(firing.has(a), `${a} is tested firing`);
      assert.ok(silent.has(a), `${a} is tested silent`);
    }
  });

  test('ChartOriginControllerDown is tested under a ServiceMonitor, a PodMonitor and a plain scrape config', () => {
    for (const f of ['controller-servicemonitor.test.yaml', 'controller-podmonitor.test.yaml', 'controller-plain.test.yaml']) {
      const t = parsed.get(f);
      assert.ok(t?.tests.some((c) => c.alert_rule_test?.some((a) => a.alertname === 'ChartOriginControllerDown' && (a.exp_alerts ?? []).length > 0)), f);
    }
  });

  for (const f of testFiles) {
    test(`test rules ${basename(f)}`, () => {
      const r = promtool(['test', 'rules', basename(f)]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /SUCCESS/);
    });
  }

  test('the timer test tells the old identity apart: with latest_version in the alert labels it fails', () => {
    // The rule as it was before issue #17: the raw series, so every upstream release was a new alert.
    const rules = readFileSync(join(dir, 'rules.yaml'), 'utf8');
    const old = rules.replace('max by (namespace, release, chart) (chartorigin_release_outdated) == 1', 'chartorigin_release_outdated == 1');
    assert.notEqual(old, rules);
    writeFileSync(join(dir, 'rules-old.yaml'), old);
    writeFileSync(join(dir, 'old.test.yaml'), readFileSync(join(dir, 'releases.test.yaml'), 'utf8').replace('rule_files: [rules.yaml]', 'rule_files: [rules-old.yaml]'));
    const r = promtool(['test', 'rules', 'old.test.yaml']);
    assert.notEqual(r.code, 0);
    assert.match(r.out, /outdated timer survives an upstream release/);
  });
});
