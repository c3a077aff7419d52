import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ensureNamespace, kubectl } from '../harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess, type ControllerProcess } from '../harness/controller-process.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { helmInstall } from '../harness/helm.ts';

const env = testEnv();
const cluster = env.cluster;
const ns = uniqueNamespace('e2e-ha');
const lease = `chartorigin-${ns}`.slice(0, 63);
const replicas: ControllerProcess[] = [];

async function isLeader(c: ControllerProcess): Promise<boolean | undefined> {
  try {
    const text = await c.metrics();
    const m = /^chartorigin_leader (\d)/m.exec(text);
    return m ? m[1] === '1' : undefined;
  } catch {
    return undefined;
  }
}

async function revisionSeen(name: string): Promise<number | undefined> {
  try {
    const o = JSON.parse(await kubectl(cluster, ['get', 'chartorigin', name, '-n', ns, '-o', 'json'])) as { status?: { release?: { revision?: number } } };
    return o.status?.release?.revision;
  } catch {
    return undefined;
  }
}

before(async () => {
  await installCrds(cluster);
  await ensureNamespace(cluster, ns);
  const args = ['--leader-elect=true', '--leader-election-namespace', ns, '--leader-election-id', lease, '--namespaces', ns, '--watch-chart-repositories=false'];
  replicas.push(await startControllerProcess(cluster, args, 'replica-a'), await startControllerProcess(cluster, args, 'replica-b'));
});

after(async () => {
  for (const r of replicas) await r.stop();
});

describe('two replicas', () => {
  it('have exactly one leader, and the other takes over when the leader is killed', async () => {
    const states = await eventually('one leader elected', async () => {
      const s = await Promise.all(replicas.map(isLeader));
      return s.filter((x) => x === true).length === 1 && s.every((x) => x !== undefined) ? s : undefined;
    }, 30_000);
    const leaderIdx = states.indexOf(true);
    const leader = replicas[leaderIdx]!;
    const standby = replicas[1 - leaderIdx]!;
    await helmInstall(cluster, 4, 'first', env.chartRepo.repos.main.charts['webapp-1.0.0']!.path, { namespace: ns });
    await eventually('leader publishes', async () => ((await revisionSeen('first')) === 1 ? true : undefined));
    assert.equal(await isLeader(standby), false, 'the standby never leads while the leader renews');

    // SIGKILL: no graceful release of the Lease, so the standby must wait for it to expire (15 s).
    process.kill(-leader.proc.pid, 'SIGKILL');
    const killedAt = Date.now();
    await eventually('standby takes over', async () => ((await isLeader(standby)) ? true : undefined), 40_000, 250);
    const tookOverMs = Date.now() - killedAt;
    assert.ok(tookOverMs < 30_000, `take-over took ${tookOverMs} ms`);
    await helmInstall(cluster, 3, 'second', env.chartRepo.repos.main.charts['webapp-1.1.0']!.path, { namespace: ns });
    await eventually('new leader publishes', async () => ((await revisionSeen('second')) === 1 ? true : undefined), 30_000);
    const fields = JSON.parse(await kubectl(cluster, ['get', 'chartorigin', 'second', '-n', ns, '-o', 'json', '--show-managed-fields'])) as { metadata: { managedFields?: { manager: string }[] } };
    assert.deepEqual([...new Set(fields.metadata.managedFields?.map((f) => f.manager))], ['chartorigin'], 'only the controller field manager writes');
  });
});
