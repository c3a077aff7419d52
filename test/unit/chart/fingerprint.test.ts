import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { metadataDigest, valuesDigest } from '../../../src/chart/fingerprint.ts';
import { seededRandom } from '../../support/random.ts';

/**
 * The definition the digests are made of, written plainly: keys sorted by code unit at every level, undefined
 * written as null, objects that are not arrays reduced to their own enumerable keys (whatever their prototype
 * or toJSON). fingerprint.ts may take a faster path; its digests must not differ from this one's.
 */
function referenceJson(v: unknown): string {
  if (v === undefined) return 'null';
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(referenceJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${referenceJson(o[k])}`)
    .join(',')}}`;
}
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

// Keys that sort differently by code unit, by number and by locale; a lone surrogate; an empty key.
const KEYS = ['a', 'B', 'b', 'z', '10', '9', '0', 'é', 'Z', '\u{1F600}', '\uFFFD', '\uD800', '', 'image', 'tag', 'a.b', '-x'];

function value(next: () => number, depth: number): unknown {
  const r = next();
  if (depth <= 0 || r < 0.35) {
    const leaves = [null, true, false, 0, -0, 1.5, 1e21, Number.NaN, 'text', 'ünïcode', '\u2028', '', undefined];
    return leaves[Math.floor(next() * leaves.length)];
  }
  if (r < 0.5) return Array.from({ length: Math.floor(next() * 4) }, () => value(next, depth - 1));
  if (r < 0.53) return new Date(0);
  if (r < 0.56) return { toJSON: 'not a function here', x: 1 };
  const keys = KEYS.filter(() => next() < 0.3);
  // Mostly sorted as Helm stores them (Go sorts map keys), sometimes in file order.
  if (next() < 0.7) keys.sort();
  const o: Record<string, unknown> = next() < 0.05 ? (Object.create(null) as Record<string, unknown>) : {};
  for (const k of keys) o[k] = value(next, depth - 1);
  return o;
}

describe('chart fingerprints: canonical JSON', () => {
  it('digests values exactly as the sorted-key definition does, whatever order and shape they come in', () => {
    const next = seededRandom(19);
    let sortedObjects = 0;
    for (let i = 0; i < 3000; i++) {
      const v = value(next, 4);
      const expected = sha256(referenceJson(v === undefined || v === null ? {} : v));
      assert.equal(valuesDigest(v), expected, `case ${i}: ${referenceJson(v)}`);
      if (v && typeof v === 'object' && !Array.isArray(v) && JSON.stringify(v) === referenceJson(v)) sortedObjects++;
    }
    // Both paths were taken: already-canonical trees and ones that had to be sorted.
    assert.ok(sortedObjects > 100 && sortedObjects < 2900, `${sortedObjects} of 3000 already canonical`);
  });

  it('gives metadata the same digest whether Helm stored it (sorted) or Chart.yaml listed it (file order)', () => {
    // A release Secret helm 4 wrote: base64 (the Secret) of base64 of gzip of the release JSON.
    const secret = JSON.parse(readFileSync(new URL('../../fixtures/releases/helm4-secret-installed-upgraded-web.v1.json', import.meta.url), 'utf8')) as { data: { release: string } };
    const stored = JSON.parse(gunzipSync(Buffer.from(Buffer.from(secret.data.release, 'base64').toString('latin1'), 'base64')).toString('utf8')) as { chart: { metadata: Record<string, unknown> } };
    const meta = stored.chart.metadata;
    assert.ok(Object.keys(meta).length > 4);
    const reversed = Object.fromEntries(Object.entries(meta).reverse());
    assert.notDeepEqual(Object.keys(reversed), Object.keys(meta));
    assert.equal(metadataDigest(reversed), metadataDigest(meta));
    // A changed field still changes the digest.
    assert.notEqual(metadataDigest({ ...meta, description: `${String(meta['description'])}!` }), metadataDigest(meta));
  });
});
