import semver from 'semver';

const LENIENT = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$/;

/**
 * Every release's advice parses its repository's whole version list, and thousands of releases share a
 * few charts: parsed versions are kept (callers never mutate them), at most PARSED_MAX (~1 MiB) at a time.
 */
const parsed = new Map<string, semver.SemVer | null>();
const PARSED_MAX = 4096;

/**
 * Helm's lenient version parse (Masterminds/semver NewVersion): `v1.2` and `1.2` are 1.2.0.
 * Build metadata is dropped: it never orders versions. Returns undefined for non-semver strings.
 */
export function parseVersion(v: string): semver.SemVer | undefined {
  const hit = parsed.get(v);
  if (hit !== undefined) return hit ?? undefined;
  const m = LENIENT.exec(v.trim());
  const core = m ? `${Number(m[1])}.${Number(m[2] ?? 0)}.${Number(m[3] ?? 0)}` : '';
  const result = m ? (semver.parse(m[4] ? `${core}-${m[4]}` : core) ?? undefined) : undefined;
  if (parsed.size >= PARSED_MAX) parsed.clear();
  parsed.set(v, result ?? null);
  return result;
}

// What Masterminds/semver v3's NewVersion accepts (v3.1 to v3.5, whose default coerce mode uses the loose
// pattern): an optional `v`, one to three numeric parts, a dot-separated pre-release and build metadata.
const HELM_SEMVER = /^v?([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
/** Masterminds/semver v3.5.0 (Helm 3.21.1+, 4.2.0+) refuses longer version strings before parsing them. */
const HELM_SEMVER_MAX_LENGTH = 256;
const UINT64_MAX = '18446744073709551615';

/** A numeric part Go's strconv.ParseUint(…, 10, 64) reads: at most 2^64 − 1, leading zeros allowed. */
function fitsUint64(digits: string): boolean {
  if (digits.length < UINT64_MAX.length) return true;
  const significant = digits.replace(/^0+(?=[0-9])/, '');
  return significant.length < UINT64_MAX.length || (significant.length === UINT64_MAX.length && significant <= UINT64_MAX);
}

/**
 * Whether Helm takes `v` as a chart version (chart Metadata.Validate → isValidSemver → Masterminds/semver
 * NewVersion). Stricter than parseVersion, which also orders what Helm would refuse: no surrounding space,
 * no `V`, no `_`, no empty identifier, no numeric pre-release identifier with a leading zero (`1.0.0-01`),
 * no part above 2^64 − 1. Leading zeros in the numeric parts are accepted (`017.0.0`), as NewVersion does.
 */
export function isHelmChartVersion(v: string): boolean {
  if (v.length > HELM_SEMVER_MAX_LENGTH) return false;
  const m = HELM_SEMVER.exec(v);
  if (!m) return false;
  for (const part of [m[1], m[2], m[3]]) if (part !== undefined && !fitsUint64(part)) return false;
  const pre = m[4];
  if (pre !== undefined) {
    for (const id of pre.split('.')) if (id.length > 1 && id.charCodeAt(0) === 0x30 && /^[0-9]+$/.test(id)) return false;
  }
  return true;
}

/** `1.2.3+abc` → `1.2.3`: Flux appends the OCI digest as build metadata. */
export function stripBuildMetadata(v: string): string {
  const plus = v.indexOf('+');
  return plus > 0 ? v.slice(0, plus) : v;
}

/** Same version for lookup purposes: identical strings, or equal after lenient parsing. */
export function sameVersion(a: string, b: string): boolean {
  if (a === b) return true;
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  return pa !== undefined && pb !== undefined && pa.compare(pb) === 0 && pa.prerelease.join('.') === pb.prerelease.join('.');
}

/** Newest first; non-semver versions last, in their original order. */
export function compareVersionsDesc(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (pa && pb) return pb.compare(pa);
  if (pa) return -1;
  if (pb) return 1;
  return 0;
}

/** `!= <version>` in a Masterminds constraint (a plain version; wildcards are not expanded). */
const NOT_EQUAL = /!=\s*(v?\d+(?:\.\d+){0,2}(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)(?=$|[\s,|])/;

/**
 * Masterminds operators node-semver does not have, rewritten: `=>` and `=<` are `>=` and `<=`, and `!= V` —
 * which node-semver drops inside an AND list and refuses alone — splits its alternative in two, `< V` or `> V`
 * (`>=1.0, !=1.5.0` is `>=1.0 <1.5.0 || >=1.0 >1.5.0`). Undefined for a `!=` this does not read.
 */
function nodeRangeText(c: string): string | undefined {
  const alternatives: string[] = [];
  const pending = c
    .replace(/(^|[\s,|])=>/g, '$1>=')
    .replace(/(^|[\s,|])=</g, '$1<=')
    .split('||')
    .map((a) => a.trim());
  // Each `!=` doubles its alternative; a constraint with more than a few is not worth reading.
  for (let guard = 0; pending.length > 0; guard++) {
    if (guard > 64) return undefined;
    const alt = pending.shift() as string;
    const m = NOT_EQUAL.exec(alt);
    if (!m) {
      if (alt.includes('!=')) return undefined;
      alternatives.push(alt.replace(/,/g, ' ').trim() || '*');
      continue;
    }
    const before = alt.slice(0, m.index);
    const after = alt.slice(m.index + m[0].length);
    pending.unshift(`${before}<${m[1] ?? ''}${after}`, `${before}>${m[1] ?? ''}${after}`);
  }
  return alternatives.join(' || ');
}

/**
 * A constraint in Helm's syntax (Masterminds: `~6.5`, `^1`, `>= 1.2, < 3`, `1.x || 2.x`, `!=1.5.0`, `=>1.2`) as a
 * node-semver Range; commas mean AND there and are spaces here.
 */
export function parseConstraint(c: string, includePrerelease: boolean): semver.Range | undefined {
  const normalized = nodeRangeText(c.trim());
  if (normalized === undefined) return undefined;
  try {
    return new semver.Range(normalized || '*', { includePrerelease, loose: true });
  } catch {
    return undefined;
  }
}

/** An OCI tag spells a version's `+` as `_` (tags cannot hold `+`); no chart version contains `_`. */
function tagForm(v: string): string {
  return v.trim().replace(/_/g, '+');
}

/**
 * The published entries that may be the chart installed as `version`, in the order to try them — the one
 * lookup rule for resolve (candidates, declared charts) and advice (recommend).
 *
 * Helm resolves a version the way it installs it (repo IndexFile.Get, registry GetTagMatchingVersionOrConstraint):
 * the entry whose version string is exactly the requested one, and only when there is none, a semver-equal
 * one (build metadata and a `v` prefix ignored). The installed chart's version is its Chart.yaml version,
 * which is its entry's, so an exact entry is the one installed: `1.0.0+build.1` is never `1.0.0+build.2`,
 * `2.0.0` never `v2.0.0`. Exact means equal strings, or equal as OCI tags (`1.0.0_b1` is `1.0.0+b1`).
 *
 * Semver-equal entries are returned only when no entry is exact — an index that renders versions
 * differently from the charts' Chart.yaml, build metadata added after publishing — or when `rebuilt`: the
 * installed version's build metadata was written by whoever built the chart from a published one (Flux
 * replaces it and renders `v1.2` as `1.2.0`), so the published string is unknown; then every semver-equal
 * entry, exact ones first. Several entries returned are alternatives: a caller must not treat any one as
 * THE published chart without evidence (content or digest) that singles it out.
 */
export function versionCandidates<T extends { version: string }>(listed: readonly T[], version: string, rebuilt = false): T[] {
  const wanted = tagForm(version);
  const exact = listed.filter((e) => tagForm(e.version) === wanted);
  if (exact.length > 0 && !rebuilt) return exact;
  return [...exact, ...listed.filter((e) => !exact.includes(e) && sameVersion(tagForm(e.version), wanted))];
}
