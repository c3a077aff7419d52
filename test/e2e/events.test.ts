import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { applyChartRepository, chartOriginWhere } from '../harness/chart-origins.ts';
import { ensureNamespace, kubectl } from '../harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess, type ControllerProcess } from '../harness/controller-process.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { helmInstall, helmUpgrade } from '../harness/helm.ts';

interface ChartOriginObject {
  metadata: { name: string; uid: string };
  status?: { origin?: { match: string }; chart?: { version: string } };
}

interface EventObject {
  type: string;
  reason: string;
  note: string;
  reportingController: string;
  regarding: { kind: string; name: string; namespace: string; uid?: string };
}

const env = testEnv();
const cluster = env.cluster;
const ns = uniqueNamespace('e2e-events');
const repo = `${ns.replace(/[^a-z0-9-]/g, '')}-main`;
let controller: ControllerProcess;

const events = async (name: string): Promise<EventObject[]> => {
  const list = JSON.parse(await kubectl(cluster, ['get', 'events.events.k8s.io', '-n', ns, '-o', 'json'])) as { items: EventObject[] };
  return list.items.filter((e) => e.regarding.kind === 'ChartOrigin' && e.regarding.name === name);
};
const reasons = async (name: string): Promise<string[]> => (await events(name)).map((e) => `${e.type}/${e.reason}`).sort();

before(async () => {
  await installCrds(cluster);
  await ensureNamespace(cluster, ns);
  // Only the main repository is configured: a release installed from the fork is then a Mismatch.
  await applyChartRepository(cluster, repo, { url: env.chartRepo.repos.main.url, interval: '1h' });
  controller = await startControllerProcess(cluster, ['--leader-elect=false', '--namespaces', ns]);
  await eventually('controller ready', async () => ((await controller.ready()) ? true : undefined), 60_000);
});

after(async () => {
  await controller?.stop();
  await kubectl(cluster, ['delete', 'chartrepository', repo, '--ignore-not-found']).catch(() => undefined);
});

describe('Kubernetes Events about ChartOrigins', () => {
  it('warns about a tampered and a deprecated chart, tells a return to Verified, and stays quiet about healthy releases', async () => {
    const { main, fork } = env.chartRepo.repos;
    await helmInstall(cluster, 4, 'good', 'webapp', { namespace: ns, repo: main.url, version: '1.0.0' });
    await helmInstall(cluster, 3, 'forked', 'webapp', { namespace: ns, repo: fork.url, version: '1.1.0' });
    await helmInstall(cluster, 4, 'old', 'legacy', { namespace: ns, repo: main.url, version: '1.0.0' });
    await chartOriginWhere(cluster, ns, 'good', (o: ChartOriginObject) => o.status?.origin?.match === 'Verified', 'good Verified');
    const forked = await chartOriginWhere(cluster, ns, 'forked', (o: ChartOriginObject) => o.status?.origin?.match === 'Mismatch', 'forked Mismatch');

    const mismatch = await eventually('OriginMismatch event', async () => (await events('forked')).find((e) => e.reason === 'OriginMismatch'));
    assert.equal(mismatch.type, 'Warning');
    assert.equal(mismatch.reportingController, 'chartorigin.io/controller');
    assert.equal(mismatch.regarding.uid, forked.metadata.uid, 'the Event is about this ChartOrigin object');
    assert.match(mismatch.note, /^webapp 1\.1\.0 matches no chart published: .*-main: differs in templates\/deployment\.yaml/);
    const deprecated = await eventually('ChartDeprecated event', async () => (await events('old')).find((e) => e.reason === 'ChartDeprecated'));
    assert.equal(deprecated.type, 'Warning');
    assert.equal(deprecated.note, 'legacy 1.0.0: installed version 1.0.0 of chart legacy is deprecated by its publisher');

    // The tampered release is upgraded to a chart the repository serves: one Normal event says so.
    await helmUpgrade(cluster, 4, 'forked', 'webapp', { namespace: ns, repo: main.url, version: '2.0.0' });
    await chartOriginWhere(cluster, ns, 'forked', (o: ChartOriginObject) => o.status?.origin?.match === 'Verified' && o.status.chart?.version === '2.0.0', 'forked Verified at 2.0.0');
    const verified = await eventually('OriginVerified event', async () => (await events('forked')).find((e) => e.reason === 'OriginVerified'));
    assert.equal(verified.type, 'Normal');
    assert.match(verified.note, /^webapp 2\.0\.0 verified in .*-main \(sha256:[0-9a-f]{64}\), was Mismatch$/);

    // A healthy first analysis writes nothing; each warning was written once.
    assert.deepEqual(await reasons('good'), []);
    assert.deepEqual(await reasons('forked'), ['Normal/OriginVerified', 'Warning/OriginMismatch']);
    assert.deepEqual(await reasons('old'), ['Warning/ChartDeprecated']);
    // No value of any release reached an Event: the notes name charts, versions, repositories and files only.
    for (const e of [...(await events('forked')), ...(await events('old'))]) assert.doesNotMatch(e.note, /replicaCount|image:|password/i);
  });
});
