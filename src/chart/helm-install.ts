/**
 * What Helm does to a chart between loading the tarball and storing it in the release (`release.chart`):
 * pkg/chart/loader (requirements.yaml folded into the metadata, apiVersion defaulted, strings sanitised)
 * and ProcessDependencies (pkg/chartutil/dependencies.go in Helm 3, pkg/chart/v2/util in Helm 4):
 * enablement by `tags` and `condition` against the user's values, alias renaming, disabled dependencies
 * dropped from the metadata, `import-values` rewritten to the long form and imported, and every enabled
 * subchart's defaults (and `global`) merged into the parent's values. Re-implemented step by step,
 * including the order in which Helm mutates shared objects, per Helm version where they differ.
 *
 * Pure: no I/O. Only metadata and values are processed; templates and files are not touched by Helm.
 */
import { isObject, str, type JsonObject } from '../util/guards.ts';
import { parseConstraint, parseVersion } from './version.ts';
import { globalToken } from './global-tokens.ts';
import type { TemplateWrite } from './template-writes.ts';
import { helm2ProcessChart } from './helm2.ts';
import {
  coalesceTables,
  coalesceValues,
  deepCopy,
  isTable,
  mergeTables,
  mergeValues,
  newTable,
  pathToMap,
  pathValue,
  tableAt,
  type CoalesceBehaviour,
  type Table,
  type ValuesChart,
} from './coalesce.ts';

/** A loaded chart with its subcharts: only what install-time processing reads. */
export interface HelmChart extends ValuesChart {
  metadata: HelmMetadata;
  values: Table | null;
  subcharts: HelmChart[];
  /**
   * Parent chart only: the text of its other YAML files outside templates/ and charts/ (e.g.
   * values-prod.yaml), for transformations that merge values files before Helm sees the chart (Flux's
   * `valuesFiles`). Capped (YAML_FILES_MAX_BYTES in chart-tree.ts).
   */
  yamlFiles?: Record<string, string> | undefined;
  /**
   * The values Helm 4 reads, when they are not `values`: a values.yaml of several YAML documents, which Helm 4
   * merges (pkg/chart/v2/loader LoadValues, helm/helm 92087f6e3, 4.0.0) and Helm 3 reads the first of.
   */
  helm4Values?: Table | undefined;
  /** The chart's own templates' writes into its values (template-writes.ts); absent when none. */
  templateWrites?: TemplateWrite[] | undefined;
  /**
   * Helm 2's reading (helm2.ts), which takes dependencies from requirements.yaml only: its `dependencies` as
   * written (null when it lists none); absent when the chart has no requirements.yaml.
   */
  helm2Requirements?: HelmDependency[] | null | undefined;
  /** values.yaml is absent or empty: Helm 2's Config.Raw is "", which its coalescing skips. */
  helm2EmptyValues?: true | undefined;
}

export interface HelmMetadata extends JsonObject {
  name: string;
  version: string;
  dependencies?: HelmDependency[] | null;
}

export interface HelmDependency extends JsonObject {
  name: string;
}

/** One Helm release line's processing rules (see HELM_BEHAVIOURS). */
export interface HelmBehaviour extends CoalesceBehaviour {
  id: string;
  /**
   * 2: a release Helm 2 installed and helm-2to3 converted (helm2.ts: Helm 2's loader, requirements processing
   * and values algebra, and the plugin's mapping), whose rules are its own: the flags below are not read for it.
   */
  major: 2 | 3 | 4;
  /**
   * How processImportValues applies `import-values` (helm/helm pkg/chartutil/dependencies.go):
   * - 'merge': Helm ≥ 3.13.1 and 4 (ProcessDependenciesWithMerge, 0a5148faf; 25371e2f0 in 3.13.1): the
   *   imports are gathered with MergeTables (nulls kept) and the parent's own values win over them.
   * - 'merge-imports-win': Helm 3.13.0, the same but the imported values win over the parent's.
   * - 'coalesce': Helm 3.8.2–3.12 (c4952c9c8 in 3.8.2): a child/parent import is coalesced into the
   *   chart's coalesced values themselves, which then replace what string imports had gathered (so a
   *   string import listed before one is lost), and the chart's values win over the gathered imports.
   * - 'coalesce-imports-win': Helm 3.0–3.8.1, the same but the gathered imports win at the end.
   */
  imports: 'merge' | 'merge-imports-win' | 'coalesce' | 'coalesce-imports-win';
  /** Helm 4 (getAliasDependency copyMetadata): an aliased chart gets its own copy of its dependency list. */
  copyAliasedCharts: boolean;
  /**
   * Helm < 3.1.2 (before helm/helm d03db32c2, released in 3.1.2 and 3.2.0): disabled dependencies stayed
   * in the metadata (without `enabled`).
   */
  keepDisabledInMetadata: boolean;
  /**
   * Helm 3.0-3.2 (before helm/helm 27ebfa8c5, 3.3) stored files with their UTF-8 byte order mark (the rule of
   * 3.2-3.6 spans the change, so it allows both).
   */
  storedWithBom: boolean;
  /** Helm 3.0.0-3.0.1 (before 0cb0eaca9, 3.0.2) left a v1 chart's requirements.yaml/.lock out of its files (the 3.0-3.1.x rules). */
  dropsV1RequirementFiles: boolean;
}

export const HELM2TO3_ID = 'helm 2 via helm-2to3';

/**
 * The Helm versions whose processing differs, newest first. Read from helm/helm's sources at each tag
 * (coalesce.go, dependencies.go, install.go); versions between two entries behave like the older one.
 * Patch releases can carry backports: 3.19.5 got "fix null merge" (578564ee2, cherry-picked from
 * f0b699eab of 3.20.0), so it processes like 3.20.0, not like 3.17.1-3.19.4 (checked against a real
 * 3.19.5 capture, test/fixtures/old-helm/).
 */
export const HELM_BEHAVIOURS: readonly HelmBehaviour[] = [
  { id: 'helm 4.2+', major: 4, imports: 'merge', copyAliasedCharts: true, childChartMerge: true, keepNullWithoutDefault: true, dstNullsIntoSrc: true, cleanDefaultNulls: true, sharedChartValues: false, globalsLeakUpstream: false, coalesceKeepsNulls: false, keepDisabledInMetadata: false, storedWithBom: false, dropsV1RequirementFiles: false },
  { id: 'helm 4.1.3+', major: 4, imports: 'merge', copyAliasedCharts: true, childChartMerge: true, keepNullWithoutDefault: true, dstNullsIntoSrc: true, cleanDefaultNulls: false, sharedChartValues: false, globalsLeakUpstream: false, coalesceKeepsNulls: false, keepDisabledInMetadata: false, storedWithBom: false, dropsV1RequirementFiles: false },
  { id: 'helm 4.0-4.1.2', major: 4, imports: 'merge', copyAliasedCharts: true, childChartMerge: true, keepNullWithoutDefault: false, dstNullsIntoSrc: true, cleanDefaultNulls: false, sharedChartValues: false, globalsLeakUpstream: false, coalesceKeepsNulls: false, keepDisabledInMetadata: false, storedWithBom: false, dropsV1RequirementFiles: false },
  { id: 'helm 3.20.1+', major: 3, imports: 'merge', copyAliasedCharts: false, childChartMerge: true, keepNullWithoutDefault: true, dstNullsIntoSrc: true, cleanDefaultNulls: false, sharedChartValues: false, globalsLeakUpstream: false, coalesceKeepsNulls: false, keepDisabledInMetadata: false, storedWithBom: false, dropsV1RequirementFiles: false },
  { id: 'helm 3.19.5-3.20.0', major: 3, imports: 'merge', copyAliasedCharts: false, childChartMerge: true, keepNullWithoutDefault: false, dstNullsIntoSrc: true, cleanDefaultNulls: false, sharedChartValues: false, globalsLeakUpstream: false, coalesceKeepsNulls: false, keepDisabledInMetadata: false, storedWithBom: false, dropsV1RequirementFiles: false },
  { id: 'helm 3.17.1-3.19.4', major: 3, imports: 'merge', copyAliasedCharts: false, childChartMerge: true, keepNullWithoutDefault: false, dstNullsIntoSrc: false, cleanDefaultNulls: false, sharedChartValues: false, globalsLeakUpstream: false, coalesceKeepsNulls: false, keepDisabledInMetadata: false, storedWithBom: false, dropsV1RequirementFiles: false },
  { id: 'helm 3.13.1-3.17.0', major: 3, imports: 'merge', copyAliasedCharts: false, childChartMerge: false, keepNullWithoutDefault: false, dstNullsIntoSrc: false, cleanDefaultNulls: false, sharedChartValues: false, globalsLeakUpstream: false, coalesceKeepsNulls: false, keepDisabledInMetadata: false, storedWithBom: false, dropsV1RequirementFiles: false },
  { id: 'helm 3.13.0', major: 3, imports: 'merge-imports-win', copyAliasedCharts: false, childChartMerge: false, keepNullWithoutDefault: false, dstNullsIntoSrc: false, cleanDefaultNulls: false, sharedChartValues: false, globalsLeakUpstream: false, coalesceKeepsNulls: false, keepDisabledInMetadata: false, storedWithBom: false, dropsV1RequirementFiles: false },
  { id: 'helm 3.8.2-3.12', major: 3, imports: 'coalesce', copyAliasedCharts: false, childChartMerge: false, keepNullWithoutDefault: false, dstNullsIntoSrc: false, cleanDefaultNulls: false, sharedChartValues: true, globalsLeakUpstream: false, coalesceKeepsNulls: false, keepDisabledInMetadata: false, storedWithBom: false, dropsV1RequirementFiles: false },
  { id: 'helm 3.7-3.8.1', major: 3, imports: 'coalesce-imports-win', copyAliasedCharts: false, childChartMerge: false, keepNullWithoutDefault: false, dstNullsIntoSrc: false, cleanDefaultNulls: false, sharedChartValues: true, globalsLeakUpstream: false, coalesceKeepsNulls: false, keepDisabledInMetadata: false, storedWithBom: false, dropsV1RequirementFiles: false },
  { id: 'helm 3.2-3.6', major: 3, imports: 'coalesce-imports-win', copyAliasedCharts: false, childChartMerge: false, keepNullWithoutDefault: false, dstNullsIntoSrc: false, cleanDefaultNulls: false, sharedChartValues: true, globalsLeakUpstream: true, coalesceKeepsNulls: false, keepDisabledInMetadata: false, storedWithBom: true, dropsV1RequirementFiles: false },
  { id: 'helm 3.1.2-3.1.3', major: 3, imports: 'coalesce-imports-win', copyAliasedCharts: false, childChartMerge: false, keepNullWithoutDefault: false, dstNullsIntoSrc: false, cleanDefaultNulls: false, sharedChartValues: true, globalsLeakUpstream: true, coalesceKeepsNulls: true, keepDisabledInMetadata: false, storedWithBom: true, dropsV1RequirementFiles: false },
  { id: 'helm 3.0-3.1.1', major: 3, imports: 'coalesce-imports-win', copyAliasedCharts: false, childChartMerge: false, keepNullWithoutDefault: false, dstNullsIntoSrc: false, cleanDefaultNulls: false, sharedChartValues: true, globalsLeakUpstream: true, coalesceKeepsNulls: true, keepDisabledInMetadata: true, storedWithBom: true, dropsV1RequirementFiles: true },
  // Helm 2.x (read at v2.17.0) converted by helm-2to3 (pkg/v3/release.go): its own processing, in helm2.ts. Stored
  // values are Helm 2's text, which no template write reaches (sharedChartValues false keeps proveTemplateWrites away).
  { id: HELM2TO3_ID, major: 2, imports: 'coalesce-imports-win', copyAliasedCharts: false, childChartMerge: false, keepNullWithoutDefault: false, dstNullsIntoSrc: false, cleanDefaultNulls: false, sharedChartValues: false, globalsLeakUpstream: false, coalesceKeepsNulls: false, keepDisabledInMetadata: false, storedWithBom: false, dropsV1RequirementFiles: false },
];

/** What the processing did, in words for `origin.message` (names of charts only, never values). */
export interface ProcessingNotes {
  /** Some values.yaml was read as Helm 4 reads one of several YAML documents (all merged). */
  helm4Documents: boolean;
  subchartValues: boolean;
  aliases: string[];
  disabled: string[];
  imports: boolean;
  requirements: boolean;
}

export function emptyNotes(): ProcessingNotes {
  return { helm4Documents: false, subchartValues: false, aliases: [], disabled: [], imports: false, requirements: false };
}

/** Helm's IsCompatibleRange (Masterminds semver): a bad constraint or version is incompatible. */
function compatibleRange(constraint: unknown, version: unknown): boolean {
  const v = parseVersion(typeof version === 'string' ? version : String(version ?? ''));
  if (!v) return false;
  const range = parseConstraint(typeof constraint === 'string' ? constraint : '', false);
  return range ? range.test(v) : false;
}

function depName(d: HelmDependency): string {
  return d.name;
}

function depsOf(c: HelmChart): HelmDependency[] | null {
  const d = c.metadata.dependencies;
  return Array.isArray(d) ? d : null;
}

function getAliasDependency(charts: HelmChart[], dep: HelmDependency, b: HelmBehaviour): HelmChart | undefined {
  for (const c of charts) {
    if (c.metadata.name !== dep.name) continue;
    if (!compatibleRange(dep['version'], c.metadata.version)) continue;
    const metadata: HelmMetadata = { ...c.metadata };
    const out: HelmChart = { ...c, metadata };
    if (b.copyAliasedCharts) {
      const deps = depsOf(c);
      if (deps) metadata.dependencies = deps.map((d) => ({ ...d }));
      out.subcharts = c.subcharts.map((s) => ({ ...s }));
    }
    const alias = str(dep['alias']);
    if (alias) metadata.name = alias;
    return out;
  }
  return undefined;
}

function processDependencyTags(reqs: HelmDependency[], cvals: Table): void {
  const vt = tableAt(cvals, 'tags');
  if (!vt) return;
  for (const r of reqs) {
    let hasTrue = false;
    let hasFalse = false;
    for (const k of Array.isArray(r['tags']) ? r['tags'] : []) {
      if (typeof k !== 'string' || !Object.prototype.hasOwnProperty.call(vt, k)) continue;
      const b = vt[k];
      if (b === true) hasTrue = true;
      else if (b === false) hasFalse = true;
    }
    if (!hasTrue && hasFalse) r['enabled'] = false;
    else r['enabled'] = true;
  }
}

function processDependencyConditions(reqs: HelmDependency[], cvals: Table, cpath: string): void {
  for (const r of reqs) {
    const condition = typeof r['condition'] === 'string' ? r['condition'] : '';
    for (const c of condition.trim().split(',')) {
      if (c.length === 0) continue;
      const found = pathValue(cvals, cpath + c);
      if (found.found && typeof found.value === 'boolean') {
        r['enabled'] = found.value;
        break;
      }
    }
  }
}

function processDependencyEnabled(c: HelmChart, v: Table, path: string, b: HelmBehaviour, notes: ProcessingNotes, top: boolean): void {
  const reqs = depsOf(c);
  if (reqs === null) return;
  const chartDependencies: HelmChart[] = [];
  for (const existing of c.subcharts) {
    if (!reqs.some((req) => existing.metadata.name === req.name && compatibleRange(req['version'], existing.metadata.version))) chartDependencies.push(existing);
  }
  for (const req of reqs) {
    const aliased = getAliasDependency(c.subcharts, req, b);
    if (aliased) chartDependencies.push(aliased);
    const alias = str(req['alias']);
    if (alias) {
      if (top && req.name !== alias) notes.aliases.push(`${req.name}→${alias}`);
      req.name = alias;
    }
  }
  c.subcharts = chartDependencies;
  for (const lr of reqs) lr['enabled'] = true;
  const cvals = coalesceValues(c, v, b);
  processDependencyTags(reqs, cvals);
  processDependencyConditions(reqs, cvals, path);
  const rm = new Set(reqs.filter((r) => r['enabled'] !== true).map(depName));
  const cd = c.subcharts.filter((n) => !rm.has(n.metadata.name));
  const cdMetadata = reqs.filter((n) => !rm.has(n.name));
  if (top) notes.disabled.push(...[...rm].sort());
  for (const t of cd) processDependencyEnabled(t, cvals, `${path}${t.metadata.name}.`, b, notes, false);
  // Go's append(nil, empty...) is nil: a chart whose dependencies are all disabled has none in its metadata.
  if (!b.keepDisabledInMetadata) c.metadata.dependencies = cdMetadata.length ? cdMetadata : null;
  c.subcharts = cd;
}

/** Go's fmt.Sprintf("%v", x) for the YAML scalars an import-values entry can hold. */
function goString(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/**
 * The import-values entries processImportValues has rewritten: Go `map[string]string` values in an `[]interface{}`,
 * which its own type switch (`case map[string]interface{}`, `case string`) matches on neither branch. A
 * dependency processed a second time therefore loses its import-values and imports nothing. Helm 3 does that to
 * a chart aliased twice: getAliasDependency's copies share the *Dependency objects of the chart's own
 * dependencies (and its subcharts), so the second alias imports nothing from its subcharts and the parent
 * nothing that depends on those imports (helm/helm pkg/chartutil/dependencies.go, 3.0.0 to 3.22; Helm 4 copies
 * them: b183eccfc "copy dependency metadata on aliasing to avoid sharing imported values", v4.0.0, with the
 * testdata chart chart-with-import-from-aliased-dependencies). One set per processing: entries are objects
 * created here, so this is their Go type, not a property of the values.
 */
type RewrittenImports = WeakSet<object>;

function processImportValues(c: HelmChart, b: HelmBehaviour, notes: ProcessingNotes, top: boolean, rewritten: RewrittenImports): void {
  const reqs = depsOf(c);
  if (reqs === null) return;
  const merge = b.imports === 'merge' || b.imports === 'merge-imports-win';
  let cvals = merge ? mergeValues(c, null, b) : coalesceValues(c, null, b);
  let acc: Table | null = newTable();
  for (const r of reqs) {
    const list = r['import-values'];
    if (!Array.isArray(list)) continue;
    const outiv: Table[] = [];
    for (const riv of list) {
      if (isObject(riv) && rewritten.has(riv)) continue;
      if (isTable(riv)) {
        const child = goString(riv['child']);
        const parent = goString(riv['parent']);
        outiv.push(rewrittenEntry(rewritten, child, parent));
        const vv = tableAt(cvals, `${r.name}.${child}`);
        if (!vv) continue;
        // Before 3.13: `b = CoalesceTables(cvals, pathToMap(...))`, into the chart's values themselves.
        acc = merge ? mergeTables(acc, pathToMap(parent, vv), b) : coalesceTables(cvals, pathToMap(parent, vv), b);
      } else if (typeof riv === 'string') {
        const child = `exports.${riv}`;
        outiv.push(rewrittenEntry(rewritten, child, '.'));
        const vm = tableAt(cvals, `${r.name}.${child}`);
        if (!vm) continue;
        acc = merge ? mergeTables(acc, vm, b) : coalesceTables(acc, vm, b);
      }
    }
    if (top && list.length) notes.imports = true;
    if (outiv.length) r['import-values'] = outiv;
    else delete r['import-values'];
  }
  switch (b.imports) {
    case 'merge':
      cvals = deepCopy(cvals);
      c.values = mergeTables(cvals, acc, b);
      break;
    case 'merge-imports-win':
      cvals = deepCopy(cvals);
      c.values = mergeTables(acc, cvals, b);
      break;
    case 'coalesce':
      c.values = coalesceTables(cvals, acc, b);
      break;
    case 'coalesce-imports-win':
      c.values = coalesceTables(acc, cvals, b);
      break;
  }
}

function rewrittenEntry(rewritten: RewrittenImports, child: string, parent: string): Table {
  const entry: Table = { child, parent };
  rewritten.add(entry);
  return entry;
}

function processDependencyImportValues(c: HelmChart, b: HelmBehaviour, notes: ProcessingNotes, top: boolean, rewritten: RewrittenImports): void {
  for (const d of c.subcharts) processDependencyImportValues(d, b, notes, false, rewritten);
  processImportValues(c, b, notes, top, rewritten);
}

export interface StoredChartParts {
  metadata: JsonObject;
  values: Table;
  notes: ProcessingNotes;
}

/**
 * The metadata and values Helm stores for `chart` installed with user values `config` (only booleans,
 * nulls and the shape of tables matter here: see conditionValues). With `baseValues` (--reuse-values),
 * the chart's own values are replaced by them before processing, as Helm's upgrade does. The input chart
 * is not modified.
 */
export function helmProcessChart(chart: HelmChart, config: Table | null, b: HelmBehaviour, baseValues?: Table): StoredChartParts {
  const notes = emptyNotes();
  if (b.major === 2) {
    // Helm 2's --reuse-values (Tiller rebuilt the chart's values from the previous revision) is not reproduced:
    // the proof does not ask for it (proveReuse), so a call with baseValues is a mistake, not a verdict.
    if (baseValues) throw new Error(`${b.id}: --reuse-values is not reproduced`);
    return helm2ProcessChart(chart, config, notes);
  }
  const c = cloneChart(chart, b.major, notes);
  if (baseValues) c.values = deepCopy(baseValues);
  const hadSubcharts = c.subcharts.length > 0;
  processDependencyEnabled(c, config ?? newTable(), '', b, notes, true);
  processDependencyImportValues(c, b, notes, true, new WeakSet());
  // Before 3.13 the chart's values were shared into every coalesced result: the render values install and
  // upgrade compute next (ToRenderValues → CoalesceValues(chart, config)) still changed what is stored.
  if (b.sharedChartValues) coalesceValues(c, config ?? newTable(), b);
  notes.subchartValues = hadSubcharts && depsOf(c) !== null && c.subcharts.length > 0;
  return { metadata: c.metadata, values: c.values ?? newTable(), notes };
}

/** Previous revision's `chart.values` coalesced with its `config`: what --reuse-values starts from. */
export function reusedValues(previousValues: Table | null, previousConfig: Table | null, b: HelmBehaviour): Table {
  // The previous chart as stored has no subcharts (a release keeps the parent only).
  return coalesceValues({ metadata: { name: '' }, values: previousValues, subcharts: [] }, previousConfig, b);
}

/** A copy to process, with each chart's values as Helm `major` loads them. */
function cloneChart(c: HelmChart, major: 3 | 4, notes: ProcessingNotes): HelmChart {
  const deps = depsOf(c);
  const metadata: HelmMetadata = { ...deepCopy(c.metadata), ...(deps ? { dependencies: deps.map((d) => deepCopy(d)) } : {}) };
  const helm4 = major === 4 && c.helm4Values !== undefined;
  if (helm4) notes.helm4Documents = true;
  const values = helm4 ? deepCopy(c.helm4Values ?? null) : c.values ? deepCopy(c.values) : null;
  return { metadata, values, subcharts: c.subcharts.map((s) => cloneChart(s, major, notes)), ...(c.yamlFiles ? { yamlFiles: { ...c.yamlFiles } } : {}) };
}

/**
 * User values reduced to what dependency enablement can read: tables, booleans and nulls keep their
 * place; every other value becomes 0 (a scalar that is neither a bool, a table nor null, which is all
 * Helm's condition and tag checks distinguish). Strings, numbers and lists, where secrets live, are
 * gone before anything is kept in memory. Inside a `global` table they become keyed hashes instead
 * (global-tokens.ts): Helm before 3.13 stored the user's globals in the chart's values.
 */
export function conditionValues(config: unknown): Table {
  return skeletonTable(config, false);
}

function skeletonTable(config: unknown, inGlobal: boolean): Table {
  const out = newTable();
  if (!isTable(config)) return out;
  for (const k of Object.keys(config)) out[k] = skeleton(config[k], inGlobal || k === 'global');
  return out;
}

function skeleton(v: unknown, inGlobal: boolean): unknown {
  if (v === null || typeof v === 'boolean') return v;
  if (isTable(v)) return skeletonTable(v, inGlobal);
  return inGlobal ? globalToken(v) : 0;
}

/** Parses a HelmChart tree from the compact JSON produced by treeJson. */
export function chartFromJson(json: string): HelmChart {
  const parse = (n: unknown): HelmChart => {
    if (!isObject(n) || !isObject(n['m'])) throw new Error('corrupt chart tree');
    const m = deepCopy(n['m']) as HelmMetadata;
    const y = n['y'];
    const yamlFiles = isObject(y) ? Object.fromEntries(Object.entries(y).filter((e): e is [string, string] => typeof e[1] === 'string')) : undefined;
    return { metadata: m, values: isTable(n['v']) ? deepCopy(n['v']) : null, subcharts: Array.isArray(n['d']) ? n['d'].map(parse) : [], ...(yamlFiles ? { yamlFiles } : {}), ...(isTable(n['v4']) ? { helm4Values: deepCopy(n['v4']) } : {}), ...(Array.isArray(n['w']) ? { templateWrites: n['w'].filter(isTemplateWrite) } : {}), ...(n['r2'] === null || Array.isArray(n['r2']) ? { helm2Requirements: n['r2'] === null ? null : (deepCopy(n['r2'].filter(isObject)) as HelmDependency[]) } : {}), ...(n['e2'] === true ? { helm2EmptyValues: true as const } : {}) };
  };
  return parse(JSON.parse(json));
}

function isTemplateWrite(w: unknown): w is TemplateWrite {
  return isObject(w) && typeof w['file'] === 'string' && typeof w['fn'] === 'string' && (w['paths'] === undefined || (Array.isArray(w['paths']) && w['paths'].every((p) => Array.isArray(p) && p.every((k) => typeof k === 'string')))) && (w['inDefine'] === undefined || w['inDefine'] === true) && (w['top'] === undefined || w['top'] === true);
}

/** A compact, immutable form of a HelmChart for caches: one string instead of a graph of objects. */
export function treeJson(c: HelmChart): string {
  const walk = (n: HelmChart): JsonObject => ({ m: n.metadata, v: n.values, d: n.subcharts.map(walk), ...(n.yamlFiles ? { y: n.yamlFiles } : {}), ...(n.helm4Values ? { v4: n.helm4Values } : {}), ...(n.templateWrites ? { w: n.templateWrites as unknown as JsonObject[] } : {}), ...(n.helm2Requirements !== undefined ? { r2: n.helm2Requirements } : {}), ...(n.helm2EmptyValues ? { e2: true } : {}) });
  return JSON.stringify(walk(c));
}

/** True when install-time processing can change the chart: it declares dependencies. */
export function hasDependencies(c: HelmChart): boolean {
  const deps = depsOf(c);
  return deps !== null && deps.length > 0;
}
