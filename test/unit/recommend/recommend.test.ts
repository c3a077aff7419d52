import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { recommend, type PublishedVersion } from '../../../src/recommend/recommend.ts';
import { compareVersionsDesc, parseVersion, sameVersion, stripBuildMetadata } from '../../../src/chart/version.ts';

const pub = (...vs: string[]): PublishedVersion[] => vs.map((version) => ({ version, deprecated: false }));

describe('versions', () => {
  it('parses leniently like Helm', () => {
    assert.equal(parseVersion('v1.2')?.version, '1.2.0');
    assert.equal(parseVersion('3')?.version, '3.0.0');
    assert.equal(parseVersion('1.2.3-rc.1+abc')?.version, '1.2.3-rc.1');
    assert.equal(parseVersion('latest'), undefined);
  });
  it('strips Flux build metadata and matches versions', () => {
    assert.equal(stripBuildMetadata('6.5.0+a1b2c3d4e5f6'), '6.5.0');
    assert.ok(sameVersion('v1.2', '1.2.0'));
    assert.ok(!sameVersion('1.2.0-rc.1', '1.2.0'));
  });
  it('sorts newest first with non-semver last', () => {
    assert.deepEqual(['1.0.0', 'banana', '2.0.0', '1.10.0', '1.9.0'].sort(compareVersionsDesc), ['2.0.0', '1.10.0', '1.9.0', '1.0.0', 'banana']);
  });
});

describe('recommend', () => {
  const versions = pub('3.0.0-rc.1', '2.1.0', '2.0.0', '1.2.0', '1.1.0', '1.0.0');

  it('finds latest, same-major latest, jump size and distance', () => {
    const r = recommend({ installed: '1.1.0', published: versions });
    assert.equal(r.latest?.version, '2.1.0');
    assert.equal(r.sameMajor?.version, '1.2.0');
    assert.equal(r.upgrade, 'Major');
    assert.equal(r.versionsBehind, 3);
    assert.equal(r.majorVersionsBehind, 1);
  });

  it('never suggests a pre-release unless allowed', () => {
    assert.equal(recommend({ installed: '2.1.0', published: versions }).upgrade, 'None');
    const allowed = recommend({ installed: '2.1.0', published: versions, allowPrerelease: true });
    assert.equal(allowed.latest?.version, '3.0.0-rc.1');
    assert.equal(allowed.upgrade, 'Major');
  });

  it('considers pre-releases when the installed version is one', () => {
    const r = recommend({ installed: '3.0.0-rc.0', published: versions });
    assert.equal(r.latest?.version, '3.0.0-rc.1');
    assert.equal(r.upgrade, 'Patch');
  });

  it('keeps every recommendation inside the constraint', () => {
    const r = recommend({ installed: '1.0.0', published: versions, versionConstraint: '~1.1' });
    assert.equal(r.latest?.version, '1.1.0');
    assert.equal(r.upgrade, 'Minor');
    assert.equal(r.versionsBehind, 1);
    const comma = recommend({ installed: '1.0.0', published: versions, versionConstraint: '>= 1.0.0, < 2.0.0' });
    assert.equal(comma.latest?.version, '1.2.0');
  });

  it('reports an invalid constraint instead of guessing', () => {
    const r = recommend({ installed: '1.0.0', published: versions, versionConstraint: '>>>nonsense' });
    assert.equal(r.latest, undefined);
    assert.match(r.problem ?? '', /not a valid semver range/);
  });

  it('says None and 0 when up to date, and carries created/deprecated of latest', () => {
    const r = recommend({ installed: '2.1.0', published: [{ version: '2.1.0', deprecated: true, created: '2026-01-01T00:00:00Z' }] });
    assert.equal(r.upgrade, 'None');
    assert.equal(r.versionsBehind, 0);
    assert.deepEqual(r.latest, { version: '2.1.0', appVersion: undefined, created: '2026-01-01T00:00:00Z', deprecated: true });
    assert.equal(r.installedEntry?.deprecated, true);
  });

  it('classifies minor and patch jumps', () => {
    assert.equal(recommend({ installed: '1.0.0', published: pub('1.0.1') }).upgrade, 'Patch');
    assert.equal(recommend({ installed: '1.0.0', published: pub('1.3.0', '1.0.1') }).upgrade, 'Minor');
  });
});
