import type semver from 'semver';
import type { LatestStatus, UpgradeKind } from '../model/report.ts';
import { parseConstraint, parseVersion, sameVersion } from '../chart/version.ts';

export interface PublishedVersion {
  version: string;
  appVersion?: string | undefined;
  created?: string | undefined;
  deprecated: boolean;
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
  versionsBehind?: number | undefined;
  majorVersionsBehind?: number | undefined;
  /** The repository's entry for the installed version, when it still publishes it. */
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

/**
 * Helm's rules for "latest": semver order; pre-releases only when allowed or when the installed version
 * is itself one (like `--devel`); a user constraint bounds everything, including sameMajor.
 */
export function recommend(input: RecommendInput): Recommendation {
  const installed = parseVersion(input.installed);
  const includePre = input.allowPrerelease === true || (installed !== undefined && installed.prerelease.length > 0);
  const range = parseConstraint(input.versionConstraint ?? '', includePre);
  const installedEntry = input.published.find((p) => sameVersion(p.version, input.installed));
  if (!range) return { installedEntry, problem: `versionConstraint "${input.versionConstraint ?? ''}" is not a valid semver range` };

  const seen = new Set<string>();
  const allowed: { v: semver.SemVer; p: PublishedVersion }[] = [];
  for (const p of input.published) {
    const v = parseVersion(p.version);
    if (!v || (v.prerelease.length > 0 && !includePre)) continue;
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
  const same = allowed.find((a) => a.v.major === installed.major);
  return {
    latest,
    sameMajor: same ? { version: same.p.version } : undefined,
    upgrade: top ? upgradeKind(installed, top.v) : 'None',
    versionsBehind: allowed.filter((a) => a.v.compare(installed) > 0).length,
    majorVersionsBehind: top ? Math.max(0, top.v.major - installed.major) : 0,
    installedEntry,
  };
}
