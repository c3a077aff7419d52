/**
 * `npm run bench:scan-vs-nova` — `chartorigin scan -A` against `nova find --helm` on the same real control
 * plane, the same releases and the same HTTP chart repository, in the same run, alternating.
 *
 * RELEASES (default 200) releases of CHARTS charts, each chart published in one loopback HTTP repository in
 * several versions; HELM_INSTALLS (default 4) of them installed with the real helm (3 and 4), the rest
 * written as Helm-encoded release Secrets (JSON → gzip → base64, as Helm's Secret driver does) made from a
 * real `helm install --dry-run=client -o json` of the packaged chart version, with REVISIONS (default 5,
 * the 2,000 × 5 cluster shape; all but the last superseded) revisions each. Each tool runs RUNS
 * (default 5) times in a fresh process under GNU time; medians of wall time and peak RSS are reported,
 * plus how many releases both tools give the same latest version.
 *
 * nova is built from its source for comparison only, outside the repository: NOVA (default
 * ~/.cache/chartorigin/bench/nova). Needs `npm run build` first (chartorigin runs dist/src/cli/entry.js,
 * the shipped entry point).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, homedir, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiKubeConfigFor, kubectl } from '../test/harness/controlplane.ts';
import { startTestEnvironment } from '../test/harness/environment.ts';
import { packageChart, repoIndex, runHelm } from '../test/harness/charts.ts';
import { helmInstall } from '../test/harness/helm.ts';
import { REPO_ROOT } from '../test/harness/tools.ts';
import { createReleaseSecret, installedCopy, pool } from './support.ts';

const RELEASES = Number(process.env['RELEASES'] ?? 200);
const REVISIONS = Math.max(1, Number(process.env['REVISIONS'] ?? 5));
const RUNS = Number(process.env['RUNS'] ?? 5);
const CHARTS = Number(process.env['CHARTS'] ?? 5);
const HELM_INSTALLS = Math.min(RELEASES, Number(process.env['HELM_INSTALLS'] ?? 4));
const NOVA = process.env['NOVA'] ?? join(homedir(), '.cache/chartorigin/bench/nova');
const VERSIONS = ['1.0.0', '1.1.0', '1.2.0', '2.0.0', '2.1.0'];
const NAMESPACES = Math.max(1, Math.min(20, Math.ceil(RELEASES / 100)));

if (!existsSync(NOVA)) throw new Error(`nova binary not found at ${NOVA} (build it outside the repo, see bench/RESULTS.md)`);
if (!existsSync(join(REPO_ROOT, 'dist/src/cli/entry.js'))) throw new Error('dist/ missing: run `npm run build` first');

interface Timed { wallS: number; maxRssMb: number; stdout: string; code: number }

/**
 * One fresh process under GNU time (async spawn: the chart server lives in this process). Peak RSS from GNU
 * time; the wall time from this process's monotonic clock, spawn to exit, because GNU time prints it in
 * hundredths of a second (a tenth of a 130 ms run) — the same spawn overhead is in every tool's number.
 */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Timed> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-time-'));
  const report = join(dir, 'time.txt');
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const p = spawn('/usr/bin/time', ['-v', '-o', report, cmd, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (b: Buffer) => out.push(b));
    p.stderr.on('data', (b: Buffer) => err.push(b));
    p.on('error', reject);
    let exited = 0;
    p.on('exit', () => (exited = performance.now()));
    p.on('close', (code) => {
      const t = readFileSync(report, 'utf8');
      const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(t);
      if (!rss) return reject(new Error(`cannot read GNU time output: ${t}`));
      const wallS = ((exited || performance.now()) - started) / 1000;
      if (code !== 0) process.stderr.write(`${cmd} exited ${code}: ${Buffer.concat(err).toString().slice(0, 2000)}\n`);
      resolve({ wallS, maxRssMb: Number(rss[1]) / 1024, stdout: Buffer.concat(out).toString(), code: code ?? -1 });
    });
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const running = await startTestEnvironment({ log: () => undefined });
const { env } = running;
const cluster = env.cluster;
const kc = apiKubeConfigFor(cluster);
try {
  // One repository of its own on the harness's static server: CHARTS charts × 5 versions, packaged by the real helm.
  const repoDir = join(env.chartRepo.dir, 'bench');
  const repoUrl = `${env.chartRepo.url}/bench`;
  mkdirSync(repoDir, { recursive: true });
  const charts = Array.from({ length: CHARTS }, (_, i) => `svc${i}`);
  const templates = new Map<string, string>();
  for (const name of charts) {
    for (const version of VERSIONS) {
      const p = await packageChart({ name, version, appVersion: version }, repoDir);
      // The release JSON exactly as helm renders it; only name, namespace, revision and status change below.
      templates.set(`${name}@${version}`, (await runHelm(['install', 'template', p.path, '--dry-run=client', '-o', 'json'])).stdout);
    }
  }
  await repoIndex(repoDir);

  const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `nova-${i}`);
  for (const ns of namespaces) await kubectl(cluster, ['create', 'namespace', ns]);
  // Release r: chart r % CHARTS; deployed version cycles over all but the newest for most, some already latest.
  const plan = Array.from({ length: RELEASES }, (_, r) => ({
    ns: namespaces[r % NAMESPACES] as string,
    name: `rel-${r}`,
    chart: charts[r % CHARTS] as string,
    version: VERSIONS[Math.floor(r / CHARTS) % VERSIONS.length] as string,
  }));

  const t0 = performance.now();
  for (const [i, p] of plan.slice(0, HELM_INSTALLS).entries()) {
    await helmInstall(cluster, i % 2 ? 3 : 4, p.name, p.chart, { repo: repoUrl, version: p.version, namespace: p.ns });
  }
  const work: { ns: string; name: string; chart: string; version: string; rev: number }[] = [];
  for (const p of plan.slice(HELM_INSTALLS)) for (let rev = 1; rev <= REVISIONS; rev++) work.push({ ...p, rev });
  await pool(work, 16, async ({ ns, name, chart, version, rev }) => {
    const status = rev === REVISIONS ? 'deployed' : 'superseded';
    const template = JSON.parse(templates.get(`${chart}@${version}`) as string) as { info: { status: string } };
    await createReleaseSecret(kc, ns, name, rev, status, JSON.stringify({ ...template, name, namespace: ns, version: rev, info: { ...template.info, status } }));
  });
  process.stderr.write(`${HELM_INSTALLS} helm installs + ${work.length} release Secrets in ${((performance.now() - t0) / 1000).toFixed(1)} s; repo ${repoUrl}, ${CHARTS} charts × ${VERSIONS.length} versions\n`);

  const work2 = mkdtempSync(join(tmpdir(), 'bench-nova-'));
  const config = join(work2, 'repos.yaml');
  writeFileSync(config, `repositories:\n  - name: bench\n    url: ${repoUrl}\n`);
  // nova has its own helm and klog; give it a HOME of its own so no user helm config is read.
  const toolEnv = { ...process.env, KUBECONFIG: cluster.kubeconfig, HOME: work2, HELM_DRIVER: 'secret' };
  const scanArgs = ['scan', '-A', '--kubeconfig', cluster.kubeconfig, '--config', config, '-o', 'json'];
  // Each way chartorigin is run, to measure each start-up step: the bin (for scan, the CommonJS bundle of
  // scripts/bundle-cli.ts with the code cache its first run trained, cli/code-cache.ts, and the chart cache of
  // cli/chart-store.ts), the same with both caches off (what a first run is), the module graph as tsc emits it
  // (Node's compile cache; from there no cache of ours), the single-file executable (its trained code cache and
  // the chart cache; `npm run build:sea` first, else left out).
  const compileCache = mkdtempSync(join(tmpdir(), 'bench-compile-cache-'));
  // Every binary runs from a copy written as an installer writes it (support.ts installedCopy: how a file was
  // last written moves its peak RSS by up to 30 MiB): node for the bin, the single executable, nova.
  const binDir = mkdtempSync(join(tmpdir(), 'bench-bin-'));
  const node = installedCopy(process.execPath, binDir);
  const novaBin = installedCopy(NOVA, binDir);
  const builtSea = join(REPO_ROOT, 'dist/sea/chartorigin');
  const sea = existsSync(builtSea) ? installedCopy(builtSea, binDir) : undefined;
  const variants: { label: string; cmd: string; pre: string[]; env: NodeJS.ProcessEnv }[] = [
    { label: 'chartorigin scan -A (bin: bundle + trained code cache)', cmd: node, pre: [join(REPO_ROOT, 'dist/src/cli/entry.js')], env: {} },
    // A first run, or one with the caches off: every tarball downloaded and unpacked, every function compiled.
    { label: 'chartorigin scan -A (bin, caches off)', cmd: node, pre: [join(REPO_ROOT, 'dist/src/cli/entry.js')], env: { CHARTORIGIN_CACHE_DIR: '' } },
    { label: 'chartorigin scan -A (tsc module graph + compile cache)', cmd: node, pre: [join(REPO_ROOT, 'dist/src/cli/main.js')], env: { NODE_COMPILE_CACHE: compileCache } },
    ...(sea ? [{ label: 'chartorigin scan -A (single-file executable)', cmd: sea, pre: [], env: {} }] : []),
  ];
  const novaArgs = ['find', '--helm', '--url', repoUrl, '--poll-artifacthub=false', '--format', 'json', '--include-all', '--kubeconfig', cluster.kubeconfig];

  // HOLD=1: keep the cluster and repository up for manual runs (prints the commands), until Ctrl-C.
  if (process.env['HOLD']) {
    process.stderr.write(`holding; try:\n  KUBECONFIG=${cluster.kubeconfig} HOME=${work2} ${node} ${variants[0]?.pre.join(' ')} ${scanArgs.join(' ')}\n  KUBECONFIG=${cluster.kubeconfig} HOME=${work2} ${novaBin} ${novaArgs.join(' ')}\n`);
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
  const loadBefore = loadavg().map((l) => l.toFixed(2)).join(' ');
  const runsOf = variants.map(() => [] as Timed[]);
  const startsOf = variants.map(() => [] as Timed[]);
  const nova: Timed[] = [];
  const novaStart: Timed[] = [];
  // One untimed run of each first: it writes the caches, as any second run of a user's finds them.
  for (const v of variants) await timed(v.cmd, [...v.pre, ...scanArgs], { ...toolEnv, ...v.env });
  // Fixed cost of each tool: a fresh process that only prints its usage / version (no cluster, no repo).
  for (let i = 0; i < RUNS; i++) {
    for (const [j, v] of variants.entries()) startsOf[j]?.push(await timed(v.cmd, [...v.pre, '--help'], { ...toolEnv, ...v.env }));
    novaStart.push(await timed(novaBin, ['version'], toolEnv));
  }
  for (let i = 0; i < RUNS; i++) {
    // Alternate which goes first so neither always gets the warmer apiserver.
    const order = i % 2 ? ['nova', 'co'] : ['co', 'nova'];
    for (const which of order) {
      if (which === 'co') for (const [j, v] of variants.entries()) runsOf[j]?.push(await timed(v.cmd, [...v.pre, ...scanArgs], { ...toolEnv, ...v.env }));
      else nova.push(await timed(novaBin, novaArgs, toolEnv));
    }
    process.stderr.write(`run ${i + 1}: chartorigin ${runsOf.map((r) => r.at(-1)?.wallS.toFixed(2)).join(' / ')} s, nova ${nova.at(-1)?.wallS.toFixed(2)} s\n`);
  }
  const co = runsOf[0] as Timed[];

  // Same latest versions: compare per release (namespace/name) between the last run of each tool.
  const coOut = JSON.parse(co.at(-1)?.stdout ?? '[]') as { name: string; namespace: string; latest?: { version?: string } }[];
  const novaOut = JSON.parse(nova.at(-1)?.stdout ?? '[]') as { release: string; namespace: string; Latest?: { version?: string } }[];
  const coLatest = new Map(coOut.map((r) => [`${r.namespace}/${r.name}`, r.latest?.version ?? '']));
  const novaLatest = new Map(novaOut.map((r) => [`${r.namespace}/${r.release}`, r.Latest?.version ?? '']));
  let agree = 0;
  const differ: string[] = [];
  for (const p of plan) {
    const key = `${p.ns}/${p.name}`;
    const a = coLatest.get(key);
    const b = novaLatest.get(key);
    if (a && a === b) agree++;
    else if (differ.length < 5) differ.push(`${key}: chartorigin ${a ?? 'missing'}, nova ${b ?? 'missing'}`);
  }
  const fails = [...runsOf.flat(), ...nova].filter((t) => t.code !== 0).length;

  const nw = median(nova.map((t) => t.wallS));
  const nm = median(nova.map((t) => t.maxRssMb));
  const span = (ts: Timed[]): string => `${Math.min(...ts.map((t) => t.wallS)).toFixed(3)}–${Math.max(...ts.map((t) => t.wallS)).toFixed(3)}`;
  const row = (label: string, ts: Timed[], extra: string): string =>
    `| | ${label} | ${median(ts.map((t) => t.wallS)).toFixed(3)} | ${span(ts)} | ${median(ts.map((t) => t.maxRssMb)).toFixed(0)} | ${(median(ts.map((t) => t.wallS)) / nw).toFixed(2)} | ${(median(ts.map((t) => t.maxRssMb)) / nm).toFixed(2)} | ${extra} |`;
  process.stdout.write(
    [
      `| releases (helm-installed + encoded) × revisions | tool | median wall s (${RUNS} runs) | min–max s | median peak RSS MiB | time ÷ nova | RSS ÷ nova | same latest as nova |`,
      `|---|---|---|---|---|---|---|---|`,
      `| ${RELEASES} (${HELM_INSTALLS} + ${RELEASES - HELM_INSTALLS}) × ${REVISIONS} | | | | | | | |`,
      ...variants.map((v, j) => row(v.label, runsOf[j] as Timed[], j === 0 ? `${agree}/${RELEASES}` : '')),
      row('nova find --helm', nova, ''),
      ...variants.map((v, j) => row(`${v.label.replace(/^chartorigin scan -A/, 'chartorigin --help')} (process start only)`, startsOf[j] as Timed[], '')),
      row('nova version (process start only)', novaStart, ''),
      '',
      `machine: ${availableParallelism()} CPUs, load average before ${loadBefore}, after ${loadavg().map((l) => l.toFixed(2)).join(' ')}; node ${process.version}; nova ${NOVA}`,
      '',
      ...(differ.length ? [`differences (first 5): ${differ.join('; ')}`, ''] : []),
      ...(fails ? [`WARNING: ${fails} runs exited non-zero`, ''] : []),
    ].join('\n'),
  );
  // CPU_PROF=1: one more chartorigin scan under --cpu-prof; self time summed per script (where the time goes).
  if (process.env['CPU_PROF']) {
    const profDir = mkdtempSync(join(tmpdir(), 'scan-prof-'));
    await timed(node, ['--cpu-prof', '--cpu-prof-dir', profDir, join(REPO_ROOT, 'dist/src/cli/entry.js'), ...scanArgs], toolEnv);
    const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (file) {
      const prof = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as { nodes: { id: number; callFrame: { url: string; functionName: string } }[]; samples: number[]; timeDeltas: number[] };
      const byId = new Map(prof.nodes.map((n) => [n.id, n]));
      const bucket = new Map<string, number>();
      prof.samples.forEach((id, i) => {
        const cf = byId.get(id)?.callFrame;
        const url = cf?.url ?? '';
        const where = url.includes('node_modules/') ? `npm:${url.split('node_modules/').pop()?.split('/')[0] ?? ''}` : url.includes('/dist/src/') ? `chartorigin:${url.split('/dist/src/')[1] ?? ''}` : url.includes('/dist/') ? `chartorigin bundle:${url.split('/dist/')[1] ?? ''}` : url ? `node:${url.replace(/^node:/, '')}` : `(${cf?.functionName || 'native'})`;
        bucket.set(where, (bucket.get(where) ?? 0) + (prof.timeDeltas[i] ?? 0) / 1000);
      });
      const total = [...bucket.values()].reduce((a, b) => a + b, 0);
      process.stdout.write(`\nCPU profile of one chartorigin scan (${profDir}/${file}), self time by script, total ${total.toFixed(0)} ms:\n\n| where | self ms | share |\n|---|---|---|\n`);
      for (const [k, v] of [...bucket].sort((a, b) => b[1] - a[1]).slice(0, 15)) process.stdout.write(`| ${k} | ${v.toFixed(0)} | ${((100 * v) / total).toFixed(0)} % |\n`);
    }
  }
} finally {
  await running.stop();
}
