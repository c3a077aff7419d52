/**
 * A release installed by Helm 2 (Tiller) and converted to a Helm 3 release by the helm-2to3 plugin
 * (`helm 2to3 convert`): what it stores as `chart` for a published tarball. Three steps, each read from its
 * source and re-implemented here:
 * - Helm 2's loader (helm/helm v2.17.0 pkg/chartutil/load.go LoadFiles): Chart.yaml and values.yaml as
 *   written (apiVersion not defaulted, only "v1" or none accepted, in every subchart); requirements.yaml,
 *   requirements.lock, Chart.lock, values.schema.json and every other file outside templates/ and charts/
 *   among the files, byte for byte (no byte order mark trimmed); no schema, no lock.
 * - The requirements processing the helm client ran before sending the chart to Tiller (pkg/helm/client.go
 *   InstallReleaseFromChart → chartutil ProcessRequirementsEnabled and ProcessRequirementsImportValues,
 *   requirements.go): every chart that has a requirements.yaml and enabled subcharts gets as its values the
 *   whole of CoalesceValues(chart, {}) (its subcharts' defaults and globals included) under what
 *   import-values gathered, written back as YAML text. Helm 2's values algebra (values.go coalesceTables,
 *   coalesceGlobals) differs from every Helm 3's (coalesce.ts): each call re-reads the values from their
 *   text, returns new tables and a null in the chart's own defaults stays. Tiller stored the chart it got.
 * - helm-2to3's mapping (pkg/v3/release.go mapv2ChartTov3Chart, mapMetadata): the metadata fields Helm 3
 *   knows that Helm 2 has, `type: application` added, no `dependencies`; values re-read from their text.
 *
 * Pure: no I/O. Not reproduced: Helm 2's --reuse-values (Tiller rebuilt the chart's values from the previous
 * revision), a chart Helm 2 read differently from the archive than Helm 3 (a Chart.lock or an empty
 * values.schema.json, which the published fingerprint does not keep as bytes), and Masterminds semver v1's
 * constraint parsing where it differs from v3's (getAliasDependency).
 */
import { CoalesceError, deepCopy, isTable, newTable, pathToMap, pathValue, tableAt, type Table } from './coalesce.ts';
import { parseConstraint, parseVersion } from './version.ts';
import { str, type JsonObject } from '../util/guards.ts';
import type { ChartFingerprint } from '../model/chart.ts';
import { fingerprintDifferences } from './fingerprint.ts';

/**
 * The parts of helm-install.ts's HelmChart, HelmDependency and ProcessingNotes read here, declared on their own
 * (structurally the same) so that helm-install.ts can call this module without an import cycle.
 */
interface HelmDependency extends JsonObject {
  name: string;
}
export interface Helm2Input {
  metadata: JsonObject & { name: string; version: string };
  values: Table | null;
  subcharts: Helm2Input[];
  helm2Requirements?: HelmDependency[] | null | undefined;
  helm2EmptyValues?: true | undefined;
}
interface Helm2Notes {
  subchartValues: boolean;
  aliases: string[];
  disabled: string[];
  imports: boolean;
}

/** Go's nil map is `null` here: Helm 2 hands one on in a few error paths (coalesceGlobals). */
type GoMap = Table | null;

/** A chart as Helm 2 holds it while processing: values are text in Helm 2 (Config.Raw), kept parsed here. */
interface Chart2 {
  name: string;
  version: string;
  /** Parsed Config.Raw; null when Raw is "" (no or an empty values.yaml), which coalesceValues skips. */
  raw: Table | null;
  /** requirements.yaml's dependencies (re-read on every LoadRequirements); undefined when it has none. */
  requirements: HelmDependency[] | null | undefined;
  deps: Chart2[];
}

function has(t: Table, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(t, k);
}

/** Helm 2 ReadValues of Config.Raw: a fresh table every time (Helm 2 never shares a chart's tables). */
function readRaw(c: Chart2): Table {
  return c.raw ? deepCopy(c.raw) : newTable();
}

/** values.go coalesceTables: dst wins, a null in dst removes the key, a new table is returned. */
function coalesceTables(dst: GoMap, src: Table): Table {
  const rv = newTable();
  for (const key of Object.keys(src)) {
    const val = src[key];
    if (!dst || !has(dst, key)) {
      rv[key] = val;
      continue;
    }
    const dv = dst[key];
    if (dv === null) continue;
    rv[key] = isTable(val) && isTable(dv) ? coalesceTables(dv, val) : dv;
  }
  if (dst) {
    for (const key of Object.keys(dst)) {
      if (dst[key] === null || has(rv, key)) continue;
      rv[key] = dst[key];
    }
  }
  return rv;
}

/** values.go coalesceGlobals: a copy of dest whose `global` is src's over dest's; Go's odd returns kept. */
function coalesceGlobals(dest: Table, src: GoMap): GoMap {
  let dg: Table;
  if (!has(dest, 'global')) dg = newTable();
  else if (isTable(dest['global'])) dg = dest['global'];
  else return null; // `return dg` with dg the failed assertion's nil map
  let sg: Table;
  if (!src || !has(src, 'global')) sg = newTable();
  else if (isTable(src['global'])) sg = src['global'];
  else return dg;
  const rv = newTable();
  for (const k of Object.keys(dest)) rv[k] = dest[k];
  rv['global'] = coalesceTables(sg, dg);
  return rv;
}

function coalesceValues(c: Chart2, v: GoMap): GoMap {
  if (!c.raw) return v;
  return coalesceTables(v, readRaw(c));
}

function coalesceDeps(c: Chart2, dest: GoMap): GoMap {
  for (const sub of c.deps) {
    if (!dest) {
      if (c.deps.length) throw new CoalesceError('assignment to a nil map (Helm 2 panics)');
      break;
    }
    if (!has(dest, sub.name)) dest[sub.name] = newTable();
    else if (!isTable(dest[sub.name])) throw new CoalesceError(`type mismatch on ${sub.name}`);
    const dv = coalesceGlobals(dest[sub.name] as Table, dest);
    dest[sub.name] = coalesce(sub, dv);
  }
  return dest;
}

function coalesce(c: Chart2, dest: GoMap): GoMap {
  return coalesceDeps(c, coalesceValues(c, dest));
}

/** CoalesceValues(chart, &Config{Raw: yaml}) with the text already read. */
function coalesceAll(c: Chart2, vals: Table): Table {
  return coalesce(c, deepCopy(vals)) ?? newTable();
}

/** Masterminds semver IsCompatibleRange (Helm 2's pkg/version): a bad constraint or version is incompatible. */
function compatibleRange(constraint: unknown, version: string): boolean {
  const v = parseVersion(version);
  if (!v) return false;
  const range = parseConstraint(typeof constraint === 'string' ? constraint : '', false);
  return range ? range.test(v) : false;
}

const ALIAS = /^[a-zA-Z0-9-_]+$/;

function getAliasDependency(charts: Chart2[], req: HelmDependency): Chart2 | undefined {
  for (const c of charts) {
    if (c.name !== req.name || !compatibleRange(req['version'], c.version)) continue;
    const alias = str(req['alias']);
    if (alias && !ALIAS.test(alias)) continue;
    // A shallow copy as Go's `chartFound = *existingChart`: the subcharts stay shared.
    return { ...c, name: alias || c.name };
  }
  return undefined;
}

/** The requirements as LoadRequirements returns them: a fresh copy on every read. */
function loadRequirements(c: Chart2): HelmDependency[] | undefined {
  if (c.requirements === undefined) return undefined;
  return (c.requirements ?? []).map((d) => deepCopy(d));
}

function processTags(reqs: HelmDependency[], cvals: Table): void {
  const vt = tableAt(cvals, 'tags');
  if (!vt) return;
  for (const r of reqs) {
    const tags = Array.isArray(r['tags']) ? r['tags'] : [];
    if (!tags.length) continue;
    let hasTrue = false;
    let hasFalse = false;
    for (const k of tags) {
      if (typeof k !== 'string' || !has(vt, k)) continue;
      if (vt[k] === true) hasTrue = true;
      else if (vt[k] === false) hasFalse = true;
    }
    r['enabled'] = !(!hasTrue && hasFalse);
  }
}

function processConditions(reqs: HelmDependency[], cvals: Table, cpath: string): void {
  for (const r of reqs) {
    const cond = typeof r['condition'] === 'string' ? r['condition'] : '';
    if (!cond.length) continue;
    const conds = cond.includes(',') ? cond.trim().split(',') : [cond.trim()];
    let hasTrue = false;
    let hasFalse = false;
    for (const c of conds) {
      if (!c.length) continue;
      const found = pathValue(cvals, cpath + c);
      const vv = found.found ? found.value : null;
      if (vv === true) hasTrue = true;
      else if (vv === false) hasFalse = true;
      // `if vv != nil { break }`: the first path that holds any value decides, a non-bool one too.
      if (vv !== null && vv !== undefined) break;
    }
    if (!hasTrue && hasFalse) r['enabled'] = false;
    else if (hasTrue) r['enabled'] = true;
  }
}

function processEnabled(c: Chart2, v: Table, path: string, notes: Helm2Notes, top: boolean): void {
  const reqs = loadRequirements(c);
  if (!reqs) return;
  const chartDependencies: Chart2[] = c.deps.filter((d) => !reqs.some((r) => d.name === r.name && compatibleRange(r['version'], d.version)));
  for (const req of reqs) {
    const aliased = getAliasDependency(c.deps, req);
    if (aliased) chartDependencies.push(aliased);
    const alias = str(req['alias']);
    if (alias) {
      if (!ALIAS.test(alias)) throw new CoalesceError(`illegal alias name in "${req.name}"`);
      if (top && req.name !== alias) notes.aliases.push(`${req.name}→${alias}`);
      req.name = alias;
    }
  }
  c.deps = chartDependencies;
  for (const r of reqs) r['enabled'] = true;
  const cvals = coalesceAll(c, v);
  processTags(reqs, cvals);
  processConditions(reqs, cvals, path);
  const rm = new Set(reqs.filter((r) => r['enabled'] !== true).map((r) => r.name));
  const cd = c.deps.filter((d) => !rm.has(d.name));
  if (top) notes.disabled.push(...[...rm].sort());
  // Every subchart is processed with the parent's coalesced values (`cc`), at its own path.
  for (const t of cd) processEnabled(t, cvals, `${path}${t.name}.`, notes, false);
  c.deps = cd;
}

/** requirements.go getParents: the chart, then every subchart that has subcharts, depth first. */
function getParents(c: Chart2, out: Chart2[] = [c]): Chart2[] {
  for (const ch of c.deps) {
    if (ch.deps.length) {
      out.push(ch);
      getParents(ch, out);
    }
  }
  return out;
}

function processImportValues(c: Chart2, notes: Helm2Notes, top: boolean): void {
  const reqs = loadRequirements(c);
  if (!reqs) return;
  const cvals = coalesceAll(c, newTable());
  let b = newTable();
  for (const r of reqs) {
    let found = false;
    let name = r.name;
    for (const v of c.deps) {
      if (v.name === r.name) found = true;
      const alias = str(r['alias']);
      if (alias !== undefined && v.name === alias) {
        found = true;
        name = alias;
      }
    }
    if (!found) continue;
    const list = Array.isArray(r['import-values']) ? r['import-values'] : [];
    for (const riv of list) {
      let child = '';
      let parent = '';
      if (isTable(riv)) {
        // `iv["child"].(string)`: anything else makes the helm client panic, so no release exists.
        if (typeof riv['child'] !== 'string' || typeof riv['parent'] !== 'string') throw new CoalesceError('import-values child/parent is not a string');
        child = riv['child'];
        parent = riv['parent'];
      } else if (typeof riv === 'string') {
        child = `exports.${riv}`;
        parent = '.';
      }
      if (top) notes.imports = true;
      const vv = tableAt(cvals, `${name}.${child}`);
      if (!vv) continue;
      b = coalesceTables(b, pathToMap(parent, vv));
    }
  }
  b = coalesceTables(b, cvals);
  // yaml.Marshal into Config.Raw: read back as text from now on.
  c.raw = deepCopy(b);
}

function toChart2(c: Helm2Input): Chart2 {
  if (c.metadata['apiVersion'] !== 'v1') throw new CoalesceError(`apiVersion '${String(c.metadata['apiVersion'])}' is not valid for Helm 2`);
  return {
    name: c.metadata.name,
    version: c.metadata.version,
    raw: c.helm2EmptyValues ? null : c.values ? deepCopy(c.values) : null,
    requirements: c.helm2Requirements === undefined ? undefined : c.helm2Requirements === null ? null : c.helm2Requirements.map((d) => deepCopy(d)),
    deps: c.subcharts.map(toChart2),
  };
}

/** mapMetadata: the fields helm-2to3 copies (normalizeMetadata keeps only Metadata's fields anyway). */
const MAPPED = ['name', 'home', 'sources', 'version', 'description', 'keywords', 'maintainers', 'icon', 'apiVersion', 'condition', 'tags', 'appVersion', 'deprecated', 'annotations', 'kubeVersion'];

/**
 * The metadata and values a converted release stores for `chart` installed by Helm 2 with user values
 * `config` (conditionValues). Throws CoalesceError when Helm 2 could not have installed it.
 */
export function helm2ProcessChart<N extends Helm2Notes>(chart: Helm2Input, config: Table | null, notes: N): { metadata: JsonObject; values: Table; notes: N } {
  const c = toChart2(chart);
  const hadSubcharts = c.deps.length > 0;
  processEnabled(c, config ?? newTable(), '', notes, true);
  const parents = getParents(c);
  for (let i = parents.length - 1; i >= 0; i--) processImportValues(parents[i] as Chart2, notes, i === 0);
  notes.subchartValues = hadSubcharts && c.requirements !== undefined && c.deps.length > 0;
  const metadata: JsonObject = {};
  for (const f of MAPPED) if (chart.metadata[f] !== undefined) metadata[f] = deepCopy(chart.metadata[f]);
  metadata['type'] = 'application';
  return { metadata, values: c.raw ? deepCopy(c.raw) : newTable(), notes };
}

/**
 * The parts of `installed` other than metadata and values that differ from what Helm 2's loader made of the
 * published chart (names as fingerprintDifferences gives them; [] when none): the templates and files as
 * published with any byte order mark Helm 3 trims kept, values.schema.json among the files (requirements.yaml and
 * requirements.lock are there already in the published fingerprint of a v1 chart), no schema and no lock.
 */
export function helm2FileDifferences(installed: ChartFingerprint, published: ChartFingerprint): string[] {
  const bom = published.withBom ?? {};
  const templates: Record<string, string> = {};
  for (const [n, d] of Object.entries(published.templates)) templates[n] = bom[n] ?? d;
  const files: Record<string, string> = {};
  for (const [n, d] of Object.entries(published.files)) files[n] = bom[`files/${n}`] ?? d;
  if (published.schema) files['values.schema.json'] = bom['schema'] ?? published.schema;
  const expected: ChartFingerprint = { ...published, schema: '', lock: '', templates, files };
  return fingerprintDifferences(installed, expected).filter((d) => d !== 'metadata' && d !== 'values');
}
