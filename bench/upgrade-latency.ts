/**
 * `npm run bench:upgrade-latency`: time from `helm upgrade` returning to the ChartOrigin status and the
 * metric reflecting the new revision, on the real control plane with the real controller (warm caches).
 * Prints a table; absolute numbers on a shared 2-core machine are noisy, so it reports p50/p90/p99.
 */
import { kubectl } from '../test/harness/controlplane.ts';
import { installCrds, startControllerProcess, eventually } from '../test/harness/controller-process.ts';
import { startTestEnvironment } from '../test/harness/environment.ts';
import { helmInstall, helmUpgrade } from '../test/harness/helm.ts';

const upgrades = Number(process.env['UPGRADES'] ?? 100);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const running = await startTestEnvironment({ log: () => undefined });
const { env } = running;
const cluster = env.cluster;
try {
  await installCrds(cluster);
  await kubectl(cluster, ['create', 'namespace', 'bench']);
  await kubectl(cluster, ['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name: 'main' }, spec: { url: env.chartRepo.repos.main.url } }),
  });
  const controller = await startControllerProcess(cluster, ['--leader-elect=false', '--namespaces', 'bench', '--log-level', 'warn']);
  const main = env.chartRepo.repos.main;
  await helmInstall(cluster, 4, 'web', 'webapp', { namespace: 'bench', repo: main.url, version: '1.0.0' });
  await eventually('controller ready', async () => ((await controller.ready()) ? true : undefined), 60_000);
  const statusOf = async (): Promise<{ revision?: number; version?: string }> => {
    const o = JSON.parse(await kubectl(cluster, ['get', 'chartorigin', 'web', '-n', 'bench', '-o', 'json'])) as { status?: { release?: { revision?: number }; chart?: { version?: string } } };
    return { revision: o.status?.release?.revision, version: o.status?.chart?.version };
  };
  await eventually('first status', async () => ((await statusOf()).revision === 1 ? true : undefined), 60_000);

  const versions = ['1.1.0', '1.2.0', '2.0.0', '1.0.0'];
  const statusMs: number[] = [];
  const metricMs: number[] = [];
  // Poll the API directly (not kubectl) so the measurement is not dominated by process start-up.
  const { adminKubeConfigFor } = await import('./support.ts');
  const kc = adminKubeConfigFor(cluster);
  for (let i = 0; i < upgrades; i++) {
    const version = versions[i % versions.length] ?? '1.0.0';
    await helmUpgrade(cluster, i % 2 === 0 ? 4 : 3, 'web', 'webapp', { namespace: 'bench', repo: main.url, version });
    const t0 = performance.now();
    const revision = i + 2;
    let statusAt = 0;
    let metricAt = 0;
    while (!statusAt || !metricAt) {
      if (!statusAt) {
        const o = await kc.getChartOrigin('bench', 'web');
        if (o.revision === revision) statusAt = performance.now();
      }
      if (!metricAt) {
        const text = await controller.metrics();
        if (new RegExp(`chartorigin_release_info\\{[^}]*release="web"[^}]*version="${version.replace(/\./g, '\\.')}"`).test(text)) metricAt = performance.now();
      }
      if (performance.now() - t0 > 30_000) throw new Error(`upgrade ${i + 1} not reflected after 30 s`);
      if (!statusAt || !metricAt) await new Promise((r) => setTimeout(r, 5));
    }
    statusMs.push(statusAt - t0);
    metricMs.push(metricAt - t0);
  }
  statusMs.sort((a, b) => a - b);
  metricMs.sort((a, b) => a - b);
  const row = (name: string, xs: number[]): string => `| ${name} | ${xs.length} | ${pct(xs, 50).toFixed(0)} | ${pct(xs, 90).toFixed(0)} | ${pct(xs, 99).toFixed(0)} | ${(xs[xs.length - 1] ?? NaN).toFixed(0)} |`;
  process.stdout.write(
    [
      `helm upgrade returned → reflected (ms), ${upgrades} upgrades alternating helm 4 / helm 3, warm caches`,
      '| what | n | p50 | p90 | p99 | max |',
      '|---|---|---|---|---|---|',
      row('ChartOrigin status', statusMs),
      row('metric chartorigin_release_info', metricMs),
      '',
    ].join('\n'),
  );
  await controller.stop();
} finally {
  await running.stop();
}
