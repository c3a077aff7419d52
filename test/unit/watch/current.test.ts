import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { currentRevisions, releaseKey, revisionRef, supersedes } from '../../../src/watch/current.ts';
import { selectCurrent } from '../../../src/watch/select-current.ts';
import type { StoredReleaseObject } from '../../../src/model/release.ts';

const stored = (kind: string, release: string, revision: number, status = 'deployed', namespace = 'apps'): StoredReleaseObject => ({
  kind,
  metadata: { name: `sh.helm.release.v1.${release}.v${revision}`, namespace, labels: { owner: 'helm', name: release, version: String(revision), status } },
});
const id = (o: StoredReleaseObject): string => `${o.kind}:${o.metadata?.namespace}/${o.metadata?.name}`;

describe('the current-revision rule', () => {
  it('reads release and revision from labels, else from the object name', () => {
    assert.deepEqual(revisionRef(stored('Secret', 'web', 2)), { namespace: 'apps', release: 'web', revision: 2, storage: 'Secret', objectName: 'sh.helm.release.v1.web.v2', status: 'deployed' });
    const unlabelled = revisionRef({ kind: 'ConfigMap', metadata: { name: 'sh.helm.release.v1.my.app.v12', namespace: 'x' } });
    assert.deepEqual([unlabelled?.release, unlabelled?.revision, unlabelled?.storage], ['my.app', 12, 'ConfigMap']);
    assert.equal(revisionRef({ metadata: { name: 'other', namespace: 'x' } }), undefined);
    assert.equal(revisionRef({ metadata: { name: 'sh.helm.release.v1.web.v0', namespace: 'x' } }), undefined);
  });

  it('is the highest revision whatever its status or driver; a tie goes to the Secret', () => {
    const ref = (kind: string, rev: number, status = 'deployed') => revisionRef(stored(kind, 'web', rev, status)) as NonNullable<ReturnType<typeof revisionRef>>;
    assert.equal(supersedes(ref('ConfigMap', 7), ref('Secret', 2)), true);
    assert.equal(supersedes(ref('Secret', 2), ref('ConfigMap', 7)), false);
    assert.equal(supersedes(ref('Secret', 3, 'failed'), ref('Secret', 2)), true);
    assert.equal(supersedes(ref('Secret', 3), ref('ConfigMap', 3)), true);
    assert.equal(supersedes(ref('ConfigMap', 3), ref('Secret', 3)), false);
    assert.equal(supersedes(ref('Secret', 3), ref('Secret', 3)), false, 'an object never replaces itself');
  });

  it('keys releases by namespace and name only', () => {
    const refs = [stored('Secret', 'web', 2), stored('ConfigMap', 'web', 7), stored('Secret', 'web', 9, 'deployed', 'other')].map((o) => revisionRef(o)).filter((r) => r !== undefined);
    const current = currentRevisions(refs);
    assert.deepEqual([...current.keys()].sort(), [releaseKey('apps', 'web'), releaseKey('other', 'web')]);
    assert.equal(current.get('apps/web')?.storage, 'ConfigMap');
  });

  it('selectCurrent (inspect) gives the same answer in any input order', () => {
    const objects = [stored('Secret', 'web', 2), stored('ConfigMap', 'web', 7), stored('ConfigMap', 'web', 6, 'superseded'), stored('Secret', 'api', 1)];
    const loose: StoredReleaseObject = { kind: 'Secret', metadata: { name: 'not-helm', namespace: 'apps' } };
    for (const input of [[...objects, loose], [loose, ...objects].reverse()]) {
      assert.deepEqual(selectCurrent(input).map(id).sort(), ['ConfigMap:apps/sh.helm.release.v1.web.v7', 'Secret:apps/not-helm', 'Secret:apps/sh.helm.release.v1.api.v1']);
    }
  });
});
