import type semver from 'semver';
import type { ChartChange, LatestStatus, UpgradeKind } from '../model/report.ts';
import type { PublisherNotes } from '../model/repository.ts';
import { parseConstraint, parseVersion, sameVersion, versionCandidates } from '../chart/version.ts';
import { MAX_CHANGES, parseChanges, webUrl } from '../chart/publisher-notes.ts';

export interface PublishedVersion {
  version: string;
  appVersion?: string | undefined;
  created?: string | undefined;
  deprecated: boolean;
  notes?: PublisherNotes | undefined;
}

export interface RecommendInput {
  installed: string;
  published: readonly PublishedVersion[];
  versionConstraint?: string | undefined;
  allowPrerelease?: boolean | undefined;
}

export interface Recommendation {
  latest?: LatestStatus | undefined;
  sameMajor?: { version: string } | undefined;
  upgrade?: UpgradeKind | undefined;
  /** The version `upgrade` points at: the newest allowed version that is not deprecated. */
  upgradeTarget?: string | undefined;
  versionsBehind?: number | undefined;
  majorVersionsBehind?: number | undefined;
  /** Allowed versions newer than the installed one up to `latest`, newest first (deprecated ones included). */
  newer?: PublishedVersion[] | undefined;
  /** The repository's entry for the installed version, when it still publishes it (and exactly one entry may be it). */
  installedEntry?: PublishedVersion | undefined;
  /** Why some of the above could not be computed (bad constraint, non-semver installed version). */
  problem?: string | undefined;
}

function upgradeKind(from: semver.SemVer, to: semver.SemVer): UpgradeKind {
  if (to.compare(from) <= 0) return 'None';
  if (to.major !== from.major) return 'Major';
  if (to.minor !== from.minor) return 'Minor';
  return 'Patch';
}

/** A pre-release by its version, or because the publisher says so (`artifacthub.io/prerelease`). */
function isPrerelease(v: semver.SemVer, p: PublishedVersion | undefined): boolean {
  return v.prerelease.length > 0 || p?.notes?.prerelease === true;
}

/**
 * Helm's rules for "latest": semver order; pre-releases only when allowed or when the installed version
 * is itself one (like `--devel`); a user constraint bounds everything, including sameMajor.
 *
 * A deprecated version is shown as `latest` (flagged), but it is never where the advice points: `upgrade`,
 * `sameMajor`, `versionsBehind` and `majorVersionsBehind` count only versions that are not deprecated, so a
 * chart whose newest version is a deprecation notice is not "outdated" — it is deprecated, which has its own
 * flag, metric and alert.
 */
export function recommend(input: RecommendInput): Recommendation {
  const installed = parseVersion(input.installed);
  // Looked up as Helm resolves a version (exact string first); several semver-equal builds and none exact:
  // none of them is known to be the installed one, so none lends it its dates, notes or deprecation.
  const matches = versionCandidates(input.published, input.installed);
  const installedEntry = matches.length === 1 ? matches[0] : undefined;
  const includePre = input.allowPrerelease === true || (installed !== undefined && isPrerelease(installed, installedEntry));
  const range = parseConstraint(input.versionConstraint ?? '', includePre);
  if (!range) return { installedEntry, problem: `versionConstraint "${input.versionConstraint ?? ''}" is not a valid semver range` };

  const seen = new Set<string>();
  const allowed: { v: semver.SemVer; p: PublishedVersion }[] = [];
  for (const p of input.published) {
    const v = parseVersion(p.version);
    if (!v || (isPrerelease(v, p) && !includePre)) continue;
    if (!range.test(v)) continue;
    if (seen.has(v.version)) continue;
    seen.add(v.version);
    allowed.push({ v, p });
  }
  allowed.sort((a, b) => b.v.compare(a.v));
  const top = allowed[0];
  const latest: LatestStatus | undefined = top
    ? { version: top.p.version, appVersion: top.p.appVersion, created: top.p.created, deprecated: top.p.deprecated }
    : undefined;
  if (!installed) {
    return { latest, installedEntry, problem: `installed version "${input.installed}" is not semver; cannot compare` };
  }
  const healthy = allowed.filter((a) => !a.p.deprecated);
  const target = healthy[0];
  const same = healthy.find((a) => a.v.major === installed.major);
  const newer = allowed.filter((a) => a.v.compare(installed) > 0);
  return {
    latest,
    sameMajor: same ? { version: same.p.version } : undefined,
    upgrade: target ? upgradeKind(installed, target.v) : 'None',
    upgradeTarget: target && target.v.compare(installed) > 0 ? target.p.version : undefined,
    versionsBehind: newer.filter((a) => !a.p.deprecated).length,
    majorVersionsBehind: target ? Math.max(0, target.v.major - installed.major) : 0,
    newer: newer.map((a) => a.p),
    installedEntry,
  };
}

export interface UpgradeNotes {
  changes?: ChartChange[] | undefined;
  securityUpdates?: boolean | undefined;
  home?: string | undefined;
}

/**
 * What upgrading brings, from the newer versions' notes (newest first): their changes, newest version's
 * first, at most 20 in all; whether any says it contains security updates; where to read more (the newest
 * version's `home`, else its first `sources` entry).
 */
export function upgradeNotes(newer: readonly PublishedVersion[], latest: PublishedVersion | undefined, newest?: PublishedVersion | undefined): UpgradeNotes {
  const changes: ChartChange[] = [];
  let securityUpdates = false;
  for (const p of newer) {
    if (p.notes?.securityUpdates) securityUpdates = true;
    if (p.notes?.changes && changes.length < MAX_CHANGES) changes.push(...parseChanges(p.notes.changes, MAX_CHANGES - changes.length));
  }
  // Listings keep home/source on the newest version only (trimNotes): the chart's, not the version's.
  const home = [latest, newest].map((p) => webUrl(p?.notes?.home) ?? webUrl(p?.notes?.source)).find((u) => u !== undefined);
  return { changes: changes.length ? changes : undefined, securityUpdates, home };
}

/** The newest published version: the newest stable one, or the newest of all when there is no stable one. */
export function newestPublished(published: readonly PublishedVersion[]): PublishedVersion | undefined {
  let best: { v: semver.SemVer; p: PublishedVersion } | undefined;
  let bestPre: { v: semver.SemVer; p: PublishedVersion } | undefined;
  for (const p of published) {
    const v = parseVersion(p.version);
    if (!v) continue;
    if (isPrerelease(v, p)) {
      if (!bestPre || v.compare(bestPre.v) > 0) bestPre = { v, p };
    } else if (!best || v.compare(best.v) > 0) best = { v, p };
  }
  return (best ?? bestPre)?.p;
}

/**
 * Helm deprecates a chart by publishing a last version with `deprecated: true`: the installed version may be
 * deprecated itself, or the chart may be deprecated upstream (its newest published version says so).
 */
export function deprecationOf(chart: { name: string; version: string }, installedDeprecated: boolean, newest: PublishedVersion | undefined): { deprecated: boolean; message?: string | undefined } {
  const upstream = newest?.deprecated === true && !sameVersion(newest.version, chart.version);
  if (installedDeprecated && upstream) {
    return { deprecated: true, message: `installed version ${chart.version} is deprecated, and so is chart ${chart.name} upstream (its newest version ${newest?.version ?? '?'} is marked deprecated)` };
  }
  if (installedDeprecated) return { deprecated: true, message: `installed version ${chart.version} of chart ${chart.name} is deprecated by its publisher` };
  if (upstream) return { deprecated: true, message: `chart ${chart.name} is deprecated upstream: its newest version ${newest?.version ?? '?'} is marked deprecated` };
  return { deprecated: false };
}

/** true when the newest published version is older than `maxAgeSeconds`; undefined when its age is unknown. */
export function isUpstreamStale(newest: PublishedVersion | undefined, now: Date, maxAgeSeconds: number): boolean | undefined {
  const created = newest?.created ? Date.parse(newest.created) : Number.NaN;
  if (!Number.isFinite(created)) return undefined;
  return now.getTime() - created > maxAgeSeconds * 1000;
}
