import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kubeConfigFromText } from '../../../src/kube/kubeconfig.ts';
import { pino } from 'pino';
import { LeaderElector, decideLeaseAction, parseLeaseTime } from '../../../src/kube/leader-election.ts';
import type { LeaseClient, Lease } from '../../../src/kube/leader-election.ts';
import { KubeApiError } from '../../../src/kube/raw-client.ts';

const unusedKubeConfig = (): ReturnType<typeof kubeConfigFromText> =>
  kubeConfigFromText(JSON.stringify({ clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }], contexts: [{ name: 'x', context: { cluster: 'c' } }], 'current-context': 'x' }), '/nonexistent/kubeconfig');

const NOW = new Date('2026-03-01T12:00:00.000Z');
const D = { leaseDurationSeconds: 15 };

function lease(holderIdentity: string | undefined, renewTime: string | undefined, leaseDurationSeconds?: number): Lease {
  return { metadata: { name: 'l', resourceVersion: '7' }, spec: { holderIdentity, renewTime, leaseDurationSeconds } };
}

describe('decideLeaseAction', () => {
  it('creates a missing lease', () => {
    assert.deepEqual(decideLeaseAction(undefined, NOW, 'me', D), { action: 'create' });
  });

  it('acquires a released lease (empty or absent holder) at once', () => {
    assert.deepEqual(decideLeaseAction(lease('', '2026-03-01T11:59:59.999999Z', 1), NOW, 'me', D), { action: 'acquire', previousHolder: undefined });
    assert.deepEqual(decideLeaseAction({ spec: {} }, NOW, 'me', D), { action: 'acquire', previousHolder: undefined });
  });

  it('renews its own lease, even when expired', () => {
    assert.deepEqual(decideLeaseAction(lease('me', '2026-03-01T11:00:00.000000Z', 15), NOW, 'me', D), { action: 'renew' });
  });

  it('waits while another holder is live, and says until when', () => {
    const d = decideLeaseAction(lease('other', '2026-03-01T11:59:50.250000Z', 15), NOW, 'me', D);
    assert.deepEqual(d, { action: 'wait', holder: 'other', expiresAt: new Date('2026-03-01T12:00:05.250Z') });
  });

  it('takes over only once renewTime + leaseDuration < now (strictly)', () => {
    assert.equal(decideLeaseAction(lease('other', '2026-03-01T11:59:45.000000Z', 15), NOW, 'me', D).action, 'wait', 'exactly at expiry: still live');
    assert.deepEqual(decideLeaseAction(lease('other', '2026-03-01T11:59:44.999000Z', 15), NOW, 'me', D), { action: 'acquire', previousHolder: 'other' });
  });

  it("uses the holder's lease duration over ours, ours when the lease has none", () => {
    const renewed = '2026-03-01T11:59:30.000000Z'; // 30 s ago
    assert.equal(decideLeaseAction(lease('other', renewed, 60), NOW, 'me', D).action, 'wait');
    assert.equal(decideLeaseAction(lease('other', renewed, 20), NOW, 'me', { leaseDurationSeconds: 60 }).action, 'acquire');
    assert.equal(decideLeaseAction(lease('other', renewed, undefined), NOW, 'me', { leaseDurationSeconds: 60 }).action, 'wait');
    assert.equal(decideLeaseAction(lease('other', renewed, undefined), NOW, 'me', { leaseDurationSeconds: 15 }).action, 'acquire');
  });

  it('reads times as the API writes them (micro or milli precision, offsets)', () => {
    assert.equal(parseLeaseTime('2026-03-01T11:59:50.123456Z'), Date.parse('2026-03-01T11:59:50.123Z'));
    assert.equal(parseLeaseTime('2026-03-01T13:59:50.123456+02:00'), Date.parse('2026-03-01T11:59:50.123Z'));
    assert.equal(parseLeaseTime('2026-03-01T11:59:50Z'), Date.parse('2026-03-01T11:59:50Z'));
    assert.equal(parseLeaseTime('garbage'), undefined);
    assert.equal(parseLeaseTime(undefined), undefined);
    assert.equal(decideLeaseAction(lease('other', '2026-03-01T11:59:59.000000Z', 15), NOW, 'me', D).action, 'wait');
  });

  it('a holder with no parseable time falls back to acquireTime, else is taken over', () => {
    const withAcquire: Lease = { spec: { holderIdentity: 'other', acquireTime: '2026-03-01T11:59:59.000000Z' } };
    assert.equal(decideLeaseAction(withAcquire, NOW, 'me', D).action, 'wait');
    assert.deepEqual(decideLeaseAction(lease('other', 'not a time', 15), NOW, 'me', D), { action: 'acquire', previousHolder: 'other' });
  });
});

class HttpError extends KubeApiError {
  constructor(status: number, message: string) {
    super(status, status === 409 ? 'Conflict' : 'Error', message);
  }
}

/**
 * An in-memory Lease store with the API's behaviour that matters here: JSON on the wire (so times
 * arrive as strings), resourceVersion checks (409), and an outage switch.
 */
class FakeLeases implements LeaseClient {
  stored: Lease | undefined;
  rv = 0;
  down = false;
  writes: Lease[] = [];
  conflicts = 0;
  /** Runs between a read and the next write: a concurrent writer. */
  beforeWrite: (() => void) | undefined;

  #wire<T>(v: T): T {
    return JSON.parse(JSON.stringify(v)) as T;
  }

  async read(): Promise<Lease | undefined> {
    await Promise.resolve();
    if (this.down) throw new Error('connect ECONNREFUSED');
    return this.stored ? this.#wire(this.stored) : undefined;
  }

  async create(_ns: string, body: Lease): Promise<Lease> {
    this.#interfere();
    if (this.down) throw new Error('connect ECONNREFUSED');
    if (this.stored) throw new HttpError(409, 'already exists');
    return this.#store(body);
  }

  async replace(_ns: string, _name: string, body: Lease): Promise<Lease> {
    this.#interfere();
    if (this.down) throw new Error('connect ECONNREFUSED');
    if (body.metadata?.resourceVersion !== String(this.rv)) {
      this.conflicts++;
      throw new HttpError(409, 'conflict');
    }
    return this.#store(body);
  }

  /** Another party overwrites the lease (e.g. a forced takeover). */
  overwrite(spec: Lease['spec']): void {
    this.#store({ metadata: { name: 'lease' }, spec: this.#wire(spec) });
  }

  #interfere(): void {
    const hook = this.beforeWrite;
    this.beforeWrite = undefined;
    hook?.();
  }

  #store(body: Lease): Lease {
    const wire = this.#wire(body);
    this.rv++;
    wire.metadata = { ...wire.metadata, resourceVersion: String(this.rv) };
    this.stored = wire;
    this.writes.push(wire);
    return this.#wire(wire);
  }
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Candidate {
  elector: LeaderElector;
  stop: AbortController;
  done: Promise<void>;
  events: string[];
  leaderSignal: AbortSignal | undefined;
}

function candidate(client: FakeLeases, identity: string, durations = { lease: 0.6, renew: 0.4, retry: 0.05 }): Candidate {
  const c: Partial<Candidate> & { events: string[] } = { events: [] };
  c.elector = new LeaderElector({
    kubeConfig: unusedKubeConfig(),
    namespace: 'ns',
    name: 'lease',
    identity,
    leaseDurationSeconds: durations.lease,
    renewDeadlineSeconds: durations.renew,
    retryPeriodSeconds: durations.retry,
    logger: pino({ level: 'silent' }),
    client,
    onStartedLeading: (signal) => {
      c.events.push('started');
      c.leaderSignal = signal;
    },
    onStoppedLeading: () => c.events.push('stopped'),
  });
  c.stop = new AbortController();
  c.done = c.elector.run(c.stop.signal);
  return c as Candidate;
}

describe('LeaderElector (in-memory lease)', () => {
  it('rejects unsafe timings', () => {
    const base = { kubeConfig: unusedKubeConfig(), namespace: 'n', name: 'l', identity: 'a', logger: pino({ level: 'silent' }), onStartedLeading: () => {}, onStoppedLeading: () => {}, client: new FakeLeases() };
    assert.throws(() => new LeaderElector({ ...base, leaseDurationSeconds: 10, renewDeadlineSeconds: 10 }), /greater than renewDeadline/);
    assert.throws(() => new LeaderElector({ ...base, renewDeadlineSeconds: 2, retryPeriodSeconds: 2 }), /retryPeriod/);
    assert.throws(() => new LeaderElector({ ...base, identity: '' }), /identity/);
  });

  it('two candidates: exactly one leads; on shutdown it releases and the other takes over', async () => {
    const store = new FakeLeases();
    const a = candidate(store, 'a');
    const b = candidate(store, 'b');
    await until(() => a.elector.isLeader() || b.elector.isLeader(), 'a leader');
    await new Promise((r) => setTimeout(r, 300)); // several renew rounds
    assert.equal(Number(a.elector.isLeader()) + Number(b.elector.isLeader()), 1);
    const [leader, follower] = a.elector.isLeader() ? [a, b] : [b, a];
    const leaderId = leader === a ? 'a' : 'b';
    const followerId = leader === a ? 'b' : 'a';
    assert.equal(store.stored?.spec?.holderIdentity, leaderId);
    assert.match(String(store.stored?.spec?.renewTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'MicroTime is written with microseconds');
    assert.equal(follower.elector.observedHolder(), leaderId);
    assert.deepEqual(follower.events, []);

    leader.stop.abort();
    await leader.done;
    assert.equal(leader.leaderSignal?.aborted, true);
    assert.deepEqual(leader.events, ['started', 'stopped']);
    assert.ok(
      store.writes.some((w) => w.spec?.holderIdentity === '' && w.spec.leaseDurationSeconds === 1),
      'the lease was released (empty holder, 1 s)',
    );
    await until(() => follower.elector.isLeader(), 'the follower to take over');
    assert.equal(store.stored?.spec?.holderIdentity, followerId);
    assert.equal(store.stored?.spec?.leaseTransitions, 0, 'taking a released lease is not a transition from a live holder');
    follower.stop.abort();
    await follower.done;
    assert.equal(follower.elector.isLeader(), false);
  });

  it('stops leading when renewal fails for renewDeadline, then re-acquires when the API is back', async () => {
    const store = new FakeLeases();
    const a = candidate(store, 'a');
    await until(() => a.elector.isLeader(), 'a to lead');
    const acquireTime = store.stored?.spec?.acquireTime;
    store.down = true;
    await until(() => !a.elector.isLeader(), 'a to step down');
    assert.deepEqual(a.events, ['started', 'stopped']);
    assert.equal(a.leaderSignal?.aborted, true);
    store.down = false;
    await until(() => a.elector.isLeader(), 'a to lead again');
    assert.deepEqual(a.events, ['started', 'stopped', 'started']);
    assert.notEqual(store.stored?.spec?.acquireTime, undefined);
    assert.equal(typeof acquireTime, 'string');
    a.stop.abort();
    await a.done;
  });

  it('steps down at once when another holder shows up in the lease', async () => {
    const store = new FakeLeases();
    const a = candidate(store, 'a', { lease: 30, renew: 20, retry: 0.05 });
    await until(() => a.elector.isLeader(), 'a to lead');
    store.overwrite({ holderIdentity: 'intruder', leaseDurationSeconds: 30, renewTime: new Date().toISOString() });
    await until(() => !a.elector.isLeader(), 'a to step down', 2000);
    assert.equal(a.elector.observedHolder(), 'intruder');
    a.stop.abort();
    await a.done;
    assert.equal(store.stored?.spec?.holderIdentity, 'intruder', 'a lease that is not ours is never released by us');
  });

  it('a 409 on renewal is re-read and retried, not treated as lost', async () => {
    const store = new FakeLeases();
    const a = candidate(store, 'a');
    await until(() => a.elector.isLeader(), 'a to lead');
    const before = store.writes.length;
    // Someone touches the lease between our read and write (e.g. a label added): same holder, new resourceVersion.
    store.beforeWrite = () => {
      const cur = store.stored;
      if (cur) store.overwrite(cur.spec);
    };
    await until(() => store.writes.length >= before + 3, 'more renewals');
    assert.equal(store.conflicts, 1, 'the renewal did hit a conflict');
    assert.equal(store.stored?.spec?.holderIdentity, 'a');
    assert.equal(a.elector.isLeader(), true);
    assert.deepEqual(a.events, ['started']);
    a.stop.abort();
    await a.done;
  });

  it('counts a takeover of an expired lease as a transition', async () => {
    const store = new FakeLeases();
    store.overwrite({ holderIdentity: 'gone', leaseDurationSeconds: 1, renewTime: new Date(Date.now() - 5000).toISOString(), leaseTransitions: 4 });
    const a = candidate(store, 'a');
    await until(() => a.elector.isLeader(), 'a to take over');
    assert.equal(store.stored?.spec?.leaseTransitions, 5);
    a.stop.abort();
    await a.done;
  });
});
