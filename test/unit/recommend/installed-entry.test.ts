/** recommend() finds the installed version's entry with Helm's lookup: the exact version string first. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { recommend, type PublishedVersion } from '../../../src/recommend/recommend.ts';

const entry = (version: string, created: string, extra: Partial<PublishedVersion> = {}): PublishedVersion => ({ version, created, deprecated: false, ...extra });

describe('recommend: installedEntry', () => {
  const published = [
    entry('1.0.0+build.2', '2026-02-01T00:00:00Z', { deprecated: true }),
    entry('1.0.0+build.1', '2026-01-01T00:00:00Z'),
    entry('v2.0.0', '2026-03-01T00:00:00Z'),
    entry('2.0.0', '2026-04-01T00:00:00Z'),
  ];

  it('is the entry with the exact version string, not the first semver-equal one', () => {
    assert.equal(recommend({ installed: '1.0.0+build.1', published }).installedEntry?.created, '2026-01-01T00:00:00Z');
    assert.equal(recommend({ installed: '2.0.0', published }).installedEntry?.created, '2026-04-01T00:00:00Z');
    assert.equal(recommend({ installed: 'v2.0.0', published }).installedEntry?.created, '2026-03-01T00:00:00Z');
  });

  it('is a semver-equal entry only when it is the one such entry', () => {
    assert.equal(recommend({ installed: '1.0.0', published }).installedEntry, undefined, 'two 1.0.0 builds: neither is known to be it');
    assert.equal(recommend({ installed: '2.0.0+abc', published: published.slice(2, 3) }).installedEntry?.version, 'v2.0.0');
  });

  it('the advice is computed from the installed version either way', () => {
    const r = recommend({ installed: '1.0.0+build.1', published });
    assert.equal(r.upgrade, 'Major');
    assert.equal(r.versionsBehind, 1);
  });
});
