/**
 * Infrastructure faults: the kube-apiserver restarting under the controller's watches, etcd compaction
 * forcing 410 Gone on resume, the controller SIGKILLed mid-sync, a chart repository going down and
 * back. These restart servers, so the file runs its own control plane (not the shared one).
 * Every test ends by comparing the ChartOrigins with the truth from helm's own `helm list`.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startChartRepoServer, type ChartRepoServer } from '../harness/chart-repo-server.ts';
import { ensureNamespace, kubectl, startControlPlane, writeKubeconfig, type ControlPlane } from '../harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess, type ControllerProcess } from '../harness/controller-process.ts';
import { freePort } from '../harness/free-port.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { helm, helmInstall, helmUninstall, helmUpgrade } from '../harness/helm.ts';

interface ChartOriginItem {
  metadata: { name: string; namespace: string };
  status?: {
    release?: { revision: number };
    chart?: { name: string; version: string };
  };
}

interface HelmListEntry {
  name: string;
  namespace: string;
  revision: string;
  chart: string;
}

const env = testEnv();
let cp: ControlPlane;
let repo: ChartRepoServer;
const controllers: ControllerProcess[] = [];

/** `namespace/name → chart-version@revision` from helm's own view. */
async function helmTruth(namespaces: readonly string[]): Promise<Map<string, string>> {
  const { stdout } = await helm(cp, 4, ['list', '-A', '-o', 'json', '--max', '0']);
  const truth = new Map<string, string>();
  for (const r of JSON.parse(stdout) as HelmListEntry[]) {
    if (namespaces.includes(r.namespace)) truth.set(`${r.namespace}/${r.name}`, `${r.chart}@${r.revision}`);
  }
  return truth;
}

/** The same shape from the ChartOrigins; a duplicate key is reported as such. */
async function originState(namespaces: readonly string[]): Promise<Map<string, string>> {
  const list = JSON.parse(await kubectl(cp, ['get', 'chartorigins', '-A', '-o', 'json'])) as { items: ChartOriginItem[] };
  const state = new Map<string, string>();
  for (const o of list.items) {
    if (!namespaces.includes(o.metadata.namespace)) continue;
    const key = `${o.metadata.namespace}/${o.metadata.name}`;
    const value = `${o.status?.chart?.name ?? '?'}-${o.status?.chart?.version ?? '?'}@${o.status?.release?.revision ?? '?'}`;
    state.set(key, state.has(key) ? 'DUPLICATE' : value);
  }
  return state;
}

function sorted(m: Map<string, string>): [string, string][] {
  return [...m.entries()].sort((a, b) => a[0].localeCompare(b[0]));
}

/** Waits until the ChartOrigins equal helm's truth, then asserts it (the failure shows the difference). */
async function assertConverged(namespaces: readonly string[], timeoutMs = 60_000): Promise<void> {
  const truth = await helmTruth(namespaces);
  assert.ok(truth.size > 0, 'the test has releases to compare');
  let last = new Map<string, string>();
  try {
    await eventually('ChartOrigins equal helm list', async () => {
      last = await originState(namespaces);
      return JSON.stringify(sorted(last)) === JSON.stringify(sorted(truth)) ? true : undefined;
    }, timeoutMs, 250);
  } catch {
    // fall through to the assertion, which shows the difference
  }
  assert.deepEqual(sorted(last), sorted(truth));
}

async function startController(nsList: readonly string[], name: string): Promise<ControllerProcess> {
  const c = await startControllerProcess(cp, ['--leader-elect=false', '--namespaces', nsList.join(','), '--log-level', 'debug'], name);
  controllers.push(c);
  await eventually(`${name} ready`, async () => ((await c.ready()) ? true : undefined), 60_000);
  return c;
}

async function applyRepository(name: string, spec: Record<string, unknown>): Promise<void> {
  const doc = { apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name }, spec };
  await kubectl(cp, ['apply', '-f', '-'], { input: JSON.stringify(doc) });
}

/** Installs `names` with a few helm processes at a time. */
async function installMany(ns: string, names: readonly string[], version: string): Promise<void> {
  for (let i = 0; i < names.length; i += 6) {
    await Promise.all(names.slice(i, i + 6).map((n) => helmInstall(cp, 4, n, 'webapp', { namespace: ns, repo: `${repo.url}`, version })));
  }
}

before(async () => {
  cp = await startControlPlane();
  await installCrds(cp);
  const dir = mkdtempSync(join(tmpdir(), 'chartorigin-faults-repo-'));
  cpSync(env.chartRepo.repos.main.dir, dir, { recursive: true });
  repo = await startChartRepoServer({ dir });
  await applyRepository('faults-main', { url: repo.url, interval: '1h' });
});

after(async () => {
  for (const c of controllers) await c.stop().catch(() => undefined);
  await repo?.close();
  await cp?.stop();
});

describe('faults', () => {
  it('kube-apiserver restarted mid-watch: the watches recover and see later upgrades and uninstalls', async () => {
    const ns = uniqueNamespace('flt-api');
    await ensureNamespace(cp, ns);
    await installMany(ns, ['a1', 'a2', 'a3'], '1.0.0');
    const c = await startController([ns], 'ctrl-apirestart');
    await assertConverged([ns]);
    await cp.stopApiServer();
    await new Promise((r) => setTimeout(r, 3000));
    await cp.startApiServer();
    await helmUpgrade(cp, 4, 'a1', 'webapp', { namespace: ns, repo: repo.url, version: '2.0.0' });
    await helmUninstall(cp, 4, 'a2', { namespace: ns });
    await helmInstall(cp, 4, 'a4', 'webapp', { namespace: ns, repo: repo.url, version: '1.2.0' });
    await assertConverged([ns]);
    assert.ok(!(await originState([ns])).has(`${ns}/a2`), 'the uninstalled release has no ChartOrigin');
    assert.ok(c.proc.running(), 'the controller survived the restart');
    // The broken watches were re-opened (resumed, or relisted when the new apiserver no longer had that revision).
    assert.match(await c.metrics(), /^chartorigin_watch_restarts_total\{resource="secrets",reason="(error|expired)"\} [1-9]/m);
    await c.stop();
  });

  // Like client-go, the reflector resumes a broken watch from the last resourceVersion it saw; here that
  // revision was compacted away while it was cut off, so the resume must get 410 Gone and relist.
  it('etcd compacted while the controller was cut off: the resume gets 410 Gone and relists, and an uninstall in the gap deletes the ChartOrigin', async () => {
    const ns = uniqueNamespace('flt-gone');
    await ensureNamespace(cp, ns);
    await installMany(ns, ['g1', 'g2', 'g3'], '1.0.0');
    const c = await startController([ns], 'ctrl-gone');
    await assertConverged([ns]);
    // The controller's URL goes dark; the cluster changes through another apiserver on another port.
    await cp.stopApiServer();
    const sidePort = await freePort();
    const sideUrl = await cp.startApiServer(sidePort);
    const side = { kubeconfig: writeKubeconfig(join(cp.dir, 'side.kubeconfig'), sideUrl, cp.caFile, { name: 'admin', certFile: cp.certs.admin.cert, keyFile: cp.certs.admin.key }), dir: cp.dir };
    await helmUninstall(side, 4, 'g2', { namespace: ns });
    await helmUpgrade(side, 4, 'g1', 'webapp', { namespace: ns, repo: repo.url, version: '2.0.0' });
    for (let i = 0; i < 20; i++) await kubectl(side, ['create', 'configmap', `filler-${i}`, '-n', ns, '--from-literal=k=v']);
    const compacted = await cp.compactEtcd();
    assert.ok(compacted > 0);
    await cp.startApiServer();
    await eventually('controller logs the 410 and the relist', async () => (/watch expired \(410 Gone\); relisting/.test(readFileSync(c.proc.logFile, 'utf8')) ? true : undefined), 90_000, 250);
    const restarts = await c.metrics();
    assert.match(restarts, /^chartorigin_watch_restarts_total\{resource="secrets",reason="expired"\} [1-9]/m, 'the secrets watch was expired (410) and relisted');
    await assertConverged([ns]);
    assert.ok(!(await originState([ns])).has(`${ns}/g2`), 'the release uninstalled in the gap has no ChartOrigin');
    await c.stop();
  });

  it('controller SIGKILLed mid-sync and restarted: one ChartOrigin per release, and an uninstall while it was down is applied', async () => {
    const ns = uniqueNamespace('flt-kill');
    await ensureNamespace(cp, ns);
    const names = Array.from({ length: 30 }, (_, i) => `k${i}`);
    await installMany(ns, names, '1.0.0');
    const first = await startControllerProcess(cp, ['--leader-elect=false', '--namespaces', ns, '--log-level', 'debug'], 'ctrl-kill-1');
    controllers.push(first);
    // Kill as soon as it has written some but (very likely) not all ChartOrigins.
    await eventually('some ChartOrigins written', async () => ((await originState([ns])).size >= 2 ? true : undefined), 60_000, 50);
    process.kill(-first.proc.pid, 'SIGKILL');
    const exit = await first.proc.exited;
    assert.equal(exit.signal, 'SIGKILL');
    // One uninstalled release had its ChartOrigin written before the kill (the orphan case), one may not.
    const written = [...(await originState([ns])).keys()].map((k) => k.slice(ns.length + 1)).filter((n) => n !== 'k1');
    const orphan = written[0] ?? 'k0';
    const unwritten = names.filter((n) => n !== 'k1' && n !== orphan).at(-1) ?? 'k29';
    await helmUninstall(cp, 4, orphan, { namespace: ns });
    await helmUninstall(cp, 4, unwritten, { namespace: ns });
    await helmUpgrade(cp, 4, 'k1', 'webapp', { namespace: ns, repo: repo.url, version: '2.0.0' });
    const second = await startController([ns], 'ctrl-kill-2');
    await assertConverged([ns]);
    const state = await originState([ns]);
    assert.equal(state.size, 28);
    assert.ok(![...state.values()].includes('DUPLICATE'));
    assert.ok(written.length > 0, 'the first controller wrote a ChartOrigin before it was killed');
    assert.ok(!state.has(`${ns}/${orphan}`) && !state.has(`${ns}/${unwritten}`), 'releases uninstalled while the controller was down have no ChartOrigin');
    await second.stop();
  });

  it('leader SIGKILLed with two replicas: the standby takes over within the lease, and changes made during the take-over converge to helm list', async () => {
    const ns = uniqueNamespace('flt-lead');
    await ensureNamespace(cp, ns);
    await installMany(ns, ['l1', 'l2', 'l3', 'l4'], '1.0.0');
    const args = ['--leader-elect=true', '--leader-election-namespace', ns, '--leader-election-id', 'faults-lease', '--namespaces', ns];
    const replicas = [await startControllerProcess(cp, args, 'ctrl-lead-a'), await startControllerProcess(cp, args, 'ctrl-lead-b')];
    controllers.push(...replicas);
    const leading = async (c: ControllerProcess): Promise<boolean | undefined> => {
      try {
        const m = /^chartorigin_leader (\d)/m.exec(await c.metrics());
        return m ? m[1] === '1' : undefined;
      } catch {
        return undefined;
      }
    };
    const states = await eventually('one leader', async () => {
      const st = await Promise.all(replicas.map(leading));
      return st.filter((x) => x === true).length === 1 && st.every((x) => x !== undefined) ? st : undefined;
    }, 60_000);
    const leader = replicas[states.indexOf(true)]!;
    const standby = replicas[1 - states.indexOf(true)]!;
    await assertConverged([ns]);
    process.kill(-leader.proc.pid, 'SIGKILL');
    const killedAt = Date.now();
    // While nobody leads: an upgrade, an uninstall and an install.
    await helmUpgrade(cp, 3, 'l1', 'webapp', { namespace: ns, repo: repo.url, version: '2.0.0' });
    await helmUninstall(cp, 4, 'l2', { namespace: ns });
    await helmInstall(cp, 4, 'l5', 'webapp', { namespace: ns, repo: repo.url, version: '1.2.0' });
    await eventually('standby leads', async () => ((await leading(standby)) ? true : undefined), 45_000, 250);
    const tookOverMs = Date.now() - killedAt;
    // The default lease is 15 s: a SIGKILLed leader cannot hand it back, so the standby waits it out.
    assert.ok(tookOverMs <= 15_000 + 10_000, `take-over took ${tookOverMs} ms`);
    await assertConverged([ns]);
    assert.ok(!(await originState([ns])).has(`${ns}/l2`), 'the release uninstalled during the take-over has no ChartOrigin');
    await standby.stop();
  });

  it('a repository down for a while and back: Ready flips to False once and back to True once, ChartOrigins stay Stale meanwhile and recover', async () => {
    const ns = uniqueNamespace('flt-repo');
    await ensureNamespace(cp, ns);
    const dir = mkdtempSync(join(tmpdir(), 'chartorigin-faults-flaky-'));
    cpSync(env.chartRepo.repos.main.dir, dir, { recursive: true });
    const flaky = await startChartRepoServer({ dir });
    const name = 'faults-flaky';
    try {
      await applyRepository(name, { url: flaky.url, interval: '2s', priority: 20 });
      const c = await startController([ns], 'ctrl-repo');
      await helmInstall(cp, 4, 'r1', 'webapp', { namespace: ns, repo: repo.url, version: '1.2.0' });
      const readyStatus = async (): Promise<string | undefined> => {
        const r = JSON.parse(await kubectl(cp, ['get', 'chartrepository', name, '-o', 'json'])) as { status?: { conditions?: { type: string; status: string }[] } };
        return r.status?.conditions?.find((x) => x.type === 'Ready')?.status;
      };
      const conditions = async (): Promise<{ type: string; status: string }[] | undefined> =>
        (JSON.parse(await kubectl(cp, ['get', 'chartorigin', 'r1', '-n', ns, '-o', 'json'])) as { status?: { conditions?: { type: string; status: string }[] } }).status?.conditions;
      await eventually('r1 from the flaky repository', async () => {
        const o = JSON.parse(await kubectl(cp, ['get', 'chartorigin', 'r1', '-n', ns, '-o', 'json'])) as { status?: { origin?: { repository?: string } } };
        return o.status?.origin?.repository === name ? true : undefined;
      }, 60_000);
      // Record every Ready transition while the outage happens.
      const seen: string[] = [];
      let polling = true;
      const poller = (async () => {
        while (polling) {
          const st = await readyStatus().catch(() => undefined);
          if (st !== undefined && seen.at(-1) !== st) seen.push(st);
          await new Promise((r) => setTimeout(r, 150));
        }
      })();
      await eventually('first Ready=True observed', async () => (seen.length > 0 ? true : undefined));
      flaky.inject({ status: 503 });
      await eventually('repository Ready=False', async () => (seen.includes('False') ? true : undefined), 30_000);
      await eventually('r1 Stale', async () => ((await conditions())?.some((x) => x.type === 'Stale' && x.status === 'True') ? true : undefined), 30_000);
      // Several failed refreshes (interval 2s) while down: none may flip the condition back and forth.
      await new Promise((r) => setTimeout(r, 7000));
      const during = JSON.parse(await kubectl(cp, ['get', 'chartorigin', 'r1', '-n', ns, '-o', 'json'])) as { status?: { origin?: { repository?: string; match?: string }; latest?: { version?: string } } };
      assert.equal(during.status?.origin?.repository, name, 'the last known origin is kept during the outage');
      assert.equal(during.status?.latest?.version, '2.0.0', 'the recommendation is kept during the outage');
      flaky.clearFaults();
      await eventually('r1 Stale cleared', async () => ((await conditions())?.some((x) => x.type === 'Stale') ? undefined : true), 30_000);
      await eventually('repository Ready=True again', async () => (seen.at(-1) === 'True' && seen.length >= 3 ? true : undefined), 30_000);
      // Several successful refreshes after recovery.
      await new Promise((r) => setTimeout(r, 5000));
      polling = false;
      await poller;
      assert.deepEqual(seen, ['True', 'False', 'True']);
      await assertConverged([ns]);
      await c.stop();
    } finally {
      await kubectl(cp, ['delete', 'chartrepository', name, '--ignore-not-found']).catch(() => undefined);
      await flaky.close();
    }
  });
});
