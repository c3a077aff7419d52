import { gunzipSync } from 'node:zlib';
import type { ChartContent, ChartFile } from '../chart/content.ts';
import { fingerprintChart, valuesDigest } from '../chart/fingerprint.ts';
import { conditionValues } from '../chart/helm-install.ts';
import { hasGlobalTokens, tokenizeGlobals } from '../chart/global-tokens.ts';
import { attachProofInputs } from './proof-inputs.ts';
import type { ReleaseStorage } from '../model/report.ts';
import { bool, isObject, scalarString, str, type JsonObject } from '../util/guards.ts';
import type { ReleaseRecord, StoredReleaseObject, StoredValues } from '../model/release.ts';
import { formatTime } from '../util/time.ts';
import { fluxOwnerOf, manifestHasObject } from './flux-owner.ts';

export const RELEASE_DECODE_REASONS = ['missing_data', 'too_large', 'not_base64', 'corrupt_gzip', 'truncated', 'invalid_json', 'invalid_shape'] as const;
export type ReleaseDecodeReason = (typeof RELEASE_DECODE_REASONS)[number];

/** One bad release object. The message names the object and the problem and never quotes the data. */
export class ReleaseDecodeError extends Error {
  readonly reason: ReleaseDecodeReason;
  readonly object: string;
  constructor(object: string, reason: ReleaseDecodeReason, problem: string) {
    super(`${object}: ${problem}`);
    this.name = 'ReleaseDecodeError';
    this.reason = reason;
    this.object = object;
  }
}

export interface DecodeLimits {
  /** Length of the stored string (the API server caps objects near 1.5 MiB anyway). */
  maxEncodedBytes: number;
  /** Size of the release JSON after gunzip: refuses gzip bombs without inflating them fully. */
  maxDecodedBytes: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = {
  maxEncodedBytes: 8 * 1024 * 1024,
  maxDecodedBytes: 64 * 1024 * 1024,
};

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const STATUS = /^[a-z][a-z-]{0,31}$/;

export const HELM_SECRET_TYPE = 'helm.sh/release.v1';

function storageOf(obj: StoredReleaseObject): ReleaseStorage {
  if (obj.kind === 'ConfigMap') return 'ConfigMap';
  if (obj.kind === 'Secret' || obj.type === HELM_SECRET_TYPE) return 'Secret';
  return 'ConfigMap';
}

export function describeObject(obj: StoredReleaseObject): string {
  const ns = obj.metadata?.namespace ?? '';
  const name = obj.metadata?.name ?? '<unnamed>';
  return `${storageOf(obj)} ${ns ? `${ns}/` : ''}${name}`;
}

function paddingOf(s: string): number {
  return s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
}

function strictBase64(s: string, object: string, layer: string): Buffer {
  // Fast path, one native pass: Node's decoder skips bytes outside the alphabet, so a decoded length equal
  // to the one the string's length promises means no byte was skipped. (It also reads the URL-safe
  // alphabet's - and _, which changes no Helm data.) Whitespace or garbage falls through to the exact check.
  if (s.length % 4 === 0) {
    const fast = Buffer.from(s, 'base64');
    if (fast.length === (s.length / 4) * 3 - paddingOf(s)) return fast;
  }
  const compact = s.replace(/\s+/g, '');
  if (compact.length % 4 !== 0 || !BASE64.test(compact)) {
    throw new ReleaseDecodeError(object, 'not_base64', `${layer} is not valid base64`);
  }
  return Buffer.from(compact, 'base64');
}

/**
 * The Helm layer of a stored release: base64(gzip(JSON)), or base64(JSON) for releases written before
 * Helm compressed them. Returns the JSON bytes.
 */
export function unwrapHelmString(helmString: string, object: string, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Buffer {
  const raw = strictBase64(helmString, object, 'release data');
  if (raw.length >= 3 && raw[0] === 0x1f && raw[1] === 0x8b && raw[2] === 0x08) {
    try {
      return gunzipSync(raw, { maxOutputLength: limits.maxDecodedBytes });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
        throw new ReleaseDecodeError(object, 'too_large', `release data inflates beyond ${limits.maxDecodedBytes} bytes (gzip bomb or oversized release)`);
      }
      if (code === 'Z_BUF_ERROR') throw new ReleaseDecodeError(object, 'truncated', 'release data is truncated (gzip stream ends early)');
      throw new ReleaseDecodeError(object, 'corrupt_gzip', 'release data is not a valid gzip stream');
    }
  }
  return raw;
}

function fail(object: string, problem: string): never {
  throw new ReleaseDecodeError(object, 'invalid_shape', problem);
}

/**
 * A stored file's name and bytes. Helm 4 also stores `modtime` (the tar header's time): not part of the
 * chart's identity. The tarball digest already pins the archive bytes, helm 3 and helm 4 installs of the
 * same tarball must prove equal, and a time says nothing about what the chart renders.
 */
function decodeFiles(v: unknown, object: string, field: string): ChartFile[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) fail(object, `chart.${field} is not a list`);
  return v.map((f, i) => {
    if (!isObject(f) || typeof f['name'] !== 'string') fail(object, `chart.${field}[${i}] has no name`);
    const data = f['data'];
    if (data !== undefined && data !== null && typeof data !== 'string') fail(object, `chart.${field}[${i}].data is not a string`);
    return { name: f['name'], data: data ? strictBase64(data, object, `chart.${field}[${i}].data`) : new Uint8Array() };
  });
}

/** Go writes zero times as "" (Helm 3) or omits them (Helm 4); everything else becomes RFC 3339. */
function time(v: unknown): string | undefined {
  const s = str(v);
  if (!s || s.startsWith('0001-01-01')) return undefined;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : formatTime(d, 'millis');
}

function flux(manifest: string | undefined): Pick<ReleaseRecord, 'flux' | 'manifestObjects'> {
  const owner = fluxOwnerOf(manifest);
  return owner ? { flux: owner, manifestObjects: true } : { manifestObjects: manifestHasObject(manifest) };
}

function parseDoc(json: Buffer | string, object: string): JsonObject {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof json === 'string' ? json : json.toString('utf8'));
  } catch {
    throw new ReleaseDecodeError(object, 'invalid_json', 'release data is not valid JSON');
  }
  if (!isObject(doc)) fail(object, 'release is not a JSON object');
  return doc;
}

const RELEASE_SOURCE = 'meta.helm.sh/release-source';

function claimOf(metadata: JsonObject): ReleaseRecord['claim'] {
  const repoURL = str(metadata['repoURL']);
  if (repoURL) return { field: 'chart.metadata.repoURL', value: repoURL };
  const ann = metadata['annotations'];
  const source = isObject(ann) ? str(ann[RELEASE_SOURCE]) : undefined;
  return source ? { field: RELEASE_SOURCE, value: source } : undefined;
}

/**
 * Release JSON (already unwrapped) → record. Only names, versions, status and digests survive on the
 * record; the user values' booleans go to proofInputsOf(record) for the content proof, nothing else.
 */
export function releaseFromJson(json: Buffer | string, object: string, storage: ReleaseStorage, fallbackNamespace = ''): ReleaseRecord {
  const doc = parseDoc(json, object);
  const name = str(doc['name']);
  if (!name) fail(object, 'release has no name');
  const revision = doc['version'];
  if (typeof revision !== 'number' || !Number.isInteger(revision) || revision < 1) fail(object, 'release version (revision) is not a positive integer');
  const info = doc['info'];
  if (!isObject(info)) fail(object, 'release has no info');
  const status = str(info['status']) ?? '';
  if (!STATUS.test(status)) fail(object, 'release info.status is missing or not a Helm status');
  const chart = doc['chart'];
  if (!isObject(chart)) fail(object, 'release has no chart');
  const metadata = chart['metadata'];
  if (!isObject(metadata)) fail(object, 'chart has no metadata');
  const chartName = str(metadata['name']);
  const chartVersion = scalarString(metadata['version']);
  if (!chartName || !chartVersion) fail(object, 'chart metadata has no name or version');
  const schema = chart['schema'];
  if (schema !== undefined && schema !== null && typeof schema !== 'string') fail(object, 'chart.schema is not a string');

  const content: ChartContent = {
    metadata: metadata as JsonObject,
    values: chart['values'] ?? {},
    schema: schema ? strictBase64(schema, object, 'chart.schema') : undefined,
    templates: decodeFiles(chart['templates'], object, 'templates'),
    files: decodeFiles(chart['files'], object, 'files'),
    lock: chart['lock'] ?? undefined,
  };
  // `apply_method` (release) and `schemamodtime` (chart) are written by every Helm 4 and no Helm 3: they
  // tell which Helm's processing to reproduce, and are not part of the chart's identity (see decodeFiles).
  const helmMajor = 'schemamodtime' in chart || 'apply_method' in doc ? 4 : undefined;
  const claim = claimOf(metadata);
  const rollback = /^Rollback to (\d+)$/.exec(str(info['description']) ?? '');
  const rollbackTo = rollback ? Number(rollback[1]) : undefined;
  const record: ReleaseRecord = {
    release: {
      name,
      namespace: str(doc['namespace']) || fallbackNamespace,
      revision,
      status,
      firstDeployed: time(info['first_deployed']),
      lastDeployed: time(info['last_deployed']),
      storage,
    },
    chart: {
      name: chartName,
      version: chartVersion,
      appVersion: scalarString(metadata['appVersion']),
      deprecated: bool(metadata['deprecated']),
    },
    fingerprint: fingerprintChart(content),
    ...(helmMajor ? { helmMajor } : {}),
    ...(claim ? { claim } : {}),
    ...(rollbackTo && rollbackTo < revision ? { rollbackTo } : {}),
    ...flux(str(doc['manifest'])),
  };
  const condition = conditionValues(doc['config']);
  const values = chart['values'];
  attachProofInputs(record, {
    conditionValues: condition,
    ...(hasGlobalTokens(condition) && isObject(values) ? { globalsValuesDigest: valuesDigest(tokenizeGlobals(values)) } : {}),
  });
  return record;
}

function unwrapObject(obj: StoredReleaseObject, limits: DecodeLimits): { object: string; storage: ReleaseStorage; json: Buffer } {
  const object = describeObject(obj);
  const storage = storageOf(obj);
  const stored = obj.data?.['release'];
  if (typeof stored !== 'string' || stored.length === 0) throw new ReleaseDecodeError(object, 'missing_data', 'has no data.release');
  if (stored.length > limits.maxEncodedBytes) {
    throw new ReleaseDecodeError(object, 'too_large', `data.release is ${stored.length} bytes, over the ${limits.maxEncodedBytes}-byte limit`);
  }
  const helmString = storage === 'Secret' ? strictBase64(stored, object, 'Secret data.release').toString('latin1') : stored;
  return { object, storage, json: unwrapHelmString(helmString, object, limits) };
}

/**
 * The stored `chart.values` and `config` of a revision, for the --reuse-values proof only: the caller
 * uses them for one computation and drops them. Never logged, never part of an error message.
 */
export function storedValuesOf(obj: StoredReleaseObject, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): StoredValues {
  const { object, json } = unwrapObject(obj, limits);
  return storedValuesFromJson(json, object);
}

export function storedValuesFromJson(json: Buffer | string, object: string): StoredValues {
  const doc = parseDoc(json, object);
  const info = doc['info'];
  const chart = doc['chart'];
  const revision = doc['version'];
  if (typeof revision !== 'number' || !isObject(info) || !isObject(chart)) fail(object, 'release has no version, info or chart');
  const values = chart['values'];
  const config = doc['config'];
  return {
    revision,
    status: str(info['status']) ?? '',
    values: isObject(values) ? values : null,
    config: isObject(config) ? config : null,
  };
}

/**
 * A Helm release Secret or ConfigMap as the Kubernetes API returns it → record.
 * Secrets carry two base64 layers (the API's and Helm's), ConfigMaps one.
 */
export function decodeStoredRelease(obj: StoredReleaseObject, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): ReleaseRecord {
  const { object, storage, json } = unwrapObject(obj, limits);
  const record = releaseFromJson(json, object, storage, obj.metadata?.namespace ?? '');
  const created = obj.metadata?.creationTimestamp;
  // A Date from client-node's typed objects, a string from the API's JSON; anything else (an `inspect` input's
  // number or object) is no creation time.
  const storedAt = created instanceof Date ? (Number.isFinite(created.getTime()) ? created.toISOString() : undefined) : typeof created === 'string' ? created : undefined;
  if (storedAt) record.storedAt = storedAt;
  return record;
}
