/**
 * Index entries that Helm's loadIndex keeps or leaves out (chart Metadata.Validate), one per version, as YAML
 * text written the way `helm repo index` lays an index out. The unit tests check chartorigin's parsers
 * against `keep`; the integration test checks the same bytes against `helm search repo` of each helm binary,
 * which is where every `keep` below was first observed (helm v3.17.2, v3.22.0, v4.1.4).
 */
import { load } from 'js-yaml';

export interface EntryCase {
  what: string;
  /** The chart key the entry is listed under. */
  chart: string;
  /** One flow mapping (or a null node) as it stands after `- ` in the chart's list. */
  yaml: string;
  /** Whether Helm 3.21.1+ / 4.2.0+ keeps it. */
  keep: boolean;
  /** The version and appVersion Helm shows for a kept entry. */
  shows?: { version: string; appVersion: string };
  /** The oldest helm 3 and helm 4 that leave this entry out (older ones keep it, or crash on it). */
  since?: { helm3: string; helm4: string };
}

const LONG_VERSION = `9.9.9-${'a'.repeat(260)}`;

function entry(what: string, yaml: string, keep: boolean, extra: Partial<EntryCase> = {}): EntryCase {
  return { what, chart: 'app', yaml, keep, ...extra };
}

export const ENTRY_CASES: readonly EntryCase[] = [
  // Kept.
  entry('a valid entry', '{name: app, version: 1.0.0, appVersion: "1"}', true),
  entry('a name other than the chart key', '{name: other, version: 1.1.0}', true),
  entry('the name `/` (filepath.Base("/") is "/")', '{name: /, version: 1.2.0}', true),
  entry('a name that sanitizes to one space', '{name: "\\t", version: 1.3.0}', true),
  entry('a backslash in the name (a separator on Windows only)', "{name: 'a\\b', version: 1.4.0}", true),
  entry('spaces around the name', '{name: " app ", version: 1.4.1}', true),
  entry('a null type', '{name: app, version: 1.5.0, type: ~}', true),
  entry('type library', '{name: app, version: 1.6.0, type: library}', true),
  entry('type application, no apiVersion', '{name: app, version: 1.7.0, type: application}', true),
  entry('a null apiVersion', '{name: app, version: 1.8.0, apiVersion: ~}', true),
  entry('dependencies with a null alias and a valid one', '{name: app, version: 1.9.0, dependencies: [{name: d, alias: ~}, {name: e, alias: x_Y-9}]}', true),
  entry('two dependencies with one name (ignored by loadIndex)', '{name: app, version: 1.10.0, dependencies: [{name: d}, {name: d}]}', true),
  entry('maintainers and an empty dependency list', '{name: app, version: 1.11.0, maintainers: [{name: m}], dependencies: []}', true),
  entry('a deprecated entry', '{name: app, version: 1.12.0, deprecated: true}', true),
  entry('a `v` prefix and two parts', '{name: app, version: v2.0}', true),
  entry('one part', '{name: app, version: "3"}', true),
  entry('leading zeros in a numeric part', '{name: app, version: 017.0.0}', true),
  entry('build metadata with leading zeros', '{name: app, version: 2.1.0+build.01}', true),
  entry('an alphanumeric pre-release identifier starting with 0', '{name: app, version: 2.2.0-0a}', true),
  entry('pre-release identifiers of letters and hyphens', '{name: app, version: 2.3.0-A.-}', true),
  entry('the largest numeric part', '{name: app, version: 18446744073709551615.0.0}', true),
  // Left out.
  entry('no name', '{version: 4.0.0}', false),
  entry('a null name', '{name: ~, version: 4.0.1}', false),
  entry('a name that sanitizes to nothing', '{name: "\\u200b", version: 4.0.2}', false),
  entry('a name of a control character', '{name: "\\x00", version: 4.0.3}', false),
  entry('a path as the name', '{name: app/x, version: 4.0.4}', false),
  entry('a trailing slash in the name', '{name: app/, version: 4.0.5}', false),
  entry('the name `//`', '{name: //, version: 4.0.6}', false),
  entry('the name `.`', '{name: ., version: 4.1.0}', false, { since: { helm3: '3.20.2', helm4: '4.1.4' } }),
  entry('the name `..`', '{name: .., version: 4.1.1}', false, { since: { helm3: '3.20.2', helm4: '4.1.4' } }),
  entry('no version', '{name: app, appVersion: none}', false),
  entry('a version that is not semver', '{name: app, version: latest}', false),
  entry('a version with a leading space', '{name: app, version: " 5.0.0"}', false),
  entry('a version with a trailing newline', '{name: app, version: "5.0.1\\n"}', false),
  entry('a capital V', '{name: app, version: V5.0.2}', false),
  entry('an empty pre-release', '{name: app, version: 5.0.3-}', false),
  entry('an empty pre-release identifier', '{name: app, version: 5.0.4-a..b}', false),
  entry('a numeric pre-release identifier with a leading zero', '{name: app, version: 5.0.5-01}', false),
  entry('an underscore in the pre-release', '{name: app, version: 5.0.6-x_y}', false),
  entry('a numeric part above 2^64 - 1', '{name: app, version: 18446744073709551616.0.0}', false),
  entry('a version longer than 256 characters', `{name: app, version: ${LONG_VERSION}}`, false, { since: { helm3: '3.21.1', helm4: '4.2.0' } }),
  entry('an unknown type', '{name: app, version: 6.0.0, type: foo}', false),
  entry('a type in another case', '{name: app, version: 6.0.1, type: Application}', false),
  entry('a null maintainer', '{name: app, version: 6.1.0, maintainers: [~]}', false),
  entry('a null maintainer after a valid one', '{name: app, version: 6.1.1, maintainers: [{name: m}, null]}', false),
  entry('a null dependency', '{name: app, version: 6.2.0, dependencies: [~]}', false),
  entry('a dot in a dependency alias', '{name: app, version: 6.3.0, dependencies: [{name: d, alias: a.b}]}', false),
  entry('a space in a dependency alias', '{name: app, version: 6.3.1, dependencies: [{name: d, alias: "a b"}]}', false),
  // A repeated version: the invalid first occurrence is left out, so the valid second one is the version.
  entry('an invalid first occurrence of a version', '{name: app, version: 7.0.0, appVersion: invalid, type: foo}', false),
  entry('the valid second occurrence', '{name: app, version: 7.0.0, appVersion: valid}', true, { shows: { version: '7.0.0', appVersion: 'valid' } }),
  // Null items in the list (Helm 3.10.3–3.18.4 skip them without removing them; 3.17.2 then panics sorting the list).
  entry('a null item', '~', false, { since: { helm3: '3.18.5', helm4: '4.0.0' } }),
  entry('an empty item', '', false, { since: { helm3: '3.18.5', helm4: '4.0.0' } }),
  // Every version of a chart left out: the chart lists nothing.
  { what: 'a chart whose only entry is invalid', chart: 'gone', yaml: '{name: gone/x, version: 1.0.0}', keep: false },
  { what: 'a neighbouring valid chart', chart: 'kept', yaml: '{name: kept, version: 1.0.0}', keep: true },
];

/** Chart → the (version, appVersion) pairs Helm shows for `cases`, sorted. */
export function expectedListing(cases: readonly EntryCase[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const c of cases) {
    if (!c.keep) continue;
    const shows = c.shows ?? showsOf(c.yaml);
    const list = out.get(c.chart) ?? [];
    list.push(pair(shows.version, shows.appVersion));
    out.set(c.chart, list);
  }
  for (const list of out.values()) list.sort();
  return out;
}

export function pair(version: string, appVersion: string | undefined): string {
  return `${version} (${appVersion ?? ''})`;
}

function showsOf(yaml: string): { version: string; appVersion: string } {
  const doc = load(yaml);
  if (typeof doc !== 'object' || doc === null) throw new Error(`kept case without a mapping: ${yaml}`);
  const { version, appVersion } = doc as { version?: unknown; appVersion?: unknown };
  return { version: String(version), appVersion: appVersion === undefined ? '' : String(appVersion) };
}

/** The cases as index.yaml text: `entries:` at column 0, chart keys at two spaces, as Helm writes them. */
export function indexYaml(cases: readonly EntryCase[]): string {
  const byChart = new Map<string, string[]>();
  for (const c of cases) byChart.set(c.chart, [...(byChart.get(c.chart) ?? []), c.yaml === '' ? '  -\n' : `  - ${c.yaml}\n`]);
  const blocks = [...byChart].map(([chart, items]) => `  ${chart}:\n${items.join('')}`);
  return `apiVersion: v1\nentries:\n${blocks.join('')}generated: "2026-01-01T00:00:00Z"\n`;
}

/** The same index as JSON (Helm 3.13+ reads valid JSON with encoding/json): YAML nulls become JSON nulls. */
export function indexJson(cases: readonly EntryCase[]): string {
  return JSON.stringify(load(indexYaml(cases)));
}
