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

/**
 * A constraint in Helm's syntax (Masterminds: `~6.5`, `^1`, `>= 1.2, < 3`, `1.x || 2.x`) as a
 * node-semver Range; commas mean AND there and are spaces here.
 */
export function parseConstraint(c: string, includePrerelease: boolean): semver.Range | undefined {
  const normalized = c.replace(/,/g, ' ').trim();
  try {
    return new semver.Range(normalized || '*', { includePrerelease, loose: true });
  } catch {
    return undefined;
  }
}
