/**
 * Property-based fuzzing of the release decoder: whatever a hostile or broken Secret/ConfigMap holds,
 * decodeStoredRelease returns a record or throws ReleaseDecodeError with a documented reason. Any other
 * exception would escape the reconciler (it rethrows everything else) and crash the controller.
 * Fixed seed: a failure reproduces exactly.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeStoredRelease, ReleaseDecodeError, type ReleaseDecodeReason } from '../../../src/decode/decode.ts';
import type { StoredReleaseObject } from '../../../src/model/release.ts';
import { fixture, FIXTURES, helmEncode, releaseConfigMap, releaseSecret } from '../helpers.ts';

const SEED = 20261122;
const REASONS: ReadonlySet<ReleaseDecodeReason> = new Set([
  'missing_data', 'too_large', 'not_base64', 'corrupt_gzip', 'truncated', 'invalid_json', 'invalid_shape',
]);
// Small limits so that the size checks are reachable from generated inputs too.
const LIMITS = { maxEncodedBytes: 64 * 1024, maxDecodedBytes: 256 * 1024 };

type Outcome = { ok: true } | { ok: false; reason: ReleaseDecodeReason };

/** The property itself: a record with the basic invariants, or a ReleaseDecodeError with a known reason. */
function decodeOrDocumentedError(obj: StoredReleaseObject, limits = LIMITS): Outcome {
  const started = performance.now();
  try {
    const rec = decodeStoredRelease(obj, limits);
    assert.equal(typeof rec.release.name, 'string');
    assert.ok(rec.release.name.length > 0);
    assert.ok(Number.isInteger(rec.release.revision) && rec.release.revision >= 1);
    assert.ok(rec.chart.name.length > 0 && rec.chart.version.length > 0);
    return { ok: true };
  } catch (err) {
    if (!(err instanceof ReleaseDecodeError)) {
      assert.fail(`expected ReleaseDecodeError, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    }
    assert.ok(REASONS.has(err.reason), `undocumented reason ${err.reason}`);
    return { ok: false, reason: err.reason };
  } finally {
    // "never hang": every single input is bounded; a generous per-input budget catches pathological paths.
    assert.ok(performance.now() - started < 2000, 'one decode took over 2 s');
  }
}

const captures = readdirSync(FIXTURES + 'releases')
  .filter((f) => f.endsWith('.json') && f !== 'manifest.json')
  .map((f) => JSON.parse(fixture(`releases/${f}`).toString('utf8')) as StoredReleaseObject);

/** A captured object → the release JSON document inside it. */
function releaseDoc(obj: StoredReleaseObject): unknown {
  const stored = obj.data?.['release'] ?? '';
  const helmString = obj.kind === 'ConfigMap' ? stored : Buffer.from(stored, 'base64').toString('latin1');
  return JSON.parse(gunzipSync(Buffer.from(helmString, 'base64')).toString('utf8'));
}
const docs = captures.map(releaseDoc);

function wrap(json: string | Buffer, kind: 'Secret' | 'ConfigMap'): StoredReleaseObject {
  return kind === 'Secret' ? releaseSecret(json, 'fuzz', 1) : releaseConfigMap(json, 'fuzz', 1);
}

type Path = (string | number)[];
/** Every path to a node of a JSON document (objects and arrays), root excluded. */
function paths(v: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  if (Array.isArray(v)) v.forEach((x, i) => { out.push([...prefix, i]); paths(x, [...prefix, i], out); });
  else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) { out.push([...prefix, k]); paths(x, [...prefix, k], out); }
  }
  return out;
}
const docPaths = docs.map((d) => paths(d));

function replaceAt(doc: unknown, path: Path, value: unknown, remove: boolean): unknown {
  const copy: unknown = structuredClone(doc);
  let node = copy as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    // The path may no longer exist after an earlier replacement: leave the document as it is.
    if (next === null || typeof next !== 'object') return copy;
    node = next as Record<string | number, unknown>;
  }
  const last = path[path.length - 1] as string | number;
  if (remove && !Array.isArray(node)) delete node[last];
  else node[last] = value;
  return copy;
}

const kind = fc.constantFrom<'Secret' | 'ConfigMap'>('Secret', 'ConfigMap');

describe('fuzz: decodeStoredRelease', () => {
  it('the captured releases decode (the mutations below start from valid input)', () => {
    assert.ok(captures.length >= 10);
    for (const c of captures) assert.deepEqual(decodeOrDocumentedError(c, undefined), { ok: true });
  });

  it('arbitrary strings and bytes as data.release', () => {
    fc.assert(
      fc.property(kind, fc.oneof(fc.string({ maxLength: 300 }), fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b).toString('base64'))), (k, release) => {
        decodeOrDocumentedError({ kind: k, metadata: { name: 'x', namespace: 'apps' }, data: { release } });
      }),
      { seed: SEED, numRuns: 400 },
    );
  });

  it('arbitrary bytes inside the gzip layer, and gzip bytes with flips and truncation', () => {
    const good = Buffer.from(helmEncode(JSON.stringify(docs[0])), 'base64');
    fc.assert(
      fc.property(
        kind,
        fc.oneof(
          fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08]), b])),
          fc.tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
            const b = Buffer.from(good);
            b[i] = (b[i] ?? 0) ^ x;
            return b;
          }),
          fc.nat({ max: good.length - 1 }).map((n) => good.subarray(0, n)),
        ),
        (k, gz) => {
          const helmString = gz.toString('base64');
          const release = k === 'Secret' ? Buffer.from(helmString).toString('base64') : helmString;
          decodeOrDocumentedError({ kind: k, metadata: { name: 'x', namespace: 'apps' }, data: { release } });
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('arbitrary JSON documents, properly encoded', () => {
    fc.assert(
      fc.property(kind, fc.jsonValue({ maxDepth: 4 }), (k, doc) => {
        decodeOrDocumentedError(wrap(JSON.stringify(doc), k));
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('arbitrary JSON shapes for the fields the decoder reads', () => {
    const any = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined));
    // Mostly valid, sometimes anything: so both the success path and every shape check are reached.
    const mostly = <T,>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> => fc.oneof({ arbitrary: valid, weight: 6 }, { arbitrary: any, weight: 1 });
    const file = fc.record({ name: mostly(fc.string({ maxLength: 12 })), data: mostly(fc.base64String({ maxLength: 40 })) });
    const files = mostly(fc.array(file, { maxLength: 3 }));
    const shaped = fc.record({
      name: mostly(fc.string({ minLength: 1, maxLength: 10 })),
      namespace: mostly(fc.string({ maxLength: 10 })),
      version: mostly(fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: -2, max: 0 }), fc.double())),
      info: mostly(fc.record({
        status: mostly(fc.constantFrom('deployed', 'failed', 'pending-upgrade', 'Bad Status')),
        first_deployed: mostly(fc.constantFrom('', '0001-01-01T00:00:00Z', '2026-01-02T03:04:05.123Z', 'not a time')),
        last_deployed: any,
      })),
      chart: mostly(fc.record({
        metadata: mostly(fc.record({ name: mostly(fc.string({ minLength: 1, maxLength: 8 })), version: mostly(fc.constantFrom('1.0.0', 'v2', '1.10', '')), appVersion: any, deprecated: any })),
        values: any,
        schema: mostly(fc.oneof(fc.constant(undefined), fc.base64String({ maxLength: 40 }), fc.string({ maxLength: 10 }))),
        templates: files,
        files,
        dependencies: any,
      })),
    });
    let ok = 0;
    fc.assert(
      fc.property(kind, shaped, (k, doc) => {
        if (decodeOrDocumentedError(wrap(JSON.stringify(doc), k)).ok) ok++;
      }),
      { seed: SEED, numRuns: 400 },
    );
    // The generator must also reach the success path, or the property above proves little.
    assert.ok(ok > 0, 'no generated shape decoded successfully');
  });

  it('real helm 3/4 releases with one node replaced by arbitrary JSON or removed', () => {
    const outcomes = new Set<string>();
    fc.assert(
      fc.property(
        fc.nat({ max: docs.length - 1 }).chain((d) => fc.tuple(fc.constant(d), fc.nat({ max: (docPaths[d]?.length ?? 1) - 1 }))),
        fc.jsonValue({ maxDepth: 2 }),
        fc.boolean(),
        kind,
        ([d, p], value, remove, k) => {
          const path = docPaths[d]?.[p];
          assert.ok(path);
          const out = decodeOrDocumentedError(wrap(JSON.stringify(replaceAt(docs[d], path, value, remove)), k));
          outcomes.add(out.ok ? 'ok' : out.reason);
        },
      ),
      { seed: SEED, numRuns: 400 },
    );
    assert.ok(outcomes.has('ok') && outcomes.has('invalid_shape'), `outcomes: ${[...outcomes].join(',')}`);
  });

  it('real release JSON text with byte flips, insertions and truncation', () => {
    const texts = docs.map((d) => Buffer.from(JSON.stringify(d)));
    fc.assert(
      fc.property(
        fc.nat({ max: texts.length - 1 }),
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
        kind,
        (t, flips, cut, k) => {
          const b = Buffer.from(texts[t] ?? '');
          for (const [pos, byte] of flips) b[Math.floor(pos * b.length)] = byte;
          const bytes = cut === undefined ? b : b.subarray(0, Math.floor(cut * b.length));
          decodeOrDocumentedError(wrap(bytes, k));
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('error messages never quote the release: a marker planted in any string of a mutated release stays out', () => {
    const MARK = 'Q7mrk9Z';
    let refused = 0;
    fc.assert(
      fc.property(
        fc.nat({ max: docs.length - 1 }).chain((d) => fc.tuple(fc.constant(d), fc.nat({ max: (docPaths[d]?.length ?? 1) - 1 }), fc.nat({ max: (docPaths[d]?.length ?? 1) - 1 }))),
        fc.jsonValue({ maxDepth: 2 }),
        fc.constantFrom(MARK, `${MARK}=`, `not-base64 ${MARK}`, `0001-01-01${MARK}`, `1.0.0-${MARK}`),
        kind,
        ([d, p1, p2], value, marked, k) => {
          const a = docPaths[d]?.[p1];
          const b = docPaths[d]?.[p2];
          assert.ok(a && b);
          // One node becomes anything (usually making the release invalid), another holds the marker.
          const doc = replaceAt(replaceAt(docs[d], a, value, false), b, marked, false);
          try {
            decodeStoredRelease(wrap(JSON.stringify(doc), k), LIMITS);
          } catch (err) {
            assert.ok(err instanceof ReleaseDecodeError, String(err));
            assert.ok(!err.message.includes(MARK), `message quotes the release: ${err.message}`);
            refused++;
          }
        },
      ),
      { seed: SEED, numRuns: 400 },
    );
    assert.ok(refused > 50, `only ${refused} releases were refused`);
  });

  it('the size limits hold for generated oversized input', () => {
    const out = decodeOrDocumentedError({ kind: 'ConfigMap', metadata: { name: 'x' }, data: { release: 'A'.repeat(LIMITS.maxEncodedBytes + 4) } });
    assert.deepEqual(out, { ok: false, reason: 'too_large' });
    const bomb = helmEncode(Buffer.alloc(LIMITS.maxDecodedBytes * 2, 0x20));
    assert.deepEqual(decodeOrDocumentedError({ kind: 'ConfigMap', metadata: { name: 'x' }, data: { release: bomb } }), { ok: false, reason: 'too_large' });
  });
});
