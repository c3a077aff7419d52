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

/** A chart's values.yaml as Helm 3 reads it (the first document): what the fingerprint holds. */
export function parseHelmValues(text: string, what: string): unknown {
  return helmValuesReadings(text, what).helm3;
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
 * Sorts the files of an unpacked chart (paths relative to the chart root) into what Helm's loader keeps,
 * mirroring pkg/chart/loader: Chart.yaml → metadata, values.yaml → values, values.schema.json → schema,
 * templates/ → templates, charts/ → subcharts (dropped), Chart.lock and requirements.* → dependency data
 * (kept as files only for apiVersion v1 charts), everything else → files.
 */
export function chartContentFromFiles(files: ReadonlyMap<string, Uint8Array>, where: string): ChartContent {
  const chartYaml = files.get('Chart.yaml');
  if (!chartYaml) throw new ChartContentError('missing_chart_yaml', `${where}: no Chart.yaml at the chart root`);
  const metadata = parseHelmYaml(decoder.decode(chartYaml), `${where}: Chart.yaml`);
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
      values = parseHelmValues(decoder.decode(data), `${where}: values.yaml`);
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
