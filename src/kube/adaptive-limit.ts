/**
 * How many reconciles run at once, sized from their answer times instead of a fixed number — a gradient
 * limiter (the idea of TCP Vegas and of Netflix's concurrency-limits "gradient" limiter, written here from
 * the idea, not the code).
 *
 * Why: a warm reconcile is a few API requests in a row (bench/RESULTS.md, "Request budget"). While the API
 * server (and our own CPU) keep up, more in flight means more throughput at the same answer time; past that
 * point more in flight only queues (bench/api-budget.ts on the 2-core test machine: 4× the requests in
 * flight, the same requests/s, 4× the latency). A fixed 4 is too few against a remote API server with
 * 5 ms round trips and too many for one that is already saturated.
 *
 * How: every `window` completions compare their mean latency (short) with the lowest window mean seen
 * (base: the latency without queueing — a minimum, not an average, because an average drifts up under
 * lasting overload until it calls the overload normal). When halving the limit did not change the latency
 * (three windows of the last 30 had twice as many in flight and a latency within -20 %..+25 % of now), the latency is not of our queueing
 * and the base is reset to it: a slower API server becomes the new normal instead of pinning the limit
 * low for good. gradient = clamp(long × tolerance / short, 0.5, 1): 1 while latency stays
 * within `tolerance` of normal, less as requests start queueing. target = limit × gradient + √limit: the
 * √limit lets the limit grow while nothing queues and is outweighed as soon as latency climbs. The limit
 * only grows in windows where it was actually reached (an idle controller has no evidence for more).
 */

export interface AdaptiveLimitOptions {
  /** Starting limit (default 4, the old fixed concurrency). */
  initial?: number | undefined;
  min?: number | undefined;
  /** Upper bound (default 64): also how many workers wait for a permit. */
  max?: number | undefined;
  /** Completions per adjustment (default 20). */
  window?: number | undefined;
  /** Latency growth accepted before backing off (default 1.5 = +50 %). */
  tolerance?: number | undefined;
}

export class AdaptiveLimit {
  readonly min: number;
  readonly max: number;
  readonly #window: number;
  readonly #tolerance: number;
  #limit: number;
  #inFlight = 0;
  #waiters: (() => void)[] = [];
  #sum = 0;
  #count = 0;
  #saturated = false;
  #base: number | undefined;
  /** The most in flight during the current window. */
  #peak = 0;
  /** The last 30 windows' peak in flight and mean latency. */
  readonly #history: { inFlight: number; latency: number }[] = [];

  constructor(o: AdaptiveLimitOptions = {}) {
    this.min = o.min ?? 1;
    this.max = o.max ?? 64;
    this.#window = o.window ?? 20;
    this.#tolerance = o.tolerance ?? 1.5;
    if (!(this.min >= 1 && this.max >= this.min)) throw new RangeError('need 1 ≤ min ≤ max');
    this.#limit = Math.min(this.max, Math.max(this.min, o.initial ?? 4));
  }

  /** The current limit (whole permits). */
  get limit(): number {
    return Math.floor(this.#limit);
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Resolves when a permit is free; every acquire must be followed by one `release`. */
  async acquire(): Promise<void> {
    while (this.#inFlight >= this.limit) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    this.#inFlight++;
    this.#peak = Math.max(this.#peak, this.#inFlight);
    if (this.#inFlight >= this.limit) this.#saturated = true;
  }

  /** Returns the permit with the work's latency (ms). */
  release(latencyMs: number): void {
    this.#inFlight--;
    this.observe(latencyMs);
    this.#wake();
  }

  /** One completion's latency; every `window` of them adjusts the limit. */
  observe(latencyMs: number): void {
    if (!Number.isFinite(latencyMs) || latencyMs < 0) return;
    this.#sum += latencyMs;
    this.#count++;
    if (this.#count < this.#window) return;
    const short = Math.max(this.#sum / this.#count, 0.001);
    this.#sum = 0;
    this.#count = 0;
    const saturated = this.#saturated;
    this.#saturated = this.#inFlight >= this.limit;
    const peak = this.#peak;
    this.#peak = this.#inFlight;
    // Three windows, not one: a window that straddles a change of the server mixes old and new latencies.
    const notOurs = this.#history.filter((h) => h.inFlight >= 2 * peak && h.latency <= short * 1.25 && h.latency >= short * 0.8).length >= 3;
    const base = this.#base === undefined || short < this.#base || notOurs ? short : this.#base;
    this.#base = base;
    if (notOurs) this.#history.length = 0;
    this.#history.push({ inFlight: peak, latency: short });
    if (this.#history.length > 30) this.#history.shift();
    const gradient = Math.min(1, Math.max(0.5, (base * this.#tolerance) / short));
    const target = this.#limit * gradient + Math.sqrt(this.#limit);
    if (target > this.#limit && !saturated) return;
    // Smoothed: one noisy window moves the limit a fifth of the way.
    this.#limit = Math.min(this.max, Math.max(this.min, this.#limit * 0.8 + target * 0.2));
    this.#wake();
  }

  #wake(): void {
    let free = this.limit - this.#inFlight;
    while (free-- > 0 && this.#waiters.length) this.#waiters.shift()?.();
  }
}
