/**
 * The content proof: is the chart stored in a release exactly what Helm stores when it installs (or
 * upgrades to) a published tarball? Helm rewrites metadata and values on the way (chart/helm-install.ts),
 * so the published chart is processed the way each known Helm version would process it, with the
 * release's own user values, and the result must equal the stored chart digest for digest. Anything not
 * explained by such processing stays a difference; nothing is "left out" but the places a chart's own
 * templates write into its values, for the releases of Helm before 3.13, which stored such writes
 * (proveTemplateWrites).
 *
 * Pure except for `previous`, which the caller backs with one extra read when (and only when) the values
 * differ from a fresh install's: the --reuse-values case, and the release's own values when the chart's
 * templates write into them (Helm < 3.13 stored such writes: proveTemplateWrites).
 */
import { canonicalJson, fingerprintDifferences, metadataDigest, valuesDigest } from '../chart/fingerprint.ts';
import { helm2FileDifferences } from '../chart/helm2.ts';
import { chartFromJson, HELM_BEHAVIOURS, helmProcessChart, reusedValues, type HelmBehaviour, type HelmChart, type ProcessingNotes, type StoredChartParts } from '../chart/helm-install.ts';
import { CoalesceError, deepCopy, isTable, newTable, type Table } from '../chart/coalesce.ts';
import type { ChartFingerprint } from '../model/chart.ts';
import type { ReleaseRecord, StoredValues } from '../model/release.ts';
import { proofInputsOf } from '../decode/proof-inputs.ts';
import { tokenizeGlobals } from '../chart/global-tokens.ts';

/**
 * A legitimate rewrite of the published chart made before Helm sees it (e.g. Flux's chart build merging
 * values files and suffixing the version). A variant's `name` goes into origin.message when the proof used
 * it; none when it cannot apply to this release. Must not modify its input.
 */
export interface ChartTransformation {
  /** Every chart this rewrite could have made of `published` for this release, each named for origin.message. */
  variants(published: HelmChart, installed: ReleaseRecord, candidate: { manifestDigest?: string | undefined }): { name: string; tree: HelmChart }[];
  /**
   * Why this release's rewrite is known to have happened but cannot be reproduced from `published` (undefined
   * when it can, or did not happen): then different values or metadata are no evidence of tampering.
   */
  unreproducible?(published: HelmChart, installed: ReleaseRecord): string | undefined;
}

/** The published side of one candidate: content digests and, for processing, the chart tree. */
export interface PublishedForProof {
  fingerprint: ChartFingerprint;
  /** treeJson of the chart with its subcharts. */
  tree: string;
  /** OCI: the manifest digest the chart was pulled by (Flux suffixes versions with its first 12 hex). */
  manifestDigest?: string | undefined;
}

export interface ProofContext {
  transformations?: readonly ChartTransformation[] | undefined;
  /** A stored revision's values and config (for --reuse-values), or undefined when it is not stored. */
  previous?: ((revision: number) => Promise<StoredValues | undefined>) | undefined;
}

export interface ProofResult {
  /** [] when proven; else the parts that differ (names only). */
  differences: string[];
  /** When proven: every transformation the proof accounted for, in words. */
  accounted: string[];
  /** When the proof cannot be completed (set instead of a verdict): why, in words. */
  unverifiable?: string | undefined;
}

/** Statuses of a revision whose values Helm would not reuse: --reuse-values then goes further back. */
const NOT_REUSED = new Set(['failed', 'pending-install', 'pending-upgrade', 'pending-rollback', 'uninstalling']);
/** Extra reads when looking past failed revisions for the one --reuse-values used. */
const MAX_PREVIOUS_READS = 4;

function behavioursFor(record: ReleaseRecord): readonly HelmBehaviour[] {
  // Helm 4 marks what it writes; without the marks, any Helm may have written it (Helm 3, or a tool
  // built on either library), so every known behaviour is accepted: each is Helm's own processing.
  return record.helmMajor === 4 ? HELM_BEHAVIOURS.filter((b) => b.major === 4) : HELM_BEHAVIOURS;
}

interface Variant {
  name?: string | undefined;
  tree: HelmChart;
}

function describeNotes(n: ProcessingNotes): string | undefined {
  const parts: string[] = [];
  if (n.requirements) parts.push('requirements.yaml folded into metadata');
  if (n.subchartValues) parts.push('subchart values coalesced');
  if (n.aliases.length) parts.push(`alias ${n.aliases.join(', ')}`);
  if (n.disabled.length) parts.push(`disabled ${n.disabled.join(', ')} dropped`);
  if (n.imports) parts.push('import-values applied');
  // Helm 4 loads a values.yaml of several YAML documents merged (helm/helm 92087f6e3, 4.0.0); Helm 3 reads the first.
  const documents = n.helm4Documents ? "values.yaml's YAML documents merged, as Helm 4 loads them" : undefined;
  const processing = parts.length ? `Helm dependency processing: ${parts.join(', ')}` : undefined;
  return [documents, processing].filter((x) => x !== undefined).join('; ') || undefined;
}

function buildMetadataOf(version: string): string {
  const plus = version.indexOf('+');
  return plus < 0 ? '' : version.slice(plus);
}

function metadataMatches(installed: ChartFingerprint, digest: string): boolean {
  return installed.metadata === digest || installed.metadataWithoutBuild === digest;
}

/**
 * Whether processed values are the stored ones. Helm < 3.13 also stored the user's globals in the chart's
 * values, which the reproduction has only as keyed hashes: for those rules, and when the user set such
 * globals, the comparison is made with every value inside a `global` table hashed on both sides.
 */
function valuesMatch(record: ReleaseRecord, values: Table, b: HelmBehaviour): 'exact' | 'globals' | undefined {
  if (record.fingerprint.values === valuesDigest(values)) return 'exact';
  const globals = b.sharedChartValues ? proofInputsOf(record)?.globalsValuesDigest : undefined;
  return globals !== undefined && globals === valuesDigest(tokenizeGlobals(values)) ? 'globals' : undefined;
}

const GLOBALS_NOTE = 'user globals stored in subchart values (Helm before 3.13) compared by keyed hash';
const V1_REQUIREMENT_FILES = new Set(['files/requirements.yaml', 'files/requirements.lock']);

/**
 * Templates, files and the schema are stored as published, except by the oldest Helm 3: for a version rule,
 * the notes that explain the parts that differ ([] when none does), or undefined when some part stays
 * unexplained for it.
 * - Helm 3.0.0-3.0.1 (before helm/helm 0cb0eaca9, 3.0.2) did not keep an apiVersion v1 chart's
 *   requirements.yaml and requirements.lock among its files: absent (not different), they are explained
 *   for the rules of Helm before 3.1.2.
 * - Helm 3.0-3.2 (before helm/helm 27ebfa8c5, 3.3) stored files with their UTF-8 byte order mark, which the
 *   archive reader trims: a part equal to the published one with the mark is explained for the rules of
 *   Helm before 3.7 (the rule of 3.2-3.6 spans the change).
 * - Helm 2, converted by helm-2to3: its loader's files (chart/helm2.ts helm2FileDifferences, `converted`), which
 *   include values.schema.json and requirements.*, and no schema or lock.
 */
function oldHelmFiles(tree: HelmChart, installed: ChartFingerprint, published: ChartFingerprint, fixed: string[], converted: string[]): (b: HelmBehaviour) => string[] | undefined {
  const notStored = tree.metadata['apiVersion'] === 'v1' ? fixed.filter((d) => V1_REQUIREMENT_FILES.has(d) && installed.files[d.slice('files/'.length)] === undefined) : [];
  const bomKept = fixed.filter((d) => published.withBom?.[d] !== undefined && published.withBom[d] === partDigest(installed, d));
  return (b) => {
    // Helm 2's loader kept every file as it was and no schema or lock: compared with that, not with `fixed`.
    if (b.major === 2) return converted.length ? undefined : [HELM2TO3_NOTE];
    const explained = new Set([...(b.dropsV1RequirementFiles ? notStored : []), ...(b.storedWithBom ? bomKept : [])]);
    if (fixed.some((d) => !explained.has(d))) return undefined;
    const notes: string[] = [];
    if (b.dropsV1RequirementFiles && notStored.length) notes.push(REQUIREMENTS_NOTE);
    if (b.storedWithBom && bomKept.length) notes.push(`UTF-8 byte order mark kept in ${bomKept.join(', ')} (Helm before 3.3)`);
    return notes;
  };
}

/** Whether Helm 4 reads the values of the chart or of one of its subcharts differently from Helm 3. */
function hasHelm4Reading(c: HelmChart): boolean {
  return c.helm4Values !== undefined || c.subcharts.some(hasHelm4Reading);
}

/** The digest of one part of a fingerprint, by its name in fingerprintDifferences. */
function partDigest(f: ChartFingerprint, part: string): string | undefined {
  if (part === 'schema') return f.schema;
  if (part.startsWith('files/')) return f.files[part.slice('files/'.length)];
  return f.templates[part];
}
const REQUIREMENTS_NOTE = 'requirements.yaml/requirements.lock not among the stored files (Helm 3.0.0-3.0.1)';
const HELM2TO3_NOTE = "converted from a Helm 2 release by helm-2to3 (Helm 2's loading and requirements processing)";

/**
 * Compares the installed chart with one published candidate. Verified-grade equality is returned only
 * when some known Helm processing of the published chart yields the stored chart exactly.
 */
export async function proveContent(record: ReleaseRecord, published: PublishedForProof, ctx: ProofContext = {}): Promise<ProofResult> {
  const installed = record.fingerprint;
  const direct = fingerprintDifferences(installed, published.fingerprint);
  // Fast path (most charts: no dependencies, fresh install): the stored chart is the published one. Not for a
  // Helm 4 release of a chart whose values.yaml Helm 4 reads otherwise (several documents, merged since 4.0):
  // the fingerprint holds Helm 3's reading, which a fresh Helm 4 install never stores, so equality with it
  // proves nothing there; the processing below compares with Helm 4's reading (and --reuse-values explains
  // a Helm 3 revision's values carried over). The substring test only spares parsing the tree: a user value
  // named v4 merely sends a release the long way.
  const helm4Reading = record.helmMajor === 4 && published.tree.includes('"v4":') && hasHelm4Reading(chartFromJson(published.tree));
  if (!helm4Reading && direct.length === 0 && installed.metadata === published.fingerprint.metadata) return { differences: [], accounted: [] };
  const fixed = direct.filter((d) => d !== 'metadata' && d !== 'values');

  const condition: Table = proofInputsOf(record)?.conditionValues ?? newTable();
  const tree = chartFromJson(published.tree);
  // Helm 4's chart apiVersion v3 has its own loader and processing, not modelled here: such a chart is
  // not compared (Unverified), since a difference would not mean tampering.
  if (tree.metadata['apiVersion'] === 'v3') return { differences: [], accounted: [], unverifiable: "the chart uses Helm 4's apiVersion v3 format, whose install-time processing is not reproduced yet" };
  const variants: Variant[] = [{ tree }];
  for (const t of ctx.transformations ?? []) variants.push(...t.variants(chartFromJson(published.tree), record, { manifestDigest: published.manifestDigest }));
  const behaviours = behavioursFor(record);
  const requirements = tree.metadata['apiVersion'] === 'v1' && Array.isArray(tree.metadata.dependencies);
  // The parts that differ from what Helm 2's loader made of the chart (helm-2to3), named when its rule explains the metadata.
  const converted = record.helmMajor === 4 ? fixed : helm2FileDifferences(installed, published.fingerprint);
  const explain = oldHelmFiles(tree, installed, published.fingerprint, fixed, converted);

  let metadataOk: Variant | undefined;
  let metadataRule: HelmBehaviour | undefined;
  let loose: ProofResult | undefined;
  let valuesOk = false;
  let filesDiffer: HelmBehaviour | undefined;
  for (const variant of variants) {
    for (const b of behaviours) {
      const parts = processed(variant.tree, condition, b);
      if (!parts) continue;
      const valuesEqual = valuesMatch(record, parts.values, b);
      if (valuesEqual) valuesOk = true;
      if (!metadataMatches(installed, metadataDigest(parts.metadata))) continue;
      metadataOk ??= variant;
      metadataRule ??= b;
      if (valuesEqual) {
        const files = explain(b);
        if (!files) {
          filesDiffer ??= b; // templates, files or the schema differ: named below unless another rule explains them
          continue;
        }
        // Helm 2 never folded requirements.yaml into the metadata.
        parts.notes.requirements = requirements && b.major !== 2;
        const notes = [valuesEqual === 'globals' ? GLOBALS_NOTE : undefined, ...files].filter((x) => x !== undefined).join('; ');
        const proven = { differences: [], accounted: accountedOf(variant, parts.notes, notes || undefined) };
        // Equal but for build metadata on the version: a transformation that explains the suffix (Flux's
        // build, which checks an OCI digest suffix against the manifest) is preferred to ignoring it.
        if (installed.metadata !== metadataDigest(parts.metadata)) {
          loose ??= { ...proven, accounted: [...proven.accounted, `build metadata on the version (${buildMetadataOf(record.chart.version)}) left out of the comparison`] };
          continue;
        }
        return proven;
      }
    }
  }

  if (loose) return loose;
  if (filesDiffer) return { differences: filesDiffer.major === 2 ? converted : fixed, accounted: [] };
  // Templates, files and the schema are never rewritten; values and metadata may have been by a rewrite that
  // cannot be reproduced here (Flux merging values files the published chart does not have).
  const unreproducible = fixed.length === 0 ? (ctx.transformations ?? []).map((t) => t.unreproducible?.(chartFromJson(published.tree), record)).find((u) => u !== undefined) : undefined;
  if (unreproducible) return { differences: [], accounted: [], unverifiable: unreproducible };
  // Parts are named in the order fingerprintDifferences uses; values only when no processing explains them.
  if (!metadataOk) return { differences: ['metadata', ...(valuesOk ? [] : ['values']), ...fixed], accounted: [] };

  // Metadata is explained, values are not: Helm's --reuse-values starts from the previous revision's
  // values coalesced with its user values. Read it (once) only now.
  const previous = ctx.previous ? memoised(ctx.previous) : undefined;
  const exact = (values: Table, b: HelmBehaviour): string[] | undefined => {
    const m = valuesMatch(record, values, b);
    return m === undefined ? undefined : m === 'globals' ? [GLOBALS_NOTE] : [];
  };
  if (behaviours.some((b) => explain(b) !== undefined) && (record.rollbackTo ?? record.release.revision) > 1) {
    const reuse = await proveReuse(record, variants, behaviours, condition, previous, requirements, explain, exact, true);
    if (reuse) return reuse;
  }
  const written = await proveTemplateWrites(record, tree, variants, behaviours, condition, previous, requirements, explain);
  if (written) return written;
  return { differences: ['values', ...(metadataRule?.major === 2 ? converted : fixed)], accounted: [] };
}

function memoised(read: (revision: number) => Promise<StoredValues | undefined>): (revision: number) => Promise<StoredValues | undefined> {
  const seen = new Map<number, Promise<StoredValues | undefined>>();
  return (revision) => {
    let p = seen.get(revision);
    if (!p) seen.set(revision, (p = read(revision)));
    return p;
  };
}

/**
 * Helm before 3.13 shared the chart's own values tables into the render values and stored the release after
 * rendering, so what the chart's templates wrote into them (sprig set/unset/merge…: chart/template-writes.ts)
 * is in the stored `chart.values` (observed with helm 3.12.3; 3.13+ and 4 copy first). Tried last, only for
 * the rules of those versions (never for a release Helm 4 marked), with templates, files and the schema
 * explained, and only for a chart whose templates write: the release's own stored values are read once and
 * compared with the reproduction with the written places left out on both sides (globals tokenised on both,
 * as valuesMatch does for those rules); fresh install and --reuse-values alike. The values read must be the
 * ones decoded (same revision, same digest): a second read may meet another object (a forged `version`, or one
 * rewritten in between), and comparing with it would prove nothing about this release. Equal: Verified, naming
 * what was left out. A write the analysis cannot place (it may have touched any value) with values that still
 * differ: Unverified, since Helm itself may have stored the difference. Otherwise undefined (the values stay a
 * difference: every place a template could write was left out).
 *
 * Not a security boundary: which Helm wrote a release is read from the release (Helm 4's marks), which whoever
 * can rewrite it can change; what this step can hide is bounded by the places the published chart's own
 * templates write. (Helm renders from stored chart values again only on `upgrade --reuse-values`, whose user
 * values `config` — never verifiable — whoever rewrites a release can change as well.)
 */
async function proveTemplateWrites(record: ReleaseRecord, tree: HelmChart, variants: Variant[], behaviours: readonly HelmBehaviour[], condition: Table, previous: ((revision: number) => Promise<StoredValues | undefined>) | undefined, requirements: boolean, explain: (b: HelmBehaviour) => string[] | undefined): Promise<ProofResult | undefined> {
  const shared = behaviours.filter((b) => b.sharedChartValues && explain(b) !== undefined);
  const writes = collectWrites(tree);
  if (!shared.length || !writes.count) return undefined;
  const stored = previous ? await previous(record.release.revision) : undefined;
  if (!stored) {
    // Without the stored values the written places cannot be left out: a difference may still be Helm's own.
    return { differences: [], accounted: [], unverifiable: `values differ from a fresh install and the chart's templates write to them (Helm before 3.13 stored such writes); the release's stored values cannot be read here to compare the rest` };
  }
  if (stored.revision !== record.release.revision || valuesDigest(stored.values) !== record.fingerprint.values) {
    return { differences: [], accounted: [], unverifiable: `values differ from a fresh install and the chart's templates write to them (Helm before 3.13 stored such writes); the release's stored values read again were not the ones first read (changed in between, or another revision's), so the rest cannot be compared` };
  }
  const storedValues = tokenizeGlobals(stored.values ?? newTable());
  const match = (values: Table): string[] | undefined => {
    const processed = tokenizeGlobals(values);
    if (valuesDigest(without(processed, writes.paths)) !== valuesDigest(without(storedValues, writes.paths))) return undefined;
    // Named: the written paths where the stored values differ (names only, never values).
    const names = [...new Set(writes.paths.filter((p) => canonicalJson(valueAt(processed, p) ?? null) !== canonicalJson(valueAt(storedValues, p) ?? null)).map(pathName))];
    return [`values at ${listed(names.length ? names : writes.names)} written by the chart's own templates (${writes.fns.join(', ')}; Helm before 3.13 stored such writes)`];
  };
  for (const variant of variants) {
    for (const b of shared) {
      const parts = processed(variant.tree, condition, b);
      if (!parts || !metadataMatches(record.fingerprint, metadataDigest(parts.metadata))) continue;
      const notes = match(parts.values);
      if (notes) {
        parts.notes.requirements = requirements;
        return { differences: [], accounted: accountedOf(variant, parts.notes, [...notes, ...(explain(b) ?? [])].join('; ')) };
      }
    }
  }
  // --reuse-values under the same rules: the previous revision's stored values hold that revision's writes,
  // which are at the same places, left out as well.
  if ((record.rollbackTo ?? record.release.revision) > 1) {
    const reuse = await proveReuse(record, variants, shared, condition, previous, requirements, explain, match, false);
    if (reuse) return reuse;
  }
  return writes.anywhere.length
    ? { differences: [], accounted: [], unverifiable: `values differ from a fresh install and the chart's templates may write to them (${listed(writes.anywhere)}) — Helm before 3.13 stored such writes, so the difference is not evidence of tampering` }
    : undefined;
}

/** At most 8 names in a message (a chart may write hundreds of places); the count of the rest. */
function listed(names: readonly string[]): string {
  return names.length <= 8 ? names.join(', ') : `${names.slice(0, 8).join(', ')} and ${names.length - 8} more`;
}

/** A path as named in a message: keys come from template text, so control characters are escaped. */
function pathName(p: readonly string[]): string {
  return p.map((k) => JSON.stringify(k).slice(1, -1)).join('.');
}

interface CollectedWrites {
  count: number;
  /** Every static path, under the prefixes it may be written at. */
  paths: string[][];
  /** The static written paths as named in origin.message (relative to a chart's values, deduplicated). */
  names: string[];
  /** The functions of the static writes. */
  fns: string[];
  /** `file: function on target` of each write the analysis cannot place (it may touch any value). */
  anywhere: string[];
}

/**
 * The writes of every chart of the tree, as paths of the parent's stored values. A write in a chart's own
 * template (outside any `define`) is under that chart's prefix only (the parent: its values; a subchart: its
 * alias or name, nested ones chained): `.Values` there is the chart's own. A write in a named template may run
 * with another chart's context (a library chart's helpers, an `include` across charts), so it is taken under
 * every chart's prefix: more paths only leave more out of the comparison, never explain a difference
 * elsewhere. The parent's own `set`/`unset` of a key directly on `.Values` is none: its top-level map is a
 * copy of the user's values, never stored (observed: `renderedAt` in the fixtures).
 */
function collectWrites(tree: HelmChart): CollectedWrites {
  const prefixes: string[][] = [];
  const own: string[][] = [];
  const everywhere: string[][] = [];
  const names: string[] = [];
  const fns = new Set<string>();
  const anywhere: string[] = [];
  let count = 0;
  const walk = (c: HelmChart, prefix: string[], dir: string): void => {
    prefixes.push(prefix);
    for (const w of c.templateWrites ?? []) {
      count++;
      if (!w.paths) {
        anywhere.push(`${dir}${w.file}: ${w.fn} on ${w.target ?? 'an unknown table'}`);
        continue;
      }
      if (w.top && !w.inDefine && prefix.length === 0) continue;
      fns.add(w.fn);
      for (const p of w.paths) {
        names.push(pathName(p));
        if (w.inDefine) everywhere.push(p);
        else own.push([...prefix, ...p]);
      }
    }
    const deps = c.metadata.dependencies ?? [];
    for (const sub of c.subcharts) {
      const subNames = new Set([sub.metadata.name, ...deps.filter((d) => d.name === sub.metadata.name).map((d) => (typeof d['alias'] === 'string' && d['alias'] ? d['alias'] : d.name))]);
      for (const n of subNames) walk(sub, [...prefix, n], `${dir}charts/${sub.metadata.name}/`);
    }
  };
  walk(tree, [], '');
  return {
    count,
    paths: [...own, ...prefixes.flatMap((p) => everywhere.map((r) => [...p, ...r]))],
    names: [...new Set(names)],
    fns: [...fns],
    anywhere: [...new Set(anywhere)],
  };
}

function valueAt(values: Table, path: string[]): unknown {
  let v: unknown = values;
  for (const k of path) v = isTable(v) ? v[k] : undefined;
  return v;
}

/** A copy of `values` without the given paths. */
function without(values: Table, paths: string[][]): Table {
  const out = deepCopy(values);
  for (const p of paths) {
    let t: unknown = out;
    for (const k of p.slice(0, -1)) t = isTable(t) ? t[k] : undefined;
    const last = p[p.length - 1];
    if (isTable(t) && last !== undefined) delete t[last];
  }
  return out;
}

/** Helm's processing of `tree` under rule `b`, or undefined where Helm fails the install (no release can come from it). */
function processed(tree: HelmChart, condition: Table, b: HelmBehaviour, base?: Table): StoredChartParts | undefined {
  try {
    return helmProcessChart(tree, condition, b, base);
  } catch (err) {
    if (err instanceof CoalesceError) return undefined;
    throw err;
  }
}

function accountedOf(variant: Variant, notes: ProcessingNotes, extra?: string): string[] {
  return [variant.name, describeNotes(notes), extra].filter((x): x is string => !!x);
}

/**
 * --reuse-values: the previous revision's values (looking past failed ones) as the base. `match` says whether
 * the processed values are the stored ones, with the notes that explain how; `report` whether a revision that
 * cannot be read makes the proof Unverified (the first attempt) or merely fails it.
 */
async function proveReuse(record: ReleaseRecord, variants: Variant[], behaviours: readonly HelmBehaviour[], condition: Table, previous: ((revision: number) => Promise<StoredValues | undefined>) | undefined, requirements: boolean, explain: (b: HelmBehaviour) => string[] | undefined, match: (values: Table, b: HelmBehaviour) => string[] | undefined, report: boolean): Promise<ProofResult | undefined> {
  if (!previous) return report ? { differences: [], accounted: [], unverifiable: `values differ from a fresh install of the published chart; the previous revision is needed to check --reuse-values and cannot be read here` } : undefined;
  // Helm 2's --reuse-values (Tiller rebuilt the chart's values from the previous revision) is not reproduced.
  behaviours = behaviours.filter((b) => b.major !== 2);
  let revision = (record.rollbackTo ?? record.release.revision) - 1;
  for (let reads = 0; revision >= 1 && reads < MAX_PREVIOUS_READS; reads++, revision--) {
    const prev = await previous(revision);
    if (!prev) {
      return reads === 0 && report
        ? { differences: [], accounted: [], unverifiable: `values differ from a fresh install of the published chart and revision ${revision} (needed to check --reuse-values) is no longer stored` }
        : undefined;
    }
    for (const variant of variants) {
      for (const b of behaviours) {
        const files = explain(b);
        if (!files) continue;
        const base = reusedValues(prev.values, prev.config, b);
        const parts = processed(variant.tree, condition, b, base);
        if (!parts || !metadataMatches(record.fingerprint, metadataDigest(parts.metadata))) continue;
        const matched = match(parts.values, b);
        if (matched) {
          parts.notes.requirements = requirements;
          const notes = [`values carried over by --reuse-values from revision ${prev.revision}`, ...matched, ...files];
          return { differences: [], accounted: accountedOf(variant, parts.notes, notes.join('; ')) };
        }
      }
    }
    if (!NOT_REUSED.has(prev.status)) return undefined;
  }
  return undefined;
}
