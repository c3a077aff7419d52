import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatTime } from '../../../src/util/time.ts';
import { sleep } from '../../../src/util/sleep.ts';

describe('formatTime', () => {
  const t = Date.UTC(2026, 10, 30, 12, 34, 56, 789);
  it('writes seconds, milliseconds when there are any, or microseconds', () => {
    assert.equal(formatTime(t), '2026-11-30T12:34:56Z');
    assert.equal(formatTime(new Date(t)), '2026-11-30T12:34:56Z');
    assert.equal(formatTime(t, 'millis'), '2026-11-30T12:34:56.789Z');
    assert.equal(formatTime(t - 789, 'millis'), '2026-11-30T12:34:56Z');
    assert.equal(formatTime(t, 'micros'), '2026-11-30T12:34:56.789000Z');
    assert.equal(formatTime(t - 789, 'micros'), '2026-11-30T12:34:56.000000Z');
  });
});

describe('sleep', () => {
  it('waits, and ends early without rejecting when aborted', async () => {
    let t0 = performance.now();
    await sleep(30);
    assert.ok(performance.now() - t0 >= 25);
    const ac = new AbortController();
    t0 = performance.now();
    setTimeout(() => ac.abort(new Error('stop')), 10);
    await sleep(10_000, ac.signal);
    assert.ok(performance.now() - t0 < 5_000);
    await sleep(10_000, ac.signal); // already aborted: returns at once
  });
});
