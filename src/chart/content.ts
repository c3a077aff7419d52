import YAML from 'yaml';
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
 * Helm parses Chart.yaml and values.yaml with sigs.k8s.io/yaml (go-yaml v2, YAML 1.1 resolution:
 * `yes`/`on` are booleans, `0755` is octal). Parsing the same way keeps a faithful copy from looking
 * modified. Aliases are capped so a billion-laughs values.yaml cannot exhaust memory.
 */
export function parseHelmYaml(text: string, what: string): unknown {
  try {
    const doc = YAML.parse(text, {
      version: '1.1',
      maxAliasCount: 1000,
      merge: true,
      uniqueKeys: false,
      // go-yaml v2 leaves timestamps and sexagesimal numbers as strings when decoding into interface{}.
      customTags: (tags) => tags.filter((t) => typeof t === 'string' || (t.tag !== TIMESTAMP && t.format !== 'TIME')),
    });
    return doc ?? null;
  } catch (err) {
    throw new ChartContentError('invalid_yaml', `${what}: ${(err as Error).message.split('\n')[0]}`);
  }
}

const decoder = new TextDecoder('utf-8');
const TIMESTAMP = 'tag:yaml.org,2002:timestamp';

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
      values = parseHelmYaml(decoder.decode(data), `${where}: values.yaml`);
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
