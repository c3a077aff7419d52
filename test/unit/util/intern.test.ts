import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { intern } from '../../../src/util/intern.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap used by what `make` returns and keeps, after full collections. */
function retained(make: () => unknown): number {
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = make();
  gc();
  const after = process.memoryUsage().heapUsed;
  assert.ok(kept);
  return after - before;
}

describe('intern', () => {
  it('returns an equal string for every input, the empty string and index-like ones included', () => {
    for (const s of ['', 'chartorigin', '0', '4294967295', '12', '-1', '} 0', 'x'.repeat(70_000), 'naïve ☃', '__proto__', 'constructor']) assert.equal(intern(s), s);
  });

  it('keeps one copy of equal strings: 2,000 equal 10 KB strings retain ~10 KB, not ~20 MB', () => {
    // join() builds a new flat string each time: equal content, separate copies on the heap.
    const piece = (i: number): string => ['value-', 'a'.repeat(10_000), String(i % 1)].join('');
    const copies = retained(() => Array.from({ length: 2000 }, (_, i) => piece(i)));
    const interned = retained(() => Array.from({ length: 2000 }, (_, i) => intern(piece(i))));
    assert.ok(copies > 15_000_000, `2,000 copies retain ${copies} bytes`);
    assert.ok(interned < 1_000_000, `interned they retain ${interned} bytes`);
  });
});
