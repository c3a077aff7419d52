/**
 * `npm run bench:shards` — one controller against SHARDS (default 2) shard controllers on the same cluster:
 * RELEASES (default 10,000) × REVISIONS (default 1) release Secrets of the test chart (a real
 * `helm install --dry-run=client -o json`, encoded as Helm's Secret driver does), one HTTP repository.
 * For each configuration, RUNS (default 1) times, alternating: every ChartOrigin deleted, the controller(s)
 * started, then measured until every ChartOrigin is Ready (one watch stream):
 *   - wall time start → all Ready;
 *   - the split: releases per shard (the shard's `chartorigin_releases`, and the ChartOrigins carrying its
 *     `chartorigin.io/shard` label — both must agree and add up to RELEASES);
 *   - per process: RSS (VmRSS) and V8 heap used after a forced full GC (through the inspector), peak RSS (VmHWM);
 *   - API requests of the run from the kube-apiserver's `apiserver_request_total` (robust under load).
 * Controllers run the compiled dist/ (npm run build first), NODE_OPTIONS as the chart sets them.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { apiKubeConfigFor, kubectl } from '../test/harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess, type ControllerProcess } from '../test/harness/controller-process.ts';
import { startTestEnvironment } from '../test/harness/environment.ts';
import { runHelm } from '../test/harness/charts.ts';
import { kubeRequest, kubeWatch } from '../src/kube/raw-client.ts';
import { REPO_ROOT, toolPath } from '../test/harness/tools.ts';
import { createReleaseSecret, forceGc, imageMallocEnv, pool } from './support.ts';
import { freePort } from '../test/harness/free-port.ts';

imageMallocEnv();

const RELEASES = Number(process.env['RELEASES'] ?? 10_000);
const REVISIONS = Number(process.env['REVISIONS'] ?? 1);
const SHARDS = Number(process.env['SHARDS'] ?? 2);
const RUNS = Math.max(1, Number(process.env['RUNS'] ?? 1));
const CONCURRENCY = process.env['CONTROLLER_CONCURRENCY'] ?? '8';
const NAMESPACES = Math.max(1, Math.min(20, Math.ceil(RELEASES / 100)));
const NODE_FLAGS = (process.env['CONTROLLER_NODE_FLAGS'] ?? '--max-semi-space-size=4 --max-old-space-size=384').split(' ').filter(Boolean);
const CO = '/apis/chartorigin.io/v1alpha1';

function procMem(pid: number): { rssMb: number; hwmMb: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}
const metric = (exposition: string, name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(exposition)?.[1] ?? NaN);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

interface Shard { releases: number; labelled: number; rssMb: number; hwmMb: number; heapMb: number }
interface Run { shards: number; seconds: number; perShard: Shard[]; requests: number }

const running = await startTestEnvironment({ log: () => undefined });
const { env } = running;
const cluster = env.cluster;
const kc = apiKubeConfigFor(cluster);
const requestCount = (): number => {
  const text = execFileSync(toolPath('kubectl'), ['--kubeconfig', cluster.kubeconfig, 'get', '--raw', '/metrics'], { encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
  let n = 0;
  for (const line of text.split('\n')) if (line.startsWith('apiserver_request_total{') && /resource="[^"]+"/.test(line)) n += Number(line.slice(line.lastIndexOf(' ') + 1));
  return n;
};

try {
  await installCrds(cluster);
  const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `shards-${i}`);
  for (const ns of namespaces) await kubectl(cluster, ['create', 'namespace', ns]);
  await kubectl(cluster, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name: 'main' }, spec: { url: env.chartRepo.repos.main.url } }) });
  const chart = env.chartRepo.repos.main.charts['webapp-1.0.0']!.path;
  const template = JSON.parse((await runHelm(['install', 'template', chart, '--dry-run=client', '-o', 'json'])).stdout) as { info: Record<string, unknown> };
  const work: { ns: string; name: string; rev: number }[] = [];
  for (let r = 0; r < RELEASES; r++) for (let rev = 1; rev <= REVISIONS; rev++) work.push({ ns: namespaces[r % NAMESPACES] as string, name: `rel-${r}`, rev });
  const t0 = performance.now();
  await pool(work, 16, async ({ ns, name, rev }) => {
    const status = rev === REVISIONS ? 'deployed' : 'superseded';
    await createReleaseSecret(kc, ns, name, rev, status, JSON.stringify({ ...template, name, namespace: ns, version: rev, info: { ...template.info, status } }));
  });
  process.stderr.write(`created ${work.length} release Secrets in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

  const runOnce = async (shards: number): Promise<Run> => {
    for (const ns of namespaces) await kubeRequest(kc, { method: 'DELETE', path: `${CO}/namespaces/${ns}/chartorigins` });
    const emptyRv = await eventually('no ChartOrigin left', async () => {
      const l = await kubeRequest<{ items: unknown[]; metadata: { resourceVersion: string } }>(kc, { path: `${CO}/chartorigins`, query: { limit: 1 } });
      return l.items.length === 0 ? l.metadata.resourceVersion : undefined;
    }, 600_000, 500);
    const ready = new Map<string, string>(); // key → shard label
    const abort = new AbortController();
    let allReady: () => void = () => undefined;
    const allReadyP = new Promise<void>((r) => (allReady = r));
    const watchP = kubeWatch(kc, { path: `${CO}/chartorigins`, query: { watch: true, resourceVersion: emptyRv }, signal: abort.signal }, (e) => {
      const ev = e as { type: string; object: { metadata: { namespace: string; name: string; labels?: Record<string, string> }; status?: { conditions?: { type: string; status: string }[] } } };
      const key = `${ev.object.metadata.namespace}/${ev.object.metadata.name}`;
      if (ev.type !== 'DELETED' && ev.object.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ready.set(key, ev.object.metadata.labels?.['chartorigin.io/shard'] ?? '-');
      else ready.delete(key);
      if (ready.size >= RELEASES) allReady();
    }).catch((err: unknown) => {
      if (!abort.signal.aborted) process.stderr.write(`watch ended: ${String(err)}\n`);
    });
    const before = requestCount();
    const started = performance.now();
    const controllers: ControllerProcess[] = [];
    const inspectPorts: number[] = [];
    for (let i = 0; i < shards; i++) {
      const flags = shards > 1 ? ['--shards', String(shards), '--shard-index', String(i)] : [];
      const inspectPort = await freePort();
      inspectPorts.push(inspectPort);
      controllers.push(await startControllerProcess(cluster, ['--leader-elect=false', '--log-level', 'warn', '--concurrency', CONCURRENCY, ...flags], `shard-${i}-of-${shards}`, { entry: join(REPO_ROOT, 'dist/src/cli/main.js'), nodeFlags: [...NODE_FLAGS, `--inspect=127.0.0.1:${inspectPort}`] }));
    }
    const timeout = setTimeout(() => allReady(), 1_800_000);
    await allReadyP;
    clearTimeout(timeout);
    const seconds = (performance.now() - started) / 1000;
    abort.abort();
    await watchP;
    await new Promise((r) => setTimeout(r, 3000));
    const requests = requestCount() - before;
    const perShard: Shard[] = [];
    for (const [i, c] of controllers.entries()) {
      const mem = procMem(c.proc.pid);
      await forceGc(inspectPorts[i] as number);
      const text = await c.metrics();
      const labelled = [...ready.values()].filter((s) => (shards > 1 ? s === String(i) : s === '-')).length;
      perShard.push({ releases: metric(text, 'chartorigin_releases'), labelled, rssMb: mem.rssMb, hwmMb: mem.hwmMb, heapMb: metric(text, 'nodejs_heap_size_used_bytes') / 2 ** 20 });
    }
    for (const c of controllers) await c.stop();
    process.stderr.write(`${shards} shard(s): all ${RELEASES} Ready in ${seconds.toFixed(1)} s; split ${perShard.map((s) => s.releases).join(' / ')}; RSS ${perShard.map((s) => s.rssMb.toFixed(0)).join(' / ')} MiB; ${requests} API requests\n`);
    return { shards, seconds, perShard, requests };
  };

  const runs: Run[] = [];
  for (let r = 0; r < RUNS; r++) for (const n of r % 2 ? [SHARDS, 1] : [1, SHARDS]) runs.push(await runOnce(n));

  const lines = [
    `${RELEASES} releases × ${REVISIONS} revision(s), ${NAMESPACES} namespaces, --concurrency ${CONCURRENCY}, ${RUNS} run(s) each, alternating; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`,
    '',
    '| controllers | start → all Ready (s, median) | runs (s) | releases per shard: metric (label) | RSS after sync per shard (MiB) | peak RSS per shard (MiB) | heap used after a forced GC, per shard (MiB) | API requests |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const n of [1, SHARDS]) {
    const mine = runs.filter((r) => r.shards === n);
    const last = mine[mine.length - 1] as Run;
    const col = (f: (s: Shard) => string): string => last.perShard.map(f).join(' / ');
    lines.push(
      `| ${n === 1 ? '1 (unsharded)' : `${n} shards`} | ${median(mine.map((r) => r.seconds)).toFixed(1)} | ${mine.map((r) => r.seconds.toFixed(1)).join(', ')} | ${col((s) => `${s.releases} (${s.labelled})`)} | ${col((s) => s.rssMb.toFixed(0))} | ${col((s) => s.hwmMb.toFixed(0))} | ${col((s) => s.heapMb.toFixed(1))} | ${median(mine.map((r) => r.requests))} |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await running.stop();
}
