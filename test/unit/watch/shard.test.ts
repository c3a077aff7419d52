import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fnv1a64, jumpHash, owns, parseShardSpec, shardOf } from '../../../src/watch/shard.ts';

test('FNV-1a 64 matches the published test vectors', () => {
  assert.equal(fnv1a64(''), 0xcbf29ce484222325n);
  assert.equal(fnv1a64('a'), 0xaf63dc4c8601ec8cn);
  assert.equal(fnv1a64('foobar'), 0x85944171f73967e8n);
});

test('jump hash matches the vectors other implementations test against', () => {
  // The same vectors as the Go, C and Python ports: ownership must be computable outside this code base.
  const vectors: [bigint, number, number][] = [
    [1n, 1, 0],
    [42n, 57, 43],
    [0xdead10ccn, 1, 0],
    [0xdead10ccn, 666, 361],
    [256n, 1024, 520],
    [1n, 128, 55],
    [129n, 128, 120],
    [128n, 100000000, 38172097],
    [0xffffffffffffffffn, 128, 92],
  ];
  for (const [key, buckets, want] of vectors) assert.equal(jumpHash(key, buckets), want, `jumpHash(${key}, ${buckets})`);
  assert.throws(() => jumpHash(1n, 0), RangeError);
});

const keys = Array.from({ length: 10_000 }, (_, i) => [`team-${i % 37}`, `release-${i}`] as const);

test('10,000 releases split evenly over 2 and 3 shards (within 3 %)', () => {
  for (const n of [2, 3]) {
    const counts = new Array<number>(n).fill(0);
    for (const [ns, name] of keys) counts[shardOf(ns, name, n)]! += 1;
    for (const c of counts) assert.ok(Math.abs(c - keys.length / n) < (keys.length / n) * 0.03, `shard sizes ${counts.join(', ')} with ${n} shards`);
  }
});

test('adding a shard moves releases only onto the new shard, about 1/(n+1) of them', () => {
  for (const n of [1, 2, 3]) {
    let moved = 0;
    for (const [ns, name] of keys) {
      const before = shardOf(ns, name, n);
      const after = shardOf(ns, name, n + 1);
      if (before !== after) {
        moved++;
        assert.equal(after, n, `${ns}/${name} moved from ${before} to ${after}, not to the new shard`);
      }
    }
    const expected = keys.length / (n + 1);
    assert.ok(Math.abs(moved - expected) < expected * 0.1, `${moved} of ${keys.length} moved going from ${n} to ${n + 1} shards`);
  }
});

test('each release is owned by exactly one shard; a release and its ChartOrigin share the key', () => {
  for (const [ns, name] of keys.slice(0, 500)) {
    const owners = [0, 1, 2].filter((index) => owns({ index, count: 3 }, ns, name));
    assert.deepEqual(owners, [shardOf(ns, name, 3)]);
  }
  assert.equal(owns(undefined, 'a', 'b'), true);
  assert.equal(owns({ index: 0, count: 1 }, 'a', 'b'), true);
});

test('flags: --shards and --shard-index are validated', () => {
  assert.deepEqual(parseShardSpec(undefined, undefined), { index: 0, count: 1 });
  assert.deepEqual(parseShardSpec('1', '2'), { index: 1, count: 2 });
  assert.throws(() => parseShardSpec('2', '2'), /--shard-index must be an integer from 0 to 1/);
  assert.throws(() => parseShardSpec('-1', '2'), /--shard-index/);
  assert.throws(() => parseShardSpec('0', '0'), /--shards must be/);
  assert.throws(() => parseShardSpec('0', '1.5'), /--shards must be/);
});
