import { hash } from 'node:crypto';
import { arr, isObject, scalarString, type JsonObject } from '../util/guards.ts';
import type { ChartFingerprint } from '../model/chart.ts';
import type { ChartContent, ChartFile } from './content.ts';
import { BOM_TRIMMED, withBom } from './bom.ts';


function sha256(data: Uint8Array | string): string {
  // One-shot: a chart has dozens of small files, and a Hash object per file costs more than the hashing.
  return hash('sha256', data, 'hex');
}

/** JSON with sorted keys so that equal data hashes equally whatever produced it. */
export function canonicalJson(v: unknown): string {
  // Helm stores values and metadata with Go's sorted map keys, and JSON.parse keeps that order: such data is
  // already canonical and the native JSON.stringify writes the same text several times faster than the loop.
  return isCanonical(v) ? JSON.stringify(v) : sortedJson(v);
}

/**
 * Whether JSON.stringify(v) is already canonicalJson(v): every object a plain one (no toJSON, no prototype
 * of its own) whose keys come in sorted order, no undefined where canonicalJson writes null, no BigInt.
 */
function isCanonical(v: unknown): boolean {
  if (v === null) return true;
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'boolean':
      return true;
    case 'object':
      break;
    default:
      return false;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!isCanonical(v[i])) return false;
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  const o = v as JsonObject;
  let prev: string | undefined;
  for (const k of Object.keys(o)) {
    // `<` and the default sort compare the same way: by UTF-16 code units.
    if (prev !== undefined && !(prev < k)) return false;
    if (!isCanonical(o[k])) return false;
    prev = k;
  }
  return true;
}

function sortedJson(v: unknown): string {
  // String building in loops, not map/join: this runs on every release's values and metadata.
  if (v === null || typeof v !== 'object') return v === undefined ? 'null' : JSON.stringify(v);
  if (Array.isArray(v)) {
    let s = '[';
    for (let i = 0; i < v.length; i++) s += (i ? ',' : '') + sortedJson(v[i]);
    return `${s}]`;
  }
  const o = v as JsonObject;
  const keys = Object.keys(o).sort();
  let s = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    s += `${i ? ',' : ''}${JSON.stringify(k)}:${sortedJson(o[k])}`;
  }
  return `${s}}`;
}

const STRING_FIELDS = ['name', 'home', 'version', 'description', 'icon', 'apiVersion', 'condition', 'tags', 'appVersion', 'kubeVersion', 'type'] as const;
/** The fields Metadata.Validate passes through sanitizeString when Helm loads a chart. */
const SANITIZED = new Set<string>(['name', 'description', 'home', 'icon', 'condition', 'tags', 'appVersion', 'kubeVersion']);
const LIST_FIELDS = ['sources', 'keywords'] as const;

// Go's unicode.IsSpace (Latin-1 spaces plus the White_Space property) and unicode.IsPrint (letters,
// marks, numbers, punctuation, symbols and U+0020).
const GO_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;
const GO_PRINT = /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Helm's sanitizeString: whitespace becomes a space, other unprintable characters are dropped. */
export function sanitizeString(s: string): string {
  // Printable ASCII (U+0020 to U+007E) is what nearly every chart has: each is kept as it is (the space is
  // Go's only ASCII space that survives unchanged, the rest are letters, digits, punctuation or symbols).
  if (PRINTABLE_ASCII.test(s)) return s;
  let out = '';
  for (const ch of s) {
    if (GO_SPACE.test(ch)) out += ' ';
    else if (GO_PRINT.test(ch)) out += ch;
  }
  return out;
}

function sanitized(field: string, v: string | undefined): string | undefined {
  return v !== undefined && SANITIZED.has(field) ? sanitizeString(v) : v;
}

function stringList(v: unknown, sanitize = false): string[] | undefined {
  const out = arr(v)
    .map(scalarString)
    .map((s) => (s !== undefined && sanitize ? sanitizeString(s) : s))
    .filter((s): s is string => s !== undefined && s !== '');
  return out.length ? out : undefined;
}

/** Go's omitempty, with the keys in sorted order so that canonicalJson can take its fast path. */
function compactObject(fields: Record<string, unknown>): JsonObject {
  const out: JsonObject = {};
  for (const k of Object.keys(fields).sort()) {
    const v = fields[k];
    if (v === undefined || v === '' || v === false || v === null) continue;
    out[k] = v;
  }
  return out;
}

/**
 * Chart.yaml reduced to the fields of Helm's chart.Metadata, with Go's omitempty semantics and the
 * loader's rules (apiVersion defaults to v1, Validate sanitises strings), so the copy Helm stored in the
 * release and the copy Helm computes from the tarball compare equal when they are the same. Idempotent.
 * Fields a newer Helm or chartorigin's write-back add (`repoURL`, …) are not part of a chart's identity.
 */
function normalizeMetadata(meta: JsonObject): JsonObject {
  const fields: Record<string, unknown> = {};
  for (const f of STRING_FIELDS) fields[f] = sanitized(f, scalarString(meta[f]));
  if (!fields['apiVersion']) fields['apiVersion'] = 'v1';
  for (const f of LIST_FIELDS) fields[f] = stringList(meta[f], true);
  fields['deprecated'] = meta['deprecated'] === true;
  const maintainers = arr(meta['maintainers'])
    .filter(isObject)
    .map((m) => compactObject({ name: san(m['name']), email: san(m['email']), url: san(m['url']) }));
  fields['maintainers'] = maintainers.length ? maintainers : undefined;
  if (isObject(meta['annotations'])) {
    const ann: JsonObject = {};
    for (const [k, v] of Object.entries(meta['annotations'])) {
      const s = scalarString(v);
      if (s !== undefined) ann[k] = s;
    }
    fields['annotations'] = Object.keys(ann).length ? ann : undefined;
  }
  fields['dependencies'] = normalizeDependencies(meta['dependencies']);
  return compactObject(fields);
}

function san(v: unknown): string | undefined {
  const s = scalarString(v);
  return s === undefined ? undefined : sanitizeString(s);
}

/** chart.Dependency with omitempty; `enabled` is kept: Helm sets it on every dependency it keeps. */
function normalizeDependencies(v: unknown): JsonObject[] | undefined {
  const deps = arr(v)
    .filter(isObject)
    .map((d) =>
      compactObject({
        name: san(d['name']),
        version: san(d['version']),
        repository: san(d['repository']),
        condition: san(d['condition']),
        tags: stringList(d['tags'], true),
        enabled: d['enabled'] === true,
        alias: scalarString(d['alias']),
        'import-values': Array.isArray(d['import-values']) && d['import-values'].length ? d['import-values'] : undefined,
      }),
    );
  return deps.length ? deps : undefined;
}

/** Go's RFC 3339 time as one canonical UTC string (nanosecond fraction kept, trailing zeros dropped). */
function canonicalTime(v: unknown): string | undefined {
  const s = scalarString(v);
  if (!s) return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})?$/.exec(s.trim());
  if (!m) return s;
  const [, y, mo, d, h, mi, se, frac, zone] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se));
  if (zone && zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    ms -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  }
  // Go's zero time (a lock without `generated`) is written as 0001-01-01T00:00:00Z: the same as none.
  if (Number(y) < 100) return /^0001-01-01[Tt ]00:00:00(\.0+)?(Z|z|\+00:00)?$/.test(s.trim()) ? undefined : s;
  const fraction = (frac ?? '').replace(/0+$/, '');
  return `${new Date(ms).toISOString().slice(0, 19)}${fraction ? `.${fraction}` : ''}Z`;
}

/** chart.Lock (Chart.lock, or requirements.lock for v1 charts) as Helm stores it; undefined when none. */
export function normalizeLock(lock: unknown): JsonObject | undefined {
  if (!isObject(lock)) return undefined;
  return compactObject({ generated: canonicalTime(lock['generated']), digest: scalarString(lock['digest']), dependencies: normalizeDependencies(lock['dependencies']) });
}

function fileDigests(files: readonly ChartFile[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) out[f.name] = sha256(f.data);
  return out;
}

function normalizeValues(v: unknown): unknown {
  return v === null || v === undefined ? {} : v;
}

/** Digest of metadata as Helm stores it (after normalizeMetadata). */
export function metadataDigest(meta: JsonObject): string {
  return sha256(canonicalJson(normalizeMetadata(meta)));
}

/** Digest of values as Helm stores them (null and {} are the same: an empty values.yaml). */
export function valuesDigest(values: unknown): string {
  return sha256(canonicalJson(normalizeValues(values)));
}

export function fingerprintChart(chart: ChartContent): ChartFingerprint {
  const metadata = normalizeMetadata(chart.metadata);
  const lock = normalizeLock(chart.lock);
  const version = typeof metadata['version'] === 'string' ? metadata['version'] : '';
  const plus = version.indexOf('+');
  const withoutBuild = plus > 0 ? sha256(canonicalJson({ ...metadata, version: version.slice(0, plus) })) : undefined;
  const bom: Record<string, string> = {};
  for (const f of chart.templates) if (BOM_TRIMMED.has(f.data)) bom[f.name] = sha256(withBom(f.data));
  for (const f of chart.files) if (BOM_TRIMMED.has(f.data)) bom[`files/${f.name}`] = sha256(withBom(f.data));
  if (chart.schema && chart.schema.length && BOM_TRIMMED.has(chart.schema)) bom['schema'] = sha256(withBom(chart.schema));
  return shared({
    metadata: sha256(canonicalJson(metadata)),
    ...(withoutBuild ? { metadataWithoutBuild: withoutBuild } : {}),
    ...(Object.keys(bom).length ? { withBom: bom } : {}),
    values: sha256(canonicalJson(normalizeValues(chart.values))),
    schema: chart.schema && chart.schema.length ? sha256(chart.schema) : '',
    templates: fileDigests(chart.templates),
    files: fileDigests(chart.files),
    lock: lock ? sha256(canonicalJson(lock)) : '',
  });
}

/**
 * Releases of one chart version mostly have equal fingerprints, and a fingerprint of a 40-template chart is
 * ~5 KiB of names and digests: `scan` holds one per release until it prints (2,000 releases: ~10 MiB).
 * Equal fingerprints are handed out as one frozen object. Held weakly: the table keeps nothing alive that
 * no record uses (the controller drops each record after its reconcile).
 */
const FINGERPRINTS = new Map<string, WeakRef<ChartFingerprint>>();
const unused = new FinalizationRegistry<string>((key) => {
  if (FINGERPRINTS.get(key)?.deref() === undefined) FINGERPRINTS.delete(key);
});

function shared(f: ChartFingerprint): ChartFingerprint {
  const parts = [f.metadata, f.metadataWithoutBuild ?? '', f.values, f.schema, f.lock];
  for (const [name, digest] of Object.entries(f.templates)) parts.push('t', name, digest);
  for (const [name, digest] of Object.entries(f.files)) parts.push('f', name, digest);
  for (const [name, digest] of Object.entries(f.withBom ?? {})) parts.push('b', name, digest);
  // Names cannot hold NUL (tar and Helm refuse them), so the joined parts are unambiguous. The key is kept only
  // while its fingerprint lives (the registry below), so it is not worth hashing.
  const key = parts.join('\0');
  const known = FINGERPRINTS.get(key)?.deref();
  if (known) return known;
  Object.freeze(f.templates);
  Object.freeze(f.files);
  if (f.withBom) Object.freeze(f.withBom);
  FINGERPRINTS.set(key, new WeakRef(Object.freeze(f)));
  unused.register(f, key);
  return f;
}

/**
 * Where two fingerprints differ, as a list of part names ('metadata', 'values', 'schema',
 * 'templates/x.yaml', 'files/README.md'); empty when the charts are the same.
 * File names are chart structure, not values, so they may be shown to users.
 */
export function fingerprintDifferences(installed: ChartFingerprint, published: ChartFingerprint): string[] {
  const diffs: string[] = [];
  if (installed.metadata !== published.metadata && installed.metadataWithoutBuild !== published.metadata) diffs.push('metadata');
  if (installed.values !== published.values) diffs.push('values');
  if (installed.schema !== published.schema) diffs.push('schema');
  if (installed.lock !== published.lock) diffs.push('lock');
  diffFiles(installed.templates, published.templates, '', diffs);
  diffFiles(installed.files, published.files, 'files/', diffs);
  return diffs;
}

function diffFiles(a: Record<string, string>, b: Record<string, string>, prefix: string, out: string[]): void {
  // Nearly every comparison is of equal charts (every release of a scan is compared): those cost one pass
  // and no sorting (fingerprintChart builds both with their names sorted, so the key lists line up).
  if (a === b) return;
  const ak = Object.keys(a);
  const bk = Object.keys(b);
  if (ak.length === bk.length && ak.every((n, i) => n === bk[i] && a[n] === b[n])) return;
  const names = new Set([...ak, ...bk]);
  for (const n of [...names].sort()) if (a[n] !== b[n]) out.push(prefix + n);
}
