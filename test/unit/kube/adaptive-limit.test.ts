import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdaptiveLimit } from '../../../src/kube/adaptive-limit.ts';

/**
 * Drives the limiter as the controller's workers do, against a simulated server in virtual time: work
 * starts whenever a permit is free and takes `latency(n)` with n in flight when it started. Returns the
 * limit after every 20 completions.
 */
async function settle(limit: AdaptiveLimit, latency: (inFlight: number) => number, rounds = 400): Promise<number[]> {
  const seen: number[] = [];
  const running: { end: number; took: number }[] = [];
  let now = 0;
  for (let done = 0; done < rounds * 20; done++) {
    while (limit.inFlight < limit.limit) {
      await limit.acquire();
      const took = latency(limit.inFlight);
      running.push({ end: now + took, took });
    }
    running.sort((a, b) => a.end - b.end);
    const next = running.shift();
    if (!next) break;
    now = next.end;
    limit.release(next.took);
    if (done % 20 === 19) seen.push(limit.limit);
  }
  for (const r of running) limit.release(r.took); // the next phase starts with every permit free
  return seen;
}

describe('AdaptiveLimit', () => {
  it('grows to the maximum while answer times do not grow with the requests in flight (a remote, idle API server)', async () => {
    const limit = new AdaptiveLimit({ initial: 4, max: 64 });
    const seen = await settle(limit, () => 5);
    assert.equal(limit.limit, 64, `limit after ${seen.length} rounds: ${seen.slice(-5).join(', ')}`);
  });

  it('settles near the capacity of a server that queues past 8 in flight, not at the maximum', async () => {
    // Throughput is capped at 8 / 5 ms: beyond 8 in flight, each request waits for the others.
    const limit = new AdaptiveLimit({ initial: 4, max: 64 });
    const seen = await settle(limit, (n) => 5 * Math.max(1, n / 8));
    const last = seen.slice(-100);
    assert.ok(Math.max(...last) <= 24 && Math.min(...last) >= 8, `limit in the last rounds: ${Math.min(...last)}..${Math.max(...last)}`);
  });

  it('backs off when the server slows down under the same load', async () => {
    const limit = new AdaptiveLimit({ initial: 32, max: 64 });
    await settle(limit, () => 5, 100);
    const high = limit.limit;
    await settle(limit, (n) => 5 * Math.max(1, n / 4), 300);
    assert.ok(limit.limit < high / 2, `${high} → ${limit.limit}`);
    assert.ok(limit.limit >= 4);
  });

  it('does not grow without evidence: a limit never reached stays', () => {
    const limit = new AdaptiveLimit({ initial: 4 });
    for (let i = 0; i < 1000; i++) limit.observe(5); // one at a time: never saturated
    assert.equal(limit.limit, 4);
  });

  it('holds acquirers beyond the limit until a permit returns', async () => {
    const limit = new AdaptiveLimit({ initial: 2, window: 1000 });
    await limit.acquire();
    await limit.acquire();
    let third = false;
    const p = limit.acquire().then(() => (third = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(third, false);
    limit.release(1);
    await p;
    assert.equal(third, true);
    assert.equal(limit.inFlight, 2);
  });

  it('rejects bounds that cannot hold', () => {
    assert.throws(() => new AdaptiveLimit({ min: 0 }), RangeError);
    assert.throws(() => new AdaptiveLimit({ min: 8, max: 4 }), RangeError);
  });
});

describe('AdaptiveLimit at the floor', () => {
  it('takes a server that became slower for everyone as the new normal instead of staying at the minimum', async () => {
    const limit = new AdaptiveLimit({ initial: 4, max: 64 });
    await settle(limit, () => 5, 200);
    assert.equal(limit.limit, 64);
    // 10× slower at any concurrency: not our queueing. The limit drops, finds the floor, and recovers.
    const seen = await settle(limit, () => 50, 600);
    assert.ok(Math.min(...seen) < 64, 'it backed off first');
    assert.equal(limit.limit, 64, `limit after the slowdown: ${seen.slice(-5).join(', ')}`);
  });
});
