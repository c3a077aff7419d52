import { createHash } from 'node:crypto';
import semver from 'semver';
import { isObject, str, type JsonObject } from '../../util/guards.ts';
import { authorizationHeader, repositoryHttpClient, type HttpClient, type HttpRequest, type HttpResponse, type RepositoryHttpOptions } from '../http/client.ts';
import { normalizeDigest } from '../http/index-parse.ts';
import { notesOf } from '../../chart/publisher-notes.ts';
import type { KeyObject } from 'node:crypto';
import { cosignKeys, listReferrers } from './referrers.ts';
import {
  RepoError,
  type ChartSource,
  type ChartVersionEntry,
  type Credentials,
  type FetchedChart,
  type MovedTag,
  type ProbeResult,
  type ReferrersReport,
  type RepositoryConfig,
} from '../../model/repository.ts';
import { ociRepoURL, redactUrl } from '../url.ts';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const HELM_CONFIG = 'application/vnd.cncf.helm.config.v1+json';
export const HELM_CHART_LAYER = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';
export const HELM_LEGACY_LAYER = 'application/tar+gzip';
export const HELM_PROV_LAYER = 'application/vnd.cncf.helm.chart.provenance.v1.prov';
const CREATED_ANNOTATION = 'org.opencontainers.image.created';

export interface OciSourceOptions {
  http?: RepositoryHttpOptions | undefined;
  /** Tags per page (`?n=`); the registry's default when absent. */
  tagPageSize?: number | undefined;
  /** Refuse to follow more `Link: rel="next"` pages than this (default 100). */
  maxTagPages?: number | undefined;
  maxManifestBytes?: number | undefined;
  maxConfigBytes?: number | undefined;
  maxChartBytes?: number | undefined;
  /** Referrers listed per chart manifest at most (default 20). */
  maxReferrers?: number | undefined;
  /** Tags re-checked per probe for having moved (default 200, most recently read first). */
  maxTagChecks?: number | undefined;
  now?: (() => number) | undefined;
}

export interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations: Record<string, string>;
}

export interface OciManifest {
  /** sha256 of the manifest bytes as served (what `helm push` prints). */
  digest: string;
  mediaType: string;
  config: OciDescriptor;
  layers: OciDescriptor[];
  annotations: Record<string, string>;
}

interface TokenEntry {
  authorization: string;
  expiresAt: number;
}

interface Challenge {
  scheme: 'bearer' | 'basic';
  params: Record<string, string>;
}

/** `Bearer realm="https://x",service="y",scope="repository:a:pull"` → scheme and parameters. */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = (m[1] ?? '').toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'basic') return undefined;
  const params: Record<string, string> = {};
  const re = /([a-zA-Z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/g;
  for (let p = re.exec(m[2] ?? ''); p; p = re.exec(m[2] ?? '')) params[(p[1] ?? '').toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme, params };
}

/** `<url>; rel="next"` from a Link header, or undefined. */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const m = /<([^>]*)>\s*;(.*)/.exec(part);
    if (m && /rel\s*=\s*"?next"?/i.test(m[2] ?? '')) return m[1];
  }
  return undefined;
}

function descriptor(v: unknown): OciDescriptor | undefined {
  if (!isObject(v)) return undefined;
  const mediaType = str(v['mediaType']);
  const digest = normalizeDigest(v['digest']);
  const size = typeof v['size'] === 'number' && Number.isSafeInteger(v['size']) && v['size'] >= 0 ? v['size'] : undefined;
  if (mediaType === undefined || digest === undefined || size === undefined) return undefined;
  return { mediaType, digest, size, annotations: stringRecord(v['annotations']) };
}

function stringRecord(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObject(v)) for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * The OCI distribution API as Helm uses it: tags list, manifests, blobs, with the registry token flow
 * (401 + WWW-Authenticate → token per scope, cached until it expires) or Basic. Public so that a later
 * signature feature can read referrers (`/v2/<name>/referrers/<digest>`) through the same auth and limits.
 */
export class OciClient {
  readonly repository: string;
  readonly base: string;
  readonly #http: HttpClient;
  readonly #credentials: Credentials | undefined;
  readonly #now: () => number;
  readonly #tokens = new Map<string, TokenEntry>();
  readonly #plainHTTP: boolean;

  constructor(repository: string, base: string, http: HttpClient, credentials: Credentials | undefined, plainHTTP: boolean, now: () => number) {
    this.repository = repository;
    this.base = base;
    this.#http = http;
    this.#credentials = credentials;
    this.#plainHTTP = plainHTTP;
    this.#now = now;
  }

  /** A GET against the registry for `name` (undefined: the /v2/ ping), answering auth challenges once. */
  async get(path: string, name: string | undefined, req: Omit<HttpRequest, 'url' | 'authorization'>): Promise<HttpResponse> {
    const url = new URL(path, this.base).toString();
    const scope = name === undefined ? '' : `repository:${name}:pull`;
    const accept = [...(req.acceptStatus ?? []), 401];
    const cached = this.#cachedAuth(scope);
    let res = await this.#http.request({ ...req, url, authorization: cached, acceptStatus: accept });
    if (res.status !== 401) return this.#checkStatus(res, req);
    const challenge = parseChallenge(res.headers.get('www-authenticate'));
    const authorization = await this.#answer(challenge, scope, req.signal, url);
    res = await this.#http.request({ ...req, url, authorization, acceptStatus: accept });
    if (res.status === 401) {
      this.#tokens.delete(scope);
      throw new RepoError(this.repository, 'unauthorized', `repository ${this.repository}: ${req.what ?? 'request'} ${redactUrl(url)}: HTTP 401 (credentials ${this.#credentials ? 'refused' : 'required'})`);
    }
    return this.#checkStatus(res, req);
  }

  #checkStatus(res: HttpResponse, req: Omit<HttpRequest, 'url' | 'authorization'>): HttpResponse {
    if (res.status === 401 && !req.acceptStatus?.includes(401)) {
      throw new RepoError(this.repository, 'unauthorized', `repository ${this.repository}: ${req.what ?? 'request'} ${redactUrl(res.url)}: HTTP 401`);
    }
    return res;
  }

  #cachedAuth(scope: string): string | undefined {
    const t = this.#tokens.get(scope);
    if (t && t.expiresAt > this.#now()) return t.authorization;
    if (t) this.#tokens.delete(scope);
    return undefined;
  }

  async #answer(challenge: Challenge | undefined, scope: string, signal: AbortSignal | undefined, url: string): Promise<string> {
    const unauthorized = (detail: string): RepoError => new RepoError(this.repository, 'unauthorized', `repository ${this.repository}: ${redactUrl(url)}: ${detail}`);
    if (!challenge) throw unauthorized('HTTP 401 without a usable WWW-Authenticate challenge');
    if (challenge.scheme === 'basic' || this.#credentials?.kind === 'bearer') {
      // A configured bearer token is the registry credential itself; Basic challenges take username/password.
      const authorization = authorizationHeader(this.#credentials);
      if (!authorization) throw unauthorized('HTTP 401, the registry requires credentials');
      this.#tokens.set(scope, { authorization, expiresAt: Number.POSITIVE_INFINITY });
      return authorization;
    }
    const realm = challenge.params['realm'];
    if (!realm) throw unauthorized('Bearer challenge without realm');
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      throw unauthorized('Bearer challenge with an invalid realm');
    }
    if (realmUrl.protocol !== 'https:' && !(realmUrl.protocol === 'http:' && this.#plainHTTP)) {
      throw unauthorized(`token realm ${redactUrl(realmUrl.href)} is not https`);
    }
    const service = challenge.params['service'];
    if (service) realmUrl.searchParams.set('service', service);
    const wanted = challenge.params['scope'] ?? scope;
    if (wanted) for (const s of wanted.split(' ')) if (s) realmUrl.searchParams.append('scope', s);
    // The registry names its token service; credentials go there (as with docker, oras, helm), but
    // never onward: the HTTP layer drops them on any redirect to another origin.
    const res = await this.#http.request({
      url: realmUrl.toString(),
      authorization: authorizationHeader(this.#credentials),
      maxBytes: 1024 * 1024,
      signal,
      what: 'token',
    });
    let body: unknown;
    try {
      body = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw unauthorized('the token service answered with something that is not JSON');
    }
    const token = isObject(body) ? (str(body['token']) ?? str(body['access_token'])) : undefined;
    if (!token) throw unauthorized('the token service answered without a token');
    const expiresIn = isObject(body) && typeof body['expires_in'] === 'number' && body['expires_in'] > 0 ? body['expires_in'] : 60;
    const issuedAt = isObject(body) && typeof body['issued_at'] === 'string' ? Date.parse(body['issued_at']) : Number.NaN;
    const start = Number.isNaN(issuedAt) ? this.#now() : Math.min(issuedAt, this.#now());
    const authorization = `Bearer ${token}`;
    // Renew a little early so a token never expires between the check and the request.
    this.#tokens.set(scope, { authorization, expiresAt: start + expiresIn * 1000 * 0.9 });
    return authorization;
  }

  /** Every tag of `name`, following `Link: rel="next"` for at most `maxPages` pages; [] when the name is unknown. */
  async tags(name: string, options: { pageSize?: number | undefined; maxPages: number; signal?: AbortSignal | undefined }): Promise<string[]> {
    let path: string | undefined = `/v2/${name}/tags/list${options.pageSize ? `?n=${options.pageSize}` : ''}`;
    const tags: string[] = [];
    for (let page = 0; path; page++) {
      if (page >= options.maxPages) {
        throw new RepoError(this.repository, 'too_large', `repository ${this.repository}: tags of ${name}: more than ${options.maxPages} pages`);
      }
      const res = await this.get(path, name, { signal: options.signal, acceptStatus: [404], maxBytes: 4 * 1024 * 1024, what: `tags of ${name}`, headers: { accept: 'application/json' } });
      if (res.status === 404) return [];
      let body: unknown;
      try {
        body = JSON.parse(res.body.toString('utf8'));
      } catch {
        throw new RepoError(this.repository, 'invalid_manifest', `repository ${this.repository}: tags of ${name}: response is not JSON`);
      }
      const list = isObject(body) && Array.isArray(body['tags']) ? body['tags'] : isObject(body) && body['tags'] === null ? [] : undefined;
      if (!list) throw new RepoError(this.repository, 'invalid_manifest', `repository ${this.repository}: tags of ${name}: no tags list in the response`);
      for (const t of list) if (typeof t === 'string') tags.push(t);
      const next = nextLink(res.headers.get('link'));
      if (next) {
        const nextUrl = new URL(next, res.url);
        if (nextUrl.origin !== new URL(this.base).origin) {
          throw new RepoError(this.repository, 'redirect', `repository ${this.repository}: tags of ${name}: next page on another host`);
        }
        path = nextUrl.pathname + nextUrl.search;
      } else {
        path = undefined;
      }
    }
    return tags;
  }

  /** The OCI image manifest of `name:reference`, its digest checked against Docker-Content-Digest. */
  async manifest(name: string, reference: string, options: { maxBytes: number; signal?: AbortSignal | undefined }): Promise<OciManifest> {
    const what = `manifest ${name}:${reference}`;
    // Other manifest types are accepted on the wire so that they can be refused by name below, instead of
    // the registry answering a bare 400/404 for an Accept it cannot satisfy.
    const accept = `${OCI_MANIFEST}, ${OCI_INDEX};q=0.5, ${DOCKER_MANIFEST};q=0.5`;
    const res = await this.get(`/v2/${name}/manifests/${reference}`, name, { signal: options.signal, maxBytes: options.maxBytes, what, headers: { accept } });
    const bad = (detail: string): RepoError => new RepoError(this.repository, 'invalid_manifest', `repository ${this.repository}: ${what}: ${detail}`);
    const digest = sha256(res.body);
    const served = res.headers.get('docker-content-digest');
    if (served && normalizeDigest(served) !== digest) {
      throw new RepoError(this.repository, 'digest_mismatch', `repository ${this.repository}: ${what}: content digest ${digest} differs from Docker-Content-Digest ${normalizeDigest(served) ?? 'unreadable'}`);
    }
    if (reference.startsWith('sha256:') && reference !== digest) {
      throw new RepoError(this.repository, 'digest_mismatch', `repository ${this.repository}: ${what}: content digest ${digest} differs from the requested digest`);
    }
    const contentType = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
    let body: unknown;
    try {
      body = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw bad('not JSON');
    }
    if (!isObject(body)) throw bad('not a JSON object');
    const mediaType = str(body['mediaType']) ?? contentType;
    if (mediaType !== OCI_MANIFEST) throw bad(`media type ${JSON.stringify(mediaType.slice(0, 100))} is not an OCI image manifest`);
    if (body['schemaVersion'] !== 2) throw bad('schemaVersion is not 2');
    const config = descriptor(body['config']);
    if (!config) throw bad('missing or invalid config descriptor');
    const layers: OciDescriptor[] = [];
    for (const l of Array.isArray(body['layers']) ? body['layers'] : []) {
      const d = descriptor(l);
      if (!d) throw bad('invalid layer descriptor');
      layers.push(d);
    }
    return { digest, mediaType, config, layers, annotations: stringRecord(body['annotations']) };
  }

  /**
   * Any manifest or index of `name:reference` as parsed JSON, its digest checked like manifest(); undefined
   * on 404. For artifacts that are not charts (referrers, cosign tags), so the media type is not checked.
   */
  async anyManifest(name: string, reference: string, options: { accept: string; maxBytes: number; signal?: AbortSignal | undefined }): Promise<{ digest: string; contentType: string; body: JsonObject } | undefined> {
    const what = `manifest ${name}:${reference}`;
    const res = await this.get(`/v2/${name}/manifests/${reference}`, name, { signal: options.signal, maxBytes: options.maxBytes, what, acceptStatus: [404], headers: { accept: options.accept } });
    if (res.status === 404) return undefined;
    const digest = sha256(res.body);
    const served = res.headers.get('docker-content-digest');
    if ((served && normalizeDigest(served) !== digest) || (reference.startsWith('sha256:') && reference !== digest)) {
      throw new RepoError(this.repository, 'digest_mismatch', `repository ${this.repository}: ${what}: content digest ${digest} differs from the digest the registry names`);
    }
    let body: unknown;
    try {
      body = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new RepoError(this.repository, 'invalid_manifest', `repository ${this.repository}: ${what}: not JSON`);
    }
    if (!isObject(body)) throw new RepoError(this.repository, 'invalid_manifest', `repository ${this.repository}: ${what}: not a JSON object`);
    return { digest, contentType: (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '', body };
  }

  /**
   * The digest `name:tag` serves now (HEAD, Docker-Content-Digest; GET and hash when the registry omits
   * the header), undefined when the tag is gone. Cheap enough for every probe.
   */
  async tagDigest(name: string, tag: string, options: { maxBytes: number; signal?: AbortSignal | undefined }): Promise<string | undefined> {
    const accept = `${OCI_MANIFEST}, ${OCI_INDEX};q=0.5, ${DOCKER_MANIFEST};q=0.5`;
    const path = `/v2/${name}/manifests/${tag}`;
    // A registry that refuses HEAD (400/405/501) is asked with GET rather than marked down.
    const head = await this.get(path, name, { method: 'HEAD', signal: options.signal, maxBytes: options.maxBytes, what: `manifest ${name}:${tag}`, acceptStatus: [404, 400, 405, 501], headers: { accept } });
    if (head.status === 404) return undefined;
    const served = head.status === 200 ? normalizeDigest(head.headers.get('docker-content-digest')) : undefined;
    if (served) return served;
    const res = await this.get(path, name, { signal: options.signal, maxBytes: options.maxBytes, what: `manifest ${name}:${tag}`, acceptStatus: [404], headers: { accept } });
    return res.status === 404 ? undefined : sha256(res.body);
  }

  /** A blob, size-limited and verified against its digest. */
  async blob(name: string, desc: { digest: string; size?: number | undefined }, options: { maxBytes: number; signal?: AbortSignal | undefined; what: string }): Promise<Buffer> {
    if (desc.size !== undefined && desc.size > options.maxBytes) {
      throw new RepoError(this.repository, 'too_large', `repository ${this.repository}: ${options.what}: ${desc.size} bytes, more than the limit of ${options.maxBytes}`);
    }
    const res = await this.get(`/v2/${name}/blobs/${desc.digest}`, name, { signal: options.signal, maxBytes: options.maxBytes, what: options.what });
    const digest = sha256(res.body);
    if (digest !== desc.digest) {
      throw new RepoError(this.repository, 'digest_mismatch', `repository ${this.repository}: ${options.what}: content digest ${digest} differs from the manifest digest ${desc.digest}`);
    }
    return res.body;
  }

  /** GET /v2/: reachability and credentials. */
  async ping(signal?: AbortSignal): Promise<void> {
    const res = await this.get('/v2/', undefined, { signal, maxBytes: 64 * 1024, what: 'registry check' });
    // A login page or a web server at the wrong URL answers 200 too; a registry's /v2/ is JSON (or empty).
    if (/html/i.test(res.headers.get('content-type') ?? '') || /^\s*</.test(res.body.toString('utf8', 0, 256))) {
      throw new RepoError(this.repository, 'invalid_manifest', `repository ${this.repository}: registry check ${redactUrl(res.url)}: answers HTML, not the OCI distribution API (a login page or a wrong URL?)`);
    }
  }
}

/** semver.org's regular expression: Helm keeps tags that Masterminds' StrictNewVersion accepts (no `v`, all three numbers). */
const STRICT_SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

interface Details {
  entry: ChartVersionEntry;
  manifest: OciManifest;
  layer: OciDescriptor;
}

interface CachedTags {
  entries: ChartVersionEntry[];
  fetchedAt: number;
}

/** The chart layer: Helm's media type, or the legacy `application/tar+gzip`. */
function chartLayer(m: OciManifest): OciDescriptor | undefined {
  return m.layers.find((l) => l.mediaType === HELM_CHART_LAYER) ?? m.layers.find((l) => l.mediaType === HELM_LEGACY_LAYER);
}

/** `oci://host[:port]/prefix` → registry base URL and the repository prefix. */
export function parseOciUrl(url: string, plainHTTP: boolean): { base: string; prefix: string; credentials: Credentials | undefined } {
  const u = new URL(url);
  if (u.protocol !== 'oci:') throw new Error(`not an oci:// URL: ${redactUrl(url)}`);
  if (!u.host) throw new Error(`oci:// URL without a host: ${redactUrl(url)}`);
  const prefix = u.pathname.replace(/^\/+|\/+$/g, '');
  const credentials: Credentials | undefined = u.username || u.password ? { kind: 'basic', username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } : undefined;
  return { base: `${plainHTTP ? 'http' : 'https'}://${u.host}`, prefix, credentials };
}

/**
 * An OCI registry as a chart source: chart `x` lives at `<prefix>/x`; versions are its strict-semver tags
 * (`_` read as `+`), newest first; details and downloads come from the manifest and its layers.
 */
export class OciChartSource implements ChartSource {
  readonly config: RepositoryConfig;
  readonly kind = 'oci' as const;
  readonly client: OciClient;
  readonly #http: HttpClient;
  readonly #prefix: string;
  readonly #host: string;
  readonly #options: OciSourceOptions;
  readonly #now: () => number;
  readonly #tags = new Map<string, CachedTags>();
  readonly #details = new Map<string, Details>();
  readonly #referrers = new Map<string, { chart: string; report: ReferrersReport; fetchedAt: number }>();
  readonly #moved = new Map<string, MovedTag>();
  readonly #cosignKeys: KeyObject[];
  #everUp = false;

  constructor(config: RepositoryConfig, options: OciSourceOptions = {}) {
    this.config = config;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const parsed = parseOciUrl(config.url, config.plainHTTP);
    this.#prefix = parsed.prefix;
    this.#host = new URL(parsed.base).host;
    this.#http = repositoryHttpClient(config, options.http);
    this.client = new OciClient(config.name, parsed.base, this.#http, config.credentials ?? parsed.credentials, config.plainHTTP, this.#now);
    this.#cosignKeys = cosignKeys(config.cosignPublicKeys ?? []);
  }

  /** `<prefix>/<chart>` in the registry. */
  repositoryName(chart: string): string {
    return this.#prefix ? `${this.#prefix}/${chart}` : chart;
  }

  repoURL(chart: string): string {
    return ociRepoURL(this.config.url, chart);
  }

  async versions(chart: string, signal?: AbortSignal): Promise<ChartVersionEntry[]> {
    const cached = this.#tags.get(chart);
    if (cached && this.#now() - cached.fetchedAt < this.config.intervalSeconds * 1000) return cached.entries;
    return (await this.#listTags(chart, signal)).entries;
  }

  async #listTags(chart: string, signal?: AbortSignal): Promise<CachedTags> {
    if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/.test(chart)) {
      // Not a valid OCI repository name component, so the registry cannot hold it.
      const empty = { entries: [], fetchedAt: this.#now() };
      this.#tags.set(chart, empty);
      return empty;
    }
    const name = this.repositoryName(chart);
    const tags = await this.client.tags(name, { pageSize: this.#options.tagPageSize, maxPages: this.#options.maxTagPages ?? 100, signal });
    const seen = new Set<string>();
    const versions: string[] = [];
    for (const tag of tags) {
      const version = tag.replace(/_/g, '+');
      if (!STRICT_SEMVER.test(version) || seen.has(version)) continue;
      seen.add(version);
      versions.push(version);
    }
    versions.sort((a, b) => semver.rcompare(a, b) || (a < b ? 1 : a > b ? -1 : 0));
    const repoUrl = this.repoURL(chart);
    const entries = versions.map((version) => {
      const known = this.#details.get(`${chart}:${version}`);
      return known ? known.entry : { name: chart, version, deprecated: false, urls: [`${repoUrl}:${version.replace(/\+/g, '_')}`] };
    });
    const result = { entries, fetchedAt: this.#now() };
    this.#tags.set(chart, result);
    return result;
  }

  async details(entry: ChartVersionEntry, signal?: AbortSignal): Promise<ChartVersionEntry> {
    return (await this.#loadDetails(entry, signal)).entry;
  }

  async #loadDetails(entry: ChartVersionEntry, signal?: AbortSignal): Promise<Details> {
    const key = `${entry.name}:${entry.version}`;
    const known = this.#details.get(key);
    if (known) return known;
    const name = this.repositoryName(entry.name);
    const tag = entry.version.replace(/\+/g, '_');
    const manifest = await this.client.manifest(name, tag, { maxBytes: this.#options.maxManifestBytes ?? 4 * 1024 * 1024, signal });
    const what = `manifest ${name}:${tag}`;
    if (manifest.config.mediaType !== HELM_CONFIG) {
      throw new RepoError(this.config.name, 'invalid_manifest', `repository ${this.config.name}: ${what}: config media type is not a Helm chart config`);
    }
    const layer = chartLayer(manifest);
    if (!layer) throw new RepoError(this.config.name, 'invalid_manifest', `repository ${this.config.name}: ${what}: no Helm chart layer`);
    const configBytes = await this.client.blob(name, manifest.config, { maxBytes: this.#options.maxConfigBytes ?? 1024 * 1024, signal, what: `chart config of ${name}:${tag}` });
    let meta: unknown;
    try {
      meta = JSON.parse(configBytes.toString('utf8'));
    } catch {
      throw new RepoError(this.config.name, 'invalid_manifest', `repository ${this.config.name}: chart config of ${name}:${tag} is not JSON`);
    }
    const m = isObject(meta) ? meta : {};
    const appVersion = typeof m['appVersion'] === 'string' && m['appVersion'] !== '' ? m['appVersion'] : undefined;
    const details: Details = {
      entry: {
        name: entry.name,
        version: entry.version,
        appVersion,
        created: manifest.annotations[CREATED_ANNOTATION],
        deprecated: m['deprecated'] === true,
        digest: layer.digest,
        urls: entry.urls.length ? entry.urls : [`${this.repoURL(entry.name)}:${tag}`],
        notes: notesOf(m, str),
      },
      manifest,
      layer,
    };
    this.#details.set(key, details);
    return details;
  }

  async fetchChart(entry: ChartVersionEntry, signal?: AbortSignal): Promise<FetchedChart> {
    const d = await this.#loadDetails(entry, signal);
    const name = this.repositoryName(entry.name);
    const what = `chart ${entry.name}-${entry.version}`;
    if (entry.digest && entry.digest !== d.layer.digest) {
      throw new RepoError(this.config.name, 'digest_mismatch', `repository ${this.config.name}: ${what}: the manifest's layer digest ${d.layer.digest} differs from the expected ${entry.digest}`);
    }
    const bytes = await this.client.blob(name, d.layer, { maxBytes: this.#options.maxChartBytes ?? 20 * 1024 * 1024, signal, what });
    const out: FetchedChart = { tarballDigest: d.layer.digest, manifestDigest: d.manifest.digest, bytes };
    const prov = d.manifest.layers.find((l) => l.mediaType === HELM_PROV_LAYER);
    if (prov) out.provenance = await this.client.blob(name, prov, { maxBytes: 1024 * 1024, signal, what: `provenance of ${what}` });
    return out;
  }

  /**
   * Checks the registry (GET /v2/ with auth), re-lists the tags of every chart looked up so far and
   * re-checks the digest of every tag read so far (HEAD, bounded): OCI tags are mutable, and a tag that
   * now serves another manifest must lead to a new comparison. `changed` when a tag list differs, a tag
   * moved, or on the first success.
   */
  async probe(signal?: AbortSignal): Promise<ProbeResult> {
    await this.client.ping(signal);
    let changed = !this.#everUp;
    this.#everUp = true;
    for (const [chart, before] of [...this.#tags]) {
      const after = await this.#listTags(chart, signal);
      const a = before.entries.map((e) => e.version).join(',');
      const b = after.entries.map((e) => e.version).join(',');
      if (a !== b) changed = true;
    }
    if (await this.#checkTags(signal)) changed = true;
    if (await this.#checkReferrers(signal)) changed = true;
    return { charts: this.#tags.size, changed };
  }

  /**
   * Re-reads the referrers of the chart manifests read so far (bounded, most recent first): a signature
   * or SBOM pushed after installation then reaches ChartOrigin status. A lookup that fails keeps the
   * last list (a registry hiccup does not re-analyse every release).
   */
  async #checkReferrers(signal?: AbortSignal): Promise<boolean> {
    let changed = false;
    const key = (r: ReferrersReport): string => r.referrers.map((x) => `${x.kind}/${x.digest}/${String(x.verified)}`).join(',') + `#${r.total}`;
    for (const [digest, before] of [...this.#referrers].reverse().slice(0, this.#options.maxTagChecks ?? 200)) {
      const after = await listReferrers(this.client, this.repositoryName(before.chart), digest, { maxListed: this.#options.maxReferrers, cosignKeys: this.#cosignKeys, signal });
      if (after.note && after.note.includes('failed')) continue;
      this.#referrers.set(digest, { chart: before.chart, report: after, fetchedAt: this.#now() });
      if (key(after) !== key(before.report)) changed = true;
    }
    return changed;
  }

  /** true when a tag read before serves another manifest now (its details are dropped to be read again). */
  async #checkTags(signal?: AbortSignal): Promise<boolean> {
    let moved = false;
    const known = [...this.#details].reverse().slice(0, this.#options.maxTagChecks ?? 200);
    for (const [key, d] of known) {
      const name = this.repositoryName(d.entry.name);
      const tag = d.entry.version.replace(/\+/g, '_');
      const now = await this.client.tagDigest(name, tag, { maxBytes: this.#options.maxManifestBytes ?? 4 * 1024 * 1024, signal });
      if (now === d.manifest.digest) continue;
      moved = true;
      this.#details.delete(key);
      if (now) {
        const first = this.#moved.get(key)?.previousManifestDigest ?? d.manifest.digest;
        // Moved back to what it first served: nothing to report any more.
        if (first === now) this.#moved.delete(key);
        else this.#moved.set(key, { tag, previousManifestDigest: first, manifestDigest: now, detectedAt: new Date(this.#now()).toISOString().replace(/\.\d{3}Z$/, 'Z') });
      }
      // The listing handed out entries carrying the old layer digest: replace them with bare ones.
      const listed = this.#tags.get(d.entry.name);
      if (listed) {
        listed.entries = listed.entries.map((e) => (e.version === d.entry.version ? { name: e.name, version: e.version, deprecated: false, urls: e.urls } : e));
      }
    }
    return moved;
  }

  movedTag(chart: string, version: string): MovedTag | undefined {
    return this.#moved.get(`${chart}:${version}`);
  }

  /**
   * What refers to the chart manifest `manifestDigest` (signatures, SBOMs, attestations), cached per
   * digest for the repository interval so that reconciles do not query the registry each time.
   */
  async referrers(chart: string, manifestDigest: string, signal?: AbortSignal): Promise<ReferrersReport> {
    const hit = this.#referrers.get(manifestDigest);
    if (hit && this.#now() - hit.fetchedAt < this.config.intervalSeconds * 1000) return hit.report;
    return this.#readReferrers(chart, manifestDigest, signal);
  }

  async #readReferrers(chart: string, manifestDigest: string, signal?: AbortSignal): Promise<ReferrersReport> {
    const report = await listReferrers(this.client, this.repositoryName(chart), manifestDigest, { maxListed: this.#options.maxReferrers, cosignKeys: this.#cosignKeys, signal });
    this.#referrers.delete(manifestDigest);
    this.#referrers.set(manifestDigest, { chart, report, fetchedAt: this.#now() });
    if (this.#referrers.size > 1024) {
      const oldest = this.#referrers.keys().next().value;
      if (oldest !== undefined) this.#referrers.delete(oldest);
    }
    return report;
  }

  /** The registry host, for logs (no credentials). */
  get host(): string {
    return this.#host;
  }

  async close(): Promise<void> {
    await this.#http.close();
  }
}
