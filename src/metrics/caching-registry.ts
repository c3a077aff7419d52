import { Registry } from 'prom-client';

interface NamedMetric {
  name: string;
}

type Serialize = (this: Registry, metric: NamedMetric) => Promise<string>;
// prom-client serialises one metric in Registry#getMetricsAsString (public in its JS, absent from its types).
const serialize = (Registry.prototype as unknown as { getMetricsAsString: Serialize }).getMetricsAsString;

/**
 * A Registry that keeps the exposition text of chosen metrics until they change. The per-release gauges
 * hold most of a scrape's series (7 per release) but change only on reconciles, so a scrape between changes
 * copies their cached text instead of serialising thousands of series again; process and controller metrics
 * are still read live.
 */
export class CachingRegistry extends Registry {
  readonly #cacheable = new Set<string>();
  readonly #text = new Map<string, string>();
  #version = 0;

  /** Serialise `names` once per change; call `invalidate()` whenever one of them changes. */
  cache(...names: string[]): void {
    for (const n of names) this.#cacheable.add(n);
  }

  invalidate(): void {
    this.#version++;
    this.#text.clear();
  }

  async getMetricsAsString(metric: NamedMetric): Promise<string> {
    if (!this.#cacheable.has(metric.name)) return serialize.call(this, metric);
    const hit = this.#text.get(metric.name);
    if (hit !== undefined) return hit;
    const version = this.#version;
    const text = await serialize.call(this, metric);
    // A change while serialising means the text may be half old: use it for this scrape, do not keep it.
    if (version === this.#version) this.#text.set(metric.name, text);
    return text;
  }
}
