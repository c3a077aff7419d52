import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deprecationOf, isUpstreamStale, newestPublished, recommend, upgradeNotes, type PublishedVersion } from '../../../src/recommend/recommend.ts';
import { parseChanges } from '../../../src/chart/publisher-notes.ts';
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

describe('recommend: deprecation and publisher notes', () => {
  const dep = (version: string): PublishedVersion => ({ version, deprecated: true });

  it('a deprecated newest version is shown as latest but never offered as the upgrade', () => {
    // Helm's way to deprecate a chart: a last version with deprecated: true (issue #17's 0.9.0 → 1.0.0 case).
    const r = recommend({ installed: '0.9.0', published: [dep('1.0.0'), ...pub('0.9.0', '0.8.0')] });
    assert.equal(r.latest?.version, '1.0.0');
    assert.equal(r.latest?.deprecated, true);
    assert.equal(r.upgrade, 'None');
    assert.equal(r.upgradeTarget, undefined);
    assert.equal(r.versionsBehind, 0);
    assert.equal(r.majorVersionsBehind, 0);
    assert.equal(r.sameMajor?.version, '0.9.0');
    assert.deepEqual(r.newer?.map((p) => p.version), ['1.0.0']);
  });

  it('with a healthy version between, the upgrade points at it and counts only healthy versions', () => {
    const r = recommend({ installed: '1.0.0', published: [dep('2.0.0'), ...pub('1.2.0'), dep('1.1.0'), ...pub('1.0.0')] });
    assert.equal(r.latest?.version, '2.0.0');
    assert.equal(r.upgrade, 'Minor');
    assert.equal(r.upgradeTarget, '1.2.0');
    assert.equal(r.versionsBehind, 1);
    assert.equal(r.sameMajor?.version, '1.2.0');
  });

  it('artifacthub.io/prerelease makes a stable-looking version a pre-release', () => {
    const published: PublishedVersion[] = [{ version: '2.0.0', deprecated: false, notes: { prerelease: true } }, ...pub('1.0.0')];
    assert.equal(recommend({ installed: '1.0.0', published }).latest?.version, '1.0.0');
    assert.equal(recommend({ installed: '1.0.0', published, allowPrerelease: true }).latest?.version, '2.0.0');
  });

  it('deprecationOf names the installed version, the chart upstream, or both', () => {
    const chart = { name: 'web', version: '0.9.0' };
    assert.deepEqual(deprecationOf(chart, false, { version: '0.9.0', deprecated: false }), { deprecated: false });
    assert.match(deprecationOf(chart, true, { version: '0.9.0', deprecated: true }).message ?? '', /^installed version 0\.9\.0 of chart web is deprecated/);
    assert.match(deprecationOf(chart, false, dep('1.0.0')).message ?? '', /^chart web is deprecated upstream: its newest version 1\.0\.0/);
    assert.match(deprecationOf(chart, true, dep('1.0.0')).message ?? '', /installed version 0\.9\.0 is deprecated, and so is chart web upstream/);
  });

  it('newestPublished prefers stable versions; isUpstreamStale compares its age', () => {
    const list: PublishedVersion[] = [{ version: '3.0.0-rc.1', deprecated: false }, { version: '2.0.0', deprecated: false, created: '2024-01-01T00:00:00Z' }];
    assert.equal(newestPublished(list)?.version, '2.0.0');
    assert.equal(newestPublished(pub('1.0.0-rc.1'))?.version, '1.0.0-rc.1');
    const year = 8760 * 3600;
    assert.equal(isUpstreamStale(list[1], new Date('2025-06-01T00:00:00Z'), year), true);
    assert.equal(isUpstreamStale(list[1], new Date('2024-06-01T00:00:00Z'), year), false);
    assert.equal(isUpstreamStale(list[0], new Date(), year), undefined, 'unknown age: no claim');
  });

  it('upgradeNotes: changes of the newer versions, newest first, at most 20; security updates; home', () => {
    const changes = (n: number, tag: string): string => Array.from({ length: n }, (_, i) => `- kind: fixed\n  description: ${tag} fix ${i}\n  links:\n    - name: PR\n      url: https://example.com/${tag}/${i}\n`).join('');
    const newer: PublishedVersion[] = [
      { version: '1.2.0', deprecated: false, notes: { changes: changes(15, 'b'), home: 'https://user:pw@example.com/chart' } },
      { version: '1.1.0', deprecated: false, notes: { changes: changes(15, 'a'), securityUpdates: true } },
    ];
    const n = upgradeNotes(newer, newer[0]);
    assert.equal(n.changes?.length, 20);
    assert.equal(n.changes?.[0]?.description, 'b fix 0');
    assert.deepEqual(n.changes?.[0]?.links, [{ name: 'PR', url: 'https://example.com/b/0' }]);
    assert.equal(n.changes?.[15]?.description, 'a fix 0');
    assert.equal(n.securityUpdates, true);
    assert.equal(n.home, 'https://example.com/chart', 'credentials never reach a status');
    assert.deepEqual(upgradeNotes([], undefined), { changes: undefined, securityUpdates: false, home: undefined });
  });
});

describe('parseChanges', () => {
  it('reads both Artifact Hub formats and bounds what it keeps', () => {
    assert.deepEqual(parseChanges('- Plain text change\n- kind: Security\n  description: CVE-2026-1 fixed\n  links:\n    - name: Advisory\n      url: https://example.com/a\n    - name: bad\n      url: javascript:alert(1)\n'), [
      { description: 'Plain text change' },
      { kind: 'security', description: 'CVE-2026-1 fixed', links: [{ name: 'Advisory', url: 'https://example.com/a' }] },
    ]);
    const long = parseChanges(`- ${'x'.repeat(500)}\n`)[0]?.description ?? '';
    assert.equal(long.length, 200);
    assert.ok(long.endsWith('…'));
    assert.deepEqual(parseChanges('not: a list'), []);
    assert.deepEqual(parseChanges('- [unclosed'), []);
    assert.deepEqual(parseChanges('- kind: added\n'), [], 'an entry without a description is skipped');
  });
});
