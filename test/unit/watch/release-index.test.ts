import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReleaseIndex } from '../../../src/watch/release-index.ts';
import type { ObjectMeta } from '../../../src/kube/reflector.ts';

const obj = (release: string, rev: number, rv = String(rev), namespace = 'apps'): ObjectMeta => ({
  name: `sh.helm.release.v1.${release}.v${rev}`,
  namespace,
  labels: { name: release, owner: 'helm', version: String(rev), status: 'deployed' },
  resourceVersion: rv,
  generation: 0,
});

describe('ReleaseIndex', () => {
  it('tracks the highest revision and signals when it changes', () => {
    const changed: string[] = [];
    const idx = new ReleaseIndex((k) => changed.push(k));
    idx.upsert('Secret', obj('web', 1));
    idx.upsert('Secret', obj('web', 2));
    assert.equal(idx.current('apps/web')?.revision, 2);
    assert.equal(idx.current('apps/web')?.objectName, 'sh.helm.release.v1.web.v2');
    // helm marks v1 superseded: not the current revision, no work
    changed.length = 0;
    idx.upsert('Secret', obj('web', 1, '99'));
    assert.deepEqual(changed, []);
    // an edit of the current revision (status pending → deployed) is work
    idx.upsert('Secret', obj('web', 2, '100'));
    assert.deepEqual(changed, ['apps/web']);
  });

  it('falls back to the previous revision when the newest is deleted, and reports uninstall', () => {
    const changed: string[] = [];
    const idx = new ReleaseIndex((k) => changed.push(k));
    idx.upsert('Secret', obj('web', 1));
    idx.upsert('Secret', obj('web', 2));
    changed.length = 0;
    idx.remove('Secret', obj('web', 2));
    assert.equal(idx.current('apps/web')?.revision, 1);
    assert.deepEqual(changed, ['apps/web']);
    idx.remove('Secret', obj('web', 1));
    assert.equal(idx.current('apps/web'), undefined);
    assert.equal(idx.size, 0);
  });

  it('ignores objects that are not Helm revisions, and keys by namespace', () => {
    const idx = new ReleaseIndex(() => {});
    idx.upsert('Secret', { name: 'random', namespace: 'x', labels: {}, resourceVersion: '1', generation: 0 });
    idx.upsert('ConfigMap', obj('web', 1, '1', 'other'));
    assert.equal(idx.size, 1);
    assert.equal(idx.current('other/web')?.storage, 'ConfigMap');
  });
});

describe('ReleaseIndex across storage drivers', () => {
  it('is one release when a Secret and a ConfigMap hold revisions of it; the highest revision is current', () => {
    const changed: string[] = [];
    const idx = new ReleaseIndex((k) => changed.push(k));
    idx.upsert('Secret', obj('web', 2));
    idx.upsert('ConfigMap', obj('web', 7));
    assert.equal(idx.size, 1);
    assert.deepEqual([idx.current('apps/web')?.storage, idx.current('apps/web')?.revision], ['ConfigMap', 7]);
    // Deleting the Secret's older revision changes nothing; deleting the ConfigMap's falls back to the Secret.
    changed.length = 0;
    idx.remove('Secret', obj('web', 2));
    assert.deepEqual(changed, []);
    idx.upsert('Secret', obj('web', 2));
    idx.remove('ConfigMap', obj('web', 7));
    assert.deepEqual([idx.current('apps/web')?.storage, idx.current('apps/web')?.revision], ['Secret', 2]);
    assert.deepEqual(changed, ['apps/web']);
  });

  it('keeps both objects of one revision number apart and prefers the Secret', () => {
    const idx = new ReleaseIndex(() => {});
    idx.upsert('ConfigMap', obj('web', 3));
    idx.upsert('Secret', obj('web', 3));
    assert.equal(idx.current('apps/web')?.storage, 'Secret');
    // A delete names its driver: removing the ConfigMap leaves the Secret, and the other way round.
    idx.remove('ConfigMap', obj('web', 3));
    assert.equal(idx.current('apps/web')?.storage, 'Secret');
    idx.upsert('ConfigMap', obj('web', 3));
    idx.remove('Secret', obj('web', 3));
    assert.equal(idx.current('apps/web')?.storage, 'ConfigMap');
  });
});
