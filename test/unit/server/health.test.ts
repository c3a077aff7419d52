import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HealthMonitor } from '../../../src/server/health.ts';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('HealthMonitor', () => {
  it('is healthy while the ticker is on time, and unhealthy for the window after a long stall', () => {
    const c = clock();
    const h = new HealthMonitor({ now: c.now, tickMs: 500, maxEventLoopDelayMs: 5_000, delayWindowMs: 30_000 });
    for (let i = 0; i < 10; i++) {
      c.advance(510);
      h.tick();
    }
    assert.equal(h.problem(), undefined);
    c.advance(500 + 4_000); // 4 s late: within the limit
    h.tick();
    assert.equal(h.healthy(), true);
    c.advance(500 + 6_000); // 6 s late
    h.tick();
    assert.match(h.problem() ?? '', /^event loop blocked for 6000 ms \(limit 5000 ms\)$/);
    for (let i = 0; i < 59; i++) {
      c.advance(500);
      h.tick();
    }
    assert.equal(h.healthy(), false, 'still inside the 30 s window');
    c.advance(1_000);
    h.tick();
    assert.equal(h.healthy(), true, 'the stall left the window');
  });

  it('sees a stall the ticker has not reported yet (a probe answered right after it)', () => {
    const c = clock();
    const h = new HealthMonitor({ now: c.now, tickMs: 500 });
    c.advance(20_000);
    assert.match(h.problem() ?? '', /event loop blocked for 19500 ms/);
  });

  it('is unhealthy when a watch has made no progress for too long; no watches (not leading) is healthy', () => {
    const c = clock();
    let progress: number | undefined;
    const h = new HealthMonitor({ now: c.now, watchProgress: () => progress, maxWatchSilenceMs: 600_000 });
    const tickFor = (ms: number): void => {
      for (let t = 0; t < ms; t += 500) {
        c.advance(500);
        h.tick();
      }
    };
    tickFor(700_000);
    assert.equal(h.healthy(), true, 'no watches');
    progress = c.now();
    tickFor(600_000);
    assert.equal(h.healthy(), true);
    tickFor(1_000);
    assert.match(h.problem() ?? '', /^a watch has made no progress for 601 s \(limit 600 s\)$/);
    progress = c.now();
    assert.equal(h.healthy(), true);
  });
});
