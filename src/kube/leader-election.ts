/**
 * Lease-based leader election on coordination.k8s.io/v1, after client-go's tools/leaderelection:
 * acquire a free or expired Lease, renew it every retry period with optimistic concurrency, stop leading
 * when renewal has not succeeded for renewDeadline, and hand the Lease back on shutdown so that a
 * successor does not wait out the lease duration.
 *
 * Safety rests on renewDeadline < leaseDuration: a leader that cannot renew stops acting before anyone
 * else may take the Lease over.
 */
import type { KubeConfig } from './kubeconfig.ts';
import { formatTime } from '../util/time.ts';
import { KubeApiError, kubeRequest } from './raw-client.ts';
import type { Logger } from 'pino';
import { sleep } from '../util/sleep.ts';

export type LeaseDecision =
  /** No Lease yet: create it, holding it. */
  | { action: 'create' }
  /** We hold it: write a new renewTime. */
  | { action: 'renew' }
  /** Free (released) or expired: take it over. */
  | { action: 'acquire'; previousHolder: string | undefined }
  /** Someone else holds a live Lease. */
  | { action: 'wait'; holder: string; expiresAt: Date };

/** A MicroTime as the API returns it (RFC 3339, any fraction) in ms since epoch; undefined when absent or not a time. */
export function parseLeaseTime(value: string | undefined): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * What to do with the Lease as read at `now`. Expired means renewTime + leaseDurationSeconds < now, with
 * the duration the holder wrote (its promise), else ours. A holder without any time cannot prove it is alive.
 */
export function decideLeaseAction(
  lease: Lease | undefined,
  now: Date,
  identity: string,
  durations: { leaseDurationSeconds: number },
): LeaseDecision {
  if (!lease) return { action: 'create' };
  const spec = lease.spec ?? {};
  const holder = spec.holderIdentity ?? '';
  if (holder === '') return { action: 'acquire', previousHolder: undefined };
  if (holder === identity) return { action: 'renew' };
  const renewed = parseLeaseTime(spec.renewTime) ?? parseLeaseTime(spec.acquireTime);
  const duration = spec.leaseDurationSeconds !== undefined && spec.leaseDurationSeconds > 0 ? spec.leaseDurationSeconds : durations.leaseDurationSeconds;
  if (renewed === undefined) return { action: 'acquire', previousHolder: holder };
  const expiresAt = renewed + duration * 1000;
  if (expiresAt < now.getTime()) return { action: 'acquire', previousHolder: holder };
  return { action: 'wait', holder, expiresAt: new Date(expiresAt) };
}

/** The three Lease calls the elector makes; `undefined` from read means 404. Errors are KubeApiError (HTTP status). */
export interface LeaseClient {
  read(namespace: string, name: string): Promise<Lease | undefined>;
  create(namespace: string, lease: Lease): Promise<Lease>;
  replace(namespace: string, name: string, lease: Lease): Promise<Lease>;
}

const httpStatus = (err: unknown): number | undefined => (err instanceof KubeApiError ? err.status : undefined);

/** coordination.k8s.io/v1 Lease as read and written; times are MicroTime strings (RFC 3339, six fractional digits). */
export interface LeaseSpec {
  holderIdentity?: string | undefined;
  leaseDurationSeconds?: number | undefined;
  acquireTime?: string | undefined;
  renewTime?: string | undefined;
  leaseTransitions?: number | undefined;
  /** Fields the elector does not know are written back as they were read. */
  [field: string]: unknown;
}

export interface Lease {
  apiVersion?: string | undefined;
  kind?: string | undefined;
  metadata?: { name?: string | undefined; namespace?: string | undefined; resourceVersion?: string | undefined; [field: string]: unknown } | undefined;
  spec?: LeaseSpec | undefined;
}

const leasePath = (namespace: string, name?: string): string =>
  `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;

/** LeaseClient over the raw API client. */
export function coordinationLeaseClient(kubeConfig: KubeConfig): LeaseClient {
  const call = (req: Parameters<typeof kubeRequest>[1]): Promise<Lease> => kubeRequest<Lease>(kubeConfig, { ...req, headers: { 'Content-Type': 'application/json' } });
  return {
    async read(namespace, name) {
      try {
        return await call({ path: leasePath(namespace, name) });
      } catch (err) {
        if (httpStatus(err) === 404) return undefined;
        throw err;
      }
    },
    create: (namespace, body) => call({ method: 'POST', path: leasePath(namespace), body: JSON.stringify(body) }),
    replace: (namespace, name, body) => call({ method: 'PUT', path: leasePath(namespace, name), body: JSON.stringify(body) }),
  };
}

export interface LeaderElectorOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  /** Unique per replica (pod name + pid); written into the Lease. */
  identity: string;
  leaseDurationSeconds?: number | undefined;
  renewDeadlineSeconds?: number | undefined;
  retryPeriodSeconds?: number | undefined;
  logger: Logger;
  /** Called on becoming leader; `signal` aborts when leadership ends. A returned promise is awaited
   * (up to renewDeadline) before the Lease is released on shutdown, so the successor starts after we stop. */
  onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  onStoppedLeading: () => void;
  /** Replaces the API client (tests). */
  client?: LeaseClient | undefined;
}

/** client-go's JitterFactor: acquire attempts are spread over retryPeriod·[1, 2.2). */
const JITTER_FACTOR = 1.2;


/** The promise's outcome, or a rejection after `ms` (the request itself may still complete later). */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

type Attempt = { ok: true; renewedAt: number } | { ok: false; holder?: string | undefined; error?: string | undefined };

export class LeaderElector {
  readonly #o: LeaderElectorOptions;
  readonly #client: LeaseClient;
  readonly #leaseMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryMs: number;
  #leader = false;
  #observedHolder: string | undefined;

  constructor(options: LeaderElectorOptions) {
    const lease = options.leaseDurationSeconds ?? 15;
    const renew = options.renewDeadlineSeconds ?? 10;
    const retry = options.retryPeriodSeconds ?? 2;
    if (!(lease > renew)) throw new RangeError('leaseDurationSeconds must be greater than renewDeadlineSeconds');
    if (!(renew > retry * JITTER_FACTOR)) throw new RangeError(`renewDeadlineSeconds must be greater than retryPeriodSeconds × ${JITTER_FACTOR}`);
    if (!(retry > 0)) throw new RangeError('retryPeriodSeconds must be positive');
    if (!options.identity) throw new RangeError('identity must not be empty');
    this.#o = options;
    this.#client = options.client ?? coordinationLeaseClient(options.kubeConfig);
    this.#leaseMs = lease * 1000;
    this.#renewDeadlineMs = renew * 1000;
    this.#retryMs = retry * 1000;
  }

  isLeader(): boolean {
    return this.#leader;
  }

  /** The holder seen in the Lease at the last read (us when leading). */
  observedHolder(): string | undefined {
    return this.#observedHolder;
  }

  /** Campaigns, leads, and campaigns again after losing the Lease, until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const log = this.#o.logger;
    while (!signal.aborted) {
      const attempt = await this.#tryAcquireOrRenew(this.#renewDeadlineMs);
      if (!attempt.ok) {
        if (attempt.error) log.warn({ err: attempt.error }, 'leader election: cannot read or write the lease; retrying');
        await sleep(this.#retryMs * (1 + Math.random() * JITTER_FACTOR), signal);
        continue;
      }
      if (signal.aborted) {
        // Acquired just as we were told to stop: hand it straight back.
        await this.#release();
        return;
      }
      await this.#lead(signal, attempt.renewedAt);
    }
  }

  async #lead(signal: AbortSignal, acquiredAt: number): Promise<void> {
    const log = this.#o.logger;
    const leading = new AbortController();
    this.#leader = true;
    log.info({ identity: this.#o.identity, lease: `${this.#o.namespace}/${this.#o.name}` }, 'became leader');
    let work: Promise<void> | undefined;
    try {
      const r = this.#o.onStartedLeading(leading.signal);
      if (r instanceof Promise) work = r.catch((err: unknown) => log.error({ err: (err as Error).message }, 'leader work failed'));
    } catch (err) {
      log.error({ err: (err as Error).message }, 'onStartedLeading threw');
    }

    // The renewTime last written: others count the lease duration from it, we count renewDeadline from it.
    let lastRenew = acquiredAt;
    let lostReason: string | undefined;
    while (!signal.aborted) {
      await sleep(this.#retryMs, signal);
      if (signal.aborted) break;
      const left = lastRenew + this.#renewDeadlineMs - Date.now();
      const attempt: Attempt = left > 0 ? await this.#tryAcquireOrRenew(left) : { ok: false, error: 'renew deadline passed' };
      if (attempt.ok) {
        lastRenew = attempt.renewedAt;
        continue;
      }
      if (attempt.holder !== undefined) {
        lostReason = `lease now held by ${attempt.holder}`;
        break;
      }
      if (Date.now() - lastRenew >= this.#renewDeadlineMs) {
        lostReason = `no successful renewal within ${this.#renewDeadlineMs / 1000}s (${attempt.error ?? 'unknown error'})`;
        break;
      }
      log.warn({ err: attempt.error }, 'leader election: renewal failed; retrying');
    }

    this.#leader = false;
    leading.abort();
    if (lostReason !== undefined) log.warn({ reason: 'leadership_lost', err: lostReason }, 'stopped leading');
    else log.info('stopped leading: shutting down');
    try {
      this.#o.onStoppedLeading();
    } catch (err) {
      log.error({ err: (err as Error).message }, 'onStoppedLeading threw');
    }
    if (lostReason === undefined) {
      if (work) await Promise.race([work, sleep(this.#renewDeadlineMs)]);
      await this.#release();
    }
  }

  /** One read-decide-write round; a conflict (someone else wrote) is re-read once within the same attempt. */
  async #tryAcquireOrRenew(timeoutMs: number): Promise<Attempt> {
    const deadline = Date.now() + timeoutMs;
    const { namespace, name, identity } = this.#o;
    for (let round = 0; round < 2; round++) {
      const left = deadline - Date.now();
      if (left <= 0) return { ok: false, error: 'lease request deadline passed' };
      let current: Lease | undefined;
      try {
        current = await withTimeout(this.#client.read(namespace, name), left, 'reading the lease');
      } catch (err) {
        return { ok: false, error: (err as Error).message };
      }
      const now = new Date();
      const decision = decideLeaseAction(current, now, identity, { leaseDurationSeconds: this.#leaseMs / 1000 });
      this.#observedHolder = current?.spec?.holderIdentity || undefined;
      if (decision.action === 'wait') {
        return { ok: false, holder: decision.holder };
      }
      const body = this.#desired(current, decision, now);
      try {
        if (decision.action === 'create') await withTimeout(this.#client.create(namespace, body), deadline - Date.now(), 'creating the lease');
        else await withTimeout(this.#client.replace(namespace, name, body), deadline - Date.now(), 'updating the lease');
        this.#observedHolder = identity;
        if (decision.action === 'acquire') {
          this.#o.logger.info({ previousHolder: decision.previousHolder ?? null }, 'acquired the lease');
        }
        return { ok: true, renewedAt: now.getTime() };
      } catch (err) {
        // 409: another elector created or updated the Lease since our read; decide again on fresh data.
        if (httpStatus(err) === 409) continue;
        return { ok: false, error: (err as Error).message };
      }
    }
    return { ok: false, error: 'the lease kept changing under us (409 conflicts)' };
  }

  #desired(current: Lease | undefined, decision: LeaseDecision, now: Date): Lease {
    const micro = formatTime(now.getTime(), 'micros');
    const prev: LeaseSpec = current?.spec ?? {};
    const transitions = prev.leaseTransitions ?? 0;
    const spec: LeaseSpec = {
      ...prev,
      holderIdentity: this.#o.identity,
      leaseDurationSeconds: this.#leaseMs / 1000,
      renewTime: micro,
      acquireTime: decision.action === 'renew' ? microTimeOf(prev.acquireTime) ?? micro : micro,
      leaseTransitions: decision.action === 'acquire' && decision.previousHolder !== undefined ? transitions + 1 : transitions,
    };
    if (!current) {
      return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.#o.name, namespace: this.#o.namespace }, spec };
    }
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      // resourceVersion makes the replace conditional: a concurrent writer gets us a 409, not a lost update.
      metadata: { ...current.metadata, name: this.#o.name, namespace: this.#o.namespace },
      spec,
    };
  }

  /** Hands the Lease back (empty holder, 1 s duration) if it is still ours, so a successor acquires at once. */
  async #release(): Promise<void> {
    const { namespace, name, identity, logger } = this.#o;
    try {
      const current = await withTimeout(this.#client.read(namespace, name), this.#renewDeadlineMs, 'reading the lease');
      if (current?.spec?.holderIdentity !== identity) return;
      const micro = formatTime(Date.now(), 'micros');
      await withTimeout(
        this.#client.replace(namespace, name, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { ...current.metadata, name, namespace },
          spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: micro, acquireTime: micro },
        }),
        this.#renewDeadlineMs,
        'releasing the lease',
      );
      this.#observedHolder = undefined;
      logger.info('released the lease');
    } catch (err) {
      // Not fatal: the successor waits out the lease duration instead.
      logger.warn({ err: (err as Error).message }, 'could not release the lease');
    }
  }
}

/** A time read from the API, written back with microseconds. */
function microTimeOf(value: string | undefined): string | undefined {
  const ms = parseLeaseTime(value);
  return ms === undefined ? undefined : formatTime(ms, 'micros');
}
