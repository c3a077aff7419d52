import { FAILSAFE_SCHEMA, load, YAMLException } from 'js-yaml';
import { isObject } from '../../util/guards.ts';
import { RepoError, type ChartVersionEntry } from '../../model/repository.ts';
import { resolveChartUrl } from '../url.ts';
import { parseVersion } from '../../chart/version.ts';
import { notesOf, trimNotes } from '../../chart/publisher-notes.ts';
import { indexEntryProblem } from '../../chart/metadata-validate.ts';

/**
 * Chart name → versions, newest first. A Map when the whole index was parsed; index-lazy.ts's LazyChartIndex
 * parses a chart's block on its first lookup.
 */
export interface ChartIndex {
  /** Charts the index lists. */
  readonly size: number;
  get(chart: string): ChartVersionEntry[] | undefined;
  /** Every chart's versions (parses what is not parsed yet). */
  values(): IterableIterator<ChartVersionEntry[]>;
}

export interface IndexParseOptions {
  /** Repository name, for error messages. */
  repository: string;
  /** The configured repository URL: relative chart URLs are resolved against it, like Helm does. */
  repoUrl: string;
  /** Refuse bigger inputs (default 100 MiB; the HTTP layer enforces its own limit while streaming). */
  maxBytes?: number | undefined;
  /** Refuse indexes with more versions than this in total (default 500,000). */
  maxVersions?: number | undefined;
}

export const DEFAULT_MAX_INDEX_BYTES = 100 * 1024 * 1024;

/** Refuses an index over `maxBytes` (too_large). */
export function checkIndexSize(bytes: Uint8Array, options: IndexParseOptions): void {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_INDEX_BYTES;
  if (bytes.byteLength > maxBytes) {
    const repo = options.repository;
    throw new RepoError(repo, 'too_large', `repository ${repo}: index is ${bytes.byteLength} bytes, more than the limit of ${maxBytes}`);
  }
}
export const DEFAULT_MAX_VERSIONS = 500_000;

/** `sha256:<hex>` or bare hex (any case) → `sha256:<lowercase hex>`; anything else → undefined. */
export function normalizeDigest(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  const hex = s.toLowerCase().startsWith('sha256:') ? s.slice(7) : s;
  return /^[0-9a-fA-F]{64}$/.test(hex) ? `sha256:${hex.toLowerCase()}` : undefined;
}

// The YAML path parses every scalar as a string (failsafe schema): it is the fastest schema, and Helm
// decodes these fields into Go strings, so `version: "1.10"` must stay "1.10", not become the number 1.1.
// (An unquoted number in an entry's chart fields — `version: 1.10`, `appVersion: 2.0` — makes Helm refuse
// the whole index: sigs.k8s.io/yaml does not convert numbers for the fields of the embedded chart Metadata.
// Here it stays the text it is written as.)
const YAML_NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);
// go-yaml v2 (YAML 1.1) booleans, which is what Helm's sigs.k8s.io/yaml accepts for `deprecated`.
const YAML_TRUE = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']);

export function scalar(v: unknown, fromYaml: boolean): string | undefined {
  if (typeof v === 'string') return fromYaml && YAML_NULLS.has(v) ? undefined : v;
  if (!fromYaml && (typeof v === 'number' || typeof v === 'boolean')) return String(v);
  return undefined;
}

function truthy(v: unknown, fromYaml: boolean): boolean {
  if (v === true) return true;
  return fromYaml && typeof v === 'string' && YAML_TRUE.has(v);
}

const decoder = new TextDecoder('utf-8');

/** js-yaml reasons may quote tag or anchor names from the input: keep the kind of error, not the text. */
function safeReason(reason: string): string {
  return reason
    .replace(/!<[^>]*>/g, '!<…>')
    .replace(/"[^"]*"/g, '"…"')
    .replace(/: .*$/, '')
    .slice(0, 120);
}

function invalid(repo: string, detail: string, cause?: unknown): RepoError {
  return new RepoError(repo, 'invalid_index', `repository ${repo}: invalid index: ${detail}`, cause === undefined ? undefined : { cause });
}

/**
 * index.yaml (or index.json) bytes → chart name → versions, newest first (Helm's order: semver
 * descending). Only the fields chartorigin uses are kept, so the parsed document can be dropped right away.
 * Entries Helm leaves out when it loads the index are left out (chartVersions); a repeated version of a
 * chart keeps its first valid occurrence.
 */
export function parseIndex(bytes: Uint8Array, options: IndexParseOptions): Map<string, ChartVersionEntry[]> {
  const repo = options.repository;
  checkIndexSize(bytes, options);
  let text = decoder.decode(bytes);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);

  let doc: unknown;
  const firstChar = /\S/.exec(text)?.[0];
  let fromYaml = true;
  if (firstChar === '{') {
    // Fast path. Helm reads JSON through its YAML parser, so input JSON.parse refuses still goes to the
    // YAML path below, which accepts what Helm accepts and reports a position for what it refuses.
    try {
      doc = JSON.parse(text);
      fromYaml = false;
    } catch {
      doc = undefined;
    }
  } else {
    doc = loadIndexYamlInChunks(text);
  }
  if (doc === undefined && fromYaml) {
    try {
      doc = load(text, YAML_OPTIONS);
    } catch (err) {
      if (err instanceof YAMLException) {
        const where = err.mark ? ` at line ${err.mark.line + 1} column ${err.mark.column + 1}` : '';
        throw invalid(repo, `malformed ${firstChar === '{' ? 'JSON' : 'YAML'}${where}: ${safeReason(err.reason)}`);
      }
      throw invalid(repo, 'malformed YAML', err);
    }
  }
  text = '';

  if (!isObject(doc)) throw invalid(repo, 'the document is not a mapping');
  if (scalar(doc['apiVersion'], fromYaml) === undefined) throw invalid(repo, 'no apiVersion (Helm refuses such an index)');
  const entries = doc['entries'];
  const out = new Map<string, ChartVersionEntry[]>();
  if (entries === undefined || entries === null || (fromYaml && typeof entries === 'string' && YAML_NULLS.has(entries))) return out;
  if (!isObject(entries)) throw invalid(repo, '`entries` is not a mapping');

  const budget = { left: options.maxVersions ?? DEFAULT_MAX_VERSIONS };
  for (const [name, list] of Object.entries(entries)) {
    const versions = chartVersions(name, list, fromYaml, options, budget);
    if (versions.length) out.set(name, versions);
  }
  return out;
}

/**
 * One chart's list from `entries` → its versions, newest first (Helm's order). The one place both the whole
 * parse and the lazy one (index-lazy.ts) build entries: what Helm's loadIndex removes — null items and entries
 * that fail chart metadata validation (chart/metadata-validate.ts) — is dropped before anything else, so an
 * invalid occurrence of a version never hides a valid one of the same version. `budget.left` counts down the
 * versions an index may hold (a memory bound on hostile input).
 */
export function chartVersions(name: string, list: unknown, fromYaml: boolean, options: IndexParseOptions, budget: { left: number }): ChartVersionEntry[] {
  if (!Array.isArray(list)) return [];
  const repo = options.repository;
  const read = (v: unknown): string | undefined => scalar(v, fromYaml);
  const seen = new Set<string>();
  const versions: ChartVersionEntry[] = [];
  for (const raw of list) {
    // A null item Helm removes; any other non-mapping makes Helm refuse the whole index, which is not
    // repeated here: the entries around it stay listed.
    if (!isObject(raw) || indexEntryProblem(raw, read) !== undefined) continue;
    const version = read(raw['version']);
    if (version === undefined || seen.has(version)) continue;
    seen.add(version);
    if (--budget.left < 0) throw new RepoError(repo, 'too_large', `repository ${repo}: index lists more than ${options.maxVersions ?? DEFAULT_MAX_VERSIONS} chart versions`);
    const urls: string[] = [];
    if (Array.isArray(raw['urls'])) {
      for (const u of raw['urls']) {
        const s = scalar(u, fromYaml);
        if (s === undefined) continue;
        try {
          urls.push(resolveChartUrl(options.repoUrl, s));
        } catch {
          // Helm fails on such a URL only when that version is downloaded; the version stays listed.
        }
      }
    }
    const entry: ChartVersionEntry = {
      name,
      version,
      appVersion: scalar(raw['appVersion'], fromYaml),
      created: scalar(raw['created'], fromYaml),
      deprecated: truthy(raw['deprecated'], fromYaml),
      digest: normalizeDigest(raw['digest']),
      urls,
    };
    // Most entries have none of these: no object is kept for them (a 20 MiB index has ~30,000 entries).
    const notes = notesOf(raw, read);
    if (notes) entry.notes = notes;
    versions.push(entry);
  }
  if (!versions.length) return versions;
  const sorted = sortVersionsDesc(versions);
  trimNotes(sorted);
  return sorted;
}

export const YAML_OPTIONS = { schema: FAILSAFE_SCHEMA, maxAliases: 100, maxDepth: 64 };

const ENTRIES_LINE = /^entries:[ \t]*(?:#.*)?$/m;
const TOP_LEVEL_LINE = /^[^\s#]/m;

/** Where the chart blocks of a Helm-shaped index are (offsets into its text). */
export interface IndexLayout {
  /** The document without its `entries` section: apiVersion, generated, …. */
  head: string;
  /** Offset of each chart's block (its key line), in document order. */
  starts: number[];
  /** Offset just past the last block. */
  end: number;
}

/**
 * Helm-written indexes have a regular shape (`entries:` at column 0, one key per chart at a fixed indent,
 * the chart's versions below it), so each chart's block can be parsed on its own. Returns undefined for any
 * other shape (flow style, no `entries:`, a first key that is not at the chart indent).
 */
export function indexLayout(text: string): IndexLayout | undefined {
  const entriesMatch = ENTRIES_LINE.exec(text);
  if (!entriesMatch) return undefined;
  const sectionStart = entriesMatch.index + entriesMatch[0].length + 1;
  const nextTop = TOP_LEVEL_LINE.exec(text.slice(sectionStart));
  const end = nextTop ? sectionStart + nextTop.index : text.length;
  const section = text.slice(sectionStart, end);

  const firstKey = /^( +)[^\s#-]/m.exec(section);
  if (!firstKey) return undefined;
  const indent = firstKey[1] ?? '';
  // A chart key: the indent exactly, a key that is not a sequence item or comment, a colon ending the line.
  const keyLine = new RegExp(`^${indent}(?:"[^"\\n]*"|'[^'\\n]*'|[^\\s#\\-"'][^\\n]*?):[ \\t]*(?:#[^\\n]*)?$`, 'gm');
  const starts: number[] = [];
  for (let m = keyLine.exec(section); m; m = keyLine.exec(section)) starts.push(sectionStart + m.index);
  if (!starts.length || starts[0] !== sectionStart + firstKey.index) return undefined;
  // A chart whose versions follow its key on the same line (`tool: [{…}]`) is no block of its own: it would be
  // read as part of the chart before it and lost. Any key at the chart indent that is not a block's key line
  // sends the whole document to the whole parse.
  const anyKey = new RegExp(`^${indent}[^\\s#\\-]`, 'gm');
  let keys = 0;
  while (anyKey.exec(section)) keys++;
  if (keys !== starts.length) return undefined;
  return { head: text.slice(0, entriesMatch.index) + text.slice(end), starts, end };
}

/**
 * js-yaml turns the whole input into an event list before building objects, so a 20 MB index costs
 * hundreds of MB at once. With the regular shape of indexLayout each chart's block is parsed on its own and
 * dropped before the next one: the peak is one chart, not the whole index. Anything irregular — an alias
 * that crosses charts, a parse error — returns undefined and the caller parses the whole document, which
 * gives exact error positions.
 */
function loadIndexYamlInChunks(text: string): unknown {
  const layout = indexLayout(text);
  if (!layout) return undefined;
  const { head: headText, starts, end } = layout;
  const entries: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  try {
    const head = load(headText, YAML_OPTIONS);
    if (head !== null && head !== undefined && !isObject(head)) return undefined;
    for (let i = 0; i < starts.length; i++) {
      const chunk = load(text.slice(starts[i], starts[i + 1] ?? end), YAML_OPTIONS);
      if (!isObject(chunk)) return undefined;
      for (const [k, v] of Object.entries(chunk)) {
        if (Object.hasOwn(entries, k)) return undefined;
        entries[k] = v;
      }
    }
    return { ...(isObject(head) ? head : {}), entries };
  } catch {
    return undefined;
  }
}

/** Newest first by lenient semver; versions that do not parse keep their order, after all others. */
function sortVersionsDesc<T extends { version: string }>(list: T[]): T[] {
  const keyed = list.map((e, i) => ({ e, i, v: parseVersion(e.version) }));
  keyed.sort((a, b) => {
    if (a.v && b.v) return b.v.compare(a.v) || a.i - b.i;
    if (a.v) return -1;
    if (b.v) return 1;
    return a.i - b.i;
  });
  return keyed.map((k) => k.e);
}
