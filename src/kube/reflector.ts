import type { KubeConfig } from './kubeconfig.ts';
import type { Logger } from 'pino';
import { isObject } from '../util/guards.ts';
import { KubeApiError, kubeRequest, kubeWatch } from './raw-client.ts';
import { sleep } from '../util/sleep.ts';
import { intern } from '../util/intern.ts';

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
  /**
   * Objects this reflector neither keeps nor reports (a shard's filter where no server-side selector can
   * express it). Must depend only on what never changes for an object (namespace, name, its release).
   * Their events still move the resume point.
   */
  accept?: ((m: ObjectMeta) => boolean) | undefined;
  /**
   * Told why the watch had to be re-opened: `expired` (410 Gone: relist), `error` (stream broke or the
   * server refused it: re-watch from the last resourceVersion after a back-off).
   */
  onWatchRestart?: (reason: WatchRestartReason) => void;
}

export type WatchRestartReason = 'expired' | 'error';

/** What to do after a failed list or watch, like client-go: only 410 Gone throws the resourceVersion away. */
export function afterWatchFailure(err: unknown, failures: number): { relist: boolean; delayMs: number; reason: WatchRestartReason } {
  const gone = err instanceof KubeApiError && err.status === 410;
  if (gone) return { relist: true, delayMs: 0, reason: 'expired' };
  return { relist: false, delayMs: Math.min(30_000, 500 * 2 ** Math.min(failures, 6)), reason: 'error' };
}

const META_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
const META = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';

function meta(o: unknown, full = false): ObjectMeta | undefined {
  if (!isObject(o) || !isObject(o['metadata'])) return undefined;
  const m = o['metadata'];
  if (typeof m['name'] !== 'string') return undefined;
  const labels: Record<string, string> = {};
  // Label values repeat on every object (`app.kubernetes.io/managed-by: chartorigin`): one copy each.
  if (isObject(m['labels'])) for (const [k, v] of Object.entries(m['labels'])) if (typeof v === 'string') labels[k] = intern(v);
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
 * What the reflector itself keeps of an object: its metadata, never the whole object. The handler gets the
 * whole object (`full`) and keeps what it needs; a relist only compares resourceVersions.
 */
function slimmed(m: ObjectMeta): ObjectMeta {
  if (m.object === undefined) return m;
  const { object: _object, ...rest } = m;
  return rest;
}

/**
 * client-go's reflector for metadata only: list (paged), then watch from the list's resourceVersion
 * with bookmarks. A watch that ends or breaks is re-opened from the last resourceVersion seen (events
 * in between are replayed by the server); only a 410 Gone (that version was compacted away) leads to a
 * relist, whose difference with the known objects is delivered as upserts and removals, so no delete is
 * ever missed.
 */
export class MetadataReflector {
  readonly #o: ReflectorOptions;
  readonly #known = new Map<string, ObjectMeta>();
  #resourceVersion = '';
  #progressAt = Date.now();

  constructor(options: ReflectorOptions) {
    this.#o = options;
  }

  get size(): number {
    return this.#known.size;
  }

  /**
   * When the reflector last heard from the API server (Date.now() ms): a list page, a watch event or
   * bookmark, or a watch that ran to its timeout. A healthy idle watch still ends every
   * `watchTimeoutSeconds` (300 s), so a much older value means it is stuck or keeps failing.
   */
  get lastProgress(): number {
    return this.#progressAt;
  }

  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (!this.#resourceVersion) await this.#list(signal);
        await this.#watch(signal);
        this.#progressAt = Date.now();
        failures = 0;
      } catch (err) {
        if (signal.aborted) return;
        failures++;
        const next = afterWatchFailure(err, failures);
        if (next.relist) this.#resourceVersion = '';
        this.#o.onWatchRestart?.(next.reason);
        this.#o.logger.warn(
          { path: this.#o.path, err: (err as Error).message, retryMs: next.delayMs, resourceVersion: this.#resourceVersion || undefined, reason: next.reason },
          next.relist ? 'watch expired (410 Gone); relisting' : this.#resourceVersion ? 'watch failed; resuming from the last resourceVersion' : 'list failed; retrying',
        );
        await sleep(next.delayMs, signal);
      }
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
      this.#progressAt = Date.now();
      // Changed objects are delivered page by page, so a `full` list holds one page of whole objects at a
      // time, not the collection (10,000 ChartOrigins are ~60 MiB of JSON objects); removals wait for the
      // complete list, the only point where absence means deleted.
      for (const item of page.items ?? []) {
        const m = meta(item, this.#o.full);
        if (!m || !(this.#o.accept?.(m) ?? true)) continue;
        const k = keyOf(m);
        const slim = slimmed(m);
        seen.set(k, slim);
        if (this.#known.get(k)?.resourceVersion !== m.resourceVersion) {
          this.#known.set(k, slim);
          this.#o.handler.upsert(m);
        }
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
    this.#progressAt = Date.now();
    if (type === 'BOOKMARK') {
      // A bookmark's object has only metadata.resourceVersion (no name): it moves the resume point.
      const rv = isObject(obj) && isObject(obj['metadata']) ? obj['metadata']['resourceVersion'] : undefined;
      if (typeof rv === 'string' && rv) this.#resourceVersion = rv;
      return;
    }
    const m = meta(obj, this.#o.full);
    if (!m) return;
    if (m.resourceVersion) this.#resourceVersion = m.resourceVersion;
    if (this.#o.accept && !this.#o.accept(m)) return;
    const k = keyOf(m);
    if (type === 'DELETED') {
      this.#known.delete(k);
      this.#o.handler.remove(m);
    } else if (type === 'ADDED' || type === 'MODIFIED') {
      this.#known.set(k, slimmed(m));
      this.#o.handler.upsert(m);
    }
  }
}
