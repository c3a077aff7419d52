/**
 * The controller proves umbrella charts and --reuse-values upgrades installed by helm 3 and helm 4:
 * Verified in the ChartOrigin (with the transformations named in origin.message) and match="Verified"
 * in the metric. Before issue #15 both were false Mismatches.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { scratchDir } from '../harness/charts.ts';
import { startChartRepoServer, type ChartRepoServer } from '../harness/chart-repo-server.ts';
import { applyChartRepository, chartOriginWhere } from '../harness/chart-origins.ts';
import { ensureNamespace, kubectl } from '../harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess, type ControllerProcess } from '../harness/controller-process.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { install, upgrade } from '../harness/helm-proof.ts';
import { indexRepo, packageDir, writeChart, type UmbrellaSpec } from '../harness/umbrella.ts';

interface Origin {
  status?: {
    release?: { revision: number };
    chart?: { version: string };
    origin?: { match: string; repository?: string; tarballDigest?: string; message?: string };
  };
}

const env = testEnv();
const cluster = env.cluster;
const ns = uniqueNamespace('e2e-proofctl');
const repoName = `${ns.replace(/[^a-z0-9-]/g, '')}-umbrella`;
let server: ChartRepoServer;
let controller: ControllerProcess;
const digests: Record<string, string> = {};

function spec(version: string, replicas: number): UmbrellaSpec {
  return {
    name: 'stack',
    version,
    values: { replicas, global: { env: 'test' }, db: { enabled: true } },
    dependencies: [
      { chart: { name: 'db', version: '2.0.0', values: { size: 10, exports: { conn: { port: 5432 } } } }, condition: 'db.enabled', importValues: ['conn'], form: 'tgz' },
      { chart: { name: 'cache', version: '1.0.0', values: { ttl: 60 } }, alias: 'sessions' },
      { chart: { name: 'extra', version: '1.0.0', values: { on: true } }, condition: 'extra.enabled', tags: ['extras'] },
    ],
  };
}

before(async () => {
  await installCrds(cluster);
  await ensureNamespace(cluster, ns);
  const dir = scratchDir('umbrella-repo');
  mkdirSync(dir, { recursive: true });
  for (const [version, replicas] of [['1.0.0', 1], ['1.1.0', 2]] as const) {
    const pkg = await packageDir(await writeChart(scratchDir('umbrella-src'), spec(version, replicas)), dir);
    digests[version] = pkg.digest;
  }
  server = await startChartRepoServer({ dir });
  await indexRepo(dir, server.url);
  await applyChartRepository(cluster, repoName, { url: server.url, interval: '1h' });
  controller = await startControllerProcess(cluster, ['--leader-elect=false', '--namespaces', ns]);
  await eventually('controller ready', async () => ((await controller.ready()) ? true : undefined), 60_000);
});

after(async () => {
  await controller?.stop();
  await server?.close();
  await kubectl(cluster, ['delete', 'chartrepository', repoName, '--ignore-not-found']).catch(() => undefined);
});

describe('controller: Helm-processed charts are Verified', () => {
  for (const helm of ['helm3', 'helm4'] as const) {
    it(`${helm}: umbrella install, then helm upgrade --reuse-values to the next version`, async () => {
      const release = `stack-${helm}`;
      await install(cluster, helm, ns, release, `${server.url}/stack-1.0.0.tgz`, { 'extra.enabled': 'false', 'db.size': '20' });
      const installed = await chartOriginWhere<Origin>(cluster, ns, release, (o) => o.status?.release?.revision === 1 && o.status.origin?.match !== undefined, `${release} revision 1 analysed`);
      assert.equal(installed.status?.origin?.match, 'Verified', installed.status?.origin?.message);
      assert.equal(installed.status?.origin?.tarballDigest, digests['1.0.0']);
      assert.match(installed.status?.origin?.message ?? '', /Helm dependency processing: subchart values coalesced, alias cache→sessions, disabled extra dropped, import-values applied/);

      await upgrade(cluster, helm, ns, release, `${server.url}/stack-1.1.0.tgz`, {}, ['--reuse-values']);
      const upgraded = await chartOriginWhere<Origin>(cluster, ns, release, (o) => o.status?.release?.revision === 2 && o.status.origin?.match !== undefined, `${release} revision 2 analysed`);
      assert.equal(upgraded.status?.origin?.match, 'Verified', upgraded.status?.origin?.message);
      assert.equal(upgraded.status?.chart?.version, '1.1.0');
      assert.equal(upgraded.status?.origin?.tarballDigest, digests['1.1.0']);
      assert.match(upgraded.status?.origin?.message ?? '', /values carried over by --reuse-values from revision 1/);
      const metrics = await eventually('metric for revision 2', async () => {
        const text = await controller.metrics();
        return new RegExp(`chartorigin_release_info\\{[^}]*release="${release}"[^}]*version="1\\.1\\.0"`).test(text) ? text : undefined;
      });
      assert.match(metrics, new RegExp(`chartorigin_release_info\\{[^}]*namespace="${ns}"[^}]*release="${release}"[^}]*match="Verified"`));
    });
  }
});
