/**
 * `npm run bench:soak` — the controller under steady release churn on the real control plane, for as long as
 * it takes to tell a plateau from a leak.
 *
 * RELEASES (default 1000) releases of webapp (1.0.0 / 1.1.0 / 1.2.0 / 2.0.0, rendered by the real helm), then
 * RATE (default 10) changes/s for MINUTES (default 10): a seeded (SEED, default 1) random mix of upgrade,
 * rollback, failed upgrade, uninstall, install and re-install, written as Helm writes them
 * (test/harness/churn.ts). FAULTS, comma-separated `<kind>@<minute>`, kinds: `api-restart` (kube-apiserver
 * stopped ~5 s, then started on the same port), `compaction` (the apiserver moves to another port for ~10 s
 * of churn, etcd is compacted, the original comes back: the controller's resume gets 410 Gone), `kill`
 * (controller SIGKILLed, a new one started). Default: none.
 *
 * Sampled every SAMPLE_S (default 10) s: the controller's RSS (/proc), heap used and work-queue depth (its
 * /metrics), and the lag from a change's last Secret write returning to the ChartOrigin showing it (one
 * watch). Every GC_EVERY_MIN (default 5) minutes and at the end: heap used after a forced full GC, through
 * the controller's inspector (no product code involved; `--inspect` on loopback). SNAPSHOTS=10,60: heap
 * snapshots at those forced-GC points (minutes), the first and last compared by constructor. At the end the churn stops
 * and every ChartOrigin must match the ground truth: 0 wrong versions or revisions, 0 orphans, all Ready.
 *
 * The controller runs as in the image: compiled JavaScript (`npm run build` first), NODE_OPTIONS
 * `--max-semi-space-size=4 --max-old-space-size=384` (CONTROLLER_NODE_FLAGS to change).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiKubeConfigFor, kubectl, writeKubeconfig } from '../test/harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess, type ControllerProcess } from '../test/harness/controller-process.ts';
import { startTestEnvironment } from '../test/harness/environment.ts';
import { freePort } from '../test/harness/free-port.ts';
import { REPO_ROOT } from '../test/harness/tools.ts';
import { awaitConvergence, driveChurn, HelmChurn, OriginWatcher, renderTemplates, restartApiServer, revisionsOf, secretsTruth, type ChurnChange } from '../test/harness/churn.ts';
import { loadKubeConfig } from '../src/kube/kubeconfig.ts';
import type { KubeConfig } from '../src/kube/kubeconfig.ts';

const RELEASES = Number(process.env['RELEASES'] ?? 1000);
const RATE = Number(process.env['RATE'] ?? 10);
const MINUTES = Number(process.env['MINUTES'] ?? 10);
const SEED = Number(process.env['SEED'] ?? 1);
const SAMPLE_S = Number(process.env['SAMPLE_S'] ?? 10);
const GC_EVERY_MIN = Number(process.env['GC_EVERY_MIN'] ?? 5);
/** Minutes (forced-GC points) at which to take a heap snapshot; the first and last of one controller process are compared. */
const SNAPSHOTS = (process.env['SNAPSHOTS'] ?? '').split(',').filter(Boolean).map(Number);
const NAMESPACES = Math.max(1, Math.min(20, Math.ceil(RELEASES / 100)));
const FAULTS = (process.env['FAULTS'] ?? '')
  .split(',')
  .filter(Boolean)
  .map((f) => {
    const [kind, at] = f.split('@');
    if (kind !== 'api-restart' && kind !== 'compaction' && kind !== 'kill') throw new Error(`FAULTS: unknown kind ${kind ?? ''}`);
    return { kind, atMs: Number(at) * 60_000 } as const;
  })
  .sort((a, b) => a.atMs - b.atMs);
/** CONTROLLER_ENTRY: another build of the controller (a before/after comparison while dist/ is in use). */
const ENTRY = process.env['CONTROLLER_ENTRY'] ?? join(REPO_ROOT, 'dist/src/cli/main.js');
/**
 * DRAIN=1: every release is uninstalled before the churn (after the first sync) and again after it, with a
 * forced GC and a heap snapshot each time: what the second holds more than the first is what the controller
 * kept of releases, revisions and events that are gone.
 */
const DRAIN = process.env['DRAIN'] === '1';
if (!existsSync(ENTRY)) throw new Error(`${ENTRY} is missing: run npm run build first (the soak runs the compiled controller, as the image does)`);

const MiB = 2 ** 20;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (line: string): void => void process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

function rssMb(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/^VmRSS:\s+(\d+)/m.exec(s)?.[1] ?? NaN) / 1024;
  } catch {
    return NaN;
  }
}
function metric(text: string, name: string): number {
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
}

function pct(sorted: readonly number[], p: number): number {
  return sorted.length ? (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number) : NaN;
}

/** Least squares slope of y over x. */
function slope(points: readonly [number, number][]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den ? num / den : NaN;
}

/** A Chrome DevTools Protocol session on the controller's inspector (loopback only). */
async function inspector(port: number): Promise<{ send(method: string, params?: object): Promise<unknown>; onEvent(fn: (method: string, params: unknown) => void): void; close(): void }> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(5000) })).json()) as { webSocketDebuggerUrl: string }[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error('the inspector lists no target');
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error('inspector connection failed')), { once: true });
  });
  let id = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const listeners: ((method: string, params: unknown) => void)[] = [];
  ws.addEventListener('message', (ev) => {
    const msg = JSON.parse(String(ev.data)) as { id?: number; result?: unknown; error?: { message: string }; method?: string; params?: unknown };
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(msg.error.message));
      else p?.resolve(msg.result);
    } else if (msg.method) for (const l of listeners) l(msg.method, msg.params);
  });
  return {
    send: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const i = ++id;
        pending.set(i, { resolve, reject });
        ws.send(JSON.stringify({ id: i, method, params }));
      }),
    onEvent: (fn) => void listeners.push(fn),
    close: () => ws.close(),
  };
}

/** Heap used after a forced full GC (twice: the first can leave weakly held objects for the second). */
async function heapAfterGc(port: number): Promise<number> {
  const s = await inspector(port);
  try {
    await s.send('HeapProfiler.collectGarbage');
    await s.send('HeapProfiler.collectGarbage');
    const usage = (await s.send('Runtime.getHeapUsage')) as { usedSize: number };
    return usage.usedSize;
  } finally {
    s.close();
  }
}

/** A heap snapshot summarised by constructor (objects, closures) or node type: count and self size. */
async function snapshotByConstructor(port: number): Promise<Map<string, { count: number; bytes: number }>> {
  const s = await inspector(port);
  const chunks: string[] = [];
  s.onEvent((method, params) => {
    if (method === 'HeapProfiler.addHeapSnapshotChunk') chunks.push((params as { chunk: string }).chunk);
  });
  try {
    await s.send('HeapProfiler.enable');
    await s.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false, captureNumericValue: false });
    await s.send('HeapProfiler.disable');
  } finally {
    s.close();
  }
  const snap = JSON.parse(chunks.join('')) as { snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } }; nodes: number[]; strings: string[] };
  const f = snap.snapshot.meta.node_fields;
  const width = f.length;
  const [iType, iName, iSize] = [f.indexOf('type'), f.indexOf('name'), f.indexOf('self_size')];
  const types = snap.snapshot.meta.node_types[0];
  const out = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType] as number] ?? '?';
    const key = type === 'object' || type === 'closure' ? `${snap.strings[snap.nodes[i + iName] as number] ?? '?'}${type === 'closure' ? '()' : ''}` : `(${type})`;
    const e = out.get(key) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += snap.nodes[i + iSize] as number;
    out.set(key, e);
  }
  return out;
}

interface Sample {
  t: number;
  changes: number;
  writes: number;
  releases: number;
  secrets: number;
  origins: number;
  pid: number;
  rss: number;
  heap: number;
  depth: number;
  lagP50: number;
  lagP99: number;
}

interface GcPoint {
  minute: number;
  label: string;
  changes: number;
  releases: number;
  secrets: number;
  pid: number;
  heapAfterGc: number;
  rss: number;
}

const running = await startTestEnvironment({ log: () => undefined });
const { env, controlPlane: cp } = running;
const cluster = env.cluster;
const kc = apiKubeConfigFor(cluster);
let controller: ControllerProcess | undefined;
try {
  await installCrds(cluster);
  const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `soak-${i}`);
  for (const ns of namespaces) await kubectl(cluster, ['create', 'namespace', ns]);
  for (const [name, url] of [['main', env.chartRepo.repos.main.url], ['fork', env.chartRepo.repos.fork.url]] as const) {
    await kubectl(cluster, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name }, spec: { url } }) });
  }
  const main = env.chartRepo.repos.main.charts;
  // Four versions from main, and 1.1.0 as the fork builds it (same name and version, other templates): a
  // release moving between main's and the fork's build changes origin repository, which is worth an Event.
  const templates = await renderTemplates([
    ...['1.0.0', '1.1.0', '1.2.0', '2.0.0'].map((v) => ({ version: v, path: (main[`webapp-${v}`] ?? { path: '' }).path })),
    { version: '1.1.0', path: (env.chartRepo.repos.fork.charts['webapp-1.1.0'] ?? { path: '' }).path },
  ]);
  let writeKc: KubeConfig = kc;
  // Writes wait out a fault however long the apiserver takes to come back on a loaded machine.
  const churn = new HelmChurn({ kc: () => writeKc, namespaces, templates, seed: SEED, retryMs: 30 * 60_000 });
  const tSeed = performance.now();
  await churn.seed(RELEASES);
  log(`${RELEASES} releases (${churn.secrets} revisions) in ${namespaces.length} namespaces written in ${((performance.now() - tSeed) / 1000).toFixed(1)} s`);

  let inspectPort = 0;
  const startController = async (): Promise<ControllerProcess> => {
    const port = await freePort();
    const c = await startControllerProcess(cluster, ['--leader-elect=false', '--log-level', 'warn', '--concurrency', '8'], 'soak', {
      entry: ENTRY,
      nodeFlags: [...(process.env['CONTROLLER_NODE_FLAGS'] ?? '--max-semi-space-size=4 --max-old-space-size=384').split(' ').filter(Boolean), `--inspect=127.0.0.1:${port}`],
    });
    await eventually('controller ready', async () => ((await c.ready()) ? true : undefined), 600_000, 250);
    inspectPort = port;
    return c;
  };

  // Lag: from a change's last write returning to the watch showing the ChartOrigin in that state.
  const pendingLag = new Map<string, { expect: string | undefined; at: number; phase: string }>();
  const lags: { ms: number; phase: string; t: number }[] = [];
  let overtaken = 0;
  let phase = 'steady (no fault yet)';
  const resolve = (key: string, shownNow: string | undefined): void => {
    const p = pendingLag.get(key);
    if (p && p.expect === shownNow) {
      pendingLag.delete(key);
      const now = performance.now();
      lags.push({ ms: now - p.at, phase: p.phase, t: now });
    }
  };
  const watcher = new OriginWatcher(kc, (key, view) => resolve(key, view?.shown));
  const stopWatch = new AbortController();
  const watchDone = watcher.run(stopWatch.signal);
  const onChange = (c: ChurnChange): void => {
    if (pendingLag.has(c.key)) overtaken++;
    pendingLag.set(c.key, { expect: c.expect, at: c.at, phase });
    resolve(c.key, watcher.origins.get(c.key)?.shown);
  };

  const tCtl = performance.now();
  controller = await startController();
  const initial = await awaitConvergence(kc, churn.expected(), 600_000);
  log(`controller ready and converged in ${((performance.now() - tCtl) / 1000).toFixed(1)} s (${initial.mismatches.length} mismatches)`);

  const samples: Sample[] = [];
  const gcPoints: GcPoint[] = [];
  const snapshots: { pid: number; minute: number; label: string; byConstructor: Map<string, { count: number; bytes: number }> }[] = [];
  let probeFailures = 0;
  let killedAt = -Infinity;
  let changes = 0;
  let t0 = performance.now();
  const gcPoint = async (minute: number, label = '', snapshot = SNAPSHOTS.includes(minute)): Promise<void> => {
    const c = controller;
    if (!c) return;
    try {
      const heapAfter = await heapAfterGc(inspectPort);
      gcPoints.push({ minute, label, changes, releases: churn.releases, secrets: churn.secrets, pid: c.proc.pid, heapAfterGc: heapAfter, rss: rssMb(c.proc.pid) });
      log(`forced GC at minute ${minute}: heap used ${(heapAfter / MiB).toFixed(1)} MiB, RSS ${rssMb(c.proc.pid).toFixed(1)} MiB`);
      if (snapshot) snapshots.push({ pid: c.proc.pid, minute, label, byConstructor: await snapshotByConstructor(inspectPort) });
    } catch (err) {
      log(`forced GC at minute ${minute} failed: ${(err as Error).message}`);
    }
  };
  await gcPoint(0);
  const drain = async (label: string): Promise<void> => {
    await churn.uninstallAll();
    const empty = await awaitConvergence(kc, churn.expected(), 600_000);
    log(`drained (${label}): ${empty.origins} ChartOrigins left`);
    await gcPoint(0, `no release left, ${label}`, true);
  };
  if (DRAIN) {
    await drain('before the churn');
    await churn.seed(RELEASES);
    await awaitConvergence(kc, churn.expected(), 600_000);
    t0 = performance.now();
  }

  let sampling = true;
  const sampler = (async () => {
    let lastLag = 0;
    for (let k = 1; sampling; k++) {
      const due = t0 + k * SAMPLE_S * 1000;
      await sleep(Math.max(0, due - performance.now()));
      if (!sampling) break;
      const c = controller;
      if (!c) continue;
      let text = '';
      try {
        text = await c.metrics();
        const [h, r] = await Promise.all([fetch(`${c.metricsUrl}/healthz`, { signal: AbortSignal.timeout(5000) }), fetch(`${c.metricsUrl}/readyz`, { signal: AbortSignal.timeout(5000) })]);
        if ((h.status !== 200 || r.status !== 200) && performance.now() - killedAt > 120_000) probeFailures++;
      } catch {
        if (performance.now() - killedAt > 120_000) probeFailures++;
      }
      const window = lags.slice(lastLag).map((l) => l.ms).sort((a, b) => a - b);
      lastLag = lags.length;
      samples.push({
        t: (performance.now() - t0) / 1000,
        changes,
        writes: churn.writes,
        releases: churn.releases,
        secrets: churn.secrets,
        origins: watcher.origins.size,
        pid: c.proc.pid,
        rss: rssMb(c.proc.pid),
        heap: metric(text, 'nodejs_heap_size_used_bytes') / MiB,
        depth: metric(text, 'chartorigin_workqueue_depth'),
        lagP50: pct(window, 50),
        lagP99: pct(window, 99),
      });
    }
  })();
  const gcTimer = (async () => {
    for (let m = GC_EVERY_MIN; m < MINUTES; m += GC_EVERY_MIN) {
      await sleep(Math.max(0, t0 + m * 60_000 - performance.now()));
      await gcPoint(m);
    }
  })();

  const faultLog: string[] = [];
  const startApi = (port?: number): Promise<string> => restartApiServer(cp, port, 5, log);

  const faults = (async () => {
    for (const f of FAULTS) {
      await sleep(Math.max(0, t0 + f.atMs - performance.now()));
      const tf = performance.now();
      phase = `during ${f.kind} @${f.atMs / 60_000} min`;
      try {
        if (f.kind === 'api-restart') {
          await cp.stopApiServer();
          await sleep(5000);
          await startApi();
        } else if (f.kind === 'compaction') {
          await cp.stopApiServer();
          const sideUrl = await startApi(await freePort());
          writeKc = loadKubeConfig({ kubeconfig: writeKubeconfig(join(cp.dir, 'side.kubeconfig'), sideUrl, cp.caFile, { name: 'admin', certFile: cp.certs.admin.cert, keyFile: cp.certs.admin.key }) });
          await sleep(10_000);
          await cp.compactEtcd();
          writeKc = kc;
          await startApi();
        } else {
          const old = controller;
          if (old) {
            killedAt = performance.now();
            process.kill(-old.proc.pid, 'SIGKILL');
            await old.proc.exited;
          }
          // No samples or GC points from the dead one, nor from the new one before it is ready.
          controller = undefined;
          controller = await startController();
        }
      } catch (err) {
        // A fault that could not be staged (a loaded machine starting the apiserver slowly) must not end an
        // hour's run: it is reported, the original apiserver is brought back, and the churn goes on.
        log(`${f.kind} failed: ${(err as Error).message.split('\n')[0] ?? ''}`);
        faultLog.push(`${f.kind} FAILED to stage`);
        writeKc = kc;
        await startApi();
      }
      faultLog.push(`${f.kind} at minute ${(f.atMs / 60_000).toFixed(1)}: ${((performance.now() - tf) / 1000).toFixed(1)} s`);
      log(faultLog.at(-1) ?? '');
      // Changes written in the 30 s after the fault's recovery count as "during" it: the controller is catching up.
      await sleep(30_000);
      phase = `after ${f.kind} @${f.atMs / 60_000} min`;
    }
  })();

  const drive = await driveChurn(churn, { ratePerS: RATE, durationMs: MINUTES * 60_000, onChange: (c) => {
      changes++;
      onChange(c);
    } });
  await Promise.all([faults, gcTimer]);
  const churnS = (performance.now() - t0) / 1000;
  // After the churn: the last writes settle, then the end-of-run GC point (same controller as the earlier ones unless killed).
  const final = await awaitConvergence(kc, churn.expected(), 600_000);
  await gcPoint(MINUTES);
  sampling = false;
  await sampler;
  const truthDrift = (() => revisionsOf(churn.expected()))();
  const secrets = await secretsTruth(kc);
  const driftCount = [...truthDrift].filter(([k, v]) => secrets.get(k) !== v).length + [...secrets.keys()].filter((k) => !truthDrift.has(k)).length;
  if (DRAIN) await drain('after the churn');
  stopWatch.abort();
  await watchDone;

  // ---- report ----
  const out: string[] = [];
  out.push(
    `${RELEASES} releases, ${RATE} changes/s for ${MINUTES} min (seed ${SEED}): ${drive.changes} changes, ${churn.writes} Secret writes; ` +
      `mix ${Object.entries(churn.counts).map(([k, v]) => `${k} ${v}`).join(', ')}; churn ${churnS.toFixed(0)} s, driver at most ${(drive.maxBehindMs / 1000).toFixed(1)} s behind schedule; faults: ${faultLog.join('; ') || 'none'}`,
    '',
    '| minute | changes | Secret writes | releases | release Secrets | ChartOrigins | RSS (MiB) | heap used (MiB) | work-queue depth | lag p50 (ms) | lag p99 (ms) |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  );
  const every = Math.max(1, Math.round(60 / SAMPLE_S));
  for (const [i, s] of samples.entries()) {
    if ((i + 1) % every !== 0 && i !== samples.length - 1) continue;
    out.push(`| ${(s.t / 60).toFixed(1)} | ${s.changes} | ${s.writes} | ${s.releases} | ${s.secrets} | ${s.origins} | ${s.rss.toFixed(1)} | ${s.heap.toFixed(1)} | ${s.depth} | ${s.lagP50.toFixed(0)} | ${s.lagP99.toFixed(0)} |`);
  }
  out.push('', '| forced GC at minute | point | changes | releases | release Secrets | controller pid | heap used after GC (MiB) | RSS (MiB) |', '|---|---|---|---|---|---|---|---|');
  for (const g of gcPoints) out.push(`| ${g.minute} | ${g.label} | ${g.changes} | ${g.releases} | ${g.secrets} | ${g.pid} | ${(g.heapAfterGc / MiB).toFixed(2)} | ${g.rss.toFixed(1)} |`);

  // Growth per 1,000 changes by least squares, per controller process, from its third minute (start-up excluded).
  out.push('', '| controller pid | samples | changes | RSS per 1,000 changes (MiB) | heap used per 1,000 changes (MiB) | heap after GC per 1,000 changes (MiB, forced-GC points) |', '|---|---|---|---|---|---|');
  for (const pid of new Set(samples.map((s) => s.pid))) {
    const mine = samples.filter((s) => s.pid === pid);
    const from = (mine[0]?.t ?? 0) + 120;
    const seg = mine.filter((s) => s.t >= from && Number.isFinite(s.rss));
    const gcs = gcPoints.filter((g) => g.pid === pid);
    out.push(
      `| ${pid} | ${seg.length} | ${(seg.at(-1)?.changes ?? 0) - (seg[0]?.changes ?? 0)} | ${(slope(seg.map((s) => [s.changes, s.rss])) * 1000).toFixed(3)} | ${(slope(seg.map((s) => [s.changes, s.heap])) * 1000).toFixed(3)} | ${(slope(gcs.map((g) => [g.changes, g.heapAfterGc / MiB])) * 1000).toFixed(3)} |`,
    );
  }

  out.push('', '| lag, Secret write → ChartOrigin (ms) | n | p50 | p99 | max |', '|---|---|---|---|---|');
  const phases = [...new Set(lags.map((l) => l.phase))];
  for (const ph of phases) {
    const xs = lags.filter((l) => l.phase === ph).map((l) => l.ms).sort((a, b) => a - b);
    out.push(`| ${ph} | ${xs.length} | ${pct(xs, 50).toFixed(0)} | ${pct(xs, 99).toFixed(0)} | ${(xs.at(-1) ?? NaN).toFixed(0)} |`);
  }
  const all = lags.map((l) => l.ms).sort((a, b) => a - b);
  out.push(`| all | ${all.length} | ${pct(all, 50).toFixed(0)} | ${pct(all, 99).toFixed(0)} | ${(all.at(-1) ?? NaN).toFixed(0)} |`);
  out.push(
    '',
    `convergence after the churn (${(final.waitedMs / 1000).toFixed(1)} s): ${final.releases} releases, ${final.origins} ChartOrigins, ${final.mismatches.length} wrong version/revision/status, ${final.orphans.length} orphans, ${final.notReady.length} not Ready; ` +
      `ground truth vs Secrets: ${driftCount} differences; changes never seen: ${pendingLag.size}, overtaken by the next change before seen: ${overtaken}; /healthz or /readyz not 200 (outside 2 min after a kill): ${probeFailures}`,
  );
  for (const m of [...final.mismatches, ...final.orphans.map((o) => `orphan ${o}`), ...final.notReady.map((n) => `not Ready ${n}`)].slice(0, 20)) out.push(`  ${m}`);
  const drained = gcPoints.filter((g) => g.label.startsWith('no release left'));
  if (drained.length === 2) {
    const [a, b] = drained as [GcPoint, GcPoint];
    out.push('', `retained with no release left, after ${b.changes} changes vs before them: ${((b.heapAfterGc - a.heapAfterGc) / 1024).toFixed(1)} KiB heap (${((b.heapAfterGc - a.heapAfterGc) / Math.max(1, b.changes)).toFixed(1)} bytes per change), ${(b.rss - a.rss).toFixed(1)} MiB RSS${a.pid !== b.pid ? ' (different controller processes: not comparable)' : ''}`);
  }
  const lastSnap = snapshots.at(-1);
  const firstSnap = snapshots.find((x) => x.pid === lastSnap?.pid);
  if (lastSnap && firstSnap && firstSnap !== lastSnap) {
    const [a, b] = [firstSnap.byConstructor, lastSnap.byConstructor];
    const rows = [...new Set([...a.keys(), ...b.keys()])].map((k) => ({ k, dc: (b.get(k)?.count ?? 0) - (a.get(k)?.count ?? 0), db: (b.get(k)?.bytes ?? 0) - (a.get(k)?.bytes ?? 0), c: b.get(k)?.count ?? 0 }));
    rows.sort((x, y) => y.db - x.db);
    out.push('', `| heap snapshot, forced-GC point ${firstSnap.label || `minute ${firstSnap.minute}`} → ${lastSnap.label || `minute ${lastSnap.minute}`} (one controller process): constructor | Δ count | Δ self size (KiB) | count at the end |`, '|---|---|---|---|');
    for (const r of rows.slice(0, 15)) out.push(`| ${r.k.slice(0, 60).replace(/\|/g, '\\|')} | ${r.dc} | ${(r.db / 1024).toFixed(1)} | ${r.c} |`);
  }
  process.stdout.write(out.join('\n') + '\n');
  if (process.env['SOAK_JSON']) writeFileSync(process.env['SOAK_JSON'], JSON.stringify({ samples, gcPoints, lags: lags.length, final }, null, 1));
  if (final.mismatches.length || final.orphans.length || final.notReady.length || driftCount) process.exitCode = 1;
} finally {
  await controller?.stop().catch(() => undefined);
  await running.stop();
}
