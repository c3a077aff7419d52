/**
 * Which repository index entries Helm leaves out when it loads an index.yaml, so that chartorigin never
 * lists, advises or proves against a version `helm search repo`, `helm pull` or `helm install` cannot see.
 *
 * Helm's loadIndex (pkg/repo/index.go in Helm 3, pkg/repo/v1/index.go in Helm 4) removes null entries, then
 * runs each entry's chart Metadata.Validate (pkg/chart/metadata.go, pkg/chart/v2/metadata.go in Helm 4) after
 * defaulting an empty apiVersion to v1, and removes the entry on any validation error except the duplicate
 * dependency name/alias one (ignoreSkippableChartValidationError, Helm 3.14.3+). This is the rule of Helm
 * 3.21.1+ / 4.2.0+ (checked against v3.22.0 and v4.3.2): older releases differ, see docs/operations.md.
 *
 * Only the checks that can fail on an index entry are here, in Helm's order, each a constant-time look at
 * one field except the per-item checks of `maintainers` and `dependencies` (a 20 MiB index has ~30,000
 * entries, parsed on the CLI's critical path).
 */
import { isObject } from '../util/guards.ts';
import { sanitizeString } from './fingerprint.ts';
import { isHelmChartVersion } from './version.ts';

/** Why Helm leaves an entry out (a stable label for tests and diagnostics; Helm only logs a line). */
export type IndexEntryProblem =
  | 'no_name'
  | 'name_not_allowed'
  | 'name_not_a_base_name'
  | 'no_version'
  | 'version_not_semver'
  | 'unknown_type'
  | 'null_maintainer'
  | 'null_dependency'
  | 'alias_characters';

/** Dependency aliases Helm accepts (aliasNameFormat in pkg/chart/chart.go, pkg/chart/v2/chart.go). */
const ALIAS = /^[a-zA-Z0-9_-]+$/;

/**
 * The first reason Helm would leave `entry` (one item of an index's `entries.<chart>` list, a mapping) out of
 * the loaded index, or undefined when Helm keeps it. `read` gives a scalar as the caller's parse yields it,
 * undefined for null and for non-scalars (the index parser's `scalar`: YAML is read with the failsafe schema,
 * so a YAML null arrives as the string `~`, `null` or ``, and only `read` knows that).
 *
 * Helm reads the index into Go structs through sigs.k8s.io/yaml: a null becomes the empty string, which is
 * what `read` returning undefined stands for. What Helm refuses outright — a whole index it cannot load,
 * e.g. an unquoted number as a chart's name or version, a string where a list belongs — is not decided here:
 * such an entry is judged on the text it has. The failsafe reader cannot tell a quoted `"null"` or `"~"` from a
 * null: such a name (Helm keeps it) counts as none here, such a `type` (Helm drops it) as empty — both rare.
 */
export function indexEntryProblem(entry: Record<string, unknown>, read: (v: unknown) => string | undefined): IndexEntryProblem | undefined {
  // The name is checked after sanitizeString, like Helm: `"\u200b"` is empty, `"\t"` is a valid one-space name.
  const name = sanitizeString(read(entry['name']) ?? '');
  if (name === '') return 'no_name';
  // Helm 3.20.2+ / 4.1.4+.
  if (name === '.' || name === '..') return 'name_not_allowed';
  // name != filepath.Base(name) (Helm 3.14.1+) on the systems Helm runs on in clusters and CI (`/` is the only
  // separator; `\` is one on Windows only). Base("/") is "/", so that one name passes.
  if (name !== '/' && name.includes('/')) return 'name_not_a_base_name';

  // The version is not sanitized before the check.
  const version = read(entry['version']);
  if (version === undefined || version === '') return 'no_version';
  if (!isHelmChartVersion(version)) return 'version_not_semver';

  const type = read(entry['type']);
  if (type !== undefined && type !== '' && type !== 'application' && type !== 'library') return 'unknown_type';

  // Maintainer.Validate / Dependency.Validate refuse a null item (Helm 3.10.1+; older ones crashed on it).
  const isNull = (v: unknown): boolean => v === null || v === undefined || (typeof v === 'string' && read(v) === undefined);
  const maintainers = entry['maintainers'];
  if (Array.isArray(maintainers) && maintainers.some(isNull)) return 'null_maintainer';
  const dependencies = entry['dependencies'];
  if (Array.isArray(dependencies)) {
    for (const d of dependencies) {
      if (isNull(d)) return 'null_dependency';
      // Not sanitized either. Two dependencies with one name or alias fail Validate too, but loadIndex
      // ignores that error since Helm 3.14.3 (repositories that strip `alias`, helm/helm#12748).
      const alias = isObject(d) ? read(d['alias']) : undefined;
      if (alias !== undefined && alias !== '' && !ALIAS.test(alias)) return 'alias_characters';
    }
  }
  return undefined;
}
