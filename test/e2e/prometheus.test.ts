/**
 * The shipped alerts and dashboard in a real Prometheus (Debian's package, installed by .ci/run): the controller
 * runs against the test control plane with demo-like releases, Prometheus scrapes it with the scrape
 * configuration the chart's ServiceMonitor implies (its job, path, honorLabels, and the target labels the
 * operator attaches, namespace = the controller's), and loads the chart's PrometheusRule.
 *
 * The rules are the shipped ones with one change: every `for:` is 1s. The shipped durations (5m to 24h) would
 * make this test last a day; the expressions, labels and annotation templates are the shipped ones, and what
 * `for:` does with them (pending, the timer across upstream releases and restarts) is covered by the promtool
 * unit tests in test/alerts/ (test/unit/ship/alerts-promtool.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { packageChart, repoIndex, scratchDir } from '../harness/charts.ts';
import { startChartRepoServer, type ChartRepoServer } from '../harness/chart-repo-server.ts';
import { applyChartRepository, applyObject, chartOriginWhere } from '../harness/chart-origins.ts';
import { ensureNamespace, kubectl } from '../harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess, type ControllerProcess } from '../harness/controller-process.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { freePort } from '../harness/free-port.ts';
import { helmInstall, helmUpgrade } from '../harness/helm.ts';
import { createSigningKey, stopGpgAgents } from '../harness/gpg.ts';
import { chartPrometheusSetup, startPrometheus, type PromAlert, type RunningPrometheus } from '../harness/prometheus.ts';
import { REPO_ROOT } from '../harness/tools.ts';

const env = testEnv();
const cluster = env.cluster;
const apps = uniqueNamespace('e2e-prom-apps');
const legacy = uniqueNamespace('e2e-prom-legacy');
const prefix = apps.replace(/[^a-z0-9-]/g, '');
const repo = { main: `${prefix}-main`, fork: `${prefix}-fork`, notes: `${prefix}-notes`, dead: `${prefix}-dead` };
const workDir = mkdtempSync(join(tmpdir(), 'chartorigin-prom-'));
let notes: ChartRepoServer;
let controller: ControllerProcess;
let prometheus: RunningPrometheus;
let startedAt = 0;

const CHANGES_1_1 = '- kind: security\n  description: Fix CVE-2026-0001 in the bundled image\n  links:\n    - name: Advisory\n      url: https://example.com/advisories/1\n- kind: added\n  description: A readiness probe';

interface Status {
  chart?: { version: string; deprecated: boolean; deprecationMessage?: string };
  origin?: { match: string };
  latest?: { version: string; deprecated: boolean; securityUpdates?: boolean; changes?: { kind?: string; description: string; links?: { name: string; url: string }[] }[]; home?: string };
  upgrade?: string;
  versionsBehind?: number;
  upstreamStale?: boolean;
}

/** Each release, where it is and what it should set off. */
const RELEASES = [
  { ns: () => apps, name: 'shop', alerts: ['HelmChartOutdated', 'HelmChartMajorVersionBehind'] },
  { ns: () => legacy, name: 'shop', alerts: ['HelmChartOutdated', 'HelmChartMajorVersionBehind'] },
  { ns: () => legacy, name: 'old', alerts: ['HelmChartDeprecated'] },
  { ns: () => apps, name: 'patched', alerts: ['HelmChartOriginMismatch'] },
  { ns: () => apps, name: 'shop-fork', alerts: ['HelmChartSignatureInvalid'] },
  { ns: () => apps, name: 'tools', alerts: ['HelmChartOriginUnknown'] },
  { ns: () => apps, name: 'pay', alerts: ['HelmChartOutdated', 'HelmChartSecurityUpdateAvailable', 'HelmChartUpstreamStale'] },
];

before(async () => {
  await installCrds(cluster);
  for (const ns of [apps, legacy]) await ensureNamespace(cluster, ns);

  // A repository whose publisher writes the Artifact Hub annotations: secure 1.1.0 contains security updates.
  // Its index says both versions were created in 2020, so the chart is stale upstream (default 8760h).
  const notesDir = scratchDir('prom-notes');
  await packageChart({ name: 'secure', version: '1.0.0', appVersion: '1.0.0', home: 'https://example.com/secure' }, notesDir);
  await packageChart({ name: 'secure', version: '1.1.0', appVersion: '1.1.0', home: 'https://example.com/secure', annotations: { 'artifacthub.io/containsSecurityUpdates': 'true', 'artifacthub.io/changes': CHANGES_1_1 } }, notesDir);
  const index = await repoIndex(notesDir);
  writeFileSync(index, readFileSync(index, 'utf8').replace(/^(\s+created: ).*$/gm, '$1"2020-01-02T03:04:05Z"'));
  notes = await startChartRepoServer({ dir: notesDir });

  const local = scratchDir('prom-local');
  const tampered = await packageChart({ name: 'webapp', version: '1.2.0', appVersion: '1.2.0', schema: true, templateVariant: 'hand-edited' }, join(local, 'tampered'));
  const inhouse = await packageChart({ name: 'inhouse', version: '0.3.0', appVersion: '0.3.0' }, join(local, 'inhouse'));

  const main = env.chartRepo.repos.main.url;
  await applyChartRepository(cluster, repo.main, { url: main, priority: 10, interval: '1h' });
  // The fork's charts count as proven only with a good .prov by the publisher's key: shop-fork is its content, unsigned.
  const key = await createSigningKey('prometheus-e2e-publisher');
  await applyObject(cluster, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'publisher-keys', namespace: apps }, stringData: { 'publisher.asc': key.publicKey } });
  await applyChartRepository(cluster, repo.fork, { url: env.chartRepo.repos.fork.url, interval: '1h', requireSignature: true, keyringSecretRef: { name: 'publisher-keys', namespace: apps } });
  await applyChartRepository(cluster, repo.notes, { url: notes.url, interval: '1h' });
  await applyChartRepository(cluster, repo.dead, { url: `http://127.0.0.1:${await freePort()}/charts`, interval: '1h' });
  // With a repository down, "nobody publishes it" cannot be claimed (Unreachable): tools is pinned to main,
  // where the in-house chart certainly is not, so that its origin is a proper NotFound.
  await applyObject(cluster, { apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartOrigin', metadata: { name: 'tools', namespace: apps }, spec: { repository: repo.main } });

  await helmInstall(cluster, 3, 'shop', 'webapp', { namespace: apps, repo: main, version: '1.0.0' });
  await helmInstall(cluster, 4, 'shop', 'webapp', { namespace: legacy, repo: main, version: '1.1.0' });
  await helmInstall(cluster, 3, 'old', 'legacy', { namespace: legacy, repo: main, version: '0.9.0' });
  await helmInstall(cluster, 4, 'patched', tampered.path, { namespace: apps });
  await helmInstall(cluster, 4, 'shop-fork', env.chartRepo.repos.fork.charts['webapp-1.1.0']!.path, { namespace: apps });
  await helmInstall(cluster, 4, 'tools', inhouse.path, { namespace: apps });
  await helmInstall(cluster, 3, 'pay', 'secure', { namespace: apps, repo: notes.url, version: '1.0.0' });

  startedAt = Date.now() / 1000;
  controller = await startControllerProcess(cluster, ['--leader-elect=false', '--namespaces', `${apps},${legacy}`], 'prom-controller');
  await eventually('controller ready', async () => ((await controller.ready()) ? true : undefined), 60_000);

  // What `helm install --set serviceMonitor.enabled=true,prometheusRule.enabled=true` into namespace chartorigin
  // gives Prometheus, with every `for:` 1s (see the top of this file).
  const setup = chartPrometheusSetup(new URL(controller.metricsUrl).host);
  prometheus = await startPrometheus({
    dir: join(workDir, 'prometheus'),
    scrapeConfigs: [setup.scrapeConfig],
    ruleFiles: { 'chartorigin.rules.yaml': setup.rules },
  });
});

after(async () => {
  await prometheus?.stop();
  await controller?.stop();
  await notes?.close();
  await stopGpgAgents();
  for (const r of Object.values(repo)) await kubectl(cluster, ['delete', 'chartrepository', r, '--ignore-not-found']).catch(() => undefined);
  rmSync(workDir, { recursive: true, force: true });
});

const firing = async (name: string, labels: Record<string, string>): Promise<PromAlert> =>
  eventually(`${name} ${JSON.stringify(labels)} firing`, async () => {
    const all = await prometheus.alerts();
    return all.find((a) => a.labels['alertname'] === name && a.state === 'firing' && Object.entries(labels).every(([k, v]) => a.labels[k] === v));
  }, 90_000, 500);

describe('a real Prometheus scraping the controller, with the shipped rules', () => {
  it('the status says what each demo release needs: deprecation, security updates, changes, staleness', async () => {
    const old = await chartOriginWhere<{ status?: Status }>(cluster, legacy, 'old', (o) => o.status?.chart?.deprecated === true, 'old deprecated');
    assert.match(old.status?.chart?.deprecationMessage ?? '', /chart legacy is deprecated upstream: its newest version 1\.0\.0 is marked deprecated/);
    assert.equal(old.status?.latest?.version, '1.0.0');
    assert.equal(old.status?.latest?.deprecated, true, 'shown, flagged');
    assert.equal(old.status?.upgrade, 'None', 'never offered as the upgrade');
    assert.equal(old.status?.versionsBehind, 0);
    const pay = await chartOriginWhere<{ status?: Status }>(cluster, apps, 'pay', (o) => o.status?.latest !== undefined, 'pay analysed');
    assert.equal(pay.status?.latest?.securityUpdates, true);
    assert.deepEqual(pay.status?.latest?.changes, [
      { kind: 'security', description: 'Fix CVE-2026-0001 in the bundled image', links: [{ name: 'Advisory', url: 'https://example.com/advisories/1' }] },
      { kind: 'added', description: 'A readiness probe' },
    ]);
    assert.equal(pay.status?.latest?.home, 'https://example.com/secure');
    assert.equal(pay.status?.upstreamStale, true);
    const shop = await chartOriginWhere<{ status?: Status }>(cluster, apps, 'shop', (o) => o.status?.origin?.match === 'Verified', 'shop Verified');
    assert.equal(shop.status?.upstreamStale, false);
    const tools = await chartOriginWhere<{ status?: Status }>(cluster, apps, 'tools', (o) => o.status?.origin !== undefined, 'tools analysed');
    assert.equal(tools.status?.origin?.match, 'NotFound');
  });

  it('every release alert reaches firing with the release namespace, versions in the annotations', async () => {
    for (const r of RELEASES) {
      for (const alert of r.alerts) {
        const a = await firing(alert, { namespace: r.ns(), release: r.name });
        assert.ok(!('version' in a.labels) && !('latest_version' in a.labels) && !('pod' in a.labels), `${alert}: identity only (${JSON.stringify(a.labels)})`);
        assert.ok(a.annotations['summary']?.includes(`${r.ns()}/${r.name}`), `${alert} summary names ${r.ns()}/${r.name}: ${a.annotations['summary']}`);
      }
    }
    const outdated = await firing('HelmChartOutdated', { namespace: apps, release: 'shop' });
    assert.equal(outdated.annotations['summary'], `Helm release ${apps}/shop runs chart webapp 1.0.0; 2.0.0 is available.`);
    assert.equal((await firing('HelmChartOutdated', { namespace: legacy, release: 'shop' })).annotations['summary'], `Helm release ${legacy}/shop runs chart webapp 1.1.0; 2.0.0 is available.`);
    assert.equal((await firing('HelmChartMajorVersionBehind', { namespace: apps, release: 'shop' })).annotations['summary'], `Helm release ${apps}/shop runs chart webapp 1.0.0, 1 major version(s) behind 2.0.0.`);
    assert.match((await firing('HelmChartSignatureInvalid', { namespace: apps, release: 'shop-fork' })).annotations['description'] ?? '', /^The provenance \(\.prov\) check says Unsigned\. /);
    assert.equal((await firing('HelmChartOriginUnknown', { namespace: apps, release: 'tools' })).annotations['summary'], `Where chart inhouse 0.3.0 of Helm release ${apps}/tools came from is unknown (NotFound).`);
    const down = await firing('ChartRepositoryDown', { repository: repo.dead });
    assert.match(down.annotations['description'] ?? '', /^http:\/\/127\.0\.0\.1:\d+\/charts has failed/);

    const all = await prometheus.alerts();
    const releaseAlerts = all.filter((a) => a.labels['release'] !== undefined);
    assert.ok(releaseAlerts.every((a) => a.labels['namespace'] === apps || a.labels['namespace'] === legacy), 'no release alert carries the controller namespace');
    // Deprecated upstream is not "outdated": the deprecated 1.0.0 is never the advice.
    assert.ok(!all.some((a) => a.labels['alertname'] === 'HelmChartOutdated' && a.labels['release'] === 'old'), 'old is not told to upgrade to a deprecated version');
  });

  it('every dashboard query returns data without errors; the namespace variable offers the release namespaces', async () => {
    // Reconciles while Prometheus watches (the first round ran before it started): an upgrade of one release.
    await helmUpgrade(cluster, 4, 'shop', 'webapp', { namespace: legacy, repo: env.chartRepo.repos.main.url, version: '1.2.0' });
    await eventually('a reconcile seen by Prometheus', async () => ((await prometheus.query('sum(increase(chartorigin_reconcile_duration_seconds_count[1m])) > 0')).length > 0 ? true : undefined), 60_000, 500);
    // And a repository fetch while it watches: the first fetches may all finish before its first scrape, and
    // the fetch panel's rate() needs an increase between two scrapes. A spec edit makes the controller fetch
    // main again (same URL and priority: no release changes its answer).
    await applyChartRepository(cluster, repo.main, { url: env.chartRepo.repos.main.url, priority: 10, interval: '59m' });
    await eventually('a repository fetch seen by Prometheus', async () => ((await prometheus.query('sum(increase(chartorigin_repository_fetch_duration_seconds_count[1m])) > 0')).length > 0 ? true : undefined), 60_000, 500);
    await new Promise((r) => setTimeout(r, 2000));
    const dash = JSON.parse(readFileSync(join(REPO_ROOT, 'charts', 'chartorigin', 'files', 'dashboard.json'), 'utf8')) as { panels: { title: string; targets: { expr: string; instant?: boolean }[] }[] };
    // Grafana's $__rate_interval is max($__interval + scrape interval, 4 x scrape interval): 4s at a 1s scrape and step.
    const grafana = (expr: string): string => expr.replaceAll('$namespace', `${apps}|${legacy}`).replaceAll('$__rate_interval', '4s');
    const now = Date.now() / 1000;
    let queries = 0;
    for (const p of dash.panels) {
      for (const t of p.targets) {
        queries++;
        const expr = grafana(t.expr);
        if (t.instant) {
          const r = await prometheus.query(expr);
          assert.ok(r.length > 0, `${p.title}: ${expr} returns data`);
          assert.ok(r.every((s) => s.value && !Number.isNaN(Number(s.value[1]))), `${p.title}: no NaN`);
        } else {
          const r = await prometheus.queryRange(expr, Math.floor(startedAt), Math.ceil(now), 1);
          const values = r.flatMap((s) => s.values ?? []);
          assert.ok(values.length > 0, `${p.title}: ${expr} returns data over the test's time range`);
          assert.ok(values.every(([, v]) => !Number.isNaN(Number(v))), `${p.title}: ${expr} has no NaN point`);
        }
      }
    }
    assert.ok(queries >= 16);
    const namespaces = await prometheus.labelValues('namespace', 'chartorigin_release_info');
    assert.deepEqual(namespaces.sort(), [apps, legacy].sort(), 'label_values(chartorigin_release_info, namespace) = the release namespaces, not the controller namespace');
  });

  it('the controller logs JSON lines with one component key each', async () => {
    const lines = readFileSync(controller.proc.logFile, 'utf8').split('\n').filter((l) => l.startsWith('{'));
    assert.ok(lines.length > 3);
    for (const l of lines) assert.equal(l.match(/"component":/g)?.length, 1, l.slice(0, 200));
  });

  it('ChartOriginControllerDown fires when the controller stops, with the ServiceMonitor job', async () => {
    await controller.stop();
    const a = await firing('ChartOriginControllerDown', { job: 'chartorigin' });
    assert.equal(a.labels['severity'], 'critical');
  });
});
