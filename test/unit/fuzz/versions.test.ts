/**
 * Properties of version handling (src/chart/version.ts) and recommendations (src/recommend/recommend.ts) on
 * generated versions, lists and constraints. The oracle is node-semver used directly, with Helm's rules
 * written out here: pre-releases only when allowed or installed, commas in constraints mean AND.
 * Fixed seed: a failure reproduces exactly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import semver from 'semver';
import { compareVersionsDesc, parseVersion, sameVersion, stripBuildMetadata } from '../../../src/chart/version.ts';
import { recommend, type PublishedVersion } from '../../../src/recommend/recommend.ts';

const SEED = 20261122;

const num = fc.nat({ max: 12 });
const preId = fc.oneof(fc.constantFrom('alpha', 'beta', 'rc', 'x-y'), fc.nat({ max: 5 }).map(String));
const pre = fc.option(fc.array(preId, { minLength: 1, maxLength: 3 }).map((ids) => ids.join('.')), { nil: undefined });
const build = fc.option(fc.stringMatching(/^[0-9a-f]{4,12}$/), { nil: undefined });

interface Gen { major: number; minor: number; patch: number; pre: string | undefined; build: string | undefined }
const gen = fc.record({ major: num, minor: num, patch: num, pre, build });
const canonical = (g: Gen): string => `${g.major}.${g.minor}.${g.patch}${g.pre ? `-${g.pre}` : ''}`;
const full = (g: Gen): string => `${canonical(g)}${g.build ? `+${g.build}` : ''}`;

/** Versions as repositories publish them: mostly strict semver, sometimes lenient or not semver at all. */
const published = fc.oneof(
  { arbitrary: gen.map(full), weight: 8 },
  { arbitrary: gen.map((g) => `v${canonical(g)}`), weight: 1 },
  { arbitrary: fc.tuple(num, num).map(([a, b]) => `${a}.${b}`), weight: 1 },
  { arbitrary: fc.constantFrom('latest', 'main', '1.2.3.4', ''), weight: 1 },
);

/** Helm-syntax constraints around the generated numbers. */
const constraint = fc.oneof(
  fc.constant(''),
  fc.constant('*'),
  fc.tuple(num, num).map(([a, b]) => `~${a}.${b}`),
  num.map((a) => `^${a}`),
  fc.tuple(gen, gen).map(([a, b]) => `>= ${canonical(a)}, < ${canonical(b)}`),
  fc.tuple(num, num).map(([a, b]) => `${a}.x || ${b}.x`),
  gen.map((g) => `<= ${canonical(g)}`),
);

describe('fuzz: versions', () => {
  it('parseVersion round-trips generated semvers, with or without v and build metadata', () => {
    fc.assert(
      fc.property(gen, (g) => {
        const s = canonical(g);
        assert.equal(parseVersion(s)?.version, s);
        assert.equal(parseVersion(`v${s}`)?.version, s);
        assert.equal(parseVersion(full(g))?.version, s);
        assert.equal(stripBuildMetadata(full(g)), s);
        assert.ok(sameVersion(full(g), `v${s}`));
        assert.equal(parseVersion(`${g.major}.${g.minor}`)?.version, `${g.major}.${g.minor}.0`);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('compareVersionsDesc is a total order consistent with semver (non-semver last)', () => {
    fc.assert(
      fc.property(published, published, published, (a, b, c) => {
        const ab = Math.sign(compareVersionsDesc(a, b));
        assert.equal(ab, -Math.sign(compareVersionsDesc(b, a)) || 0, 'antisymmetric');
        assert.equal(compareVersionsDesc(a, a), 0, 'reflexive');
        if (compareVersionsDesc(a, b) <= 0 && compareVersionsDesc(b, c) <= 0) assert.ok(compareVersionsDesc(a, c) <= 0, 'transitive');
        const pa = parseVersion(a);
        const pb = parseVersion(b);
        if (pa && pb) assert.equal(ab, Math.sign(semver.rcompare(pa, pb)));
        else if (pa) assert.equal(ab, -1);
        else if (pb) assert.equal(ab, 1);
        else assert.equal(ab, 0);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('sorting with compareVersionsDesc is newest first', () => {
    fc.assert(
      fc.property(fc.array(gen.map(canonical), { maxLength: 20 }), (vs) => {
        const sorted = [...vs].sort(compareVersionsDesc);
        assert.deepEqual(sorted, [...vs].sort(semver.rcompare));
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('recommend() stays inside the constraint and Helm pre-release rules, and counts exactly', () => {
    let withUpgrade = 0;
    let withoutUpgrade = 0;
    fc.assert(
      fc.property(
        fc.array(published, { maxLength: 15 }),
        fc.oneof({ arbitrary: gen.map(canonical), weight: 5 }, { arbitrary: published, weight: 1 }),
        constraint,
        fc.boolean(),
        (versions, installedStr, c, allowPrerelease) => {
          const list: PublishedVersion[] = versions.map((version, i) => ({ version, deprecated: i % 3 === 0 }));
          const rec = recommend({ installed: installedStr, published: list, versionConstraint: c, allowPrerelease });
          const installed = parseVersion(installedStr);
          const includePre = allowPrerelease || (installed?.prerelease.length ?? 0) > 0;
          const normalized = c.replace(/,/g, ' ').trim() || '*';
          const allowedSet = new Map<string, semver.SemVer>();
          // A repeated version counts as its first entry, deprecated or not.
          const deprecated = new Set<string>();
          versions.forEach((v, i) => {
            const p = parseVersion(v);
            if (!p || (p.prerelease.length > 0 && !includePre)) return;
            if (!semver.satisfies(p, normalized, { includePrerelease: includePre, loose: true })) return;
            if (allowedSet.has(p.version)) return;
            allowedSet.set(p.version, p);
            if (list[i]?.deprecated) deprecated.add(p.version);
          });
          const allowed = [...allowedSet.values()].sort(semver.rcompare);
          // The advice (sameMajor, upgrade, versionsBehind, major distance) never points at a deprecated version.
          const healthy = allowed.filter((a) => !deprecated.has(a.version));

          if (rec.latest) {
            const l = parseVersion(rec.latest.version);
            assert.ok(l, 'latest is semver');
            assert.ok(allowedSet.has(l.version), `latest ${rec.latest.version} is outside "${c}"`);
            assert.ok(includePre || l.prerelease.length === 0, 'pre-release suggested without opt-in');
            assert.equal(l.version, allowed[0]?.version, 'latest is the newest allowed');
          } else {
            assert.equal(allowed.length, 0, 'an allowed version exists but no latest');
          }
          if (rec.sameMajor) {
            const s = parseVersion(rec.sameMajor.version);
            assert.ok(s && allowedSet.has(s.version) && s.major === installed?.major && !deprecated.has(s.version));
            assert.equal(s.version, healthy.find((a) => a.major === s.major)?.version);
          }
          if (!installed) {
            assert.equal(rec.upgrade, undefined);
            assert.ok(rec.problem);
            return;
          }
          const greater = healthy.filter((a) => a.compare(installed) > 0);
          assert.equal(rec.upgrade === 'None', greater.length === 0, `upgrade ${String(rec.upgrade)} with ${greater.length} greater`);
          assert.equal(rec.versionsBehind, greater.length);
          if (greater.length) withUpgrade++;
          else withoutUpgrade++;
          const top = healthy[0];
          if (top && top.compare(installed) > 0) {
            const kind = top.major !== installed.major ? 'Major' : top.minor !== installed.minor ? 'Minor' : 'Patch';
            assert.equal(rec.upgrade, kind);
          }
          assert.equal(rec.majorVersionsBehind, top ? Math.max(0, top.major - installed.major) : 0);
        },
      ),
      { seed: SEED, numRuns: 1000 },
    );
    // Both sides of "upgrade is None iff nothing greater" must actually be exercised.
    assert.ok(withUpgrade > 50 && withoutUpgrade > 50, `${withUpgrade} with, ${withoutUpgrade} without upgrade`);
  });

  it('a pre-release is never suggested to a stable install without allowPrerelease', () => {
    fc.assert(
      fc.property(fc.array(gen.map(full), { minLength: 1, maxLength: 10 }), gen.filter((g) => g.pre === undefined).map(canonical), (vs, installed) => {
        const rec = recommend({ installed, published: vs.map((version) => ({ version, deprecated: false })) });
        if (rec.latest) assert.equal(parseVersion(rec.latest.version)?.prerelease.length, 0);
        if (rec.sameMajor) assert.equal(parseVersion(rec.sameMajor.version)?.prerelease.length, 0);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});
