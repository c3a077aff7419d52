/**
 * A ChartRepository's Secrets change without the ChartRepository changing — a token or password rotated,
 * cert-manager renewing a client certificate, a Secret created after the repository — and the controller
 * reads them again before each probe, as Flux's source-controller reads a source's Secrets on every
 * reconcile: the repository recovers without an edit or a restart. A Secret deleted later turns the
 * repository Ready False (InvalidSpec) naming the Secret, never its content.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startChartRepoServer, type ChartRepoServer } from '../harness/chart-repo-server.ts';
import { repoIndex, runHelm, scratchDir, writeChartSource } from '../harness/charts.ts';
import { ensureNamespace, kubectl } from '../harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess, type ControllerProcess } from '../harness/controller-process.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { helmInstall } from '../harness/helm.ts';

const env = testEnv();
const cluster = env.cluster;
const ns = uniqueNamespace('rotate');
const repoName = `rotate-${process.pid}`;
const secretName = 'rotate-token';
const TOKEN = `right-${randomBytes(8).toString('hex')}`;
const OLD_TOKEN = `expired-${randomBytes(8).toString('hex')}`;
let server: ChartRepoServer;
let controller: ControllerProcess | undefined;

interface Ready { status: string; reason?: string; message?: string }

async function ready(): Promise<Ready | undefined> {
  const r = await kubectl(cluster, ['get', 'chartrepository', repoName, '-o', 'json']);
  const o = JSON.parse(r) as { status?: { conditions?: (Ready & { type: string })[] } };
  return o.status?.conditions?.find((c) => c.type === 'Ready');
}

async function setToken(token: string): Promise<void> {
  const doc = { apiVersion: 'v1', kind: 'Secret', metadata: { name: secretName, namespace: ns }, type: 'Opaque', stringData: { token } };
  await kubectl(cluster, ['apply', '-f', '-'], { input: JSON.stringify(doc) });
}

before(async () => {
  await installCrds(cluster);
  await ensureNamespace(cluster, ns);
  const dir = scratchDir('rotate-repo');
  const src = writeChartSource(scratchDir('rotate-src'), { name: 'rotated', version: '1.0.0', appVersion: '1.0.0' });
  await runHelm(['package', src, '--destination', dir]);
  await repoIndex(dir);
  server = await startChartRepoServer({ dir, auth: { kind: 'bearer', token: TOKEN } });
  await helmInstall(cluster, 4, 'rotated', join(dir, 'rotated-1.0.0.tgz'), { namespace: ns });
  // The ChartRepository before its Secret, as `kubectl apply -f dir/` may create them.
  const cr = { apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name: repoName }, spec: { url: server.url, interval: '3s', secretRef: { name: secretName, namespace: ns } } };
  await kubectl(cluster, ['apply', '-f', '-'], { input: JSON.stringify(cr) });
  controller = await startControllerProcess(cluster, ['--leader-elect=false', '--namespaces', ns], 'rotate-controller');
});

after(async () => {
  await controller?.stop();
  await kubectl(cluster, ['delete', 'chartrepository', repoName, '--ignore-not-found']).catch(() => undefined);
  await server?.close();
});

describe('ChartRepository Secrets are read again before each probe', () => {
  it('a Secret created after its ChartRepository is picked up without an edit or a restart', async () => {
    const missing = await eventually('Ready False: the Secret is not there', async () => {
      const c = await ready();
      return c?.status === 'False' && c.reason === 'InvalidSpec' ? c : undefined;
    }, 60_000, 500);
    assert.match(missing.message ?? '', new RegExp(`Secret ${ns}/${secretName} not found`));
    await setToken(OLD_TOKEN);
  });

  it('a rotated token is used without an edit of the ChartRepository or a restart', async () => {
    const down = await eventually('Ready False with the expired token', async () => {
      const c = await ready();
      return c?.status === 'False' && c.reason === 'FetchFailed' ? c : undefined;
    }, 60_000, 500);
    assert.match(down.message ?? '', /401|unauthorized/i);
    await setToken(TOKEN);
    // Probes every 3 s (the interval caps the back-off): well inside the wait.
    await eventually('Ready True with the rotated token', async () => ((await ready())?.status === 'True' ? true : undefined), 60_000, 500);
    const origin = await eventually('the release proven from the repository', async () => {
      const o = JSON.parse(await kubectl(cluster, ['get', 'chartorigin', 'rotated', '-n', ns, '-o', 'json'])) as { status?: { origin?: { match?: string; repository?: string } } };
      return o.status?.origin?.match === 'Verified' ? o.status.origin : undefined;
    }, 60_000, 500);
    assert.equal(origin.repository, repoName);
    assert.ok(server.requests.some((q) => q.path === '/index.yaml' && q.status === 200), 'the index was read with the new token');
  });

  it('a deleted Secret turns the repository Ready False (InvalidSpec) naming it, never a token', async () => {
    await kubectl(cluster, ['delete', 'secret', secretName, '-n', ns]);
    const c = await eventually('Ready False naming the Secret', async () => {
      const r = await ready();
      return r?.status === 'False' && r.reason === 'InvalidSpec' ? r : undefined;
    }, 60_000, 500);
    assert.match(c.message ?? '', new RegExp(`${ns}/${secretName}`));
    assert.ok(!(c.message ?? '').includes(TOKEN) && !(c.message ?? '').includes(OLD_TOKEN));
  });
});
