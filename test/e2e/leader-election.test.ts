/**
 * Leader election against a real kube-apiserver + etcd.
 *
 * test/harness/env.ts (the shared control plane) did not exist when this was written, so this file starts
 * its own from the pinned binaries in .tools/bin (scripts/tools.sh). Switch to the harness once it lands.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeConfigFromText, type KubeConfig } from '../../src/kube/kubeconfig.ts';
import { pino } from 'pino';
import { LeaderElector, coordinationLeaseClient, parseLeaseTime } from '../../src/kube/leader-election.ts';
import type { LeaseClient, Lease } from '../../src/kube/leader-election.ts';

const TOOLS = new URL('../../.tools/bin/', import.meta.url).pathname;
const TOKEN = randomUUID();
const NAMESPACE = 'default';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function apiReady(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/readyz', rejectUnauthorized: false, headers: { authorization: `Bearer ${TOKEN}` }, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

interface ControlPlane {
  kubeConfig: KubeConfig;
  stop(): Promise<void>;
}

async function startControlPlane(): Promise<ControlPlane> {
  const dir = mkdtempSync(join(tmpdir(), 'chartorigin-le-'));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs1', format: 'pem' }));
  writeFileSync(join(dir, 'tokens.csv'), `${TOKEN},admin,admin,system:masters\n`);
  const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
  const children: ChildProcess[] = [];
  const log = (name: string): number => openSync(join(dir, `${name}.log`), 'a');
  children.push(
    spawn(join(TOOLS, 'etcd'), [
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
    ], { stdio: ['ignore', log('etcd'), log('etcd')] }),
  );
  children.push(
    spawn(join(TOOLS, 'kube-apiserver'), [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      `--secure-port=${apiPort}`,
      '--bind-address=127.0.0.1',
      `--cert-dir=${join(dir, 'certs')}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${join(dir, 'sa.key')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.0.0.0/24',
    ], { stdio: ['ignore', log('apiserver'), log('apiserver')] }),
  );
  const stop = async (): Promise<void> => {
    for (const c of children.reverse()) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 120_000;
  while (!(await apiReady(apiPort))) {
    if (Date.now() > deadline || children.some((c) => c.exitCode !== null)) {
      await stop();
      throw new Error(`kube-apiserver did not become ready (logs were in ${dir})`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const kubeConfig = kubeConfigFromText(
    JSON.stringify({
      clusters: [{ name: 'e2e', cluster: { server: `https://127.0.0.1:${apiPort}`, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'admin', user: { token: TOKEN } }],
      contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: 'admin', namespace: NAMESPACE } }],
      'current-context': 'e2e',
    }),
    join(dir, 'kubeconfig'),
  );
  return { kubeConfig, stop };
}

/** Lease timings small enough for a test, with client-go's proportions. */
const LEASE_S = 4;
const RENEW_S = 3;
const RETRY_S = 0.5;

interface Candidate {
  id: string;
  elector: LeaderElector;
  stop: AbortController;
  done: Promise<void>;
  startedAt: number[];
  stoppedAt: number[];
  /** Set to make every API call of this candidate fail, as if its process hung or was cut off. */
  crashed: boolean;
  /** renewTime of this candidate's last successful Lease write (ms). */
  lastRenewWritten: number | undefined;
}

function candidate(kubeConfig: KubeConfig, leaseName: string, id: string): Candidate {
  const real = coordinationLeaseClient(kubeConfig);
  const state = { crashed: false, lastRenewWritten: undefined as number | undefined, startedAt: [] as number[], stoppedAt: [] as number[] };
  const guard = <T>(f: () => Promise<T>): Promise<T> => (state.crashed ? Promise.reject(new Error('cut off')) : f());
  const wrote = (lease: Lease): Lease => {
    if (lease.spec?.holderIdentity === id) state.lastRenewWritten = parseLeaseTime(lease.spec.renewTime);
    return lease;
  };
  const client: LeaseClient = {
    read: (ns, name) => guard(() => real.read(ns, name)),
    create: (ns, body) => guard(() => real.create(ns, body).then(wrote)),
    replace: (ns, name, body) => guard(() => real.replace(ns, name, body).then(wrote)),
  };
  const stop = new AbortController();
  const elector = new LeaderElector({
    kubeConfig,
    namespace: NAMESPACE,
    name: leaseName,
    identity: id,
    leaseDurationSeconds: LEASE_S,
    renewDeadlineSeconds: RENEW_S,
    retryPeriodSeconds: RETRY_S,
    logger: pino({ level: 'silent' }),
    client,
    onStartedLeading: () => {
      state.startedAt.push(Date.now());
    },
    onStoppedLeading: () => {
      state.stoppedAt.push(Date.now());
    },
  });
  return Object.assign(state, { id, elector, stop, done: elector.run(stop.signal) });
}

async function until(cond: () => boolean, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Watches two candidates every 20 ms and fails if both ever claim to lead at once. */
function exclusivity(a: Candidate, b: Candidate): { stop(): void; overlaps: number } {
  const state = { overlaps: 0, stop: () => clearInterval(timer) };
  const timer = setInterval(() => {
    if (a.elector.isLeader() && b.elector.isLeader()) state.overlaps++;
  }, 20);
  return state;
}

describe('leader election against kube-apiserver', { timeout: 180_000 }, () => {
  let cp: ControlPlane;
  let api: LeaseClient;
  const readLease = async (name: string): Promise<Lease> => (await api.read(NAMESPACE, name)) ?? assert.fail(`lease ${name} missing`);

  before(async () => {
    cp = await startControlPlane();
    api = coordinationLeaseClient(cp.kubeConfig);
  });
  after(async () => {
    await cp?.stop();
  });

  it('exactly one of two candidates leads; on shutdown the other takes over at once (released lease)', async () => {
    const leaseName = `le-${randomUUID().slice(0, 8)}`;
    const a = candidate(cp.kubeConfig, leaseName, 'replica-a');
    const b = candidate(cp.kubeConfig, leaseName, 'replica-b');
    const watch = exclusivity(a, b);
    try {
      await until(() => a.elector.isLeader() || b.elector.isLeader(), 'a leader', 15_000);
      await new Promise((r) => setTimeout(r, 3 * RETRY_S * 1000)); // a few renewals
      assert.equal(Number(a.elector.isLeader()) + Number(b.elector.isLeader()), 1);
      const [leader, follower] = a.elector.isLeader() ? [a, b] : [b, a];

      const lease = await readLease(leaseName);
      assert.equal(lease.spec?.holderIdentity, leader.id);
      assert.equal(lease.spec?.leaseDurationSeconds, LEASE_S);
      // client-node hands MicroTime back as the API's string; the server accepted our six-digit form.
      assert.match(String(lease.spec?.renewTime), /\.\d{6}Z$/);
      const renewedAgo = Date.now() - (parseLeaseTime(lease.spec?.renewTime) ?? 0);
      assert.ok(renewedAgo < RENEW_S * 1000, `renewTime is being renewed (last ${renewedAgo} ms ago)`);

      const stopAt = Date.now();
      leader.stop.abort();
      await leader.done;
      assert.equal(leader.stoppedAt.length, 1);
      await until(() => follower.elector.isLeader(), 'the follower to lead', (LEASE_S + 2 * RETRY_S) * 1000 + 2000);
      const takeoverMs = (follower.startedAt[0] ?? 0) - stopAt;
      // Released, so the follower needs only its next attempt: at most one jittered retry period, not a lease duration.
      assert.ok(takeoverMs <= RETRY_S * 2.2 * 1000 + 1000, `takeover after release took ${takeoverMs} ms`);
      assert.ok((leader.stoppedAt[0] ?? Infinity) <= (follower.startedAt[0] ?? 0), 'the old leader stopped before the new one started');
      const after = await readLease(leaseName);
      assert.equal(after.spec?.holderIdentity, follower.id);
      follower.stop.abort();
      await follower.done;
      const released = await readLease(leaseName);
      assert.equal(released.spec?.holderIdentity ?? '', '');
      assert.equal(released.spec?.leaseDurationSeconds, 1);
      assert.equal(watch.overlaps, 0, 'never two leaders at once');
    } finally {
      watch.stop();
      a.stop.abort();
      b.stop.abort();
      await Promise.all([a.done, b.done]);
    }
  });

  it('a leader that is cut off steps down within renewDeadline; the other takes over after the lease expires, not before', async () => {
    const leaseName = `le-${randomUUID().slice(0, 8)}`;
    const a = candidate(cp.kubeConfig, leaseName, 'replica-a');
    await until(() => a.elector.isLeader(), 'a to lead', 15_000);
    const b = candidate(cp.kubeConfig, leaseName, 'replica-b');
    const watch = exclusivity(a, b);
    try {
      await new Promise((r) => setTimeout(r, 2 * RETRY_S * 1000));
      assert.equal(b.elector.isLeader(), false);
      assert.equal(b.elector.observedHolder(), 'replica-a');

      a.crashed = true; // no more renewals, and no release either
      const cutAt = Date.now();
      await until(() => b.elector.isLeader(), 'b to take over', (LEASE_S + 2 * RETRY_S) * 1000 + 5000);
      const lease = await readLease(leaseName);
      const aLastRenew = a.lastRenewWritten ?? Infinity;
      const bAcquired = parseLeaseTime(lease.spec?.acquireTime) ?? 0;
      const bStarted = b.startedAt[0] ?? 0;
      const aStopped = a.stoppedAt[0] ?? Infinity;

      // a stops acting within renewDeadline (+ one retry round) of its last successful renewal...
      assert.ok(aStopped - cutAt <= (RENEW_S + RETRY_S) * 1000 + 1000, `a stepped down ${aStopped - cutAt} ms after being cut off`);
      // ...which is before b may take over: renewDeadline < leaseDuration.
      assert.ok(aStopped < bStarted, `a stopped (${aStopped}) before b started (${bStarted})`);
      // b waited for the lease to expire: a's last renewTime + leaseDuration lies before b's acquireTime...
      assert.ok(bAcquired > aLastRenew + LEASE_S * 1000, `b acquired at ${bAcquired}, a's lease ran until ${aLastRenew + LEASE_S * 1000}`);
      // ...and did not dawdle: within leaseDuration + one jittered retry period (+ API latency) of that expiry.
      const late = bAcquired - (aLastRenew + LEASE_S * 1000);
      assert.ok(late <= 2.2 * RETRY_S * 1000 + 1500, `b acquired ${late} ms after the lease expired`);
      assert.equal(lease.spec?.holderIdentity, 'replica-b');
      assert.equal(lease.spec?.leaseTransitions, 1, 'taking over from a live-then-dead holder is a transition');
      assert.equal(watch.overlaps, 0, 'never two leaders at once');
    } finally {
      watch.stop();
      a.stop.abort();
      b.stop.abort();
      await Promise.all([a.done, b.done]);
    }
  });
});
