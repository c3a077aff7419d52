/**
 * Property-based fuzzing of the chart archive reader with mutations of a real chart archive
 * (webapp-1.2.0.tgz, packaged by helm): flipped and truncated gzip bytes, and — to get past gzip and the
 * tar checksum — mutated tar headers and file contents, re-checksummed and re-compressed. The reader
 * returns chart content or throws RepoError; anything else would escape the repository client.
 * Fixed seed: a failure reproduces exactly.
 */
import assert from 'node:assert/strict';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { readChartArchive } from '../../../src/chart/archive.ts';
import { RepoError } from '../../../src/model/repository.ts';
import { fixture } from '../helpers.ts';

const SEED = 20261122;
const LIMITS = { repository: 'fuzz', maxArchiveBytes: 64 * 1024, maxTotalBytes: 512 * 1024, maxFileBytes: 64 * 1024, maxEntries: 64 };
const tgz = fixture('repo/webapp-1.2.0.tgz');
const tar = gunzipSync(tgz);

type Outcome = { ok: true } | { ok: false; reason: string };

function readOrRepoError(bytes: Uint8Array): Outcome {
  const started = performance.now();
  try {
    const content = readChartArchive(bytes, LIMITS);
    assert.ok(content.metadata !== null && typeof content.metadata === 'object');
    for (const f of [...content.templates, ...content.files]) {
      assert.ok(!f.name.startsWith('/') && !f.name.split('/').includes('..'), `unsafe path ${f.name}`);
    }
    return { ok: true };
  } catch (err) {
    if (!(err instanceof RepoError)) {
      assert.fail(`expected RepoError, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    }
    assert.ok(err.reason === 'invalid_archive' || err.reason === 'too_large', `unexpected reason ${err.reason}`);
    return { ok: false, reason: err.reason };
  } finally {
    assert.ok(performance.now() - started < 2000, 'one archive took over 2 s');
  }
}

/** Offsets of the headers in the unmutated tar, so that mutations can aim at header fields. */
const headers: number[] = [];
for (let off = 0; off + 512 <= tar.length; ) {
  const h = tar.subarray(off, off + 512);
  if (h.every((b) => b === 0)) break;
  headers.push(off);
  const size = parseInt(h.subarray(124, 136).toString('latin1').replace(/\0.*$/, '').trim() || '0', 8);
  off += 512 + Math.ceil(size / 512) * 512;
}

function fixChecksum(t: Buffer, off: number): void {
  const h = t.subarray(off, off + 512);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
}

// Header fields: name, mode, size, typeflag, linkname, magic, prefix.
const FIELDS = [[0, 100], [100, 8], [124, 12], [156, 1], [157, 100], [257, 8], [345, 155]] as const;
const interesting = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 12 }),
  fc.constantFrom('../', '/etc/passwd', 'webapp/../../x', '\0', '1', '2', '5', 'x', 'L', 'g', '77777777777', '99999999999', ' ', '-1', 'ustar\0', 'charts/', 'Chart.yaml', 'values.yaml')
    .map((s) => new Uint8Array(Buffer.from(s, 'latin1'))),
);

describe('fuzz: readChartArchive', () => {
  it('the real archive reads (the mutations below start from valid input)', () => {
    assert.deepEqual(readOrRepoError(tgz), { ok: true });
    assert.ok(headers.length >= 3, `only ${headers.length} tar headers found`);
  });

  it('arbitrary bytes, with and without a gzip header', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.boolean(), (b, gz) => {
        readOrRepoError(gz ? Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0]), b]) : b);
        readOrRepoError(gzipSync(b));
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('the real .tgz with flipped bytes or truncated', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: tgz.length - 1 }), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }),
        fc.option(fc.nat({ max: tgz.length }), { nil: undefined }),
        (flips, cut) => {
          const b = Buffer.from(tgz);
          for (const [i, x] of flips) b[i] = (b[i] ?? 0) ^ x;
          readOrRepoError(cut === undefined ? b : b.subarray(0, cut));
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('the real tar with mutated header fields (checksums fixed) and mutated file data, re-compressed', () => {
    const outcomes = new Set<string>();
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('header' as const), h: fc.nat({ max: headers.length - 1 }), field: fc.nat({ max: FIELDS.length - 1 }), at: fc.nat({ max: 99 }), bytes: interesting }),
            fc.record({ kind: fc.constant('data' as const), at: fc.nat({ max: tar.length - 1 }), bytes: interesting }),
          ),
          { minLength: 1, maxLength: 4 },
        ),
        fc.option(fc.nat({ max: tar.length }), { nil: undefined }),
        (mutations, cut) => {
          const t = Buffer.from(tar);
          for (const m of mutations) {
            if (m.kind === 'header') {
              const off = headers[m.h] ?? 0;
              const [start, len] = FIELDS[m.field] ?? [0, 100];
              const at = start + (m.at % len);
              t.set(m.bytes.subarray(0, start + len - at), off + at);
              fixChecksum(t, off);
            } else {
              t.set(m.bytes.subarray(0, t.length - m.at), m.at);
              // Keep headers valid so that a data mutation that lands in one still reaches past the checksum.
              for (const off of headers) fixChecksum(t, off);
            }
          }
          const out = readOrRepoError(gzipSync(cut === undefined ? t : t.subarray(0, cut)));
          outcomes.add(out.ok ? 'ok' : out.reason);
        },
      ),
      { seed: SEED, numRuns: 400 },
    );
    assert.ok(outcomes.has('ok') && outcomes.has('invalid_archive'), `outcomes: ${[...outcomes].join(',')}`);
  });

  it('limits hold: a gzip bomb and too many entries are too_large', () => {
    assert.deepEqual(readOrRepoError(gzipSync(Buffer.alloc(LIMITS.maxTotalBytes * 2))), { ok: false, reason: 'too_large' });
    const dirs = Buffer.concat(Array.from({ length: LIMITS.maxEntries + 1 }, (_, i) => {
      const h = Buffer.alloc(512);
      h.write(`webapp/d${i}/`, 0, 'latin1');
      h.write('0000755\0', 100, 'latin1');
      h.write('00000000000\0', 124, 'latin1');
      h.write('5', 156, 'latin1');
      fixChecksum(h, 0);
      return h;
    }));
    assert.deepEqual(readOrRepoError(gzipSync(dirs)), { ok: false, reason: 'too_large' });
  });
});
