/**
 * A rate-limited work queue with client-go's semantics (k8s.io/client-go/util/workqueue):
 * - a key waits in the queue at most once, however often it is added;
 * - a key is never handled by two workers at once; added while being handled, it is queued again
 *   when its handler finishes (so the newest state is always reconciled, once);
 * - failures back off per key, exponentially, until `forget`.
 */

export interface WorkQueueOptions {
  /** First retry delay of a failing key (default 1 s); doubles per failure. */
  baseDelayMs?: number | undefined;
  /** Retry delay cap (default 5 min). */
  maxDelayMs?: number | undefined;
  /** Extra random delay, as a fraction of the back-off (default 0.1): failing keys do not retry in lockstep. */
  jitter?: number | undefined;
  /** Random source in [0, 1) for the jitter; tests pass a constant. */
  random?: (() => number) | undefined;
  /** Told about every handler that threw inside `run` (the key is then retried with back-off). */
  onError?: ((key: string, err: unknown) => void) | undefined;
}

interface Delayed {
  at: number;
  timer: NodeJS.Timeout;
}

export class WorkQueue {
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #jitter: number;
  readonly #random: () => number;
  readonly #onError: ((key: string, err: unknown) => void) | undefined;

  /** FIFO of keys ready to be handed out; `#head` avoids O(n) shifts. */
  #queue: string[] = [];
  #head = 0;
  /** Keys that need handling: queued, or to be queued again when their handler finishes. */
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #delayed = new Map<string, Delayed>();
  readonly #failures = new Map<string, number>();
  #waiters: (() => void)[] = [];
  #shuttingDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.#baseDelayMs = options.baseDelayMs ?? 1000;
    this.#maxDelayMs = options.maxDelayMs ?? 5 * 60 * 1000;
    this.#jitter = options.jitter ?? 0.1;
    this.#random = options.random ?? Math.random;
    this.#onError = options.onError;
  }

  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (this.#processing.has(key)) return; // re-queued by #done
    this.#push(key);
  }

  /** Adds the key after `ms`; of several pending delays for one key the earliest wins. */
  addAfter(key: string, ms: number): void {
    if (this.#shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + ms;
    const pending = this.#delayed.get(key);
    if (pending) {
      if (pending.at <= at) return;
      clearTimeout(pending.timer);
    }
    const timer = setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, ms);
    // A pending retry must not keep a stopping process alive.
    timer.unref();
    this.#delayed.set(key, { at, timer });
  }

  /** Adds the key after its back-off (base·2^failures, capped, plus jitter) and counts a failure; returns the delay. */
  addRateLimited(key: string): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    const backoff = Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** Math.min(failures, 52));
    const delay = Math.min(this.#maxDelayMs, Math.round(backoff * (1 + this.#jitter * this.#random())));
    this.addAfter(key, delay);
    return delay;
  }

  /** The key succeeded: its next failure starts again at the base delay. */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** How often the key has failed since it was last forgotten. */
  numRequeues(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** Keys ready to be handed out (not those being handled or waiting for a delay). */
  len(): number {
    return this.#queue.length - this.#head;
  }

  /** Keys being handled now. */
  processing(): number {
    return this.#processing.size;
  }

  /** Keys waiting for their delay (addAfter / addRateLimited). */
  delayed(): number {
    return this.#delayed.size;
  }

  isShuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Stops handing out keys and drops delayed ones; handlers already running finish (see `run`). */
  shutDown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    for (const d of this.#delayed.values()) clearTimeout(d.timer);
    this.#delayed.clear();
    this.#wakeAll();
  }

  /**
   * Hands keys to `concurrency` workers until `signal` aborts or `shutDown` is called; resolves once the
   * handlers that were running have finished. A handler that throws gets its key retried with back-off.
   */
  async run(concurrency: number, handler: (key: string) => Promise<void>, signal: AbortSignal): Promise<void> {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
    const onAbort = (): void => this.shutDown();
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    const worker = async (): Promise<void> => {
      for (;;) {
        const key = await this.#get();
        if (key === undefined) return;
        try {
          await handler(key);
        } catch (err) {
          this.addRateLimited(key);
          this.#onError?.(key, err);
        } finally {
          this.#done(key);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: concurrency }, worker));
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  #push(key: string): void {
    this.#queue.push(key);
    const wake = this.#waiters.shift();
    wake?.();
  }

  /** The next key, marked as processing; undefined once shut down. */
  async #get(): Promise<string | undefined> {
    for (;;) {
      if (this.#shuttingDown) return undefined;
      if (this.#head < this.#queue.length) {
        const key = this.#queue[this.#head] as string;
        this.#head++;
        if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
          this.#queue = this.#queue.slice(this.#head);
          this.#head = 0;
        }
        this.#dirty.delete(key);
        this.#processing.add(key);
        return key;
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  #done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key) && !this.#shuttingDown) this.#push(key);
  }

  #wakeAll(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
