/**
 * Which shard owns a release. A release and its ChartOrigin share namespace and name, so hashing
 * `namespace/name` puts both on one shard: the shard that reconciles a release is the only one that
 * ever writes its ChartOrigin, its Events and its metrics.
 *
 * Why a hash of the key and not Flux's label selector (`sharding.fluxcd.io/key` on each object): Flux
 * shards objects users write themselves, so users can label them. Helm writes the release Secrets and
 * ConfigMaps; a label we or the user added would be dropped by Helm on the next upgrade, and a user
 * would have to label 10,000 releases by hand. The key is always there and never changes.
 *
 * Why namespace/name and not the namespace alone: one namespace often holds most releases (a platform
 * team's), which would put them all on one shard; per release the split is even (±2 % at 10,000).
 *
 * Why jump consistent hashing (Lamping & Veach, 2014) over `hash % n`: going from n to n+1 shards moves
 * only 1/(n+1) of the releases (modulo moves n/(n+1)), so a re-shard re-analyses few releases.
 * The function is fixed: FNV-1a 64 of the UTF-8 key, then the jump; tools can compute it too.
 */

export interface ShardSpec {
  /** 0 ≤ index < count. */
  index: number;
  count: number;
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;
const encoder = new TextEncoder();

/** FNV-1a, 64 bit, of the key's UTF-8 bytes. */
export function fnv1a64(key: string): bigint {
  let h = FNV_OFFSET;
  for (const b of encoder.encode(key)) h = ((h ^ BigInt(b)) * FNV_PRIME) & MASK64;
  return h;
}

/** Jump consistent hash: the bucket in [0, buckets) of a 64-bit key. */
export function jumpHash(key: bigint, buckets: number): number {
  if (!Number.isInteger(buckets) || buckets < 1) throw new RangeError(`buckets must be a positive integer, got ${buckets}`);
  let k = key & MASK64;
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    k = (k * 2862933555777941757n + 1n) & MASK64;
    // As in the paper: (b + 1) · (2^31 / ((k >>> 33) + 1)), in doubles.
    j = Math.floor((b + 1) * (2 ** 31 / (Number(k >> 33n) + 1)));
  }
  return b;
}

/** The shard (0-based) that owns the release `namespace/name` among `count` shards. */
export function shardOf(namespace: string, name: string, count: number): number {
  return count === 1 ? 0 : jumpHash(fnv1a64(`${namespace}/${name}`), count);
}

/** Validates `--shard-index` / `--shards`; throws a message naming the flag. */
export function parseShardSpec(index: string | undefined, count: string | undefined): ShardSpec {
  const n = count === undefined ? 1 : Number(count);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new Error('--shards must be an integer from 1 to 1024');
  const i = index === undefined ? 0 : Number(index);
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`--shard-index must be an integer from 0 to ${n - 1}`);
  return { index: i, count: n };
}

/** Whether this shard owns the release (always, unsharded). */
export function owns(shard: ShardSpec | undefined, namespace: string, name: string): boolean {
  return !shard || shard.count === 1 || shardOf(namespace, name, shard.count) === shard.index;
}
