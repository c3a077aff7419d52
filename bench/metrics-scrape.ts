/**
 * Scrape cost with 2,000 releases: what one /metrics request costs the controller.
 * Run: npx node bench/metrics-scrape.ts [releases] [scrapes]
 */
import { performance } from 'node:perf_hooks';
import { ChartOriginMetrics } from '../src/publish/metrics.ts';
import type { OriginReport } from '../src/model/report.ts';

const RELEASES = Number(process.argv[2] ?? 2000);
const SCRAPES = Number(process.argv[3] ?? 50);

function report(i: number): OriginReport {
  const major = 1 + (i % 5);
  return {
    release: { name: `release-${i}`, namespace: `ns-${i % 40}`, revision: 1 + (i % 7), status: 'deployed', storage: 'Secret' },
    chart: { name: `chart-${i % 300}`, version: `${major}.${i % 10}.0`, appVersion: `v${major}.0.${i % 3}`, deprecated: i % 50 === 0 },
    origin: {
      repoURL: `https://charts-${i % 20}.example.com/stable`,
      tarballDigest: `sha256:${i.toString(16).padStart(64, '0')}`,
      repository: `repo-${i % 20}`,
      match: i % 11 === 0 ? 'Mismatch' : 'Verified',
    },
    latest: { version: `${major + 1}.0.0`, created: '2025-06-01T00:00:00Z', deprecated: false },
    sameMajor: { version: `${major}.9.0` },
    upgrade: 'Major',
    versionsBehind: 10 - (i % 10),
    majorVersionsBehind: 1,
    installedCreated: '2024-06-01T00:00:00Z',
    lastChecked: new Date().toISOString(),
    conditions: [],
  };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
}

const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;

global.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
const metrics = new ChartOriginMetrics();

const setStart = performance.now();
for (let i = 0; i < RELEASES; i++) metrics.setRelease(report(i));
for (let r = 0; r < 20; r++) {
  metrics.setRepositoryState(`repo-${r}`, `https://charts-${r}.example.com/stable`, { up: true, lastSuccess: new Date(), charts: 300 });
  metrics.observeRepositoryFetch(`repo-${r}`, `https://charts-${r}.example.com/stable`, 0.3);
}
const setMs = performance.now() - setStart;

// A second round of setRelease = every release upgraded: measures remove + re-add.
const upgradeStart = performance.now();
for (let i = 0; i < RELEASES; i++) metrics.setRelease({ ...report(i), upgrade: 'None', versionsBehind: 0 });
const upgradeMs = performance.now() - upgradeStart;

await metrics.metrics(); // warm-up
const times: number[] = [];
let bytes = 0;
let lines = 0;
for (let s = 0; s < SCRAPES; s++) {
  const t0 = performance.now();
  const text = await metrics.metrics();
  times.push(performance.now() - t0);
  bytes = Buffer.byteLength(text);
  lines = text.split('\n').filter((l) => l.startsWith('chartorigin_release_')).length;
}
times.sort((a, b) => a - b);

// Worst case for the cache: one release changed since the last scrape (a reconcile between two scrapes),
// so the release gauges are serialised again.
const afterChange: number[] = [];
for (let s = 0; s < SCRAPES; s++) {
  metrics.setRelease({ ...report(s % RELEASES), versionsBehind: s });
  const t0 = performance.now();
  await metrics.metrics();
  afterChange.push(performance.now() - t0);
}
afterChange.sort((a, b) => a - b);
global.gc?.();
const heapAfter = process.memoryUsage().heapUsed;

const rows: [string, string][] = [
  ['releases', String(RELEASES)],
  ['release series', String(lines)],
  ['exposition size', `${(bytes / 1024).toFixed(0)} KiB`],
  ['setRelease x N (first)', `${setMs.toFixed(1)} ms`],
  ['setRelease x N (upgrade)', `${upgradeMs.toFixed(1)} ms`],
  [`scrape median (${SCRAPES})`, `${quantile(times, 0.5).toFixed(2)} ms`],
  [`scrape p99 (${SCRAPES})`, `${quantile(times, 0.99).toFixed(2)} ms`],
  ['scrape max', `${(times[times.length - 1] ?? NaN).toFixed(2)} ms`],
  [`scrape after a change, median (${SCRAPES})`, `${quantile(afterChange, 0.5).toFixed(2)} ms`],
  [`scrape after a change, p99 (${SCRAPES})`, `${quantile(afterChange, 0.99).toFixed(2)} ms`],
  ['heap used (after - before)', mb(heapAfter - heapBefore)],
  ['heap used (total)', mb(heapAfter)],
];
const w = Math.max(...rows.map(([k]) => k.length));
process.stdout.write(`node ${process.version}${global.gc ? '' : ' (run with --expose-gc for steadier heap numbers)'}\n`);
for (const [k, v] of rows) process.stdout.write(`${k.padEnd(w)}  ${v}\n`);
