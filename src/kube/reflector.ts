import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isObject } from '../util/guards.ts';
import { KubeApiError, kubeRequest, kubeWatch } from './raw-client.ts';

/** Only the metadata of an object: enough to track Helm revisions without holding release data. */
export interface ObjectMeta {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  resourceVersion: string;
  generation: number;
  /** The whole object, only when the reflector runs with `full: true` (small objects such as CRs). */
  object?: unknown;
}

export interface ReflectorHandler {
  upsert(obj: ObjectMeta): void;
  remove(obj: ObjectMeta): void;
  /** Called after every complete list (first sync and relists). */
  synced(): void;
}

export interface ReflectorOptions {
  kubeConfig: KubeConfig;
  /** e.g. '/api/v1/secrets' or '/api/v1/namespaces/apps/secrets'. */
  path: string;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  handler: ReflectorHandler;
  logger: Logger;
  pageSize?: number;
  /** Server-side watch timeout; the watch is re-opened from the last resourceVersion. */
  watchTimeoutSeconds?: number;
  /** Keep whole objects instead of metadata; for small, few objects only. */
  full?: boolean;
  /** Told of every watch restart and why (for chartorigin_watch_restarts_total). */
  onRestart?: ((reason: WatchRestartReason) => void) | undefined;
}

/**
 * Why a watch was re-opened: `closed` (the server ended it, e.g. its timeout), `error` (a broken stream,
 * an unreachable apiserver: re-watch from the last resourceVersion), `gone` (410: that resourceVersion was
 * compacted away, so only a relist can tell what changed), `list_error` (the list itself failed).
 */
export type WatchRestartReason = 'closed' | 'error' | 'gone' | 'list_error';

export interface RestartDecision {
  reason: WatchRestartReason;
  /** Forget the resourceVersion and list again. */
  relist: boolean;
  delayMs: number;
}

/** A 410 from the watch request itself or from an ERROR event in its stream ("too old resource version"). */
export function isGone(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 410;
}

/**
 * client-go's decisions: only 410 Gone forces a relist (immediately); any other failure re-watches from the
 * last resourceVersion seen (list, event or bookmark) after a capped backoff, so an apiserver restart costs
 * one watch, not a full list of every Helm Secret. Without a resourceVersion there is nothing to resume from.
 */
export function restartDecision(err: unknown, haveResourceVersion: boolean, failures: number): RestartDecision {
  const backoff = Math.min(30_000, 500 * 2 ** Math.min(Math.max(failures, 1), 6));
  if (err === undefined) return { reason: 'closed', relist: false, delayMs: 0 };
  if (isGone(err)) return { reason: 'gone', relist: true, delayMs: 0 };
  if (!haveResourceVersion) return { reason: 'list_error', relist: true, delayMs: backoff };
  return { reason: 'error', relist: false, delayMs: backoff };
}

const META_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
const META = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';

function meta(o: unknown, full = false): ObjectMeta | undefined {
  if (!isObject(o) || !isObject(o['metadata'])) return undefined;
  const m = o['metadata'];
  if (typeof m['name'] !== 'string') return undefined;
  const labels: Record<string, string> = {};
  if (isObject(m['labels'])) for (const [k, v] of Object.entries(m['labels'])) if (typeof v === 'string') labels[k] = v;
  return {
    name: m['name'],
    namespace: typeof m['namespace'] === 'string' ? m['namespace'] : '',
    labels,
    resourceVersion: typeof m['resourceVersion'] === 'string' ? m['resourceVersion'] : '',
    generation: typeof m['generation'] === 'number' ? m['generation'] : 0,
    ...(full ? { object: o } : {}),
  };
}

const keyOf = (m: ObjectMeta): string => `${m.namespace}/${m.name}`;

/**
 * client-go's reflector for metadata only: list (paged), then watch from the list's resourceVersion
 * with bookmarks; a closed or broken watch resumes from the last resourceVersion seen; only a 410 Gone
 * (compaction) leads to a relist, whose difference with the known objects is delivered as upserts and
 * removals, so no delete is ever missed.
 */
export class MetadataReflector {
  readonly #o: ReflectorOptions;
  readonly #known = new Map<string, ObjectMeta>();
  #resourceVersion = '';

  constructor(options: ReflectorOptions) {
    this.#o = options;
  }

  get size(): number {
    return this.#known.size;
  }

  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      let failure: unknown;
      try {
        if (!this.#resourceVersion) await this.#list(signal);
        await this.#watch(signal);
        failures = 0;
      } catch (err) {
        if (signal.aborted) return;
        failure = err;
        failures++;
      }
      if (signal.aborted) return;
      const d = restartDecision(failure, this.#resourceVersion !== '', failures);
      if (d.relist) this.#resourceVersion = '';
      this.#o.onRestart?.(d.reason);
      if (failure !== undefined) {
        this.#o.logger.warn(
          { path: this.#o.path, reason: d.reason, relist: d.relist, err: (failure as Error).message, retryMs: d.delayMs },
          d.reason === 'gone' ? 'watch expired; relisting' : d.relist ? 'list failed; retrying' : 'watch broke; resuming from last resourceVersion',
        );
      }
      await sleep(d.delayMs, signal);
    }
  }

  async #list(signal: AbortSignal): Promise<void> {
    const seen = new Map<string, ObjectMeta>();
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await kubeRequest<{ metadata?: { resourceVersion?: string; continue?: string }; items?: unknown[] }>(this.#o.kubeConfig, {
        path: this.#o.path,
        query: { labelSelector: this.#o.labelSelector, fieldSelector: this.#o.fieldSelector, limit: this.#o.pageSize ?? 500, continue: cont },
        headers: { Accept: this.#o.full ? 'application/json' : META_LIST },
        signal,
      });
      for (const item of page.items ?? []) {
        const m = meta(item, this.#o.full);
        if (m) seen.set(keyOf(m), m);
      }
      rv = page.metadata?.resourceVersion ?? rv;
      cont = page.metadata?.continue || undefined;
    } while (cont);
    for (const [k, old] of this.#known) {
      if (!seen.has(k)) {
        this.#known.delete(k);
        this.#o.handler.remove(old);
      }
    }
    for (const [k, m] of seen) {
      if (this.#known.get(k)?.resourceVersion !== m.resourceVersion) {
        this.#known.set(k, m);
        this.#o.handler.upsert(m);
      }
    }
    this.#resourceVersion = rv;
    this.#o.handler.synced();
  }

  async #watch(signal: AbortSignal): Promise<void> {
    await kubeWatch(
      this.#o.kubeConfig,
      {
        path: this.#o.path,
        query: {
          watch: true,
          allowWatchBookmarks: true,
          resourceVersion: this.#resourceVersion,
          labelSelector: this.#o.labelSelector,
          fieldSelector: this.#o.fieldSelector,
          timeoutSeconds: this.#o.watchTimeoutSeconds ?? 300,
        },
        headers: { Accept: this.#o.full ? 'application/json' : META },
        signal,
      },
      (ev) => this.#event(ev),
    );
  }

  #event(ev: unknown): void {
    if (!isObject(ev)) return;
    const type = ev['type'];
    const obj = ev['object'];
    if (type === 'ERROR') {
      const code = isObject(obj) && typeof obj['code'] === 'number' ? obj['code'] : 500;
      const message = isObject(obj) && typeof obj['message'] === 'string' ? obj['message'] : 'watch error';
      throw new KubeApiError(code, 'WatchError', message);
    }
    if (type === 'BOOKMARK') {
      // A bookmark's object has only metadata.resourceVersion (no name): it moves the resume point.
      const rv = isObject(obj) && isObject(obj['metadata']) ? obj['metadata']['resourceVersion'] : undefined;
      if (typeof rv === 'string' && rv) this.#resourceVersion = rv;
      return;
    }
    const m = meta(obj, this.#o.full);
    if (!m) return;
    if (m.resourceVersion) this.#resourceVersion = m.resourceVersion;
    const k = keyOf(m);
    if (type === 'DELETED') {
      this.#known.delete(k);
      this.#o.handler.remove(m);
    } else if (type === 'ADDED' || type === 'MODIFIED') {
      this.#known.set(k, m);
      this.#o.handler.upsert(m);
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
