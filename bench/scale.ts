/**
 * `npm run bench:scale` — (or SERIES=200,2000,10000 for a scaling series, each size in a fresh controller) RELEASES (default 2000) × REVISIONS (default 5) release Secrets on the real
 * control plane, then the controller from start to every ChartOrigin Ready: wall time, resident memory
 * after sync and peak (VmRSS / VmHWM of the controller process), bytes retained per release. RUNS (default 1)
 * fresh controllers per size, medians reported. Repositories: main + fork + big (~BIG_INDEX_MB, default 20 MiB,
 * index.yaml) over HTTP and an OCI registry; every OCI_EVERY-th release (default 4th) is of the OCI-only chart.
 * CONTROLLER_NODE_FLAGS (default: the image's NODE_OPTIONS); the image's malloc settings unless the command line
 * gives others (support.ts imageMallocEnv). CONTROLLER_CONCURRENCY (default 8, as in earlier
 * sessions; `auto` for the adaptive limit).
 *
 * The releases are encoded exactly as Helm's Secret driver does (JSON → gzip best → base64, then the API's
 * base64), from a real `helm install --dry-run=client -o json` of a 40-template chart packaged by the real
 * helm into the test chart repository; only name, namespace, revision and status differ between them.
 */
import { readFileSync, writeFileSync, mkdirSync, cpSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { apiKubeConfigFor, kubectl } from '../test/harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess } from '../test/harness/controller-process.ts';
import { startTestEnvironment } from '../test/harness/environment.ts';
import { pushChart, repoIndex, runHelm, scratchDir, syntheticIndexYaml, writeChartSource } from '../test/harness/charts.ts';
import { kubeRequest, kubeWatch } from '../src/kube/raw-client.ts';
import { REPO_ROOT } from '../test/harness/tools.ts';
import { cpuSecondsByName, createReleaseSecret, heapSnapshotSummary, imageMallocEnv, pool } from './support.ts';

imageMallocEnv();

const SERIES = (process.env['SERIES'] ?? '').split(',').filter(Boolean).map(Number);
const RELEASES = SERIES.length ? Math.max(...SERIES) : Number(process.env['RELEASES'] ?? 2000);
const REVISIONS = Number(process.env['REVISIONS'] ?? 5);
const NAMESPACES = Math.max(1, Math.min(20, Math.ceil(RELEASES / 100)));
const TEMPLATES = 40;
const RUNS = Math.max(1, Number(process.env['RUNS'] ?? 1));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}
/** Every OCI_EVERY-th release is of a chart published only in the OCI registry (0: none). */
const OCI_EVERY = Number(process.env['OCI_EVERY'] ?? 4);
const BIG_INDEX_MB = Number(process.env['BIG_INDEX_MB'] ?? 20);
/** HEAP_SNAPSHOT=1 (or a directory to keep the files in): after each sync, a heap snapshot of the controller, summarised by constructor. */
const HEAP_SNAPSHOT = process.env['HEAP_SNAPSHOT'] ?? '';

function procMem(pid: number): { rssMb: number; hwmMb: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

interface Row { size: number; secrets: number; syncS: number; verified: number; ready: number; rssMb: number; hwmMb: number; heapUsed: number; cpu: { controller: number; apiserver: number; etcd: number } }
/** The processes that share the machine's cores during a sync. */
const CPU_NAMES = ['kube-apiserver', 'etcd'] as const;

/** `nodejs_heap_size_used_bytes` from a /metrics exposition. */
function heapUsed(exposition: string): number {
  return Number(/^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)/m.exec(exposition)?.[1] ?? NaN);
}

const running = await startTestEnvironment({ log: () => undefined });
const { env } = running;
const cluster = env.cluster;
const kc = apiKubeConfigFor(cluster);
try {
  // A 40-template chart, packaged by the real helm into the "main" repository.
  const src = scratchDir('big-src');
  const dir = writeChartSource(src, { name: 'bigchart', version: '1.0.0', appVersion: '1.0.0' });
  const base = readFileSync(join(dir, 'templates', 'service.yaml'), 'utf8');
  for (let t = readdirSync(join(dir, 'templates')).length; t < TEMPLATES; t++) writeFileSync(join(dir, 'templates', `extra-${t}.yaml`), base.replace('{{ include "chart.fullname" . }}', `{{ include "chart.fullname" . }}-${t}`));
  const mainDir = env.chartRepo.repos.main.dir;
  await runHelm(['package', dir, '--destination', mainDir]);
  mkdirSync(join(src, 'copy'), { recursive: true });
  cpSync(join(mainDir, 'bigchart-1.0.0.tgz'), join(src, 'copy', 'bigchart-1.0.0.tgz'));
  await repoIndex(mainDir);
  const { stdout } = await runHelm(['install', 'template', join(mainDir, 'bigchart-1.0.0.tgz'), '--dry-run=client', '-o', 'json']);
  const template = JSON.parse(stdout) as { name: string; namespace: string; version: number; info: { status: string } };
  process.stderr.write(`release JSON ${(stdout.length / 1024).toFixed(0)} KiB, ${TEMPLATES} templates\n`);

  // Third HTTP repository: a ~20 MB Helm-shaped index (the synthetic generator of the index benchmark) that
  // also lists bigchart, so the big index is on the resolution path of every main-repo release.
  const bigDir = join(env.chartRepo.dir, 'big');
  mkdirSync(bigDir, { recursive: true });
  // Its bigchart 1.0.0 is a different build (fork templates): the same name and version as main's, so the
  // controller must fetch and compare both tarballs, and content decides (Verified from main, not Ambiguous).
  const bigSrc = writeChartSource(scratchDir('big-fork'), { name: 'bigchart', version: '1.0.0', appVersion: '1.0.0', templateVariant: 'fork' });
  await runHelm(['package', bigSrc, '--destination', bigDir]);
  await repoIndex(bigDir);
  const helmIndex = readFileSync(join(bigDir, 'index.yaml'), 'utf8');
  const synthetic = syntheticIndexYaml(BIG_INDEX_MB * 2 ** 20);
  const syntheticEntries = synthetic.slice('apiVersion: v1\nentries:\n'.length, synthetic.lastIndexOf('generated:'));
  writeFileSync(join(bigDir, 'index.yaml'), helmIndex.replace('entries:\n', `entries:\n${syntheticEntries}`));
  process.stderr.write(`big index.yaml ${(readFileSync(join(bigDir, 'index.yaml')).length / 2 ** 20).toFixed(1)} MiB\n`);

  // OCI: a second 40-template chart pushed by the real `helm push` to the registry only.
  const ociDir = writeChartSource(src, { name: 'ocichart', version: '1.0.0', appVersion: '1.0.0' });
  for (let t = readdirSync(join(ociDir, 'templates')).length; t < TEMPLATES; t++) writeFileSync(join(ociDir, 'templates', `extra-${t}.yaml`), base.replace('{{ include "chart.fullname" . }}', `{{ include "chart.fullname" . }}-${t}`));
  const ociPkg = join(src, 'oci-pkg');
  mkdirSync(ociPkg, { recursive: true });
  await runHelm(['package', ociDir, '--destination', ociPkg]);
  await pushChart(join(ociPkg, 'ocichart-1.0.0.tgz'), `${env.registry.url}/scale`);
  const ociTemplate = JSON.parse((await runHelm(['install', 'template', join(ociPkg, 'ocichart-1.0.0.tgz'), '--dry-run=client', '-o', 'json'])).stdout) as typeof template;

  await installCrds(cluster);
  const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `scale-${i}`);
  for (const ns of namespaces) await kubectl(cluster, ['create', 'namespace', ns]);
  const repositories: [string, Record<string, unknown>][] = [
    ['main', { url: env.chartRepo.repos.main.url }],
    ['fork', { url: env.chartRepo.repos.fork.url }],
    ['big', { url: `${env.chartRepo.url}/big` }],
    ['oci', { url: `${env.registry.url}/scale`, plainHTTP: true }],
  ];
  for (const [name, spec] of repositories) {
    await kubectl(cluster, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name }, spec }) });
  }
  // As in the image: compiled JavaScript (no type stripping at run time), NODE_OPTIONS as the chart sets it.
  const snapshotDir = HEAP_SNAPSHOT && HEAP_SNAPSHOT !== '1' ? (mkdirSync(HEAP_SNAPSHOT, { recursive: true }), HEAP_SNAPSHOT) : scratchDir('heap');
  const startController = (): ReturnType<typeof startControllerProcess> =>
    startControllerProcess(cluster, ['--leader-elect=false', '--log-level', 'warn', '--concurrency', process.env['CONTROLLER_CONCURRENCY'] ?? '8'], 'scale', {
      // CONTROLLER_ENTRY: another build's main.js (an A/B of two commits on one machine).
      entry: process.env['CONTROLLER_ENTRY'] ?? join(REPO_ROOT, 'dist/src/cli/main.js'),
      // Default: the image's NODE_OPTIONS (Dockerfile, chart value controller.nodeOptions); CONTROLLER_NODE_FLAGS='' for none.
      nodeFlags: [
        ...(process.env['CONTROLLER_NODE_FLAGS'] ?? '--max-semi-space-size=4 --max-old-space-size=384').split(' ').filter(Boolean),
        ...(HEAP_SNAPSHOT ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshotDir}`] : []),
      ],
    });

  // SERIES=200,2000,10000: the sizes in one run, each measured by a fresh controller process; Secrets are added
  // between sizes (the releases of a smaller size stay). Without SERIES: the one size RELEASES.
  const sizes = SERIES.length ? SERIES : [RELEASES];
  const rows: Row[] = [];
  let idle: { rssMb: number; heapUsed: number } | undefined;
  if (SERIES.length) {
    // Idle baseline: the controller with its repository synced and no release at all.
    const controller = await startController();
    await eventually('controller ready', async () => ((await controller.ready()) ? true : undefined), 60_000, 200);
    await new Promise((r) => setTimeout(r, 5000));
    idle = { rssMb: procMem(controller.proc.pid).rssMb, heapUsed: heapUsed(await controller.metrics()) };
    await controller.stop();
    process.stderr.write(`idle controller: RSS ${idle.rssMb.toFixed(0)} MiB, heap used ${(idle.heapUsed / 2 ** 20).toFixed(1)} MiB\n`);
  }
  let created = 0;
  for (const size of sizes) {
    const t0 = performance.now();
    const work: { ns: string; name: string; rev: number }[] = [];
    for (let r = created; r < size; r++) for (let rev = 1; rev <= REVISIONS; rev++) work.push({ ns: namespaces[r % NAMESPACES] ?? 'scale-0', name: `rel-${r}`, rev });
    await pool(work, 16, async ({ ns, name, rev }) => {
      const status = rev === REVISIONS ? 'deployed' : 'superseded';
      const r = Number(name.slice('rel-'.length));
      const t = OCI_EVERY > 0 && r % OCI_EVERY === OCI_EVERY - 1 ? ociTemplate : template;
      await createReleaseSecret(kc, ns, name, rev, status, JSON.stringify({ ...t, name, namespace: ns, version: rev, info: { ...t.info, status } }));
    });
    created = Math.max(created, size);
    const createdS = (performance.now() - t0) / 1000;
    process.stderr.write(`created ${work.length} release Secrets in ${createdS.toFixed(1)} s (${size * REVISIONS} in the cluster)\n`);

    // RUNS (default 1): the same size measured by RUNS fresh controllers; the table shows medians.
    const runs: Row[] = [];
    for (let run = 0; run < RUNS; run++) {
      // Every size starts from no ChartOrigin at all (as a first install does): the ones the previous size's
      // controller made are deleted (no finalizers), so nothing counts as Ready before this controller made it.
      for (const ns of namespaces) await kubeRequest(kc, { method: 'DELETE', path: `/apis/chartorigin.io/v1alpha1/namespaces/${ns}/chartorigins` });
      const emptyRv = await eventually('no ChartOrigin left', async () => {
        const l = await kubeRequest<{ items: unknown[]; metadata: { resourceVersion: string } }>(kc, { path: '/apis/chartorigin.io/v1alpha1/chartorigins', query: { limit: 1 } });
        return l.items.length === 0 ? l.metadata.resourceVersion : undefined;
      }, 300_000, 500);
      // Readiness from one watch stream (not repeated lists of every ChartOrigin, which at 10,000 objects cost the
      // apiserver — on the same 2 cores — more than the controller's own work).
      const readyNames = new Set<string>();
      const verifiedNames = new Set<string>();
      const abort = new AbortController();
      let allReady: () => void = () => undefined;
      const allReadyP = new Promise<void>((r) => (allReady = r));
      const watchP = kubeWatch(kc, { path: '/apis/chartorigin.io/v1alpha1/chartorigins', query: { watch: true, resourceVersion: emptyRv }, signal: abort.signal }, (e) => {
        const ev = e as { type: string; object: { metadata: { namespace: string; name: string }; status?: { conditions?: { type: string; status: string }[]; origin?: { match?: string } } } };
        const key = `${ev.object.metadata.namespace}/${ev.object.metadata.name}`;
        const isReady = ev.type !== 'DELETED' && !!ev.object.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        if (isReady) readyNames.add(key);
        else readyNames.delete(key);
        if (isReady && ev.object.status?.origin?.match === 'Verified') verifiedNames.add(key);
        else verifiedNames.delete(key);
        if (readyNames.size >= size) allReady();
      }).catch((err: unknown) => {
        if (!abort.signal.aborted) process.stderr.write(`watch ended: ${String(err)}\n`);
      });
      const cpu0 = cpuSecondsByName(CPU_NAMES);
      const started = performance.now();
      const controller = await startController();
      let peakSeen = 0;
      const sampler = setInterval(() => {
        try {
          peakSeen = Math.max(peakSeen, procMem(controller.proc.pid).hwmMb);
        } catch {
          // the process may be gone; the final sample reports it
        }
      }, 500);
      const timeout = setTimeout(() => allReady(), 1_200_000);
      await allReadyP;
      clearTimeout(timeout);
      clearInterval(sampler);
      const syncS = (performance.now() - started) / 1000;
      const cpu1 = cpuSecondsByName(CPU_NAMES, { controller: controller.proc.pid });
      const cpu = { controller: cpu1.get('controller') ?? 0, apiserver: (cpu1.get('kube-apiserver') ?? 0) - (cpu0.get('kube-apiserver') ?? 0), etcd: (cpu1.get('etcd') ?? 0) - (cpu0.get('etcd') ?? 0) };
      const verified = verifiedNames.size;
      const readyCount = readyNames.size;
      abort.abort();
      await watchP;
      await new Promise((r) => setTimeout(r, 3000));
      const after = procMem(controller.proc.pid);
      const exposition = await controller.metrics();
      const heap = heapUsed(exposition);
      const gauge = (name: string): string => (Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(exposition)?.[1] ?? NaN) / 2 ** 20).toFixed(1);
      process.stderr.write(`after sync: RSS ${after.rssMb.toFixed(1)} MiB = V8 heap total ${gauge('nodejs_heap_size_total_bytes')} (used ${gauge('nodejs_heap_size_used_bytes')}) + external ${gauge('nodejs_external_memory_bytes')} + the rest (code, Node, malloc)\n`);
      if (HEAP_SNAPSHOT) {
        const before = new Set(readdirSync(snapshotDir));
        process.kill(controller.proc.pid, 'SIGUSR2');
        const file = await eventually('heap snapshot written', async () => readdirSync(snapshotDir).find((f) => !before.has(f) && f.endsWith('.heapsnapshot')), 120_000, 500);
        // The file appears when writing starts; it is complete when it ends the JSON document it is.
        const complete = (): boolean => {
          const text = readFileSync(join(snapshotDir, file));
          return text.subarray(Math.max(0, text.length - 4)).toString().trimEnd().endsWith(']}');
        };
        await eventually('heap snapshot complete', async () => (complete() ? true : undefined), 300_000, 1000);
        const rows = heapSnapshotSummary(join(snapshotDir, file));
        process.stderr.write(`heap snapshot ${join(snapshotDir, file)} (includes garbage), self size by constructor:\n| what | count | self MiB | per release (bytes) |\n|---|---|---|---|\n`);
        for (const r of rows) process.stderr.write(`| ${r.what} | ${r.count} | ${(r.selfBytes / 2 ** 20).toFixed(1)} | ${(r.selfBytes / size).toFixed(0)} |\n`);
      }
      await controller.stop();
      runs.push({ size, secrets: size * REVISIONS, syncS, verified, ready: readyCount, rssMb: after.rssMb, hwmMb: Math.max(after.hwmMb, peakSeen), heapUsed: heap, cpu });
      process.stderr.write(`${size} × ${REVISIONS}: all Ready in ${syncS.toFixed(1)} s, RSS ${after.rssMb.toFixed(0)} MiB; CPU s: controller ${cpu.controller.toFixed(1)}, kube-apiserver ${cpu.apiserver.toFixed(1)}, etcd ${cpu.etcd.toFixed(1)}\n`);
    }
    const med = (f: (r: Row) => number): number => median(runs.map(f));
    rows.push({ size, secrets: size * REVISIONS, syncS: med((r) => r.syncS), verified: med((r) => r.verified), ready: med((r) => r.ready), rssMb: med((r) => r.rssMb), hwmMb: med((r) => r.hwmMb), heapUsed: med((r) => r.heapUsed), cpu: { controller: med((r) => r.cpu.controller), apiserver: med((r) => r.cpu.apiserver), etcd: med((r) => r.cpu.etcd) } });
  }

  const kib = (mb: number): string => ((mb * 1024)).toFixed(1);
  const lines = [
    `| releases × revisions | Secrets | controller start → all Ready (s, median of ${RUNS}) | Ready / Verified | RSS after sync (MiB) | peak RSS (MiB) | heap used after sync (MiB) | RSS per release (KiB) | (RSS − idle) per release (KiB) | (heap − idle heap) per release (KiB) | s per 1,000 releases | CPU s during sync: controller / kube-apiserver / etcd |`,
    `|---|---|---|---|---|---|---|---|---|---|---|---|`,
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.size} × ${REVISIONS} | ${r.secrets} | ${r.syncS.toFixed(1)} | ${r.ready} / ${r.verified} | ${r.rssMb.toFixed(0)} | ${r.hwmMb.toFixed(0)} | ${(r.heapUsed / 2 ** 20).toFixed(1)} | ${kib(r.rssMb / r.size)} | ${idle ? kib((r.rssMb - idle.rssMb) / r.size) : '-'} | ${idle ? ((r.heapUsed - idle.heapUsed) / 1024 / r.size).toFixed(1) : '-'} | ${((r.syncS * 1000) / r.size).toFixed(2)} | ${r.cpu.controller.toFixed(1)} / ${r.cpu.apiserver.toFixed(1)} / ${r.cpu.etcd.toFixed(1)} |`,
    );
  }
  if (idle) lines.push(`| idle (0 releases) | 0 | - | - | ${idle.rssMb.toFixed(0)} | - | ${(idle.heapUsed / 2 ** 20).toFixed(1)} | - | - | - | - | - |`);
  // Linear-growth check: per-release cost of a size ÷ that of a smaller one (≤ 1: no worse than linear).
  if (rows.length > 1 && idle) {
    const first = rows[0] as Row;
    const perRel = (r: Row): number => (r.rssMb - (idle?.rssMb ?? 0)) / r.size;
    lines.push('', `| size | vs | time per release ratio | (RSS − idle) per release ratio | (heap − idle) per release ratio | marginal RSS per added release (KiB) | marginal heap per added release (KiB) |`, '|---|---|---|---|---|---|---|');
    for (const [i, r] of rows.entries()) {
      // Against the smallest size and against the previous one (once when they are the same). The marginal
      // columns (slope between two sizes) do not depend on the idle baseline, which V8's lazy collection of the
      // index parse's garbage can inflate above a loaded controller's.
      for (const base of new Set(i === 0 ? [] : [first, rows[i - 1] as Row])) {
        lines.push(
          `| ${r.size} | ${base.size} | ${(r.syncS / r.size / (base.syncS / base.size)).toFixed(2)} | ${(perRel(r) / perRel(base)).toFixed(2)} | ${((r.heapUsed - idle.heapUsed) / r.size / ((base.heapUsed - idle.heapUsed) / base.size)).toFixed(2)} | ${(((r.rssMb - base.rssMb) * 1024) / (r.size - base.size)).toFixed(1)} | ${((r.heapUsed - base.heapUsed) / 1024 / (r.size - base.size)).toFixed(1)} |`,
        );
      }
    }
  }
  process.stdout.write(lines.join('\n') + '\n');
} finally {
  await running.stop();
}
