import assert from 'node:assert/strict';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startChartRepoServer, type ChartRepoServer } from '../harness/chart-repo-server.ts';
import { applyChartRepository, chartOriginWhere, getChartOrigin } from '../harness/chart-origins.ts';
import { ensureNamespace, kubectl } from '../harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess, type ControllerProcess } from '../harness/controller-process.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { helmInstall, helmRollback, helmUninstall, helmUpgrade } from '../harness/helm.ts';

interface ChartOriginObject {
  metadata: { name: string; namespace: string; generation?: number };
  status?: {
    observedGeneration?: number;
    release?: { revision: number; status: string; storage: string };
    chart?: { name: string; version: string; deprecated: boolean };
    origin?: { match: string; repository?: string; repoURL?: string; tarballDigest?: string; manifestDigest?: string };
    latest?: { version: string };
    upgrade?: string;
    versionsBehind?: number;
    conditions?: { type: string; status: string; reason: string }[];
  };
}

const env = testEnv();
const cluster = env.cluster;
const ns = uniqueNamespace('e2e-ctrl');
const repoPrefix = ns.replace(/[^a-z0-9-]/g, '');
let controller: ControllerProcess;
let flaky: ChartRepoServer;

const origin = (name: string): Promise<ChartOriginObject | undefined> => getChartOrigin<ChartOriginObject>(cluster, ns, name);

const originWhere = (name: string, ok: (o: ChartOriginObject) => boolean, what: string, timeoutMs = 30_000): Promise<ChartOriginObject> =>
  chartOriginWhere(cluster, ns, name, ok, what, timeoutMs);

const applyRepository = (name: string, spec: Record<string, unknown>): Promise<void> => applyChartRepository(cluster, name, spec);

before(async () => {
  await installCrds(cluster);
  await ensureNamespace(cluster, ns);
  // A private copy of the main repository on its own server, so this test can take it down.
  const dir = mkdtempSync(join(tmpdir(), 'chartorigin-flaky-'));
  cpSync(env.chartRepo.repos.main.dir, dir, { recursive: true });
  flaky = await startChartRepoServer({ dir });
  await applyRepository(`${repoPrefix}-main`, { url: env.chartRepo.repos.main.url, priority: 10, interval: '1h' });
  await applyRepository(`${repoPrefix}-fork`, { url: env.chartRepo.repos.fork.url, interval: '1h' });
  await applyRepository(`${repoPrefix}-oci`, { url: env.registry.url, plainHTTP: true, interval: '1h' });
  controller = await startControllerProcess(cluster, ['--leader-elect=false', '--namespaces', ns, '--log-level', 'debug']);
  await eventually('controller ready', async () => ((await controller.ready()) ? true : undefined), 60_000);
});

after(async () => {
  await controller?.stop();
  await flaky?.close();
  for (const r of ['main', 'fork', 'oci', 'flaky']) await kubectl(cluster, ['delete', 'chartrepository', `${repoPrefix}-${r}`, '--ignore-not-found']).catch(() => undefined);
});

describe('controller against the real control plane', () => {
  it('install → Verified with repoURL and tarballDigest; upgrade, rollback and uninstall are reflected in status and metrics', async () => {
    const main = env.chartRepo.repos.main;
    await helmInstall(cluster, 4, 'web', 'webapp', { namespace: ns, repo: main.url, version: '1.0.0' });
    const installed = await originWhere('web', (o) => o.status?.origin?.match === 'Verified', 'web Verified');
    assert.equal(installed.status?.origin?.repository, `${repoPrefix}-main`);
    assert.equal(installed.status?.origin?.repoURL, main.url);
    assert.equal(installed.status?.origin?.tarballDigest, main.charts['webapp-1.0.0']?.digest);
    assert.equal(installed.status?.release?.revision, 1);
    assert.equal(installed.status?.release?.storage, 'Secret');
    assert.equal(installed.status?.latest?.version, '2.0.0');
    assert.equal(installed.status?.upgrade, 'Major');
    assert.equal(installed.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    const m1 = await controller.metrics();
    assert.match(m1, new RegExp(`chartorigin_release_info\\{[^}]*namespace="${ns}"[^}]*release="web"[^}]*version="1.0.0"[^}]*match="Verified"`));
    assert.match(m1, new RegExp(`chartorigin_release_outdated\\{[^}]*release="web"[^}]*\\} 1`));

    await helmUpgrade(cluster, 3, 'web', 'webapp', { namespace: ns, repo: main.url, version: '2.0.0' });
    const upgraded = await originWhere('web', (o) => o.status?.release?.revision === 2 && o.status.chart?.version === '2.0.0', 'web upgraded to 2.0.0');
    assert.equal(upgraded.status?.upgrade, 'None');
    assert.equal(upgraded.status?.origin?.tarballDigest, main.charts['webapp-2.0.0']?.digest);
    const m2 = await eventually('metrics show 2.0.0', async () => {
      const text = await controller.metrics();
      return /version="2\.0\.0"/.test(text) ? text : undefined;
    });
    assert.doesNotMatch(m2, new RegExp(`chartorigin_release_info\\{[^}]*release="web"[^}]*version="1.0.0"`), 'the old version series is gone');
    assert.match(m2, new RegExp(`chartorigin_release_outdated\\{[^}]*release="web"[^}]*\\} 0`));

    await helmRollback(cluster, 4, 'web', 1, { namespace: ns });
    await originWhere('web', (o) => o.status?.release?.revision === 3 && o.status.chart?.version === '1.0.0', 'web rolled back');

    await helmUninstall(cluster, 3, 'web', { namespace: ns });
    await eventually('ChartOrigin deleted', async () => ((await origin('web')) === undefined ? true : undefined));
    const m3 = await eventually('series removed', async () => {
      const text = await controller.metrics();
      return /release="web"/.test(text) ? undefined : text;
    });
    assert.doesNotMatch(m3, /release="web"/);
  });

  it('tells a fork apart, finds OCI charts, reads ConfigMap-stored releases, and shows the columns in kubectl', async () => {
    await helmInstall(cluster, 4, 'forked', env.chartRepo.repos.fork.charts['webapp-1.1.0']!.path, { namespace: ns });
    const oci = env.oci['ocichart-1.0.0']!;
    await helmInstall(cluster, 3, 'from-oci', oci.ref, { namespace: ns, version: '1.0.0', driver: 'configmap' });
    const forked = await originWhere('forked', (o) => o.status?.origin?.match === 'Verified', 'forked Verified');
    assert.equal(forked.status?.origin?.repository, `${repoPrefix}-fork`);
    const fromOci = await originWhere('from-oci', (o) => o.status?.origin?.match === 'Verified', 'from-oci Verified');
    assert.equal(fromOci.status?.release?.storage, 'ConfigMap');
    assert.equal(fromOci.status?.origin?.repoURL, `${env.registry.url}/ocichart`);
    assert.equal(fromOci.status?.origin?.manifestDigest, oci.manifestDigest);
    const table = await kubectl(cluster, ['get', 'chartorigins', '-A']);
    const header = table.split('\n')[0] ?? '';
    assert.match(header, /^NAMESPACE\s+NAME\s+CHART\s+VERSION\s+LATEST\s+UPGRADE\s+MATCH\s+REPO\s+AGE$/);
    assert.match(table, new RegExp(`${ns}\\s+from-oci\\s+ocichart\\s+1\\.0\\.0\\s+1\\.1\\.0\\s+Minor\\s+Verified\\s+${repoPrefix}-oci`));
  });

  it('a repository outage marks only that repository, keeps results as Stale, and recovers', async () => {
    const name = `${repoPrefix}-flaky`;
    await applyRepository(name, { url: flaky.url, interval: '2s', priority: 20 });
    await eventually('flaky repository Ready', async () => {
      const r = JSON.parse(await kubectl(cluster, ['get', 'chartrepository', name, '-o', 'json'])) as { status?: { conditions?: { type: string; status: string }[]; charts?: number } };
      return r.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' && (r.status.charts ?? 0) > 0 ? true : undefined;
    });
    // Same bytes as main: both verify, and the higher priority makes the flaky copy the origin.
    await helmInstall(cluster, 4, 'stale-me', 'webapp', { namespace: ns, repo: env.chartRepo.repos.main.url, version: '1.2.0' });
    await originWhere('stale-me', (o) => o.status?.origin?.repository === name, 'stale-me from the flaky repository');
    flaky.inject({ status: 503 });
    const down = await eventually('flaky repository down', async () => {
      const r = JSON.parse(await kubectl(cluster, ['get', 'chartrepository', name, '-o', 'json'])) as { status?: { conditions?: { type: string; status: string; reason: string }[] } };
      return r.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'False');
    });
    assert.equal(down.reason, 'FetchFailed');
    assert.match(await controller.metrics(), new RegExp(`chartorigin_repository_up\\{repository="${name}"[^}]*\\} 0`));
    // other repositories are unaffected
    assert.match(await controller.metrics(), new RegExp(`chartorigin_repository_up\\{repository="${repoPrefix}-main"[^}]*\\} 1`));
    const stale = await originWhere('stale-me', (o) => o.status?.conditions?.some((c) => c.type === 'Stale' && c.status === 'True') === true, 'stale-me marked Stale');
    assert.equal(stale.status?.origin?.repository, name, 'the last known origin is kept during the outage');
    assert.equal(stale.status?.origin?.match, 'Verified');
    flaky.clearFaults();
    await eventually('flaky repository recovered', async () => {
      const text = await controller.metrics();
      return new RegExp(`chartorigin_repository_up\\{repository="${name}"[^}]*\\} 1`).test(text) ? true : undefined;
    }, 30_000);
    const fresh = await originWhere('stale-me', (o) => !o.status?.conditions?.some((c) => c.type === 'Stale'), 'Stale cleared after recovery');
    assert.equal(fresh.status?.origin?.repository, name);
  });
  it('acts on ChartOrigin spec edits within seconds: version constraint, prereleases, pinned repository', async () => {
    const main = env.chartRepo.repos.main;
    await helmInstall(cluster, 4, 'spec-me', 'webapp', { namespace: ns, repo: main.url, version: '1.2.0' });
    const first = await originWhere('spec-me', (o) => o.status?.origin?.match === 'Verified', 'spec-me Verified');
    // The highest-priority repository serving 1.2.0 (main, or the flaky copy of it an earlier test added).
    const preferred = first.status?.origin?.repository;
    assert.notEqual(preferred, `${repoPrefix}-oci`);
    assert.equal(first.status?.latest?.version, '2.0.0', 'prereleases are not offered by default');
    assert.equal(first.status?.observedGeneration, first.metadata.generation);

    // Each edit is a new generation; the status must catch up with it, and show its effect.
    const edit = async (spec: Record<string, unknown>, ok: (o: ChartOriginObject) => boolean, what: string): Promise<ChartOriginObject> => {
      const before = (await origin('spec-me'))?.metadata.generation ?? 0;
      await kubectl(cluster, ['patch', 'chartorigin', 'spec-me', '-n', ns, '--type', 'merge', '-p', JSON.stringify({ spec })]);
      const seen = await originWhere('spec-me', (o) => (o.metadata.generation ?? 0) > before && o.status?.observedGeneration === o.metadata.generation && ok(o), what, 15_000);
      assert.equal(seen.metadata.generation, before + 1);
      return seen;
    };
    const constrained = await edit({ versionConstraint: '<2.0.0' }, (o) => o.status?.latest?.version === '1.2.0', 'latest within <2.0.0');
    assert.equal(constrained.status?.upgrade, 'None');
    await edit({ versionConstraint: null }, (o) => o.status?.latest?.version === '2.0.0', 'constraint removed');
    const pre = await edit({ allowPrerelease: true }, (o) => o.status?.latest?.version === '3.0.0-rc.1', 'prereleases allowed');
    assert.equal(pre.status?.upgrade, 'Major');
    await edit({ allowPrerelease: false }, (o) => o.status?.latest?.version === '2.0.0', 'prereleases disallowed again');
    const pinned = await edit({ repository: `${repoPrefix}-oci` }, (o) => o.status?.origin?.repository === `${repoPrefix}-oci`, 'pinned to the OCI repository');
    assert.equal(pinned.status?.origin?.repoURL, `${env.registry.url}/webapp`);
    assert.equal(pinned.status?.latest?.version, '1.2.0', 'the OCI repository only has 1.2.0');
    await edit({ repository: null }, (o) => o.status?.origin?.repository === preferred, 'pin removed');

    // A ChartOrigin deleted by hand while its release is installed comes back, analysed.
    await kubectl(cluster, ['delete', 'chartorigin', 'spec-me', '-n', ns]);
    const back = await originWhere('spec-me', (o) => o.status?.origin?.match === 'Verified', 'spec-me recreated', 15_000);
    assert.equal(back.status?.observedGeneration, 1);
  });
  it('a release stored in both drivers is one ChartOrigin, for its highest revision (the rule scan and inspect use)', async () => {
    const main = env.chartRepo.repos.main;
    await helmInstall(cluster, 3, 'both', 'webapp', { namespace: ns, repo: main.url, version: '1.0.0' });
    await helmInstall(cluster, 4, 'both', 'webapp', { namespace: ns, repo: main.url, version: '1.0.0', driver: 'configmap' });
    await helmUpgrade(cluster, 4, 'both', 'webapp', { namespace: ns, repo: main.url, version: '1.1.0', driver: 'configmap' });
    const o = await originWhere('both', (x) => x.status?.release?.storage === 'ConfigMap' && x.status.release.revision === 2, 'both at ConfigMap revision 2');
    assert.equal(o.status?.chart?.version, '1.1.0');
    // An upgrade in Secrets brings them to revision 2 as well: a tie, which the Secret wins.
    await helmUpgrade(cluster, 3, 'both', 'webapp', { namespace: ns, repo: main.url, version: '2.0.0' });
    const tie = await originWhere('both', (x) => x.status?.release?.storage === 'Secret' && x.status.release.revision === 2, 'both at Secret revision 2 (tie)');
    assert.equal(tie.status?.chart?.version, '2.0.0');
  });
});
