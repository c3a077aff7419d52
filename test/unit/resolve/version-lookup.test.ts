/**
 * Which published entry an installed chart version is compared with: Helm's lookup (exact version string
 * first, semver equality only without one), and no Mismatch from an entry that was merely semver-equal.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { versionCandidates } from '../../../src/chart/version.ts';
import { readChartArchive } from '../../../src/chart/archive.ts';
import { fingerprintChart } from '../../../src/chart/fingerprint.ts';
import { parseIndex } from '../../../src/sources/http/index-parse.ts';
import { analyzeRelease } from '../../../src/resolve/analyze.ts';
import { analyzeDeclared } from '../../../src/resolve/declared.ts';
import { MAX_SAME_VERSION_CANDIDATES } from '../../../src/resolve/candidates.ts';
import { PublishedChartCache } from '../../../src/resolve/chart-cache.ts';
import type { ChartSource, ChartVersionEntry } from '../../../src/model/repository.ts';
import type { ReleaseRecord } from '../../../src/model/release.ts';
import { tgz } from '../chart/tar-writer.ts';

const REPO = 'https://charts.example.com/r';

/** The index from the review: two builds of 1.0.0, 2.0.0 with and without a `v`. */
const INDEX = ['1.0.0+build.2', '1.0.0+build.1', 'v2.0.0', '2.0.0'];

function indexOf(versions: readonly string[]): ChartVersionEntry[] {
  const text = `apiVersion: v1\nentries:\n  app:\n${versions.map((v) => `  - {name: app, version: "${v}", urls: [app-${v}.tgz]}\n`).join('')}`;
  return parseIndex(Buffer.from(text), { repository: 'r', repoUrl: REPO }).get('app') ?? [];
}

/** A chart whose Chart.yaml says `version` and whose template names `build` (each build differs). */
function chartBytes(version: string, build = version): Buffer {
  return tgz([
    { name: 'app/Chart.yaml', data: `apiVersion: v2\nname: app\nversion: ${JSON.stringify(version)}\n` },
    { name: 'app/values.yaml', data: 'a: 1\n' },
    { name: 'app/templates/cm.yaml', data: `kind: ConfigMap\nbuild: ${build}\n` },
  ]);
}

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Fake {
  source: ChartSource;
  fetched: string[];
}

/** An in-memory repository: each listed version serves chartBytes(version) unless `tarballs` says otherwise. */
function fakeSource(versions: readonly string[], options: { kind?: 'http' | 'oci'; tarballs?: Record<string, Buffer> } = {}): Fake {
  const kind = options.kind ?? 'http';
  const bytesOf = (e: ChartVersionEntry): Buffer => options.tarballs?.[e.version] ?? chartBytes(e.version);
  // An index advertises each tarball's digest (so an arbitrary pick would be named as the origin's).
  const entries = kind === 'http' ? indexOf(versions).map((e) => ({ ...e, digest: sha(bytesOf(e)) })) : versions.map((version) => ({ name: 'app', version, deprecated: false, urls: [`oci://reg.example/charts/app:${version.replace(/\+/g, '_')}`] }));
  const fetched: string[] = [];
  const source: ChartSource = {
    config: { name: 'r', url: kind === 'http' ? REPO : 'oci://reg.example/charts', priority: 0, intervalSeconds: 3600, insecureSkipTLSVerify: false, plainHTTP: false },
    kind,
    versions: async () => entries,
    details: async (e) => e,
    fetchChart: async (e) => {
      fetched.push(e.version);
      const bytes = bytesOf(e);
      return { bytes, tarballDigest: sha(bytes), manifestDigest: kind === 'oci' ? `sha256:${createHash('sha256').update(`manifest ${e.version}`).digest('hex')}` : undefined };
    },
    repoURL: () => (kind === 'http' ? REPO : 'oci://reg.example/charts/app'),
    probe: async () => ({ charts: 1, changed: false }),
    close: async () => {},
  };
  return { source, fetched };
}

const manifestOf = (version: string): string => `sha256:${createHash('sha256').update(`manifest ${version}`).digest('hex')}`;

/** The release Helm would store after installing `bytes` (its Chart.yaml version is the installed version). */
function installed(bytes: Buffer, extra: Partial<ReleaseRecord> = {}): ReleaseRecord {
  const content = readChartArchive(bytes);
  return {
    release: { name: 'app', namespace: 'apps', revision: 1, status: 'deployed', storage: 'Secret' },
    chart: { name: 'app', version: String(content.metadata['version']), deprecated: false },
    fingerprint: fingerprintChart(content),
    ...extra,
  };
}

async function analyze(record: ReleaseRecord, fake: Fake, verify?: boolean) {
  return (await analyzeRelease(record, { sources: [fake.source], cache: new PublishedChartCache(), verify, now: () => new Date('2026-01-01T00:00:00Z') })).report;
}

describe('versionCandidates: the installed version looked up as Helm resolves it', () => {
  const idx = indexOf(INDEX);
  const look = (v: string, rebuilt = false): string[] => versionCandidates(idx, v, rebuilt).map((e) => e.version);

  it('an exact version string wins over semver-equal builds and v-prefixed twins', () => {
    assert.deepEqual(look('1.0.0+build.1'), ['1.0.0+build.1']);
    assert.deepEqual(look('1.0.0+build.2'), ['1.0.0+build.2']);
    assert.deepEqual(look('2.0.0'), ['2.0.0']);
    assert.deepEqual(look('v2.0.0'), ['v2.0.0']);
  });

  it('falls back to semver equality only without an exact entry, and then returns every such entry', () => {
    assert.deepEqual(look('1.0.0').sort(), ['1.0.0+build.1', '1.0.0+build.2']);
    assert.deepEqual(look('1.0.0+build.9').sort(), ['1.0.0+build.1', '1.0.0+build.2']);
    assert.deepEqual(look('v1.0.0').sort(), ['1.0.0+build.1', '1.0.0+build.2']);
    assert.deepEqual(versionCandidates(indexOf(['v2.0.0', '1.0.0']), '2.0.0+abc').map((e) => e.version), ['v2.0.0']);
    assert.deepEqual(look('1.0.0-rc.1'), [], 'a pre-release is another version');
    assert.deepEqual(look('3.0.0'), []);
  });

  it('a version rebuilt by Flux may come from any semver-equal entry, the exact one first', () => {
    assert.deepEqual(look('1.0.0+build.1', true), ['1.0.0+build.1', '1.0.0+build.2']);
    assert.deepEqual(look('2.0.0+0123456789ab', true).sort(), ['2.0.0', 'v2.0.0']);
  });

  it('an OCI tag spells + as _', () => {
    assert.deepEqual(look('1.0.0_build.1'), ['1.0.0+build.1']);
  });
});

describe('analyzeRelease compares the installed chart with the entry Helm installed', () => {
  it('1.0.0+build.1 is proven against app-1.0.0+build.1.tgz, not the first 1.0.0 build listed', async () => {
    const fake = fakeSource(INDEX);
    const bytes = chartBytes('1.0.0+build.1');
    const report = await analyze(installed(bytes), fake);
    assert.equal(report.origin.match, 'Verified', report.origin.message);
    assert.equal(report.origin.tarballDigest, sha(bytes));
    assert.deepEqual(fake.fetched, ['1.0.0+build.1']);
  });

  it('2.0.0 is proven against app-2.0.0.tgz and v2.0.0 against app-v2.0.0.tgz', async () => {
    for (const v of ['2.0.0', 'v2.0.0']) {
      const fake = fakeSource(INDEX);
      const bytes = chartBytes(v);
      const report = await analyze(installed(bytes), fake);
      assert.equal(report.origin.match, 'Verified', `${v}: ${report.origin.message ?? ''}`);
      assert.equal(report.origin.tarballDigest, sha(bytes));
      assert.deepEqual(fake.fetched, [v]);
    }
  });

  it('a tampered chart under an exactly published version is still a Mismatch', async () => {
    const report = await analyze(installed(chartBytes('1.0.0+build.1', 'evil')), fakeSource(INDEX));
    assert.equal(report.origin.match, 'Mismatch');
    assert.equal(report.origin.repository, 'r');
    assert.match(report.origin.message ?? '', /templates\/cm\.yaml/);
  });

  it('several semver-equal builds and none exact, none equal: not a Mismatch (which one was installed is unknown)', async () => {
    const fake = fakeSource(['1.0.0+build.2', '1.0.0+build.1']);
    const report = await analyze(installed(chartBytes('1.0.0+build.9', '1.0.0+build.1')), fake);
    assert.notEqual(report.origin.match, 'Mismatch');
    assert.equal(report.origin.match, 'Unverified');
    assert.equal(report.origin.tarballDigest, undefined, 'no arbitrary build is named as the origin tarball');
    assert.match(report.origin.message ?? '', /2 published entries may be version 1\.0\.0\+build\.9/);
    assert.deepEqual([...fake.fetched].sort(), ['1.0.0+build.1', '1.0.0+build.2']);
  });

  it('several semver-equal entries and none exact: each is tried, the one with equal content is Verified', async () => {
    // Build metadata added after publishing (not by Flux): 1.0.0+abc is app-1.0.0.tgz, not app-v1.0.0.tgz.
    const published = chartBytes('1.0.0', 'same');
    const fake = fakeSource(['v1.0.0', '1.0.0'], { tarballs: { '1.0.0': published } });
    const report = await analyze(installed(tgz([
      { name: 'app/Chart.yaml', data: 'apiVersion: v2\nname: app\nversion: "1.0.0+abc"\n' },
      { name: 'app/values.yaml', data: 'a: 1\n' },
      { name: 'app/templates/cm.yaml', data: 'kind: ConfigMap\nbuild: same\n' },
    ])), fake);
    assert.equal(report.origin.match, 'Verified', report.origin.message);
    assert.equal(report.origin.tarballDigest, sha(published));
  });

  it('a single semver-equal entry is still compared, so a Flux build that differs stays a Mismatch', async () => {
    const record = installed(chartBytes('2.0.0+0123456789ab', 'evil'), { flux: { namespace: 'flux-system', name: 'app' } });
    const report = await analyze(record, fakeSource(['2.0.0', '1.0.0']));
    assert.equal(report.origin.match, 'Mismatch');
  });

  it('a Flux build is proven against a published entry that is not its exact version string', async () => {
    // helm-controller replaced the build metadata of app-1.0.0.tgz; the index also has an unrelated 1.0.0+build.1.
    const published = chartBytes('1.0.0', 'same');
    const fake = fakeSource(['1.0.0+build.1', '1.0.0'], { tarballs: { '1.0.0': published } });
    const record = installed(tgz([
      { name: 'app/Chart.yaml', data: 'apiVersion: v2\nname: app\nversion: "1.0.0+build.1"\n' },
      { name: 'app/values.yaml', data: 'a: 1\n' },
      { name: 'app/templates/cm.yaml', data: 'kind: ConfigMap\nbuild: same\n' },
    ]), { flux: { namespace: 'flux-system', name: 'app' } });
    const report = await analyze(record, fake);
    assert.equal(report.origin.match, 'Verified', report.origin.message);
    assert.equal(report.origin.tarballDigest, sha(published));
    assert.deepEqual(fake.fetched, ['1.0.0+build.1', '1.0.0'], 'the exact entry first');
  });

  it('GitLab-style builds: at most MAX_SAME_VERSION_CANDIDATES downloads, and no Mismatch', async () => {
    const builds = Array.from({ length: 12 }, (_, i) => `1.0.0+${(i + 1).toString(16).padStart(8, '0')}`);
    const fake = fakeSource(builds);
    const report = await analyze(installed(chartBytes('1.0.0+ffffffff')), fake);
    assert.equal(report.origin.match, 'Unverified');
    assert.equal(fake.fetched.length, MAX_SAME_VERSION_CANDIDATES);
    assert.match(report.origin.message ?? '', /4 more not compared/);
    // The exact build among them is still the one compared, and only it.
    const exact = fakeSource(builds);
    const verified = await analyze(installed(chartBytes(builds[10] ?? '')), exact);
    assert.equal(verified.origin.match, 'Verified', verified.origin.message);
    assert.deepEqual(exact.fetched, [builds[10]]);
  });

  it('without verification, several semver-equal entries name no tarball', async () => {
    const report = await analyze(installed(chartBytes('1.0.0')), fakeSource(['1.0.0+build.2', '1.0.0+build.1']), false);
    assert.equal(report.origin.match, 'Unverified');
    assert.equal(report.origin.tarballDigest, undefined);
    const exact = await analyze(installed(chartBytes('1.0.0+build.1')), fakeSource(INDEX), false);
    assert.equal(exact.origin.match, 'Unverified');
    assert.equal(exact.origin.tarballDigest, sha(chartBytes('1.0.0+build.1')), 'the exact entry names its advertised digest');
  });
});

describe('analyzeDeclared checks the synced digest of the tag Argo CD names', () => {
  const declared = (version: string, syncedDigest: string) => ({
    namespace: 'apps', name: 'app', declaredBy: 'Argo CD Application apps/app', chart: 'app', version, syncedDigest, revision: 1, status: 'Synced',
  });
  const run = async (version: string, synced: string, tags: string[]) =>
    (await analyzeDeclared(declared(version, synced), fakeSource(tags, { kind: 'oci' }).source, { cache: new PublishedChartCache() })).report.origin;

  it('1.0.0+b1 is the 1.0.0_b1 tag, not the first 1.0.0 build', async () => {
    const o = await run('1.0.0+b1', manifestOf('1.0.0+b1'), ['1.0.0+b2', '1.0.0+b1']);
    assert.equal(o.match, 'Verified', o.message);
    assert.equal(o.manifestDigest, manifestOf('1.0.0+b1'));
    const tag = await run('1.0.0_b1', manifestOf('1.0.0+b1'), ['1.0.0+b2', '1.0.0+b1']);
    assert.equal(tag.match, 'Verified', tag.message);
  });

  it('another digest on the exact tag is a Mismatch; on one of several semver-equal tags it is not', async () => {
    assert.equal((await run('1.0.0+b1', manifestOf('other'), ['1.0.0+b2', '1.0.0+b1'])).match, 'Mismatch');
    const loose = await run('1.0.0', manifestOf('other'), ['1.0.0+b2', '1.0.0+b1']);
    assert.equal(loose.match, 'Unverified');
    assert.match(loose.message ?? '', /none of the 2 tags/);
    const found = await run('1.0.0', manifestOf('1.0.0+b1'), ['1.0.0+b2', '1.0.0+b1']);
    assert.equal(found.match, 'Verified', found.message);
    assert.equal(found.manifestDigest, manifestOf('1.0.0+b1'));
  });
});
