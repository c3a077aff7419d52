import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { decodeStoredRelease, ReleaseDecodeError } from '../../../src/decode/decode.ts';
import { fixture, helmEncode, releaseConfigMap, releaseSecret } from '../helpers.ts';

const json = fixture('helm4/release-web-dry-run.json');

function decodeError(fn: () => unknown): ReleaseDecodeError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ReleaseDecodeError, `expected ReleaseDecodeError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a decode error');
}

describe('decodeStoredRelease', () => {
  it('decodes a Secret-stored helm 4 release (two base64 layers, gzip)', () => {
    const r = decodeStoredRelease(releaseSecret(json, 'web', 1));
    assert.deepEqual(r.release, {
      name: 'web',
      namespace: 'apps',
      revision: 1,
      status: 'pending-install',
      firstDeployed: '2026-11-22T23:39:31.815Z',
      lastDeployed: '2026-11-22T23:39:31.815Z',
      storage: 'Secret',
    });
    assert.deepEqual(r.chart, { name: 'demo', version: '0.1.0', appVersion: '1.16.0', deprecated: false });
    assert.equal(Object.keys(r.fingerprint.templates).length, 9);
    assert.deepEqual(Object.keys(r.fingerprint.files), ['.helmignore']);
  });

  it('decodes a ConfigMap-stored release (one base64 layer)', () => {
    const r = decodeStoredRelease(releaseConfigMap(json, 'web', 1));
    assert.equal(r.release.storage, 'ConfigMap');
    assert.equal(r.chart.name, 'demo');
  });

  it('keeps no values, manifest or notes', () => {
    const r = decodeStoredRelease(releaseSecret(json, 'web', 1));
    const kept = JSON.stringify(r);
    assert.ok(!kept.includes('port-forward'), 'notes leaked');
    assert.ok(!kept.includes('kind: Deployment'), 'manifest leaked');
    assert.ok(!kept.includes('nginx'), 'values leaked');
  });

  it('accepts the uncompressed JSON that very old Helm versions stored', () => {
    const obj = releaseConfigMap(json, 'web', 1);
    obj.data = { release: Buffer.from(json).toString('base64') };
    assert.equal(decodeStoredRelease(obj).chart.name, 'demo');
  });

  it('treats Helm 3 zero times ("") as absent', () => {
    const doc = JSON.parse(json.toString()) as { info: Record<string, unknown> };
    doc.info['first_deployed'] = '';
    doc.info['last_deployed'] = '0001-01-01T00:00:00Z';
    const r = decodeStoredRelease(releaseSecret(JSON.stringify(doc), 'web', 1));
    assert.equal(r.release.firstDeployed, undefined);
    assert.equal(r.release.lastDeployed, undefined);
  });

  it('names the object and the problem for each kind of bad data', () => {
    const base = releaseSecret(json, 'web', 3);
    const cases: [string, string, RegExp][] = [
      ['!!!not base64!!!', 'not_base64', /Secret apps\/sh\.helm\.release\.v1\.web\.v3: Secret data\.release is not valid base64/],
      [Buffer.from('%%%').toString('base64'), 'not_base64', /release data is not valid base64/],
      [Buffer.from(Buffer.from('not json at all').toString('base64')).toString('base64'), 'invalid_json', /not valid JSON/],
      [Buffer.from(gzipSync(json).subarray(0, 200).toString('base64')).toString('base64'), 'truncated', /truncated/],
      [Buffer.from(helmEncode('[1,2]')).toString('base64'), 'invalid_shape', /not a JSON object/],
      [Buffer.from(helmEncode('{"name":"x","version":1,"info":{"status":"deployed"}}')).toString('base64'), 'invalid_shape', /no chart/],
      [Buffer.from(helmEncode('{"name":"x","version":0}')).toString('base64'), 'invalid_shape', /positive integer/],
    ];
    for (const [data, reason, message] of cases) {
      const err = decodeError(() => decodeStoredRelease({ ...base, data: { release: data } }));
      assert.equal(err.reason, reason, data.slice(0, 20));
      assert.match(err.message, message);
    }
  });

  it('refuses a gzip bomb quickly, without inflating it', () => {
    const bomb = gzipSync(Buffer.alloc(200 * 1024 * 1024));
    const obj = releaseSecret('{}', 'bomb', 1);
    obj.data = { release: Buffer.from(bomb.toString('base64')).toString('base64') };
    const t0 = process.hrtime.bigint();
    const err = decodeError(() => decodeStoredRelease(obj, { maxEncodedBytes: 8 << 20, maxDecodedBytes: 16 << 20 }));
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.equal(err.reason, 'too_large');
    assert.ok(ms < 2000, `took ${ms} ms`);
  });

  it('refuses an oversized stored string before decoding it', () => {
    const obj = releaseSecret(json, 'web', 1);
    const err = decodeError(() => decodeStoredRelease(obj, { maxEncodedBytes: 100, maxDecodedBytes: 1 << 20 }));
    assert.equal(err.reason, 'too_large');
  });

  it('reports a missing data.release', () => {
    const err = decodeError(() => decodeStoredRelease({ kind: 'Secret', type: 'helm.sh/release.v1', metadata: { name: 'x', namespace: 'n' }, data: {} }));
    assert.equal(err.reason, 'missing_data');
    assert.equal(err.message, 'Secret n/x: has no data.release');
  });
});
