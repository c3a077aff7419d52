/**
 * What /healthz answers: whether this process still makes progress. Two ways it can stop:
 * - its event loop is blocked (a runaway parse, a tight loop): the ticker below measures how late
 *   its timer fires. Over 5 s late — half the Lease's 10 s renew deadline — within the last 30 s is
 *   unhealthy. The 30 s window is shorter than the liveness probe's period × failure threshold
 *   (20 s × 3 in the chart), so one isolated stall fails at most two probes and never restarts the pod;
 *   a loop that keeps stalling does.
 * - its watches stopped: a healthy watch hears from the API server at least every 300 s (the
 *   server-side watch timeout; bookmarks come more often), so 10 min without a list page, event or
 *   completed watch means it is stuck or keeps failing.
 */
import type { Logger } from 'pino';

export interface HealthOptions {
  /** Oldest progress time (Date.now() ms) of the running watches; undefined while there are none (not leading). */
  watchProgress?: (() => number | undefined) | undefined;
  maxEventLoopDelayMs?: number | undefined;
  /** How long a measured delay counts against health. */
  delayWindowMs?: number | undefined;
  maxWatchSilenceMs?: number | undefined;
  /** How often the event-loop ticker runs. */
  tickMs?: number | undefined;
  now?: (() => number) | undefined;
  logger?: Logger | undefined;
}

export class HealthMonitor {
  readonly #o: Required<Omit<HealthOptions, 'watchProgress' | 'logger'>> & Pick<HealthOptions, 'watchProgress' | 'logger'>;
  #lastTick: number;
  /** The worst delay measured and when: it counts until `delayWindowMs` after it was seen. */
  #worst = { delayMs: 0, at: 0 };
  #timer: NodeJS.Timeout | undefined;
  #lastProblem: string | undefined;

  constructor(options: HealthOptions = {}) {
    this.#o = {
      watchProgress: options.watchProgress,
      maxEventLoopDelayMs: options.maxEventLoopDelayMs ?? 5_000,
      delayWindowMs: options.delayWindowMs ?? 30_000,
      maxWatchSilenceMs: options.maxWatchSilenceMs ?? 10 * 60_000,
      tickMs: options.tickMs ?? 500,
      now: options.now ?? Date.now,
      logger: options.logger,
    };
    this.#lastTick = this.#o.now();
  }

  start(): void {
    this.#lastTick = this.#o.now();
    this.#timer ??= setInterval(() => this.tick(), this.#o.tickMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One ticker run: how late it came is the event loop's delay. Public for tests with their own clock. */
  tick(): void {
    const now = this.#o.now();
    this.#record(now - this.#lastTick - this.#o.tickMs, now);
    this.#lastTick = now;
  }

  /** undefined when healthy, else why not. */
  problem(): string | undefined {
    const now = this.#o.now();
    // A check that runs right after a stall, before the ticker could, sees the stall through the late tick.
    this.#record(now - this.#lastTick - this.#o.tickMs, now);
    let problem: string | undefined;
    if (this.#worst.delayMs > this.#o.maxEventLoopDelayMs && now - this.#worst.at <= this.#o.delayWindowMs) {
      problem = `event loop blocked for ${Math.round(this.#worst.delayMs)} ms (limit ${this.#o.maxEventLoopDelayMs} ms)`;
    } else {
      const progress = this.#o.watchProgress?.();
      if (progress !== undefined && now - progress > this.#o.maxWatchSilenceMs) {
        problem = `a watch has made no progress for ${Math.round((now - progress) / 1000)} s (limit ${Math.round(this.#o.maxWatchSilenceMs / 1000)} s)`;
      }
    }
    if (problem !== this.#lastProblem) {
      if (problem) this.#o.logger?.warn({ reason: problem }, 'not healthy');
      else this.#o.logger?.info('healthy again');
      this.#lastProblem = problem;
    }
    return problem;
  }

  healthy(): boolean {
    return this.problem() === undefined;
  }

  #record(delayMs: number, now: number): void {
    if (delayMs <= 0) return;
    if (delayMs >= this.#worst.delayMs || now - this.#worst.at > this.#o.delayWindowMs) this.#worst = { delayMs, at: now };
  }
}
