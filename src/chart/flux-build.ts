import { posix } from 'node:path';
import { isObject, type JsonObject } from '../util/guards.ts';
import { parseHelmYaml, type ChartContent, type ChartFile } from './content.ts';
import { parseVersion } from './version.ts';

/*
 * Flux's chart build, as a pure function on the published chart's content.
 *
 * Modelled on Flux v2.9: source-controller v1.9.0 (internal/helm/chart/builder_remote.go
 * `mergeChartValues`, metadata.go `OverwriteChartDefaultValues`, builder.go `BuildOptions.GetValuesFiles`,
 * internal/controller/helmchart_controller.go `buildFromHelmRepository`/`buildFromTarballArtifact` for the
 * version metadata) and helm-controller v1.6 (internal/controller/helmrelease_controller.go
 * `mutateChartWithSourceRevision`, `extractDigestSubString`). What they do to a chart that a repository
 * publishes:
 *  - HelmChart with `valuesFiles` (anything but exactly `[values.yaml]`): starting from an EMPTY map, each
 *    listed file in order is deep-merged over the result (fluxcd/pkg/runtime/transform.MergeMaps: maps
 *    merge key by key, anything else — lists included — is replaced); `values.yaml` in the list stands
 *    for the chart's own defaults (as the chart loader read them: source-controller 1.8+ loads with Helm 4,
 *    which merges every YAML document of values.yaml, before 1.8 Helm 3 read the first — the caller passes
 *    the reading, resolve/flux-proof.ts tries both), and when it is not listed the defaults are gone. The result replaces
 *    values.yaml; the other values files stay in the chart as ordinary files. A listed file that is not in
 *    the chart fails the build unless `ignoreMissingValuesFiles`. The version gets build metadata
 *    `+<HelmChart generation>`.
 *  - HelmChart from a GitRepository/Bucket with `reconcileStrategy: Revision`: `+<12 hex of the source
 *    revision>` (`.<generation>` appended when valuesFiles are set too).
 *  - HelmRelease `chartRef` to an OCIRepository: helm-controller sets the build metadata to the first 12
 *    hex of the artifact's manifest digest (so a re-pushed tag is seen as a new chart).
 * Build metadata REPLACES any the published version had (Masterminds semver `SetMetadata`), and the
 * version is re-rendered canonically (`v1.2` → `1.2.0`).
 */

/** The built chart's source-controller options that change content (BuildOptions). */
export interface FluxBuildOptions {
  valuesFiles?: readonly string[] | undefined;
  ignoreMissingValuesFiles?: boolean | undefined;
  /** SemVer build metadata without the `+`. */
  versionMetadata?: string | undefined;
}

/** A Flux build that failed as source-controller's would (the HelmChart would not be Ready). */
export class FluxBuildError extends Error {
  readonly reason: 'values_file_missing' | 'invalid_values_file' | 'invalid_version';
  constructor(reason: FluxBuildError['reason'], message: string) {
    super(message);
    this.name = 'FluxBuildError';
    this.reason = reason;
  }
}

const VALUES_FILE = 'values.yaml';
const decoder = new TextDecoder('utf-8');

/** Go's filepath.Clean for the relative paths a HelmChart lists. */
function clean(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** BuildOptions.GetValuesFiles: a list of exactly `values.yaml` is no list (nothing to build). */
export function effectiveValuesFiles(files: readonly string[] | undefined): string[] {
  if (!files || files.length === 0) return [];
  if (files.length === 1 && clean(files[0] ?? '') === VALUES_FILE) return [];
  return [...files];
}

/** transform.MergeMaps: b over a; nested maps merge, every other value (lists too) replaces. */
export function fluxMergeMaps(a: JsonObject, b: JsonObject): JsonObject {
  const out: JsonObject = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = isObject(v) && isObject(prev) ? fluxMergeMaps(prev, v) : v;
  }
  return out;
}

/**
 * Parsed values files by their bytes: inferring a merge tries up to 400 orders of the same few files, and
 * merging never mutates its inputs, so each file is parsed once for as long as its chart is cached.
 */
const parsedFiles = new WeakMap<Uint8Array, unknown>();

/** mergeChartValues: the merged values and the files that contributed, in order. */
export function fluxMergeValues(chart: Pick<ChartContent, 'values' | 'files'>, valuesFiles: readonly string[], ignoreMissing: boolean): { values: JsonObject; used: string[] } {
  let merged: JsonObject = {};
  const used: string[] = [];
  for (const p of valuesFiles) {
    const name = clean(p);
    if (name === VALUES_FILE) {
      merged = fluxMergeMaps(merged, isObject(chart.values) ? chart.values : {});
      used.push(p);
      continue;
    }
    const file = chart.files.find((f) => f.name === name);
    if (!file) {
      if (ignoreMissing) continue;
      throw new FluxBuildError('values_file_missing', `no values file found at path '${p}'`);
    }
    let parsed = parsedFiles.get(file.data);
    if (parsed === undefined) {
      parsed = parseHelmYaml(decoder.decode(file.data), `values file '${p}'`) ?? {};
      parsedFiles.set(file.data, parsed);
    }
    if (!isObject(parsed)) throw new FluxBuildError('invalid_values_file', `values file '${p}' is not a mapping`);
    merged = fluxMergeMaps(merged, parsed);
    used.push(p);
  }
  return { values: merged, used };
}

/** `1.2.3` + `abc` → `1.2.3+abc` as Masterminds renders it; undefined when the version is not SemVer. */
export function withBuildMetadata(version: string, metadata: string): string | undefined {
  const v = parseVersion(version);
  if (!v || !/^[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*$/.test(metadata)) return undefined;
  return `${v.major}.${v.minor}.${v.patch}${v.prerelease.length ? `-${v.prerelease.join('.')}` : ''}+${metadata}`;
}

/**
 * The chart source-controller packages (and helm-controller installs) from `chart` with `options`.
 * Templates, files and schema are untouched; values and the version change as described above.
 */
export function fluxBuild(chart: ChartContent, options: FluxBuildOptions): ChartContent {
  const files = effectiveValuesFiles(options.valuesFiles);
  let values = chart.values;
  if (files.length > 0) values = fluxMergeValues(chart, files, options.ignoreMissingValuesFiles === true).values;
  let metadata = chart.metadata;
  if (options.versionMetadata) {
    const version = withBuildMetadata(String(chart.metadata['version'] ?? ''), options.versionMetadata);
    if (!version) throw new FluxBuildError('invalid_version', 'chart version is not SemVer, so Flux cannot set build metadata on it');
    metadata = { ...metadata, version };
  }
  return { ...chart, metadata, values };
}

/** What Flux may have done to a published chart, and the name users see in `origin.message`. */
export interface FluxTransformation {
  options: FluxBuildOptions;
  /** e.g. "values merged from values.yaml, values-prod.yaml by Flux (HelmChart generation 2)". */
  description: string;
}

/**
 * The Flux source a HelmRelease builds from, as its spec names it: `spec.chart.spec.sourceRef` (namespace
 * defaulting to the HelmRelease's), `spec.chartRef` to an OCIRepository, or for a `chartRef` to a HelmChart that
 * HelmChart's `spec.sourceRef` (in the HelmChart's namespace).
 */
export interface FluxSourceHint {
  kind: 'HelmRepository' | 'OCIRepository' | 'GitRepository' | 'Bucket';
  namespace: string;
  name: string;
  /** The source's spec.url (HelmRepository, OCIRepository) when it could be read; credentials never kept. */
  url?: string | undefined;
  /** Which field names it, for messages: "HelmRelease apps/web's sourceRef". */
  via: string;
}

/** What is known about the Flux objects behind a release (all optional: they may not be readable). */
export interface FluxHint {
  /** The source the chart was built from (resolve/decide.ts: it picks among repositories serving equal content). */
  source?: FluxSourceHint | undefined;
  /** HelmChart spec.valuesFiles (or HelmRelease spec.chart.spec.valuesFiles) when readable. */
  valuesFiles?: readonly string[] | undefined;
  ignoreMissingValuesFiles?: boolean | undefined;
  /** Where the hint came from, for the message ("HelmRelease apps/podinfo"). */
  from?: string | undefined;
}

/** Files a values merge can be inferred from when the HelmRelease is not readable: bounded search. */
const MAX_INFERRED_FILES = 8;
const MAX_INFERRED_DEPTH = 3;

function inferableValuesFiles(chart: Pick<ChartContent, 'files'>): string[] {
  const names = chart.files.map((f: ChartFile) => f.name).filter((n) => /\.ya?ml$/i.test(n) && /values/i.test(posix.basename(n)));
  return [VALUES_FILE, ...names.sort()].slice(0, MAX_INFERRED_FILES);
}

/** Ordered selections of 1..depth distinct items (values files are merged in the order listed). */
function sequences(items: readonly string[], depth: number): string[][] {
  const out: string[][] = [];
  const walk = (prefix: string[]): void => {
    if (prefix.length > 0) out.push(prefix);
    if (prefix.length === depth) return;
    for (const i of items) if (!prefix.includes(i)) walk([...prefix, i]);
  };
  walk([]);
  return out;
}

function suffixMeaning(meta: string, manifestDigest: string | undefined, hasValuesFiles: boolean): string | undefined {
  const hex = manifestDigest?.replace(/^sha256:/, '');
  if (/^[0-9a-f]{12}$/.test(meta) && hex?.startsWith(meta)) return `version +${meta} = the OCI manifest digest (helm-controller)`;
  if (/^\d+$/.test(meta) && hasValuesFiles) return `version +${meta} = the HelmChart generation`;
  if (/^[0-9a-f]{12}(\.\d+)?$/.test(meta)) return `version +${meta} = a source revision (HelmChart reconcileStrategy Revision)`;
  return undefined;
}

/**
 * Every build Flux could have made of `published` that yields the installed version `installedVersion`,
 * most specific first: the values files the HelmRelease/HelmChart lists (when readable), then ordered
 * merges of up to 3 of the chart's own values files (values.yaml and `*values*.yaml`, at most 8: ≤ 400
 * merges) — the latter only when the version carries the generation that Flux always adds with values
 * files, so an ordinary Helm release is never explained away by a guessed merge.
 * The published version must equal the installed one without its build metadata.
 */
export function fluxTransformations(published: ChartContent, installedVersion: string, manifestDigest?: string, hint?: FluxHint): FluxTransformation[] {
  const plus = installedVersion.indexOf('+');
  if (plus < 0) return [];
  const meta = installedVersion.slice(plus + 1);
  const publishedVersion = String(published.metadata['version'] ?? '');
  if (withBuildMetadata(publishedVersion, meta) !== installedVersion) return [];
  const generation = /^(?:[0-9a-f]{12}\.)?(\d+)$/.exec(meta)?.[1];
  const out: FluxTransformation[] = [];
  const from = hint?.from ? `, ${hint.from}` : '';
  const hinted = effectiveValuesFiles(hint?.valuesFiles);
  // The HelmRelease is read now, the release was built earlier: when its list changed in between (Flux
  // rebuilds within its interval), the merge is still looked for among the chart's own files.
  const inferred = generation !== undefined ? sequences(inferableValuesFiles(published), MAX_INFERRED_DEPTH).filter((l) => effectiveValuesFiles(l).length > 0 && l.join('\n') !== hinted.join('\n')) : [];
  const suffix = suffixMeaning(meta, manifestDigest, true);
  const lists: [string[], string][] = [...(hinted.length ? [[hinted, from] as [string[], string]] : []), ...inferred.map((l): [string[], string] => [l, ', values files inferred from the chart'])];
  for (const [list, why] of suffix ? lists : []) {
    out.push({
      options: { valuesFiles: list, ignoreMissingValuesFiles: hint?.ignoreMissingValuesFiles, versionMetadata: meta },
      description: `values merged from ${list.join(', ')} by Flux (${suffix}${why})`,
    });
  }
  const versionOnly = suffixMeaning(meta, manifestDigest, false);
  if (versionOnly) out.push({ options: { versionMetadata: meta }, description: `built by Flux (${versionOnly}${from})` });
  return out;
}
