/**
 * The soak's short form (bench/soak.ts is the long one): 200 releases, then ~1,000 changes at 10/s — upgrades,
 * rollbacks, failed upgrades, uninstalls, installs, re-installs written as Helm writes them — with the
 * kube-apiserver restarted and the controller SIGKILLed and restarted in the middle. Afterwards every
 * ChartOrigin must match the ground truth. Correctness only: no timing is asserted. It restarts the
 * apiserver, so the file runs its own control plane.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { startChartRepoServer, type ChartRepoServer } from '../harness/chart-repo-server.ts';
import { apiKubeConfigFor, ensureNamespace, kubectl, startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess, type ControllerProcess } from '../harness/controller-process.ts';
import { testEnv } from '../harness/env.ts';
import { awaitConvergence, driveChurn, HelmChurn, renderTemplates, restartApiServer, revisionsOf, secretsTruth } from '../harness/churn.ts';

const env = testEnv();
let cp: ControlPlane;
let repo: ChartRepoServer;
const controllers: ControllerProcess[] = [];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

before(async () => {
  cp = await startControlPlane();
  await installCrds(cp);
  const dir = mkdtempSync(join(tmpdir(), 'chartorigin-soak-repo-'));
  cpSync(env.chartRepo.repos.main.dir, dir, { recursive: true });
  repo = await startChartRepoServer({ dir });
  await kubectl(cp, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name: 'soak-main' }, spec: { url: repo.url, interval: '1h' } }) });
});

after(async () => {
  for (const c of controllers) await c.stop().catch(() => undefined);
  await repo?.close();
  await cp?.stop();
});

async function startController(name: string): Promise<ControllerProcess> {
  const c = await startControllerProcess(cp, ['--leader-elect=false', '--namespaces', 'soak-a,soak-b', '--log-level', 'warn'], name);
  controllers.push(c);
  await eventually(`${name} ready`, async () => ((await c.ready()) ? true : undefined), 180_000, 250);
  return c;
}

it('churn with an apiserver restart and a controller SIGKILL: every ChartOrigin matches the releases, none orphaned, all Ready', async () => {
  const namespaces = ['soak-a', 'soak-b'];
  for (const ns of namespaces) await ensureNamespace(cp, ns);
  const kc = apiKubeConfigFor(cp);
  const main = env.chartRepo.repos.main.charts;
  const templates = await renderTemplates(['1.0.0', '1.1.0', '1.2.0', '2.0.0'].map((v) => ({ version: v, path: (main[`webapp-${v}`] ?? { path: '' }).path })));
  // Writes wait for the apiserver as long as its restart may take (5 tries of the harness's 90 s).
  const churn = new HelmChurn({ kc: () => kc, namespaces, templates, seed: 20, retryMs: 10 * 60_000 });
  await churn.seed(200);
  let controller = await startController('soak-1');
  const t0 = performance.now();

  const faults = (async () => {
    await sleep(Math.max(0, t0 + 30_000 - performance.now()));
    await cp.stopApiServer();
    await sleep(3000);
    await restartApiServer(cp);
    await sleep(Math.max(0, t0 + 60_000 - performance.now()));
    process.kill(-controller.proc.pid, 'SIGKILL');
    const exit = await controller.proc.exited;
    assert.equal(exit.signal, 'SIGKILL');
    controller = await startController('soak-2');
  })();
  faults.catch(() => undefined); // awaited below; this only keeps an early failure from counting as unhandled
  const drive = await driveChurn(churn, { ratePerS: 10, durationMs: 100_000 });
  await faults;
  assert.ok(drive.changes >= 900, `the churn made ${drive.changes} changes`);
  for (const op of ['upgrade', 'rollback', 'failed-upgrade', 'uninstall', 'install', 'reinstall'] as const) assert.ok(churn.counts[op] > 0, `the churn made a ${op}`);

  // The ground truth is what the cluster holds (the harness wrote what it recorded).
  assert.deepEqual([...(await secretsTruth(kc))].sort(), [...revisionsOf(churn.expected())].sort());
  const c = await awaitConvergence(kc, churn.expected(), 180_000);
  assert.deepEqual(c.mismatches, [], 'ChartOrigins showing another version, revision or status than the release');
  assert.deepEqual(c.orphans, [], 'ChartOrigins without a release');
  assert.deepEqual(c.notReady, [], 'ChartOrigins not Ready');
  assert.equal(c.origins, churn.releases);
  assert.ok(await controller.ready());
});
