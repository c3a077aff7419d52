import type { ChartFingerprint } from '../model/chart.ts';

export interface PublishedChart {
  tarballDigest: string;
  manifestDigest?: string | undefined;
  fingerprint: ChartFingerprint;
  /**
   * The chart with its subcharts' metadata and values (treeJson), for the content proof. One string, not
   * an object graph: measured for a 249 KiB tree (5 charts, 1,600 values entries), 0.25 MiB retained as a
   * string against 1.7 MiB parsed; it is parsed only while a release is being proven.
   */
  tree: string;
  /** The .prov file served next to the tarball (HTTP) or as its provenance layer (OCI). */
  provenance?: Buffer | undefined;
}

/**
 * Published charts kept beyond one process (the CLI's on-disk cache, cli/chart-store.ts), by tarball digest
 * only: what a tarball with that sha256 unpacks to never changes, so an entry can be trusted whoever wrote
 * it, as long as the code that wrote it is this code (the store's business).
 */
export interface PublishedChartStore {
  read(digest: string): PublishedChart | undefined;
  write(digest: string, chart: PublishedChart): void;
}

const DIGEST_KEY = /^sha256:[0-9a-f]{64}$/;

/** Approximate retained bytes of an entry: the strings (UTF-16 worst case) plus ~2 KiB of digests. */
function weightOf(c: PublishedChart): number {
  return c.tree.length * 2 + (c.provenance?.length ?? 0) + 2048 + 100 * (Object.keys(c.fingerprint.templates).length + Object.keys(c.fingerprint.files).length);
}

/**
 * Published charts by key (advertised digest, else repository + URL), so each tarball is downloaded and
 * unpacked once however many releases use it. Concurrent requests for the same key share one download.
 * Bounded by count and by approximate bytes (default 64 MiB: ~1,000 charts of 30 KiB values, or 100
 * umbrella charts of 300 KiB): least recently used entries go first.
 */
export class PublishedChartCache {
  readonly #max: number;
  readonly #maxBytes: number;
  #bytes = 0;
  readonly #entries = new Map<string, { chart: PublishedChart; weight: number }>();
  readonly #inflight = new Map<string, Promise<PublishedChart>>();
  readonly #store: PublishedChartStore | undefined;

  /**
   * `store`: consulted for keys that are a tarball digest (the repository advertised one and no signature is
   * wanted, resolve/candidates.ts), and written when the download's own digest is that key. Entries with a
   * .prov are never stored: whether a publisher signed a chart may change, its content may not.
   */
  constructor(maxEntries = 4096, maxBytes = 64 * 1024 * 1024, store?: PublishedChartStore) {
    this.#max = maxEntries;
    this.#maxBytes = maxBytes;
    this.#store = store;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Approximate bytes held (see weightOf). */
  get bytes(): number {
    return this.#bytes;
  }

  async get(key: string, load: () => Promise<PublishedChart>): Promise<PublishedChart> {
    const hit = this.#entries.get(key);
    if (hit) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit.chart;
    }
    const running = this.#inflight.get(key);
    if (running) return running;
    const durable = this.#store !== undefined && DIGEST_KEY.test(key);
    const stored = durable ? this.#store?.read(key) : undefined;
    const p = (stored ? Promise.resolve(stored) : load()).then(
      (v) => {
        this.#inflight.delete(key);
        if (durable && !stored && v.tarballDigest === key && v.provenance === undefined) this.#store?.write(key, v);
        const weight = weightOf(v);
        this.#entries.set(key, { chart: v, weight });
        this.#bytes += weight;
        while (this.#entries.size > 1 && (this.#entries.size > this.#max || this.#bytes > this.#maxBytes)) {
          const oldest = this.#entries.keys().next().value;
          if (oldest === undefined) break;
          this.#bytes -= this.#entries.get(oldest)?.weight ?? 0;
          this.#entries.delete(oldest);
        }
        return v;
      },
      (err: unknown) => {
        this.#inflight.delete(key);
        throw err;
      },
    );
    this.#inflight.set(key, p);
    return p;
  }
}
