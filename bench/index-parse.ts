/**
 * `npm run bench:index`: load + parse a ~20 MB index.yaml, chartorigin vs the real helm 3 and helm 4. chartorigin
 * probes the repository and looks up one chart, as a cluster that installs a few of its charts does, and, on a
 * row of its own, every chart; helm (`helm repo add` downloads and parses it, `helm search repo` loads and
 * parses the cached copy). Same run, each in a fresh process measured with GNU time (wall seconds, peak RSS).
 * Median of RUNS.
 * The oldest supported and the newest helm 3 and 4. chartorigin runs the compiled dist/ (`npm run build` first).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChartRepoServer } from '../test/harness/chart-repo-server.ts';
import { syntheticIndexYaml } from '../test/harness/charts.ts';
import { toolPath } from '../test/harness/tools.ts';
import { installedCopy } from './support.ts';

const runs = Number(process.env['RUNS'] ?? 5);
const sizeMb = Number(process.env['INDEX_MB'] ?? 20);
const dir = mkdtempSync(join(tmpdir(), 'chartorigin-bench-index-'));
const yaml = syntheticIndexYaml(sizeMb * 1024 * 1024);
writeFileSync(join(dir, 'index.yaml'), yaml);
const server = await startChartRepoServer({ dir });

interface Sample {
  seconds: number;
  maxRssMb: number;
}

/** GNU time's %e and %M (KiB) for one command; async, because the repository server runs in this process. */
function measure(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', '%e %M', cmd, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.slice(-500)}`));
      const [s, kb] = (stderr.trim().split('\n').pop() ?? '').split(' ');
      resolve({ seconds: Number(s), maxRssMb: Number(kb) / 1024 });
    });
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const chartorigin = ['--input-type=module', '-e', `
  import { createChartSource } from ${JSON.stringify(new URL('../dist/src/sources/source.js', import.meta.url).pathname)};
  // As the CLI reads an index (src/cli/main.ts): not compacted, which only a long-lived controller pays for.
  const s = createChartSource({ name: 'big', url: process.argv[1], priority: 0, intervalSeconds: 3600, insecureSkipTLSVerify: false, plainHTTP: false }, { http: { compactIndex: false } });
  const r = await s.probe();
  const v = await s.versions('chart-0');
  if (!r.charts || !v.length) throw new Error('nothing parsed');
  // EVERY=1: look up every chart the index lists (what a cluster running all of them would cost).
  if (process.argv[2] === 'every') for (let i = 0; i < r.charts; i++) if (!(await s.versions('chart-' + i)).length) throw new Error('chart-' + i);
  await s.close();
`, server.url];
const chartoriginEvery = [...chartorigin, 'every'];

/** The oldest supported and the newest helm of each major (scripts/tools.sh builds all four). */
const HELMS = ['helm4-latest', 'helm4', 'helm3-latest', 'helm3'] as const;
type Helm = (typeof HELMS)[number];
// Every binary compared runs from a copy written as an installer writes it (support.ts installedCopy).
const binDir = mkdtempSync(join(tmpdir(), 'chartorigin-bench-bin-'));
const nodeBin = installedCopy(process.execPath, binDir);
const helmBin = Object.fromEntries(HELMS.map((h) => [h, installedCopy(toolPath(h), binDir)])) as Record<Helm, string>;
const helmVersion = (helm: Helm): string => execFileSync(helmBin[helm], ['version', '--template', '{{.Version}}'], { encoding: 'utf8' }).trim();

async function helmRun(helm: Helm): Promise<{ add: Sample; search: Sample }> {
  const home = mkdtempSync(join(tmpdir(), `chartorigin-bench-${helm}-`));
  const env = { ...process.env, HELM_CACHE_HOME: join(home, 'c'), HELM_CONFIG_HOME: join(home, 'f'), HELM_DATA_HOME: join(home, 'd'), HOME: home };
  try {
    const add = await measure(helmBin[helm], ['repo', 'add', 'big', server.url], env);
    const search = await measure(helmBin[helm], ['search', 'repo', 'big/chart-0'], env);
    return { add, search };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

const label = Object.fromEntries(HELMS.map((h) => [h, `helm ${helmVersion(h)}`])) as Record<Helm, string>;
const EVERY = 'chartorigin, every chart looked up';
const rows: Record<string, Sample[]> = { chartorigin: [], [EVERY]: [] };
for (const h of HELMS) rows[`${label[h]} repo add`] = [];
for (const h of HELMS) rows[`${label[h]} search repo`] = [];
for (let i = 0; i < runs; i++) {
  rows['chartorigin']!.push(await measure(nodeBin, chartorigin, process.env));
  rows[EVERY]!.push(await measure(nodeBin, chartoriginEvery, process.env));
  for (const h of HELMS) {
    const r = await helmRun(h);
    rows[`${label[h]} repo add`]!.push(r.add);
    rows[`${label[h]} search repo`]!.push(r.search);
  }
}
await server.close();
rmSync(dir, { recursive: true, force: true });
rmSync(binDir, { recursive: true, force: true });

const node = execFileSync(process.execPath, ['--version'], { encoding: 'utf8' }).trim();
const co = median(rows['chartorigin']!.map((s) => s.seconds));
process.stdout.write(`index.yaml ${(yaml.length / 1048576).toFixed(1)} MiB, ${runs} runs each, median; node ${node}\n`);
process.stdout.write('| tool (fresh process: fetch over loopback + parse) | seconds | peak RSS MiB | chartorigin time ÷ this |\n|---|---|---|---|\n');
for (const [name, xs] of Object.entries(rows)) {
  const t = median(xs.map((s) => s.seconds));
  process.stdout.write(`| ${name} | ${t.toFixed(2)} | ${median(xs.map((s) => s.maxRssMb)).toFixed(0)} | ${(co / t).toFixed(2)} |\n`);
}
