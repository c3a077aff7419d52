/**
 * Helm's values algebra (pkg/chartutil/coalesce.go in Helm 3, pkg/chart/common/util/coalesce.go in Helm 4),
 * re-implemented so that chartorigin computes exactly the `chart.values` a Helm version stores. The
 * functions follow Helm's semantics step by step, including where Helm mutates a table it also shares
 * with another (a JS object is a reference like a Go map), because those side effects change the result.
 *
 * Tables are null-prototype objects: a values key `__proto__` is data, never a prototype.
 */
import { isObject } from '../util/guards.ts';

export type Table = Record<string, unknown>;

/** How one Helm version coalesces; every flag names the release that changed it. */
export interface CoalesceBehaviour {
  /**
   * Helm ≥ 3.20.1 / 4.1.3 (coalesceTablesFullKey `srcOriginalNonNil`): a user null removes a chart default
   * only when that default is non-null; before, every user null removed its key.
   */
  keepNullWithoutDefault: boolean;
  /**
   * Helm ≥ 3.19.5 / 4.0 (helm/helm f0b699eab "fix null merge" in 3.20.0, backported to 3.19.5 as 578564ee2):
   * coalesceTablesFullKey first copies every null of dst into src, so a null in dst is also removed when src has no such key (unless kept by the rule above).
   */
  dstNullsIntoSrc: boolean;
  /** Helm ≥ 4.2 (`cleanNilValues`): when coalescing, nulls in chart defaults are dropped before merging. */
  cleanDefaultNulls: boolean;
  /** Helm ≥ 3.17.1 / 4.0 (`childChartMergeTrue`): a subchart's table in its parent's values keeps nulls. */
  childChartMerge: boolean;
  /**
   * Helm < 3.13 (before helm/helm 0a5148faf "Fix multiple bugs in values handling"): coalesceValues ranged
   * over the chart's own values instead of a deep copy, so the chart's tables went into the result as they
   * were and every later step changed the chart's values too (a parent's table for a subchart gained the
   * subchart's defaults, a disabled subchart's too, and lost the keys a parent null removed); and
   * coalesceGlobals coalesced (a null removes) where it now merges.
   */
  sharedChartValues: boolean;
  /**
   * Helm < 3.7 (before helm/helm 3b68afc1c "prevent subchart globals to leak upstream"): coalesceGlobals
   * handed a subchart the parent's global table itself when the subchart had none of that name, so the
   * subchart's global defaults were written into the parent's.
   */
  globalsLeakUpstream: boolean;
  /**
   * Helm < 3.2 (before helm/helm a34f31153 "Fix nested null value overrides"): CoalesceTables never removed
   * a null of dst (it stayed, even over a table), and CoalesceValues coalesced the subcharts a second time
   * (which brings back a subchart default a user null had removed).
   */
  coalesceKeepsNulls: boolean;
}

/** A chart as the values functions see it: its name, its values, its loaded subcharts. */
export interface ValuesChart {
  metadata: { name: string };
  values: Table | null;
  subcharts: ValuesChart[];
}

export function newTable(): Table {
  return Object.create(null) as Table;
}

export function isTable(v: unknown): v is Table {
  return isObject(v);
}

/** copystructure.Copy: a deep copy (tables and lists), into null-prototype tables. */
export function deepCopy<T>(v: T): T {
  if (Array.isArray(v)) return v.map((x: unknown) => deepCopy(x)) as T;
  if (isTable(v)) {
    const out = newTable();
    for (const k of Object.keys(v)) out[k] = deepCopy(v[k]);
    return out as T;
  }
  return v;
}

function has(t: Table, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(t, k);
}

function copyMap(src: Table): Table {
  const m = newTable();
  for (const k of Object.keys(src)) m[k] = src[k];
  return m;
}

/** CoalesceValues: user values over chart defaults, nulls delete keys. Returns a new table. */
export function coalesceValues(chart: ValuesChart, vals: Table | null | undefined, b: CoalesceBehaviour): Table {
  const out = coalesce(chart, copyValues(vals), false, b);
  return b.coalesceKeepsNulls ? coalesceDeps(chart, out, false, b) : out;
}

/** MergeValues: like CoalesceValues, but nulls are kept (Helm ≥ 3.13 install and upgrade). */
export function mergeValues(chart: ValuesChart, vals: Table | null | undefined, b: CoalesceBehaviour): Table {
  return coalesce(chart, copyValues(vals), true, b);
}

function copyValues(vals: Table | null | undefined): Table {
  return vals ? deepCopy(vals) : newTable();
}

function coalesce(ch: ValuesChart, dest: Table, merge: boolean, b: CoalesceBehaviour): Table {
  coalesceChartValues(ch, dest, merge, b);
  return coalesceDeps(ch, dest, merge, b);
}

/** Helm's error for a subchart key that holds a scalar: install fails, so such a release cannot exist. */
export class CoalesceError extends Error {
  readonly reason = 'helm_error';
}

function coalesceDeps(chart: ValuesChart, dest: Table, merge: boolean, b: CoalesceBehaviour): Table {
  for (const sub of chart.subcharts) {
    const name = sub.metadata.name;
    if (!has(dest, name)) dest[name] = newTable();
    else if (!isTable(dest[name])) throw new CoalesceError(`type mismatch on ${name}`);
    const dv = dest[name] as Table;
    coalesceGlobals(dv, dest, b);
    dest[name] = coalesce(sub, dv, merge, b);
  }
  return dest;
}

/** Copies `global` of src into dest (parents' globals win over a subchart's own). */
function coalesceGlobals(dest: Table, src: Table, b: CoalesceBehaviour): void {
  let dg: Table;
  let sg: Table;
  if (!has(dest, 'global')) dg = newTable();
  else if (isTable(dest['global'])) dg = dest['global'];
  else return;
  if (!has(src, 'global')) sg = newTable();
  else if (isTable(src['global'])) sg = src['global'];
  else return;
  for (const key of Object.keys(sg)) {
    const val = sg[key];
    if (isTable(val)) {
      // Shallow on purpose, as in Helm: nested tables stay shared with the parent's globals.
      const vv = copyMap(val);
      if (!has(dg, key)) {
        // Before 3.7 the copy was overwritten by the parent's table itself (the fall-through `dg[key] = val`).
        dg[key] = b.globalsLeakUpstream ? val : vv;
      } else {
        const destv = dg[key];
        if (isTable(destv)) {
          // Merged since 3.13 (the null rules then do not apply); coalesced before.
          coalesceTablesFullKey(vv, destv, !b.sharedChartValues, b);
          dg[key] = vv;
        } else if (b.globalsLeakUpstream) {
          dg[key] = val; // the same fall-through: the parent's table replaced the subchart's scalar
        }
      }
    } else if (has(dg, key) && isTable(dg[key])) {
      // Helm skips a scalar global over a table.
    } else {
      dg[key] = val;
    }
  }
  dest['global'] = dg;
}

function cleanNilValues(m: Table): void {
  for (const key of Object.keys(m)) {
    const val = m[key];
    if (val === null) delete m[key];
    else if (isTable(val)) cleanNilValues(val);
  }
}

function coalesceChartValues(c: ValuesChart, v: Table, merge: boolean, b: CoalesceBehaviour): void {
  const vc = b.sharedChartValues ? (c.values ?? newTable()) : deepCopy(c.values ?? newTable());
  for (const key of Object.keys(vc)) {
    // Shared, vc can be v itself or lose a key on the way (a Go range skips a key deleted before it is reached).
    if (!has(vc, key)) continue;
    const val = vc[key];
    if (has(v, key)) {
      const value = v[key];
      if (value === null && !merge) {
        delete v[key];
      } else if (isTable(value)) {
        if (isTable(val)) {
          if (!merge && b.cleanDefaultNulls) cleanNilValues(val);
          const childMerge = b.childChartMerge && c.subcharts.some((d) => d.metadata.name === key) ? true : merge;
          coalesceTablesFullKey(value, val, childMerge, b);
        }
      }
    } else {
      if (!merge && b.cleanDefaultNulls) {
        if (val === null) continue;
        if (isTable(val)) cleanNilValues(val);
      }
      v[key] = val;
    }
  }
}

/** CoalesceTables (merge=false) / MergeTables (merge=true): dst wins; src fills what dst lacks. */
export function coalesceTables(dst: Table | null, src: Table | null, b: CoalesceBehaviour): Table | null {
  return coalesceTablesFullKey(dst, src, false, b);
}

export function mergeTables(dst: Table | null, src: Table | null, b: CoalesceBehaviour): Table | null {
  return coalesceTablesFullKey(dst, src, true, b);
}

function coalesceTablesBefore32(dst: Table | null, src: Table | null): Table | null {
  if (dst === null || src === null) return src;
  for (const key of Object.keys(src)) {
    const val = src[key];
    if (isTable(val)) {
      if (!has(dst, key)) dst[key] = val;
      else if (isTable(dst[key])) coalesceTablesBefore32(dst[key], val);
    } else if (!has(dst, key)) {
      dst[key] = val;
    }
  }
  return dst;
}

function coalesceTablesFullKey(dst: Table | null, src: Table | null, merge: boolean, b: CoalesceBehaviour): Table | null {
  if (b.coalesceKeepsNulls) return coalesceTablesBefore32(dst, src);
  if (src === null) return dst;
  if (dst === null) return src;
  const srcNonNull = new Set<string>();
  if (b.keepNullWithoutDefault) for (const key of Object.keys(src)) if (src[key] !== null) srcNonNull.add(key);
  if (b.dstNullsIntoSrc) for (const key of Object.keys(dst)) if (dst[key] === null) src[key] = null;
  for (const key of Object.keys(src)) {
    const val = src[key];
    const ok = has(dst, key);
    const dv = dst[key];
    if (ok && !merge && dv === null && (!b.keepNullWithoutDefault || srcNonNull.has(key))) {
      delete dst[key];
    } else if (!ok) {
      dst[key] = val;
    } else if (isTable(val)) {
      if (isTable(dv)) coalesceTablesFullKey(dv, val, merge, b);
    }
  }
  return dst;
}

/** Values.Table: the table at a dotted path, or undefined (ErrNoTable). */
export function tableAt(v: Table, path: string): Table | undefined {
  let table: Table = v;
  for (const n of path.split('.')) {
    if (!has(table, n)) return undefined;
    const next = table[n];
    if (!isTable(next)) return undefined;
    table = next;
  }
  return table;
}

/** chartutil pathToMap (Helm 2 and 3 alike): `data` nested under the dotted `path` ("." is the top itself). */
export function pathToMap(path: string, data: Table): Table {
  if (path === '.') return data;
  let cur: Table = data;
  const parts = path.split('.');
  for (let i = parts.length - 1; i >= 0; i--) {
    const t = newTable();
    t[parts[i] as string] = cur;
    cur = t;
  }
  return cur;
}

/** Values.PathValue: a non-table value at a dotted path; `found: false` is Helm's ErrNoValue. */
export function pathValue(v: Table, path: string): { found: true; value: unknown } | { found: false } {
  if (path === '') return { found: false };
  const parts = path.split('.');
  const key = parts.pop() as string;
  const t = parts.length ? tableAt(v, parts.join('.')) : v;
  if (!t || !has(t, key) || isTable(t[key])) return { found: false };
  return { found: true, value: t[key] };
}
