/**
 * Puts the promtool unit tests of the shipped alerts (test/alerts/*.test.yaml) into a directory together with the
 * rule files they name, rendered from charts/chartorigin:
 *
 *   node scripts/alert-tests.ts DIR && promtool test rules DIR/*.test.yaml
 *
 * - rules.yaml: every alert enabled (HelmChartUpstreamStale is off by default), default controllerJob (the
 *   ServiceMonitor's job, also the job_name the plain scrape-config test uses);
 * - rules-podmonitor.yaml: controllerJob = chartorigin/chartorigin, the job a PodMonitor chartorigin/chartorigin gets.
 * test/unit/ship/alerts-promtool.test.ts does the same in a temporary directory.
 */
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { prometheusRuleFile } from './render-manifests.ts';
import { REPO_ROOT } from '../test/harness/tools.ts';

export const ALERT_TESTS_DIR = join(REPO_ROOT, 'test', 'alerts');

const ALL_ALERTS = ['--set', 'prometheusRule.alerts.HelmChartUpstreamStale.enabled=true'];

/** Rule file name → `helm template` arguments. */
export const ALERT_TEST_RULES: Readonly<Record<string, readonly string[]>> = {
  'rules.yaml': ALL_ALERTS,
  'rules-podmonitor.yaml': [...ALL_ALERTS, '--set', 'prometheusRule.controllerJob=chartorigin/chartorigin'],
};

/** Writes the rule files and copies the tests into `dir`; returns the test files' paths. */
export function writeAlertTests(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  for (const [file, args] of Object.entries(ALERT_TEST_RULES)) writeFileSync(join(dir, file), prometheusRuleFile(args));
  const tests = readdirSync(ALERT_TESTS_DIR).filter((f) => f.endsWith('.test.yaml')).sort();
  for (const f of tests) copyFileSync(join(ALERT_TESTS_DIR, f), join(dir, f));
  return tests.map((f) => join(dir, f));
}

if (import.meta.main) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: node scripts/alert-tests.ts DIR\n');
    process.exit(2);
  }
  const tests = writeAlertTests(dir);
  process.stdout.write(`wrote ${Object.keys(ALERT_TEST_RULES).join(', ')} and ${tests.length} tests into ${dir}\npromtool test rules ${tests.join(' ')}\n`);
}
