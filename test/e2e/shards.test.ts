/**
 * Two shards (`--shards 2 --shard-index 0|1`) on the real control plane: every release gets exactly one
 * ChartOrigin, from the shard its namespace/name hashes to; each shard holds its own Lease and exports
 * only its own releases; while one shard is down the other does not touch its releases; the restarted
 * shard takes its releases back without writing (or sweeping away) the other shard's ChartOrigins.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ensureNamespace, kubectl } from '../harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess, type ControllerProcess } from '../harness/controller-process.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { helmInstall, helmUpgrade } from '../harness/helm.ts';
import { shardOf } from '../../src/watch/shard.ts';
import { SHARD_LABEL } from '../../src/publish/chart-origins.ts';

const env = testEnv();
const cluster = env.cluster;
const ns = uniqueNamespace('e2e-shards');
const leaseId = `chartorigin-${ns}`.slice(0, 50);
const shards: (ControllerProcess | undefined)[] = [undefined, undefined];

// Names split by the owner the published hash gives them: 3 per shard at the start, 1 per shard installed
// while shard 1 is down.
const candidates = Array.from({ length: 40 }, (_, i) => `rel-${i}`);
const byShard = [0, 1].map((s) => candidates.filter((n) => shardOf(ns, n, 2) === s));
const initial = [...(byShard[0] ?? []).slice(0, 3), ...(byShard[1] ?? []).slice(0, 3)];
const lateOf0 = byShard[0]?.[3] ?? 'missing-0';
const lateOf1 = byShard[1]?.[3] ?? 'missing-1';

const args = (index: number): string[] => [
  '--shards', '2', '--shard-index', String(index),
  '--leader-elect=true', '--leader-election-namespace', ns, '--leader-election-id', leaseId,
  '--namespaces', ns, '--watch-chart-repositories=false',
];
const start = async (index: number): Promise<ControllerProcess> => {
  const c = await startControllerProcess(cluster, args(index), `shard-${index}`);
  shards[index] = c;
  return c;
};
const chart = (v: string): string => env.chartRepo.repos.main.charts[`webapp-${v}`]!.path;

interface Origin {
  name: string;
  shard: string | undefined;
  revision: number | undefined;
  resourceVersion: string;
}
async function origins(): Promise<Map<string, Origin>> {
  const list = JSON.parse(await kubectl(cluster, ['get', 'chartorigins', '-n', ns, '-o', 'json'])) as {
    items: { metadata: { name: string; resourceVersion: string; labels?: Record<string, string> }; status?: { release?: { revision?: number } } }[];
  };
  const out = new Map<string, Origin>();
  for (const o of list.items) {
    assert.ok(!out.has(o.metadata.name), `one ChartOrigin per release (${o.metadata.name} twice)`);
    out.set(o.metadata.name, { name: o.metadata.name, shard: o.metadata.labels?.[SHARD_LABEL], revision: o.status?.release?.revision, resourceVersion: o.metadata.resourceVersion });
  }
  return out;
}

/** Releases of `ns` a shard exports series for (chartorigin_release_info). */
async function exported(c: ControllerProcess): Promise<string[]> {
  const text = await c.metrics();
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('chartorigin_release_info{') || !line.includes(`namespace="${ns}"`)) continue;
    const m = /release="([^"]+)"/.exec(line);
    if (m?.[1]) names.add(m[1]);
  }
  return [...names].sort();
}

async function holder(lease: string): Promise<string | undefined> {
  try {
    const o = JSON.parse(await kubectl(cluster, ['get', 'lease', lease, '-n', ns, '-o', 'json'])) as { spec?: { holderIdentity?: string } };
    return o.spec?.holderIdentity || undefined;
  } catch {
    return undefined;
  }
}

before(async () => {
  assert.ok(byShard.every((b) => b.length >= 4), 'the candidate names cover both shards');
  await installCrds(cluster);
  await ensureNamespace(cluster, ns);
  await start(0);
  await start(1);
  for (const name of initial) await helmInstall(cluster, 4, name, chart('1.0.0'), { namespace: ns });
});

after(async () => {
  for (const s of shards) await s?.stop();
});

describe('two shards', () => {
  it('publish every release exactly once, from its own shard, each shard with its own Lease and metrics', async () => {
    const published = await eventually('every release published', async () => {
      const o = await origins();
      return initial.every((n) => o.get(n)?.revision === 1) ? o : undefined;
    }, 60_000, 250);
    assert.deepEqual([...published.keys()].sort(), [...initial].sort(), 'no ChartOrigin besides the releases');
    for (const o of published.values()) assert.equal(o.shard, String(shardOf(ns, o.name, 2)), `${o.name} is labelled with its owner`);

    const [s0, s1] = shards as [ControllerProcess, ControllerProcess];
    const [e0, e1] = await eventually('both shards export their releases', async () => {
      const e = await Promise.all([exported(s0), exported(s1)]);
      return e[0].length + e[1].length === initial.length ? e : undefined;
    }, 30_000, 250);
    assert.deepEqual(e0, [...(byShard[0] ?? []).slice(0, 3)].sort(), 'shard 0 exports exactly its releases');
    assert.deepEqual(e1, [...(byShard[1] ?? []).slice(0, 3)].sort(), 'shard 1 exports exactly its releases');
    assert.match(await s0.metrics(), /^chartorigin_shard_info\{shard="0",shards="2"\} 1$/m);
    assert.match(await s1.metrics(), /^chartorigin_shard_info\{shard="1",shards="2"\} 1$/m);

    const holders = await Promise.all([holder(`${leaseId}-shard-0`), holder(`${leaseId}-shard-1`)]);
    assert.ok(holders[0] && holders[1] && holders[0] !== holders[1], `one Lease per shard, held by different replicas (${holders.join(', ')})`);
  });

  it('leave a stopped shard\'s releases alone, and the restarted shard takes them back without writing the other\'s', async () => {
    const upgraded = byShard[1]?.[0] ?? 'missing';
    await shards[1]?.stop();
    shards[1] = undefined;
    const before = await origins();

    // While shard 1 is down: one new release per shard, and an upgrade of a shard-1 release.
    await helmInstall(cluster, 4, lateOf0, chart('1.0.0'), { namespace: ns });
    await helmInstall(cluster, 4, lateOf1, chart('1.0.0'), { namespace: ns });
    await helmUpgrade(cluster, 4, upgraded, chart('1.1.0'), { namespace: ns });
    await eventually('shard 0 publishes its new release', async () => ((await origins()).get(lateOf0)?.revision === 1 ? true : undefined), 30_000, 250);
    // Shard 0 has seen every event by now (it handled a later one); give a straggler 2 s more anyway.
    await new Promise((r) => setTimeout(r, 2000));
    const whileDown = await origins();
    assert.equal(whileDown.has(lateOf1), false, 'shard 0 did not create a ChartOrigin for a shard-1 release');
    assert.equal(whileDown.get(upgraded)?.revision, 1, 'shard 0 did not publish the upgrade of a shard-1 release');
    assert.equal(whileDown.get(upgraded)?.resourceVersion, before.get(upgraded)?.resourceVersion, 'shard 0 did not write a shard-1 ChartOrigin');

    const restarted = await start(1);
    const back = await eventually('shard 1 catches up', async () => {
      const o = await origins();
      return o.get(lateOf1)?.revision === 1 && o.get(upgraded)?.revision === 2 ? o : undefined;
    }, 60_000, 250);
    await eventually('shard 1 ready', async () => ((await restarted.ready()) ? true : undefined), 30_000, 250);
    const final = await origins();
    assert.deepEqual([...final.keys()].sort(), [...initial, lateOf0, lateOf1].sort(), 'exactly one ChartOrigin per release; the restart swept none of shard 0\'s away');
    for (const o of final.values()) {
      assert.equal(o.shard, String(shardOf(ns, o.name, 2)), `${o.name} keeps its owner across the restart`);
      if (o.shard === '0') assert.equal(o.resourceVersion, whileDown.get(o.name)?.resourceVersion, `the restarted shard 1 did not write shard 0's ${o.name}`);
    }
    assert.ok(back.size === final.size);
    assert.deepEqual(await exported(restarted), [...(byShard[1] ?? []).slice(0, 3), lateOf1].sort(), 'the restarted shard exports its releases, including the one installed while it was down');
  });
});
