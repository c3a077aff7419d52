import { createHash } from 'node:crypto';
import { authorizationHeader, repositoryHttpClient, type HttpClient, type RepositoryHttpOptions } from './client.ts';
import { DEFAULT_MAX_INDEX_BYTES, type ChartIndex } from './index-parse.ts';
import { BlockNotAlone, LazyChartIndex, readIndex } from './index-lazy.ts';
import { RepoError, type ChartSource, type ChartVersionEntry, type Credentials, type FetchedChart, type ProbeResult, type RepositoryConfig } from '../../model/repository.ts';
import { redactUrl } from '../url.ts';
import { intern } from '../../util/intern.ts';

export interface HttpSourceOptions {
  /** Overrides for the HTTP layer (timeouts, retry policy). */
  http?: RepositoryHttpOptions | undefined;
  /** index.yaml size limit (default 100 MiB). */
  maxIndexBytes?: number | undefined;
  /** Chart .tgz size limit (default 20 MiB). */
  maxChartBytes?: number | undefined;
  /** Also GET `<chart URL>.prov` (best effort; off by default). */
  fetchProvenance?: boolean | undefined;
  /** Clock, for tests. */
  now?: (() => number) | undefined;
  /**
   * An index.yaml already on disk (Helm's repository cache) and when it was written: used instead of a
   * download while younger than the interval. An unreadable or unparsable one is ignored (downloaded instead).
   */
  cachedIndex?: { bytes: Uint8Array; fetchedAt: number } | undefined;
  /**
   * Keep a big index compressed block by block (LazyChartIndex.compact) once read: on for a process that
   * keeps its sources (the controller); the one-shot CLI turns it off, as compressing would delay its exit.
   */
  compactIndex?: boolean | undefined;
}

export interface IndexStats {
  /** Chart names in the index (ChartRepository status `charts`). */
  charts: number;
  /** Versions across all charts. */
  versions: number;
  /** When the index was last confirmed current (a 200 or a 304). */
  lastFetched?: Date | undefined;
}

interface CachedIndex {
  index: ChartIndex;
  /** The whole parse of a lazy index, once a chart's block did not parse on its own (index-lazy.ts). */
  whole?: Promise<ChartIndex> | undefined;
  /** What the whole parse refused: the index is then refused as a whole, as Helm refuses it. */
  refused?: RepoError | undefined;
  etag?: string | undefined;
  lastModified?: string | undefined;
  sha256: string;
  fetchedAt: number;
}

const MAX_CHART_BYTES = 20 * 1024 * 1024;

/** `https://x/repo?q` → `https://x/repo/index.yaml?q` (Helm joins the path and keeps the query). */
function indexUrl(repoUrl: string): string {
  const u = new URL(repoUrl);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/index.yaml`;
  u.hash = '';
  return u.toString();
}

function credentialsFromUrl(url: string): Credentials | undefined {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return undefined;
    return { kind: 'basic', username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
  } catch {
    return undefined;
  }
}

function sameOrigin(a: string, b: string): boolean {
  try {
    const ua = new URL(a);
    const ub = new URL(b);
    return ua.protocol === ub.protocol && ua.host === ub.host;
  } catch {
    return false;
  }
}

/**
 * A classic chart repository (`GET <url>/index.yaml`). The parsed index is cached and revalidated with
 * If-None-Match / If-Modified-Since once older than the configured interval. When a refresh fails and an
 * older index is cached, listings keep serving it (the failure still shows through `probe`, which the
 * controller turns into the repository's status and metrics).
 */
export class HttpChartSource implements ChartSource {
  readonly config: RepositoryConfig;
  #repoURL: string | undefined;
  readonly kind = 'http' as const;
  readonly #http: HttpClient;
  readonly #authorization: string | undefined;
  readonly #indexUrl: string;
  readonly #maxIndexBytes: number;
  readonly #maxChartBytes: number;
  readonly #fetchProvenance: boolean;
  readonly #now: () => number;
  readonly #compactIndex: boolean;
  #cached: CachedIndex | undefined;
  #inflight: Promise<boolean> | undefined;
  #seed: Promise<void> | undefined;

  constructor(config: RepositoryConfig, options: HttpSourceOptions = {}) {
    this.config = config;
    this.#http = repositoryHttpClient(config, options.http);
    this.#authorization = authorizationHeader(config.credentials ?? credentialsFromUrl(config.url));
    this.#indexUrl = indexUrl(config.url);
    this.#maxIndexBytes = options.maxIndexBytes ?? DEFAULT_MAX_INDEX_BYTES;
    this.#maxChartBytes = options.maxChartBytes ?? MAX_CHART_BYTES;
    // .prov files are only worth a request when something will check them.
    this.#fetchProvenance = options.fetchProvenance ?? (config.requireSignature === true || (config.keyring?.length ?? 0) > 0);
    this.#now = options.now ?? Date.now;
    this.#compactIndex = options.compactIndex ?? true;
    const seed = options.cachedIndex;
    if (seed) this.#seed = this.#loadSeed(seed.bytes, seed.fetchedAt);
  }

  async #loadSeed(bytes: Uint8Array, fetchedAt: number): Promise<void> {
    try {
      const index = await this.#read(bytes);
      this.#cached ??= { index, sha256: createHash('sha256').update(bytes).digest('hex'), fetchedAt };
    } catch {
      // a damaged cache file: download as if there were none
    }
  }

  async #read(bytes: Uint8Array): Promise<ChartIndex> {
    const index = await readIndex(bytes, { repository: this.config.name, repoUrl: this.config.url, maxBytes: this.#maxIndexBytes });
    // In the background: lookups answer from the bytes until the compressed blocks are ready.
    if (this.#compactIndex && index instanceof LazyChartIndex) index.compact().catch(() => undefined);
    return index;
  }

  repoURL(_chart: string): string {
    // One string for every release's report (the controller keeps one per release).
    return (this.#repoURL ??= intern(redactUrl(this.config.url).replace(/\/+$/, '')));
  }

  /** Counts every version, so a lazy index parses every chart (tests and diagnostics, not the controller's loop). */
  stats(): IndexStats {
    const c = this.#cached;
    if (!c) return { charts: 0, versions: 0 };
    let versions = 0;
    for (const list of c.index.values()) versions += list.length;
    return { charts: c.index.size, versions, lastFetched: new Date(c.fetchedAt) };
  }

  async versions(chart: string, signal?: AbortSignal): Promise<ChartVersionEntry[]> {
    const cached = await this.#currentIndex(signal);
    try {
      return cached.index.get(chart) ?? [];
    } catch (err) {
      if (!(err instanceof BlockNotAlone)) throw err;
      return (await this.#parseWhole(cached)).get(chart) ?? [];
    }
  }

  /** One whole parse per index content, shared by concurrent lookups; a refusal is kept with the index. */
  #parseWhole(cached: CachedIndex): Promise<ChartIndex> {
    const lazy = cached.index;
    if (!(lazy instanceof LazyChartIndex)) return Promise.resolve(lazy);
    cached.whole ??= lazy.parseWhole().then(
      (index) => (cached.index = index),
      (err: unknown) => {
        if (err instanceof RepoError) cached.refused = err;
        cached.whole = undefined;
        throw err;
      },
    );
    return cached.whole;
  }

  async details(entry: ChartVersionEntry): Promise<ChartVersionEntry> {
    return entry;
  }

  prefetch(): void {
    this.refresh().catch(() => undefined);
  }

  async probe(signal?: AbortSignal): Promise<ProbeResult> {
    const changed = await this.refresh(true, signal);
    if (this.#cached?.refused) throw this.#cached.refused;
    return { charts: this.#cached?.index.size ?? 0, changed };
  }

  /**
   * Re-fetches index.yaml when it is older than the interval, or now with `force`. Concurrent callers share
   * one request. Returns true when the index content changed (or was loaded for the first time).
   */
  async refresh(force = false, signal?: AbortSignal): Promise<boolean> {
    if (this.#seed) await this.#seed;
    const c = this.#cached;
    if (!force && c && this.#now() - c.fetchedAt < this.config.intervalSeconds * 1000) return false;
    if (!this.#inflight) {
      this.#inflight = this.#fetchIndex(signal).finally(() => {
        this.#inflight = undefined;
      });
    }
    return this.#inflight;
  }

  async #currentIndex(signal?: AbortSignal): Promise<CachedIndex> {
    try {
      await this.refresh(false, signal);
    } catch (err) {
      if (!this.#cached || signal?.aborted) throw err;
    }
    if (!this.#cached) throw new RepoError(this.config.name, 'invalid_index', `repository ${this.config.name}: no index`);
    if (this.#cached.refused) throw this.#cached.refused;
    return this.#cached;
  }

  async #fetchIndex(signal?: AbortSignal): Promise<boolean> {
    const prev = this.#cached;
    const headers: Record<string, string> = { accept: 'application/yaml, application/json;q=0.9, */*;q=0.5' };
    if (prev?.etag) headers['if-none-match'] = prev.etag;
    if (prev?.lastModified) headers['if-modified-since'] = prev.lastModified;
    const res = await this.#http.request({
      url: this.#indexUrl,
      headers,
      authorization: this.#authorization,
      maxBytes: this.#maxIndexBytes,
      acceptStatus: prev ? [304] : [],
      signal,
      what: 'index',
    });
    if (res.status === 304 && prev) {
      prev.fetchedAt = this.#now();
      return false;
    }
    const sha256 = createHash('sha256').update(res.body).digest('hex');
    if (prev && prev.sha256 === sha256) {
      prev.fetchedAt = this.#now();
      prev.etag = res.headers.get('etag') ?? undefined;
      prev.lastModified = res.headers.get('last-modified') ?? undefined;
      return false;
    }
    const index = await this.#read(res.body);
    this.#cached = {
      index,
      etag: res.headers.get('etag') ?? undefined,
      lastModified: res.headers.get('last-modified') ?? undefined,
      sha256,
      fetchedAt: this.#now(),
    };
    return true;
  }

  async fetchChart(entry: ChartVersionEntry, signal?: AbortSignal): Promise<FetchedChart> {
    const url = entry.urls[0];
    const what = `chart ${entry.name}-${entry.version}`;
    if (!url) throw new RepoError(this.config.name, 'invalid_index', `repository ${this.config.name}: ${what} has no download URL in the index`);
    // As Helm's HTTP getter: the repository's credentials go to the repository's origin, or anywhere with
    // --pass-credentials (pass_credentials_all).
    const authorization = this.config.passCredentials === true || sameOrigin(url, this.config.url) ? this.#authorization : undefined;
    const res = await this.#http.request({ url, authorization, maxBytes: this.#maxChartBytes, signal, what, raw: true, headers: { accept: 'application/gzip, application/octet-stream, */*;q=0.5' } });
    const tarballDigest = `sha256:${createHash('sha256').update(res.body).digest('hex')}`;
    if (entry.digest && entry.digest !== tarballDigest) {
      throw new RepoError(this.config.name, 'digest_mismatch', `repository ${this.config.name}: ${what} from ${redactUrl(url)}: content digest ${tarballDigest} differs from the index digest ${entry.digest}`);
    }
    const out: FetchedChart = { tarballDigest, bytes: res.body };
    if (this.#fetchProvenance) {
      const prov = new URL(url);
      prov.pathname = `${prov.pathname}.prov`;
      try {
        const p = await this.#http.request({ url: prov.toString(), authorization, maxBytes: 1024 * 1024, acceptStatus: [404], signal, raw: true, what: `provenance of ${what}` });
        if (p.status === 200) out.provenance = p.body;
      } catch (err) {
        if (signal?.aborted) throw err;
      }
    }
    return out;
  }

  async close(): Promise<void> {
    await this.#http.close();
  }
}
