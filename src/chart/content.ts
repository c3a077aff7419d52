import { goEqual, goYaml, goYamlDocuments, GoYamlError, isGoMap, mergeMaps, type GoValue } from './go-yaml.ts';
import { isObject, type JsonObject } from '../util/guards.ts';

/**
 * A chart as Helm's loader sees it: the parent chart only (subcharts under charts/ are not stored in a
 * release, so they are not part of the comparison either).
 */
export interface ChartContent {
  metadata: JsonObject;
  values: unknown;
  schema: Uint8Array | undefined;
  templates: ChartFile[];
  files: ChartFile[];
  /** Chart.lock (requirements.lock for apiVersion v1) as parsed; Helm stores it as `chart.lock`. */
  lock?: unknown;
}

export interface ChartFile {
  name: string;
  data: Uint8Array;
}

export class ChartContentError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.name = 'ChartContentError';
    this.reason = reason;
  }
}

/**
 * Helm parses Chart.yaml and values.yaml with sigs.k8s.io/yaml (go-yaml v2, YAML 1.1 resolution: `yes`/`on`
 * are booleans, `0755` is octal, `<<` merges where it stands): chart/go-yaml.ts reads them by the same rules,
 * so that a faithful copy never looks modified. Only the first document counts, as in sigs.k8s.io/yaml
 * Unmarshal. Aliases are capped so a billion-laughs values.yaml cannot exhaust memory.
 */
export function parseHelmYaml(text: string, what: string): unknown {
  try {
    return goYaml(text);
  } catch (err) {
    throw new ChartContentError('invalid_yaml', `${what}: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** Metadata fields Helm decodes into Go strings (pkg/chart Metadata, Maintainer, Dependency). */
const STRING_FIELDS = ['name', 'home', 'version', 'description', 'icon', 'apiVersion', 'condition', 'tags', 'appVersion', 'kubeVersion', 'type'] as const;
const STRING_LIST_FIELDS = ['sources', 'keywords'] as const;
const MAINTAINER_FIELDS = ['name', 'email', 'url'] as const;
const DEPENDENCY_FIELDS = ['name', 'version', 'repository', 'condition', 'alias'] as const;

/**
 * Chart.yaml as Helm stores it. Helm decodes it into its Metadata struct, and sigs.k8s.io/yaml writes a YAML
 * float into a string field as strconv.FormatFloat(f, 'g', -1, 32): `appVersion: 20231012.1` is stored as
 * "2.0231012e+07", `description: 1e6` as "1e+06" (helm 4.3.2 `helm show chart`; test/e2e/helm-yaml.test.ts
 * checks it with every tested helm); a JS number's own text differed, and such a chart was a Mismatch. Only the
 * string fields take that form: `import-values` is an interface{} in Go and keeps the number.
 */
export function parseChartYaml(text: string, what: string): unknown {
  const typed = parseHelmYaml(text, what);
  if (!isObject(typed) || !/\d/.test(text)) return typed;
  let strings: unknown;
  try {
    strings = goYaml(text, { floatsAsStrings: true });
  } catch {
    return typed;
  }
  if (!isObject(strings)) return typed;
  const take = (into: JsonObject, from: JsonObject, key: string): void => {
    if (typeof into[key] === 'number' && typeof from[key] === 'string') into[key] = from[key];
  };
  for (const k of STRING_FIELDS) take(typed, strings, k);
  for (const k of STRING_LIST_FIELDS) {
    const list = typed[k];
    const from = strings[k];
    if (Array.isArray(list) && Array.isArray(from)) list.forEach((v, i) => typeof v === 'number' && typeof from[i] === 'string' && (list[i] = from[i]));
  }
  const annotations = typed['annotations'];
  const fromAnnotations = strings['annotations'];
  if (isObject(annotations) && isObject(fromAnnotations)) for (const k of Object.keys(annotations)) take(annotations, fromAnnotations, k);
  const eachObject = (key: string, fields: readonly string[], extra?: (into: JsonObject, from: JsonObject) => void): void => {
    const list = typed[key];
    const from = strings[key];
    if (!Array.isArray(list) || !Array.isArray(from)) return;
    list.forEach((v, i) => {
      const f = from[i];
      if (!isObject(v) || !isObject(f)) return;
      for (const k of fields) take(v, f, k);
      extra?.(v, f);
    });
  };
  eachObject('maintainers', MAINTAINER_FIELDS);
  eachObject('dependencies', DEPENDENCY_FIELDS, (into, from) => {
    const tags = into['tags'];
    const fromTags = from['tags'];
    if (Array.isArray(tags) && Array.isArray(fromTags)) tags.forEach((v, i) => typeof v === 'number' && typeof fromTags[i] === 'string' && (tags[i] = fromTags[i]));
  });
  return typed;
}

/**
 * A chart's values.yaml as each Helm major reads it. Helm 3 reads its first YAML document only; Helm 4 (since
 * 4.0.0, helm/helm 92087f6e3, pkg/chart/v2/loader LoadValues) reads every document and merges them, later over
 * earlier (MergeMaps). `helm4` is set only when the two readings differ (a file of several documents that add
 * to the first; a trailing `---` adds nothing) and Helm 4 loads the file at all.
 */
export function helmValuesReadings(text: string, what: string): { helm3: unknown; helm4?: Record<string, unknown> } {
  let docs: ReturnType<typeof goYamlDocuments>;
  try {
    docs = goYamlDocuments(text);
  } catch (err) {
    throw new ChartContentError('invalid_yaml', `${what}: ${(err as Error).message.split('\n')[0]}`);
  }
  const first = docs[0] ?? null;
  if (docs.length > 1 && helm4ReadsAllDocuments(text, docs)) {
    let merged: Record<string, GoValue> = {};
    for (const d of docs) if (isGoMap(d)) merged = mergeMaps(merged, d);
    if (!goEqual(merged, isGoMap(first) ? first : {})) return { helm3: first, helm4: merged };
  }
  return { helm3: first };
}

/**
 * Whether Helm 4 loads a multi-document values.yaml at all: k8s.io/apimachinery's YAMLReader refuses a `---`
 * line followed by anything but a comment, and every document must decode into a map (or be empty). When it
 * does not, only Helm 3 can have installed the chart, and its reading (the first document) is the one.
 */
function helm4ReadsAllDocuments(text: string, docs: ReturnType<typeof goYamlDocuments>): boolean {
  for (const line of text.split('\n')) {
    if (!line.startsWith('---')) continue;
    const rest = line.slice(3).trim();
    if (rest !== '' && !rest.startsWith('#')) return false;
  }
  // A document that does not decode fails Helm 4's LoadValues: no Helm 4 release of the chart can exist.
  return docs.every((d) => d === null || (!(d instanceof GoYamlError) && isGoMap(d)));
}

const decoder = new TextDecoder('utf-8');

/**
 * A chart's Chart.yaml and values.yaml are read twice per archive: once for the content Helm stores, once for
 * the tree dependency processing walks (src/chart/chart-tree.ts). Keyed by the file's bytes, the second read is
 * the first's result: cilium 1.15.6's 125 KiB values.yaml takes 80–130 ms to read by go-yaml's rules on this
 * machine. Both callers copy before changing what they get; an entry lives as long as the archive's files.
 */
const chartYamlRead = new WeakMap<Uint8Array, unknown>();
const valuesRead = new WeakMap<Uint8Array, ReturnType<typeof helmValuesReadings>>();

/** Chart.yaml's bytes → parseChartYaml's result, read once per bytes. */
export function chartYamlOf(data: Uint8Array, what: string): unknown {
  if (chartYamlRead.has(data)) return chartYamlRead.get(data);
  const parsed = parseChartYaml(decoder.decode(data), what);
  chartYamlRead.set(data, parsed);
  return parsed;
}

/** values.yaml's bytes → helmValuesReadings' result, read once per bytes. */
export function valuesReadingsOf(data: Uint8Array, what: string): ReturnType<typeof helmValuesReadings> {
  let parsed = valuesRead.get(data);
  if (!parsed) valuesRead.set(data, (parsed = helmValuesReadings(decoder.decode(data), what)));
  return parsed;
}

/**
 * Sorts the files of an unpacked chart (paths relative to the chart root) into what Helm's loader keeps,
 * mirroring pkg/chart/loader: Chart.yaml → metadata, values.yaml → values, values.schema.json → schema,
 * templates/ → templates, charts/ → subcharts (dropped), Chart.lock and requirements.* → dependency data
 * (kept as files only for apiVersion v1 charts), everything else → files.
 */
export function chartContentFromFiles(files: ReadonlyMap<string, Uint8Array>, where: string): ChartContent {
  const chartYaml = files.get('Chart.yaml');
  if (!chartYaml) throw new ChartContentError('missing_chart_yaml', `${where}: no Chart.yaml at the chart root`);
  const metadata = chartYamlOf(chartYaml, `${where}: Chart.yaml`);
  if (!isObject(metadata)) throw new ChartContentError('invalid_chart_yaml', `${where}: Chart.yaml is not a mapping`);
  const apiV1 = metadata['apiVersion'] === 'v1' || metadata['apiVersion'] === undefined;

  let values: unknown = null;
  let lock: unknown;
  let schema: Uint8Array | undefined;
  const templates: ChartFile[] = [];
  const rest: ChartFile[] = [];
  for (const [name, data] of files) {
    if (name === 'Chart.yaml') continue;
    if (name.startsWith('charts/')) {
      // Helm's loader keeps provenance files found under charts/ as files of the parent chart.
      if (name.endsWith('.prov')) rest.push({ name, data });
      continue;
    }
    if (name === 'values.yaml') {
      values = valuesReadingsOf(data, `${where}: values.yaml`).helm3;
    } else if (name === 'values.schema.json') {
      schema = data;
    } else if (name === 'Chart.lock') {
      lock = parseHelmYaml(decoder.decode(data), `${where}: Chart.lock`);
    } else if (name === 'requirements.yaml' || name === 'requirements.lock') {
      if (name === 'requirements.lock') lock = parseHelmYaml(decoder.decode(data), `${where}: requirements.lock`);
      if (apiV1) rest.push({ name, data });
    } else if (name.startsWith('templates/')) {
      templates.push({ name, data });
    } else {
      rest.push({ name, data });
    }
  }
  return { metadata, values: values ?? {}, schema, templates, files: rest, ...(lock !== undefined && lock !== null ? { lock } : {}) };
}
