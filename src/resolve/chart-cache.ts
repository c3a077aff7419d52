import type { ChartFingerprint } from '../model/chart.ts';
import type { FluxBuildInput } from './flux-proof.ts';

export interface PublishedChart {
  tarballDigest: string;
  manifestDigest?: string | undefined;
  fingerprint: ChartFingerprint;
  /** The .prov file served next to the tarball (HTTP) or as its provenance layer (OCI). */
  provenance?: Buffer | undefined;
  /** What a Flux build of this chart starts from (metadata, values, values files). */
  fluxInput?: FluxBuildInput | undefined;
}

/**
 * Fingerprints of downloaded tarballs by key (advertised digest, else repository + URL), so each
 * tarball is downloaded and unpacked once however many releases use it. Concurrent requests for the same
 * key share one download. Bounded: least recently used entries go first.
 */
export class PublishedChartCache {
  readonly #max: number;
  readonly #entries = new Map<string, PublishedChart>();
  readonly #inflight = new Map<string, Promise<PublishedChart>>();

  constructor(maxEntries = 4096) {
    this.#max = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  async get(key: string, load: () => Promise<PublishedChart>): Promise<PublishedChart> {
    const hit = this.#entries.get(key);
    if (hit) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit;
    }
    const running = this.#inflight.get(key);
    if (running) return running;
    const p = load().then(
      (v) => {
        this.#inflight.delete(key);
        this.#entries.set(key, v);
        if (this.#entries.size > this.#max) {
          const oldest = this.#entries.keys().next().value;
          if (oldest !== undefined) this.#entries.delete(oldest);
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
