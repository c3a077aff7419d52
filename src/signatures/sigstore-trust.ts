import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TrustMaterial } from '@sigstore/verify';
import type { Fetcher } from 'tuf-js';
import { HttpClient } from '../sources/http/client.ts';
import { isObject } from '../util/guards.ts';

/**
 * Where keyless verification gets its trust: Sigstore's `trusted_root.json` (Fulcio CAs, Rekor and CT log
 * keys, timestamp authorities), either given (a Secret or file, for air-gapped clusters and private
 * Sigstore instances) or from Sigstore's public TUF repository.
 */

// The Sigstore and TUF libraries are loaded on first use (about 1 s of module loading on a busy node):
// a CLI run or a controller without keyless repositories never pays for them.

/** The shape of a `trusted_root.json` (for config parsing, which is synchronous); trustFromJson checks the rest. */
export function checkTrustedRoot(json: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    throw new Error('trusted_root.json is not JSON');
  }
  if (!isObject(doc) || !Array.isArray(doc['certificateAuthorities']) || !Array.isArray(doc['tlogs'])) {
    throw new Error('trusted_root.json has no certificateAuthorities and tlogs lists');
  }
  return doc;
}

/** A `trusted_root.json` document → trust material; an unusable document is an error naming what is wrong. */
export async function trustFromJson(json: string): Promise<TrustMaterial> {
  const doc = checkTrustedRoot(json);
  const [{ TrustedRoot }, { toTrustMaterial }] = await Promise.all([import('@sigstore/protobuf-specs'), import('@sigstore/verify')]);
  try {
    return toTrustMaterial(TrustedRoot.fromJSON(doc));
  } catch (err) {
    throw new Error(`trusted_root.json is not usable: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export const PUBLIC_TUF_MIRROR = 'https://tuf-repo-cdn.sigstore.dev';
/** TUF timestamp metadata of the public instance is re-signed daily; refreshing twice a day keeps it current. */
const REFRESH_MS = 12 * 60 * 60 * 1000;
/** Largest metadata or target file accepted (trusted_root.json is ~7 kB, targets.json ~10 kB today). */
const MAX_FILE_BYTES = 2 * 1024 * 1024;

/** tuf-js downloads through chartorigin's HTTP client: its timeouts, size limits, redirect and TLS rules. */
class HttpFetcher implements Fetcher {
  readonly #http: HttpClient;
  readonly #notFound: (status: number) => Error;

  constructor(http: HttpClient, notFound: (status: number) => Error) {
    this.#http = http;
    this.#notFound = notFound;
  }

  async downloadBytes(url: string, maxLength: number): Promise<Buffer> {
    const res = await this.#http.request({ url, maxBytes: Math.min(maxLength, MAX_FILE_BYTES), acceptStatus: [403, 404], what: 'Sigstore TUF metadata' });
    // The updater probes for the next root version and stops at 403/404: it needs tuf-js's own error.
    if (res.status === 403 || res.status === 404) throw this.#notFound(res.status);
    return res.body;
  }

  async downloadFile<T>(url: string, maxLength: number, handler: (file: string) => Promise<T>): Promise<T> {
    const bytes = await this.downloadBytes(url, maxLength);
    const dir = await mkdtemp(join(tmpdir(), 'chartorigin-tuf-'));
    try {
      const file = join(dir, 'download');
      await writeFile(file, bytes);
      return await handler(file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

export interface PublicTrustOptions {
  /** Metadata and target cache (survives restarts when it is a volume); default <tmpdir>/chartorigin-sigstore-tuf. */
  cacheDir?: string | undefined;
  mirrorURL?: string | undefined;
  /** The TUF root to start from (a private Sigstore's TUF repository); default the one @sigstore/tuf ships for the mirror. */
  initialRoot?: Buffer | undefined;
  http?: HttpClient | undefined;
  now?: (() => number) | undefined;
}

/**
 * Sigstore's public trusted root through TUF (tuf-js, the library @sigstore/tuf is built on), starting
 * from the root that @sigstore/tuf ships (seeds.json), cached on disk and in memory and refreshed every
 * 12 hours; a failed refresh keeps the last good root.
 */
export class PublicSigstoreTrust {
  readonly #dir: string;
  readonly #mirror: string;
  readonly #initialRoot: Buffer | undefined;
  readonly #http: HttpClient;
  readonly #now: () => number;
  #current: { trust: TrustMaterial; at: number } | undefined;
  #loading: Promise<TrustMaterial> | undefined;

  constructor(options: PublicTrustOptions = {}) {
    this.#mirror = (options.mirrorURL ?? PUBLIC_TUF_MIRROR).replace(/\/+$/, '');
    this.#initialRoot = options.initialRoot;
    this.#dir = options.cacheDir ?? join(tmpdir(), 'chartorigin-sigstore-tuf', new URL(this.#mirror).host);
    this.#http = options.http ?? new HttpClient({ repository: 'sigstore-tuf', timeoutMs: 30_000 });
    this.#now = options.now ?? Date.now;
  }

  async trust(): Promise<TrustMaterial> {
    const c = this.#current;
    if (c && this.#now() - c.at < REFRESH_MS) return c.trust;
    this.#loading ??= this.#refresh().finally(() => {
      this.#loading = undefined;
    });
    try {
      return await this.#loading;
    } catch (err) {
      if (c) return c.trust;
      throw err;
    }
  }

  async #refresh(): Promise<TrustMaterial> {
    const metadataDir = join(this.#dir, 'metadata');
    const targetDir = join(this.#dir, 'targets');
    mkdirSync(metadataDir, { recursive: true });
    mkdirSync(targetDir, { recursive: true });
    const rootFile = join(metadataDir, 'root.json');
    if (!existsSync(rootFile)) writeFileSync(rootFile, this.#initialRoot ?? seedRoot(this.#mirror));
    const [{ Updater }, { DownloadHTTPError }] = await Promise.all([import('tuf-js'), import('tuf-js/dist/error.js')]);
    const fetcher = new HttpFetcher(this.#http, (status) => new DownloadHTTPError('not found', status));
    const updater = new Updater({ metadataDir, metadataBaseUrl: this.#mirror, targetDir, targetBaseUrl: `${this.#mirror}/targets`, fetcher });
    await updater.refresh();
    const info = await updater.getTargetInfo('trusted_root.json');
    if (!info) throw new Error('Sigstore TUF repository has no trusted_root.json target');
    const path = (await updater.findCachedTarget(info)) ?? (await updater.downloadTarget(info));
    const trust = await trustFromJson(readFileSync(path, 'utf8'));
    this.#current = { trust, at: this.#now() };
    return trust;
  }
}

/** The initial root.json @sigstore/tuf ships for `mirror` (the TUF client's trust anchor). */
function seedRoot(mirror: string): Buffer {
  const seeds: unknown = createRequire(import.meta.url)('@sigstore/tuf/seeds.json');
  const entry = isObject(seeds) ? seeds[mirror] : undefined;
  const root = isObject(entry) ? entry['root.json'] : undefined;
  if (typeof root !== 'string') throw new Error(`no TUF root shipped for ${mirror}: give a trusted_root.json instead`);
  return Buffer.from(root, 'base64');
}

let shared: PublicSigstoreTrust | undefined;

/** One public trust per process: every repository verifying against the public instance shares its cache. */
export function publicSigstoreTrust(): PublicSigstoreTrust {
  shared ??= new PublicSigstoreTrust({ cacheDir: process.env['CHARTORIGIN_SIGSTORE_CACHE'] || undefined });
  return shared;
}
