/**
 * `npm run bench:api-budget` — the controller's API request budget, from the kube-apiserver's own
 * `apiserver_request_total` (no product change, nothing counted twice, nothing missed):
 *
 * 1. Requests per release of a first sync: RELEASES (default 500) × 1 release Secrets as Helm writes them
 *    (a real `helm install --dry-run=client -o json` of the test chart), every WARN_EVERY-th (default 10th)
 *    of a chart no repository publishes (so its analysis raises one Warning Event); the controller from
 *    start to ready (every release reconciled once), counters diffed by verb, resource, subresource and code.
 *    Then a restart over the same releases (ChartOrigins exist, nothing changed): what a restart costs.
 * 2. Whether one request could do what two do: an apply of a ChartOrigin with `status` on the main
 *    resource, and an apply to `/status` of a ChartOrigin that does not exist.
 * 3. What this API server sustains for the requests a sync is made of (apply-create, status apply, GET of a
 *    release Secret) at CONCURRENCY (default 1,2,4,8,16,32,64) requests in flight: requests/s and latency
 *    percentiles, each step bounded by STEP_REQUESTS (default 2,000) and STEP_SECONDS (default 10).
 *
 * Counts (1, 2) do not depend on the machine's load; rates (3) do: run (3) on an idle machine.
 * PHASES=counts,probe,sustain (default all).
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { apiKubeConfigFor, kubectl } from '../test/harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess } from '../test/harness/controller-process.ts';
import { startTestEnvironment } from '../test/harness/environment.ts';
import { runHelm } from '../test/harness/charts.ts';
import { KubeApiError, kubeRequest } from '../src/kube/raw-client.ts';
import { toolPath } from '../test/harness/tools.ts';
import { cpuSecondsByName, createReleaseSecret, pool } from './support.ts';

const RELEASES = Number(process.env['RELEASES'] ?? 500);
const WARN_EVERY = Number(process.env['WARN_EVERY'] ?? 10);
const NAMESPACES = Math.max(1, Math.min(20, Math.ceil(RELEASES / 100)));
const CONCURRENCY = (process.env['CONCURRENCY'] ?? '1,2,4,8,16,32,64').split(',').map(Number).filter((n) => n > 0);
const STEP_REQUESTS = Number(process.env['STEP_REQUESTS'] ?? 2000);
const STEP_SECONDS = Number(process.env['STEP_SECONDS'] ?? 10);
const PHASES = new Set((process.env['PHASES'] ?? 'counts,probe,sustain').split(','));
const CONTROLLER_CONCURRENCY = process.env['CONTROLLER_CONCURRENCY'] ?? '4';

type Counters = Map<string, number>;

/** `apiserver_request_total` by "VERB resource[/subresource] code", resource requests only. */
function parseRequestTotals(exposition: string): Counters {
  const out: Counters = new Map();
  for (const line of exposition.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!labels['resource']) continue; // /metrics, /healthz, discovery: not the controller's work
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    const key = `${labels['verb']} ${labels['group'] ? `${labels['group']}/` : ''}${labels['resource']}${labels['subresource'] ? `/${labels['subresource']}` : ''} ${labels['code']}`;
    out.set(key, (out.get(key) ?? 0) + value);
  }
  return out;
}

function diff(before: Counters, after: Counters): [string, number][] {
  const out: [string, number][] = [];
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0) out.push([k, d]);
  }
  return out.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const running = await startTestEnvironment({ log: () => undefined });
const { env } = running;
const cluster = env.cluster;
const kc = apiKubeConfigFor(cluster);
const requestTotals = (): Counters => parseRequestTotals(execFileSync(toolPath('kubectl'), ['--kubeconfig', cluster.kubeconfig, 'get', '--raw', '/metrics'], { encoding: 'utf8', maxBuffer: 256 * 2 ** 20 }));
const CO = '/apis/chartorigin.io/v1alpha1';
const APPLY = { 'Content-Type': 'application/apply-patch+yaml' };
const out: string[] = [];
const say = (line = ''): void => {
  out.push(line);
  process.stderr.write(`${line}\n`);
};

try {
  await installCrds(cluster);
  const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `budget-${i}`);
  for (const ns of namespaces) await kubectl(cluster, ['create', 'namespace', ns]);

  if (PHASES.has('counts')) {
    const chart = env.chartRepo.repos.main.charts['webapp-1.0.0']!.path;
    const template = JSON.parse((await runHelm(['install', 'template', chart, '--dry-run=client', '-o', 'json'])).stdout) as { chart: { metadata: Record<string, unknown> }; info: Record<string, unknown> };
    await kubectl(cluster, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name: 'main' }, spec: { url: env.chartRepo.repos.main.url } }) });
    await pool(Array.from({ length: RELEASES }, (_, i) => i), 16, async (i) => {
      const ns = namespaces[i % NAMESPACES] as string;
      const name = `rel-${i}`;
      const unpublished = WARN_EVERY > 0 && i % WARN_EVERY === WARN_EVERY - 1;
      const rel = { ...template, name, namespace: ns, version: 1, info: { ...template.info, status: 'deployed' }, chart: { ...template.chart, metadata: { ...template.chart.metadata, name: unpublished ? 'unpublished-webapp' : template.chart.metadata['name'] } } };
      await createReleaseSecret(kc, ns, name, 1, 'deployed', JSON.stringify(rel));
    });
    const warned = WARN_EVERY > 0 ? Math.floor(RELEASES / WARN_EVERY) : 0;
    say(`### Requests per release: ${RELEASES} releases × 1 revision in ${NAMESPACES} namespaces, ${warned} of an unpublished chart (one Warning each), controller --concurrency ${CONTROLLER_CONCURRENCY}`);
    for (const round of ['first sync (no ChartOrigin yet)', 'restart (ChartOrigins exist, nothing changed)']) {
      const before = requestTotals();
      const t0 = performance.now();
      const controller = await startControllerProcess(cluster, ['--leader-elect=false', '--log-level', 'warn', '--concurrency', CONTROLLER_CONCURRENCY], 'budget');
      await eventually('controller ready', async () => ((await controller.ready()) ? true : undefined), 600_000, 200);
      const seconds = (performance.now() - t0) / 1000;
      const after = requestTotals();
      await controller.stop();
      // The controller runs without leader election, so Endpoints and Lease requests are the API server's
      // own housekeeping (its endpoint reconciler, its identity Lease): shown, not counted.
      const own = (k: string): boolean => / (endpoints|coordination\.k8s\.io\/leases) /.test(` ${k.split(' ').slice(1, 2).join('')} `);
      const rows = diff(before, after);
      const total = rows.filter(([k]) => !own(k)).reduce((s, [, n]) => s + n, 0);
      say('');
      say(`${round}: ${total} requests, ${(total / RELEASES).toFixed(2)} per release (start → ready ${seconds.toFixed(1)} s, load average ${loadavg()[0]?.toFixed(1)})`);
      say('');
      say('| request | code | count | per release |');
      say('|---|---|---|---|');
      for (const [k, n] of rows) {
        const [verb, resource, code] = k.split(' ');
        say(`| ${verb} ${resource}${own(k) ? " (the API server's own, not counted)" : ''} | ${code} | ${n} | ${(n / RELEASES).toFixed(3)} |`);
      }
    }
  }

  if (PHASES.has('probe')) {
    say('');
    say('### Can one request create a ChartOrigin with its status?');
    const ns = namespaces[0] as string;
    const body = (name: string, withStatus: boolean): string =>
      JSON.stringify({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartOrigin', metadata: { name, namespace: ns }, ...(withStatus ? { status: { lastChecked: '2026-01-01T00:00:00Z', conditions: [{ type: 'Ready', status: 'True', reason: 'Probe', message: 'probe', lastTransitionTime: '2026-01-01T00:00:00Z' }] } } : {}) });
    await kubeRequest(kc, { method: 'PATCH', path: `${CO}/namespaces/${ns}/chartorigins/probe-main`, query: { fieldManager: 'budget-probe' }, headers: APPLY, body: body('probe-main', true) });
    const stored = await kubeRequest<{ status?: unknown }>(kc, { path: `${CO}/namespaces/${ns}/chartorigins/probe-main` });
    say(`- apply with status to the main resource: created, status ${stored.status === undefined ? 'dropped (the status subresource ignores it)' : 'kept'}`);
    try {
      await kubeRequest(kc, { method: 'PATCH', path: `${CO}/namespaces/${ns}/chartorigins/probe-status/status`, query: { fieldManager: 'budget-probe' }, headers: APPLY, body: body('probe-status', true) });
      say('- apply to /status of a ChartOrigin that does not exist: created');
    } catch (err) {
      say(`- apply to /status of a ChartOrigin that does not exist: HTTP ${err instanceof KubeApiError ? `${err.status} ${err.reason}` : String(err)}`);
    }
  }

  if (PHASES.has('sustain')) {
    const ns = namespaces[0] as string;
    // A release Secret of the test chart's size to GET (as the reconciler reads the current revision).
    const chart = env.chartRepo.repos.main.charts['webapp-1.0.0']!.path;
    const json = (await runHelm(['install', 'sustain', chart, '--dry-run=client', '-o', 'json'])).stdout;
    await createReleaseSecret(kc, ns, 'sustain', 1, 'deployed', json);
    const secretRv = (await kubeRequest<{ metadata: { resourceVersion: string } }>(kc, { path: `/api/v1/namespaces/${ns}/secrets/sh.helm.release.v1.sustain.v1` })).metadata.resourceVersion;
    const status = { lastChecked: '2026-01-01T00:00:00Z', conditions: [{ type: 'Ready', status: 'True', reason: 'Verified', message: 'content matches', lastTransitionTime: '2026-01-01T00:00:00Z' }], origin: { match: 'Verified', repository: 'main' } };
    // Status applies go to the objects the create step of the same concurrency made (it may stop early on time).
    const made = new Map<number, number>();
    const target = (i: number, c: number): string => `s-${c}-${i % Math.max(1, made.get(c) ?? 1)}`;
    const ops: Record<string, (i: number, c: number) => Promise<unknown>> = {
      'apply (create) ChartOrigin': (i, c) => (made.set(c, Math.max(made.get(c) ?? 0, i + 1)), kubeRequest(kc, { method: 'PATCH', path: `${CO}/namespaces/${ns}/chartorigins/s-${c}-${i}`, query: { fieldManager: 'budget', force: true }, headers: APPLY, body: JSON.stringify({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartOrigin', metadata: { name: `s-${c}-${i}`, namespace: ns, labels: { 'app.kubernetes.io/managed-by': 'budget' } } }) })),
      'apply ChartOrigin status': (i, c) => kubeRequest(kc, { method: 'PATCH', path: `${CO}/namespaces/${ns}/chartorigins/${target(i, c)}/status`, query: { fieldManager: 'budget', force: true }, headers: APPLY, body: JSON.stringify({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartOrigin', metadata: { name: target(i, c), namespace: ns }, status: { ...status, lastChecked: new Date(Date.now() - (Date.now() % 1000)).toISOString().replace(/\.\d+Z$/, 'Z') } }) }),
      'GET release Secret': () => kubeRequest(kc, { path: `/api/v1/namespaces/${ns}/secrets/sh.helm.release.v1.sustain.v1` }),
      // The cheaper forms of the same three steps: a plain create (no field-set merge), a merge patch of the
      // status, and a GET at a known resourceVersion (served from the API server's watch cache, no etcd read).
      'POST (create) ChartOrigin': (i, c) => (made.set(-c, Math.max(made.get(-c) ?? 0, i + 1)), kubeRequest(kc, { method: 'POST', path: `${CO}/namespaces/${ns}/chartorigins`, query: { fieldManager: 'budget' }, body: JSON.stringify({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartOrigin', metadata: { name: `p-${c}-${i}`, namespace: ns, labels: { 'app.kubernetes.io/managed-by': 'budget' } } }) })),
      'merge-patch ChartOrigin status': (i, c) => kubeRequest(kc, { method: 'PATCH', path: `${CO}/namespaces/${ns}/chartorigins/p-${c}-${i % Math.max(1, made.get(-c) ?? 1)}/status`, query: { fieldManager: 'budget' }, headers: { 'Content-Type': 'application/merge-patch+json' }, body: JSON.stringify({ status: { ...status, lastChecked: new Date(Date.now() - (Date.now() % 1000)).toISOString().replace(/\.\d+Z$/, 'Z') } }) }),
      'GET release Secret at its resourceVersion': () => kubeRequest(kc, { path: `/api/v1/namespaces/${ns}/secrets/sh.helm.release.v1.sustain.v1`, query: { resourceVersion: secretRv } }),
    };
    say('');
    say(`### What the API server sustains (≤ ${STEP_REQUESTS} requests or ${STEP_SECONDS} s per step; load average at start ${loadavg()[0]?.toFixed(1)})`);
    say('');
    say('| request | in flight | requests/s | p50 ms | p90 ms | p99 ms | errors | CPU ms per request: kube-apiserver / etcd |');
    say('|---|---|---|---|---|---|---|---|');
    for (const [op, fn] of Object.entries(ops)) {
      for (const c of CONCURRENCY) {
        const latencies: number[] = [];
        let errors = 0;
        let next = 0;
        const deadline = performance.now() + STEP_SECONDS * 1000;
        const t0 = performance.now();
        const cpu0 = cpuSecondsByName(['kube-apiserver', 'etcd']);
        await Promise.all(
          Array.from({ length: c }, async () => {
            while (next < STEP_REQUESTS && performance.now() < deadline) {
              const i = next++;
              const s = performance.now();
              try {
                await fn(i, c);
              } catch {
                errors++;
              }
              latencies.push(performance.now() - s);
            }
          }),
        );
        const seconds = (performance.now() - t0) / 1000;
        const cpu1 = cpuSecondsByName(['kube-apiserver', 'etcd']);
        const perRequest = (n: string): string => ((1000 * ((cpu1.get(n) ?? 0) - (cpu0.get(n) ?? 0))) / Math.max(1, latencies.length)).toFixed(2);
        latencies.sort((a, b) => a - b);
        say(`| ${op} | ${c} | ${(latencies.length / seconds).toFixed(0)} | ${percentile(latencies, 50).toFixed(1)} | ${percentile(latencies, 90).toFixed(1)} | ${percentile(latencies, 99).toFixed(1)} | ${errors} | ${perRequest('kube-apiserver')} / ${perRequest('etcd')} |`);
      }
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
} finally {
  await running.stop();
}
