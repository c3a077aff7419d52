import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeCurrentReleases } from '../../../src/watch/decode-current.ts';
import type { ReleaseRecord, StoredReleaseObject } from '../../../src/model/release.ts';
import { fixture, releaseConfigMap, releaseSecret } from '../helpers.ts';

// Real helm 4 release JSON; only name, revision and status differ between the objects below.
const base = JSON.parse(fixture('helm4/release-web-dry-run.json').toString('utf8')) as Record<string, unknown> & { info: Record<string, unknown> };
const json = (name: string, revision: number, status = 'deployed'): string => JSON.stringify({ ...base, name, namespace: 'apps', version: revision, info: { ...base.info, status } });
const secret = (name: string, revision: number, status = 'deployed'): StoredReleaseObject => releaseSecret(json(name, revision, status), name, revision);
const broken = (name: string, revision: number): StoredReleaseObject => ({ ...secret(name, revision), data: { release: '!!!not base64!!!' } });

async function* pagesOf(...pages: StoredReleaseObject[][]): AsyncGenerator<StoredReleaseObject[]> {
  for (const p of pages) yield p;
}

const summary = (r: ReleaseRecord): string => `${r.release.storage}:${r.release.name}@${r.release.revision}/${r.release.status}`;

describe('decodeCurrentReleases', () => {
  it('keeps the highest revision per release across pages and storage drivers: one release per namespace and name', async () => {
    const seen: ReleaseRecord[] = [];
    const { records, errors } = await decodeCurrentReleases(
      pagesOf(
        [secret('web', 1), secret('api', 3)],
        // A failed upgrade listed after the deployed revision it sits beside.
        [secret('web', 2, 'failed'), secret('api', 2)],
        [releaseConfigMap(json('web', 7), 'web', 7)],
      ),
      (r) => seen.push(r),
    );
    assert.deepEqual(errors, []);
    // web lives in both drivers: the ConfigMap's revision 7 is current, the Secret's revision 2 is history.
    assert.deepEqual(records.map(summary).sort(), ['ConfigMap:web@7/deployed', 'Secret:api@3/deployed']);
    // Every decoded record was offered for early analysis, the replaced web@1 included; api@2 never was.
    assert.deepEqual(seen.map(summary).sort(), ['ConfigMap:web@7/deployed', 'Secret:api@3/deployed', 'Secret:web@1/deployed', 'Secret:web@2/failed']);
  });

  it('prefers the Secret when both drivers hold the same revision, in either listing order', async () => {
    for (const order of [['Secret', 'ConfigMap'], ['ConfigMap', 'Secret']]) {
      const objects = order.map((kind) => (kind === 'Secret' ? secret('web', 3, 'failed') : releaseConfigMap(json('web', 3), 'web', 3)));
      const { records } = await decodeCurrentReleases(pagesOf([objects[0] as StoredReleaseObject], [objects[1] as StoredReleaseObject]));
      assert.deepEqual(records.map(summary), ['Secret:web@3/failed'], order.join(' then '));
    }
  });

  it('decodes only the best of a page: a lower revision in the same page is never decoded', async () => {
    const seen: ReleaseRecord[] = [];
    const { records, errors } = await decodeCurrentReleases(pagesOf([broken('web', 1), secret('web', 2)]), (r) => seen.push(r));
    assert.deepEqual(errors, [], 'the corrupt revision 1 was superseded in its own page');
    assert.deepEqual(records.map(summary), ['Secret:web@2/deployed']);
    assert.equal(seen.length, 1);
  });

  it('reports a current revision that does not decode, and drops the error of one replaced later', async () => {
    const { records, errors } = await decodeCurrentReleases(pagesOf([broken('old', 1), broken('bad', 4)], [secret('old', 2)]));
    assert.deepEqual(records.map(summary), ['Secret:old@2/deployed']);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.reason, 'not_base64');
    assert.match(errors[0]?.message ?? '', /^Secret apps\/sh\.helm\.release\.v1\.bad\.v4: /);
  });

  it('decodes objects without release name or revision on their own', async () => {
    const loose = { ...secret('x', 1), metadata: { name: 'renamed-by-hand', namespace: 'apps' } };
    const { records } = await decodeCurrentReleases(pagesOf([loose, secret('x', 1)]));
    assert.deepEqual(records.map(summary).sort(), ['Secret:x@1/deployed', 'Secret:x@1/deployed']);
  });

  it('hands each record its storage key — the storing object\'s namespace and release, the controller\'s key — not the namespace Helm\'s JSON names (helm-controller stores a targetNamespace release in the HelmRelease\'s namespace)', async () => {
    // The release says namespace apps (its targetNamespace); its Secret is in team-a.
    const stored = secret('web', 1);
    const moved = { ...stored, metadata: { ...stored.metadata, namespace: 'team-a' } };
    const loose = { ...secret('x', 1), metadata: { name: 'renamed-by-hand', namespace: 'apps' } };
    const seen: [string, string | undefined][] = [];
    await decodeCurrentReleases(pagesOf([moved, loose]), (r, key) => seen.push([`${r.release.namespace}/${r.release.name}`, key]));
    assert.deepEqual(seen, [['apps/web', 'team-a/web'], ['apps/x', undefined]]);
  });
});
