import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { WorkQueue } from '../../../src/kube/work-queue.ts';

/** A promise with its resolve exposed: lets a test hold a handler open. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

async function until(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('WorkQueue', () => {
  it('dedupes: a key waits in the queue once', async () => {
    const q = new WorkQueue();
    q.add('a/x');
    q.add('a/x');
    q.add('a/y');
    q.add('a/x');
    assert.equal(q.len(), 2);
    const seen: string[] = [];
    const ac = new AbortController();
    const running = q.run(1, async (key) => {
      seen.push(key);
      if (seen.length === 2) ac.abort();
    }, ac.signal);
    await running;
    assert.deepEqual(seen, ['a/x', 'a/y']);
  });

  it('never handles one key in two workers at once, and re-queues a key added while it is handled', async () => {
    const q = new WorkQueue();
    const ac = new AbortController();
    let active = 0;
    let maxActive = 0;
    let calls = 0;
    const first = gate();
    const running = q.run(4, async () => {
      calls++;
      active++;
      maxActive = Math.max(maxActive, active);
      if (calls === 1) await first.promise;
      active--;
    }, ac.signal);
    q.add('k');
    await until(() => q.processing() === 1, 'the first handler');
    // Dirty while processing: three adds, one re-queue, not handed to an idle worker now.
    q.add('k');
    q.add('k');
    q.add('k');
    await tick();
    assert.equal(q.len(), 0, 'not queued while it is being handled');
    assert.equal(calls, 1);
    first.open();
    await until(() => calls === 2 && q.processing() === 0, 'the re-queued run');
    await tick();
    assert.equal(calls, 2, 'handled exactly once more');
    assert.equal(maxActive, 1);
    ac.abort();
    await running;
  });

  it('spreads different keys over the workers', async () => {
    const q = new WorkQueue();
    const ac = new AbortController();
    const g = gate();
    let active = 0;
    let maxActive = 0;
    const running = q.run(3, async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await g.promise;
      active--;
    }, ac.signal);
    for (const k of ['a', 'b', 'c', 'd']) q.add(k);
    await until(() => q.processing() === 3, 'three keys in flight');
    assert.equal(q.len(), 1);
    g.open();
    await until(() => q.processing() === 0 && q.len() === 0, 'all handled');
    assert.equal(maxActive, 3);
    ac.abort();
    await running;
  });

  it('backs off exponentially per key, caps, and forget resets', () => {
    const q = new WorkQueue({ baseDelayMs: 1000, maxDelayMs: 5 * 60 * 1000, random: () => 0 });
    const delays = Array.from({ length: 11 }, () => q.addRateLimited('k'));
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300000, 300000]);
    assert.equal(q.numRequeues('k'), 11);
    assert.equal(q.addRateLimited('other'), 1000, 'back-off is per key');
    q.forget('k');
    assert.equal(q.numRequeues('k'), 0);
    assert.equal(q.addRateLimited('k'), 1000);
    q.shutDown();
  });

  it('adds jitter on top of the back-off, within the cap', () => {
    const q = new WorkQueue({ baseDelayMs: 1000, jitter: 0.1, random: () => 0.5 });
    assert.equal(q.addRateLimited('k'), 1050);
    assert.equal(q.addRateLimited('k'), 2100);
    const capped = new WorkQueue({ baseDelayMs: 1000, maxDelayMs: 1500, random: () => 0.99 });
    assert.equal(capped.addRateLimited('k'), 1099);
    assert.equal(capped.addRateLimited('k'), 1500);
    q.shutDown();
    capped.shutDown();
  });

  it('addAfter delivers once after the delay; the earliest of two delays wins', async () => {
    const q = new WorkQueue();
    q.addAfter('k', 60_000);
    q.addAfter('k', 10);
    q.addAfter('k', 120_000);
    assert.equal(q.delayed(), 1);
    assert.equal(q.len(), 0);
    // Had a later delay won, this would wait a minute and time out.
    await until(() => q.len() === 1, 'the delayed key', 5000);
    assert.equal(q.delayed(), 0, 'the replaced timers are gone too');
    q.addAfter('now', 0);
    assert.equal(q.len(), 2);
    q.shutDown();
  });

  it('a throwing handler is reported and retried with back-off', async () => {
    const errors: [string, unknown][] = [];
    const q = new WorkQueue({ baseDelayMs: 5, random: () => 0, onError: (key, err) => errors.push([key, err]) });
    const ac = new AbortController();
    let calls = 0;
    const running = q.run(1, async () => {
      calls++;
      if (calls < 3) throw new Error(`boom ${calls}`);
    }, ac.signal);
    q.add('k');
    await until(() => calls === 3, 'two retries');
    assert.equal(errors.length, 2);
    assert.equal(errors[0]?.[0], 'k');
    assert.equal((errors[1]?.[1] as Error).message, 'boom 2');
    assert.equal(q.numRequeues('k'), 2, 'success does not forget by itself: the caller decides');
    ac.abort();
    await running;
  });

  it('shutdown waits for in-flight handlers, starts no new ones, drops delayed keys', async () => {
    const q = new WorkQueue();
    const ac = new AbortController();
    const g = gate();
    const handled: string[] = [];
    let finished = false;
    const running = q.run(1, async (key) => {
      handled.push(key);
      await g.promise;
      finished = true;
    }, ac.signal);
    q.add('first');
    q.add('second');
    q.addAfter('later', 10_000);
    await until(() => q.processing() === 1, 'the first handler');
    let resolved = false;
    void running.then(() => {
      resolved = true;
    });
    ac.abort();
    await tick();
    await tick();
    assert.equal(resolved, false, 'run waits for the in-flight handler');
    assert.equal(q.delayed(), 0, 'delayed keys dropped (their timers cleared)');
    q.add('after-shutdown');
    g.open();
    await running;
    assert.equal(finished, true);
    assert.deepEqual(handled, ['first'], 'nothing new started after abort');
  });

  it('run returns at once on an aborted signal and rejects a bad concurrency', async () => {
    const q = new WorkQueue();
    q.add('k');
    let calls = 0;
    await q.run(2, async () => {
      calls++;
    }, AbortSignal.abort());
    assert.equal(calls, 0);
    await assert.rejects(new WorkQueue().run(0, async () => {}, new AbortController().signal), RangeError);
  });

  it('keeps FIFO order over many keys (queue compaction)', async () => {
    const q = new WorkQueue();
    const n = 5000;
    for (let i = 0; i < n; i++) q.add(`k${i}`);
    const seen: string[] = [];
    const ac = new AbortController();
    await q.run(1, async (key) => {
      seen.push(key);
      if (seen.length === n) ac.abort();
    }, ac.signal);
    assert.equal(seen.length, n);
    assert.ok(seen.every((k, i) => k === `k${i}`));
    assert.equal(q.len(), 0);
  });
});
