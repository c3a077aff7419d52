import type { KubeConfig } from '../kube/kubeconfig.ts';
import type { OriginSpec } from '../resolve/analyze.ts';
import { summaryOf, type PublishedSummary } from './origin-events.ts';
import type { ShownCondition } from './status-policy.ts';
import { MAX_CONDITION_MESSAGE, type Condition, type OriginReport } from '../model/report.ts';
import { arr, isObject, str } from '../util/guards.ts';
import { plainText } from '../util/terminal.ts';
import { KubeApiError, kubeRequest } from '../kube/raw-client.ts';

import { GROUP, VERSION } from '../model/api.ts';
import { intern } from '../util/intern.ts';

export { GROUP, VERSION };
const API_VERSION = `${GROUP}/${VERSION}`;
/** On ChartOrigins of charts a GitOps tool declares (value `argocd`): they have no Helm release to follow. */
export const DECLARED_BY_LABEL = 'chartorigin.io/declared-by';
const APPLY = { 'Content-Type': 'application/apply-patch+yaml' };

export interface ExistingOrigin {
  uid?: string | undefined;
  spec: OriginSpec;
  generation: number;
  /**
   * Type, status and transition time of each condition shown: all a reconcile needs of them. Messages are
   * not kept (10,000 ChartOrigins' messages and reasons were ~4 MiB of the informer's memory).
   */
  conditions: ShownCondition[];
  /** What the last published status said (undefined: never analysed), to tell changes worth an Event. */
  published?: PublishedSummary | undefined;
  /** `chartorigin.io/declared-by` (e.g. argocd): a chart a GitOps tool declares, with no Helm release. */
  declaredBy?: string | undefined;
}

interface StoredStatus {
  conditions?: Condition[];
  origin?: { match?: string | undefined; repository?: string | undefined };
  chart?: { deprecated?: boolean };
  latest?: { version?: string | undefined };
}

/** undefined while the object was never analysed (created, no status yet). */
function publishedOf(status: StoredStatus | undefined): PublishedSummary | undefined {
  return status?.origin?.match || status?.conditions?.length ? summaryOf(status) : undefined;
}

interface CachedOrigin extends ExistingOrigin {
  resourceVersion: string;
  /** Carries the label the controller sets on the objects it creates (the orphan sweep deletes only those). */
  managed: boolean;
  /** The owning shard's index from the `chartorigin.io/shard` label; undefined when unsharded. */
  shard: string | undefined;
  declaredBy: string | undefined;
}

/** What the controller writes into ChartOrigin.status: the report minus fields that only feed metrics. */
export type PublishedStatus = Omit<Partial<OriginReport>, 'majorVersionsBehind' | 'installedCreated' | 'upgradeTarget' | 'conditions'> & {
  conditions: Condition[];
  observedGeneration?: number | undefined;
};

/** How an object seen by the informer differs from what was known of it. */
export type OriginChange = 'new' | 'spec' | 'none';

const MANAGED_BY = 'app.kubernetes.io/managed-by';
/** Which shard owns a ChartOrigin (`--shard-index`); absent when the controller runs unsharded. */
export const SHARD_LABEL = 'chartorigin.io/shard';

function path(namespace: string, name?: string): string {
  return `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/chartorigins${name ? `/${encodeURIComponent(name)}` : ''}`;
}

/** The ChartOrigin collection a watch reads: one namespace, or all namespaces when undefined. */
export function chartOriginsPath(namespace?: string): string {
  return namespace === undefined ? `/apis/${GROUP}/${VERSION}/chartorigins` : path(namespace);
}

function parseSpec(o: unknown): OriginSpec {
  if (!isObject(o)) return {};
  return {
    repository: typeof o['repository'] === 'string' && o['repository'] ? o['repository'] : undefined,
    versionConstraint: typeof o['versionConstraint'] === 'string' && o['versionConstraint'] ? o['versionConstraint'] : undefined,
    allowPrerelease: o['allowPrerelease'] === true,
  };
}

function parseConditions(v: unknown): Condition[] {
  return arr(v).filter((c): c is Condition => isObject(c) && typeof c['type'] === 'string' && typeof c['status'] === 'string');
}

function parseStatus(v: unknown): StoredStatus | undefined {
  if (!isObject(v)) return undefined;
  const origin = isObject(v['origin']) ? v['origin'] : {};
  const chart = isObject(v['chart']) ? v['chart'] : {};
  const latest = isObject(v['latest']) ? v['latest'] : {};
  return {
    conditions: parseConditions(v['conditions']),
    origin: { match: str(origin['match']), repository: str(origin['repository']) },
    chart: { deprecated: chart['deprecated'] === true },
    latest: { version: str(latest['version']) },
  };
}

/** A ChartOrigin as the API returns it (GET, LIST/WATCH item, apply response); undefined when it is not one. */
function parseOrigin(o: unknown): ({ namespace: string; name: string } & CachedOrigin) | undefined {
  if (!isObject(o) || !isObject(o['metadata'])) return undefined;
  const m = o['metadata'];
  const name = str(m['name']);
  const namespace = str(m['namespace']);
  if (!name || !namespace) return undefined;
  const status = parseStatus(o['status']);
  const labels = isObject(m['labels']) ? m['labels'] : {};
  return {
    namespace,
    name,
    uid: str(m['uid']),
    resourceVersion: str(m['resourceVersion']) ?? '',
    generation: typeof m['generation'] === 'number' ? m['generation'] : 0,
    managed: labels[MANAGED_BY] === 'chartorigin',
    shard: str(labels[SHARD_LABEL]),
    declaredBy: str(labels[DECLARED_BY_LABEL]),
    spec: parseSpec(o['spec']),
    conditions: (status?.conditions ?? []).map((c) => ({ type: c.type, status: c.status, lastTransitionTime: typeof c.lastTransitionTime === 'string' ? intern(c.lastTransitionTime) : c.lastTransitionTime })),
    published: publishedOf(status),
  };
}

/**
 * Whether `next` may replace `known`. resourceVersions are opaque to clients in general, but the API
 * server's are etcd revisions (decimal integers): comparing them keeps a watch event that was already
 * in flight from undoing the write-through of a newer write of our own. Anything else replaces.
 */
function notOlder(next: string, known: string): boolean {
  if (!/^\d+$/.test(next) || !/^\d+$/.test(known)) return true;
  return next.length !== known.length ? next.length > known.length : next >= known;
}

/**
 * Condition messages name charts, repositories and decoder errors (untrusted text) and `kubectl describe`
 * prints them as they are: control characters removed, bounded. Applied to every condition written.
 */
export function plainCondition(c: Condition): Condition {
  return { ...c, message: plainText(c.message, MAX_CONDITION_MESSAGE) };
}

/**
 * ChartOrigin objects: the controller creates one per release (metadata only: it never writes spec),
 * owns its status through server-side apply with its own field manager, and deletes it on uninstall.
 *
 * Reads come from memory: an informer (a reflector over the ChartOrigin collection, see `observe` and
 * `forget`) keeps every ChartOrigin's metadata, spec and published summary, and each write's response is
 * written through, so a reconcile right after a write already sees it. Before this cache the reconciler
 * GET each ChartOrigin per reconcile and nothing watched them, so a `spec` edit was never acted on.
 */
export class ChartOriginStore {
  readonly #kc: KubeConfig;
  readonly #manager: string;
  readonly #specChanged: ((namespace: string, name: string) => void) | undefined;
  readonly #shard: string | undefined;
  readonly #cache = new Map<string, CachedOrigin>();

  /**
   * `specChanged` is told whenever a known ChartOrigin's generation moves, whichever way the news came:
   * usually the informer, but a status write's response can be the first to carry a spec edit made
   * while the release was being analysed, and the edit's own watch event then arrives as old news.
   *
   * `shard`: the owning shard's index, written as a label by `create`. The field manager stays the same on
   * every shard on purpose: with a manager per shard, a release that moves to another shard (re-sharding)
   * would keep the fields only the old manager had applied (a Stale condition, candidates) forever.
   */
  constructor(kc: KubeConfig, options: { fieldManager?: string | undefined; specChanged?: ((namespace: string, name: string) => void) | undefined; shard?: number | undefined } = {}) {
    this.#kc = kc;
    this.#manager = options.fieldManager ?? 'chartorigin';
    this.#specChanged = options.specChanged;
    this.#shard = options.shard === undefined ? undefined : String(options.shard);
  }

  /** The ChartOrigin as last seen (informer or own write); undefined when there is none. */
  get(namespace: string, name: string): ExistingOrigin | undefined {
    return this.#cache.get(`${namespace}/${name}`);
  }

  /**
   * Records an object from the informer and tells how it changed: `spec` when its generation moved (a
   * spec edit: the release must be reconciled again), `new` when it was not known, `none` otherwise
   * (status writes, label edits, and events older than what is known).
   */
  observe(object: unknown): OriginChange {
    return this.#remember(object);
  }

  /** Drops an object the informer saw deleted. */
  forget(namespace: string, name: string): void {
    this.#cache.delete(`${namespace}/${name}`);
  }

  /**
   * Every ChartOrigin this controller created for a Helm release (its label), as the informer last saw
   * them, with its shard label. Those of charts a GitOps tool declares have no release and are left out.
   */
  managed(): { key: string; namespace: string; name: string; shard: string | undefined }[] {
    const out: { key: string; namespace: string; name: string; shard: string | undefined }[] = [];
    for (const [key, o] of this.#cache) {
      if (!o.managed || o.declaredBy !== undefined) continue;
      const slash = key.indexOf('/');
      out.push({ key, namespace: key.slice(0, slash), name: key.slice(slash + 1), shard: o.shard });
    }
    return out;
  }

  /**
   * Creates the object (metadata only; `labels` added to the controller's own), or finds it when it exists,
   * and returns it as the API server holds it.
   */
  async create(namespace: string, name: string, labels: Record<string, string> = {}): Promise<ExistingOrigin> {
    const o = await kubeRequest<unknown>(this.#kc, {
      method: 'PATCH',
      path: path(namespace, name),
      query: { fieldManager: this.#manager, force: true },
      headers: APPLY,
      body: JSON.stringify({
        apiVersion: API_VERSION,
        kind: 'ChartOrigin',
        metadata: { name, namespace, labels: { [MANAGED_BY]: 'chartorigin', ...(this.#shard === undefined ? {} : { [SHARD_LABEL]: this.#shard }), ...labels } },
      }),
    });
    this.#remember(o);
    return this.get(namespace, name) ?? { uid: undefined, spec: {}, generation: 1, conditions: [] };
  }

  async applyStatus(namespace: string, name: string, status: PublishedStatus): Promise<void> {
    const o = await kubeRequest<unknown>(this.#kc, {
      method: 'PATCH',
      path: `${path(namespace, name)}/status`,
      query: { fieldManager: this.#manager, force: true },
      headers: APPLY,
      // One serialisation: JSON.stringify leaves out undefined fields by itself.
      body: JSON.stringify({ apiVersion: API_VERSION, kind: 'ChartOrigin', metadata: { name, namespace }, status: { ...status, conditions: status.conditions.map(plainCondition) } }),
    });
    this.#remember(o);
  }

  /**
   * `namespace/name` of every ChartOrigin this controller manages in `namespace` (all namespaces when
   * undefined) for Helm releases; with `declaredBy`, those of charts a GitOps tool declares instead.
   */
  async listKeys(namespace?: string, declaredBy?: string): Promise<string[]> {
    const base = namespace === undefined ? `/apis/${GROUP}/${VERSION}/chartorigins` : path(namespace);
    const keys: string[] = [];
    let cont: string | undefined;
    do {
      const page = await kubeRequest<{ metadata?: { continue?: string }; items?: { metadata?: { name?: string; namespace?: string } }[] }>(this.#kc, {
        path: base,
        query: { labelSelector: `app.kubernetes.io/managed-by=chartorigin,${DECLARED_BY_LABEL}${declaredBy ? `=${declaredBy}` : '!=argocd'}`, limit: 500, continue: cont },
      });
      for (const item of page.items ?? []) {
        if (item.metadata?.name && item.metadata.namespace) keys.push(`${item.metadata.namespace}/${item.metadata.name}`);
      }
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return keys;
  }

  async delete(namespace: string, name: string): Promise<boolean> {
    this.forget(namespace, name);
    try {
      await kubeRequest(this.#kc, { method: 'DELETE', path: path(namespace, name) });
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return false;
      throw err;
    }
  }

  #remember(object: unknown): OriginChange {
    const o = parseOrigin(object);
    if (!o) return 'none';
    const { namespace, name, ...origin } = o;
    const key = `${namespace}/${name}`;
    const known = this.#cache.get(key);
    if (known && known.uid === origin.uid && !notOlder(origin.resourceVersion, known.resourceVersion)) return 'none';
    this.#cache.set(key, origin);
    if (!known || known.uid !== origin.uid) return 'new';
    if (known.generation === origin.generation) return 'none';
    this.#specChanged?.(namespace, name);
    return 'spec';
  }
}

export function statusOf(report: OriginReport, observedGeneration: number): PublishedStatus {
  const { majorVersionsBehind: _m, installedCreated: _c, upgradeTarget: _t, ...rest } = report;
  return { ...rest, observedGeneration };
}
