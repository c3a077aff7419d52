import type { KubeConfig } from '../kube/kubeconfig.ts';
import type { OriginSpec } from '../resolve/analyze.ts';
import { summaryOf, type PublishedSummary } from './origin-events.ts';
import type { Condition, OriginReport } from '../model/report.ts';
import { isObject } from '../util/guards.ts';
import { KubeApiError, kubeRequest } from '../kube/raw-client.ts';

export const GROUP = 'chartorigin.io';
export const VERSION = 'v1alpha1';
const API_VERSION = `${GROUP}/${VERSION}`;
const APPLY = { 'Content-Type': 'application/apply-patch+yaml' };
/** On every ChartOrigin of a sharded controller: the shard that owns it (`kubectl get chartorigins -l chartorigin.io/shard=1`). */
export const SHARD_LABEL = 'chartorigin.io/shard';

export interface ExistingOrigin {
  uid?: string | undefined;
  spec: OriginSpec;
  generation: number;
  conditions: Condition[];
  /** What the last published status said (undefined: never analysed), to tell changes worth an Event. */
  published?: PublishedSummary | undefined;
}

interface StoredStatus {
  conditions?: Condition[];
  origin?: { match?: string; repository?: string };
  chart?: { deprecated?: boolean };
  latest?: { version?: string };
}

/** undefined while the object was never analysed (created, no status yet). */
function publishedOf(status: StoredStatus | undefined): PublishedSummary | undefined {
  return status?.origin?.match || status?.conditions?.length ? summaryOf(status) : undefined;
}

/** What the controller writes into ChartOrigin.status: the report minus fields that only feed metrics. */
export type PublishedStatus = Omit<Partial<OriginReport>, 'majorVersionsBehind' | 'installedCreated' | 'conditions'> & {
  conditions: Condition[];
  observedGeneration?: number | undefined;
};

function path(namespace: string, name?: string): string {
  return `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/chartorigins${name ? `/${encodeURIComponent(name)}` : ''}`;
}

function parseSpec(o: unknown): OriginSpec {
  if (!isObject(o)) return {};
  return {
    repository: typeof o['repository'] === 'string' && o['repository'] ? o['repository'] : undefined,
    versionConstraint: typeof o['versionConstraint'] === 'string' && o['versionConstraint'] ? o['versionConstraint'] : undefined,
    allowPrerelease: o['allowPrerelease'] === true,
  };
}

/** Keeps a condition's lastTransitionTime when its status did not change (kstatus / API conventions). */
export function carryTransitionTimes(next: Condition[], previous: readonly Condition[]): Condition[] {
  return next.map((c) => {
    const prev = previous.find((p) => p.type === c.type);
    return prev && prev.status === c.status ? { ...c, lastTransitionTime: prev.lastTransitionTime } : c;
  });
}

/**
 * ChartOrigin objects: the controller creates one per release (metadata only: it never writes spec),
 * owns its status through server-side apply with its own field manager, and deletes it on uninstall.
 */
export class ChartOriginStore {
  readonly #kc: KubeConfig;
  readonly #manager: string;
  readonly #shard: string | undefined;

  /**
   * `shard`: the owning shard's index, written as a label by `create`. The field manager stays the same on
   * every shard on purpose: with a manager per shard, a release that moves to another shard (re-sharding)
   * would keep the fields only the old manager had applied (a Stale condition, candidates) forever.
   */
  constructor(kc: KubeConfig, fieldManager = 'chartorigin', shard?: number) {
    this.#kc = kc;
    this.#manager = fieldManager;
    this.#shard = shard === undefined ? undefined : String(shard);
  }

  async get(namespace: string, name: string): Promise<ExistingOrigin | undefined> {
    try {
      const o = await kubeRequest<{ metadata?: { generation?: number; uid?: string }; spec?: unknown; status?: StoredStatus }>(this.#kc, { path: path(namespace, name) });
      return { uid: o.metadata?.uid, spec: parseSpec(o.spec), generation: o.metadata?.generation ?? 0, conditions: o.status?.conditions ?? [], published: publishedOf(o.status) };
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** Creates the object (metadata only) and returns its uid. */
  async create(namespace: string, name: string): Promise<string | undefined> {
    const o = await kubeRequest<{ metadata?: { uid?: string } }>(this.#kc, {
      method: 'PATCH',
      path: path(namespace, name),
      query: { fieldManager: this.#manager, force: true },
      headers: APPLY,
      body: JSON.stringify({
        apiVersion: API_VERSION,
        kind: 'ChartOrigin',
        metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'chartorigin', ...(this.#shard === undefined ? {} : { [SHARD_LABEL]: this.#shard }) } },
      }),
    });
    return o.metadata?.uid;
  }

  async applyStatus(namespace: string, name: string, status: PublishedStatus): Promise<void> {
    await kubeRequest(this.#kc, {
      method: 'PATCH',
      path: `${path(namespace, name)}/status`,
      query: { fieldManager: this.#manager, force: true },
      headers: APPLY,
      body: JSON.stringify({ apiVersion: API_VERSION, kind: 'ChartOrigin', metadata: { name, namespace }, status: JSON.parse(JSON.stringify(status)) as unknown }),
    });
  }

  /** `namespace/name` of every ChartOrigin this controller manages in `namespace` (all namespaces when undefined). */
  async listKeys(namespace?: string): Promise<string[]> {
    return (await this.list(namespace)).map((o) => o.key);
  }

  /** Every ChartOrigin this controller manages, with its shard label (undefined: none). */
  async list(namespace?: string): Promise<{ key: string; namespace: string; name: string; shard: string | undefined }[]> {
    const base = namespace === undefined ? `/apis/${GROUP}/${VERSION}/chartorigins` : path(namespace);
    const out: { key: string; namespace: string; name: string; shard: string | undefined }[] = [];
    let cont: string | undefined;
    do {
      const page = await kubeRequest<{ metadata?: { continue?: string }; items?: { metadata?: { name?: string; namespace?: string; labels?: Record<string, string> } }[] }>(this.#kc, {
        path: base,
        query: { labelSelector: 'app.kubernetes.io/managed-by=chartorigin', limit: 500, continue: cont },
      });
      for (const item of page.items ?? []) {
        const m = item.metadata;
        if (m?.name && m.namespace) out.push({ key: `${m.namespace}/${m.name}`, namespace: m.namespace, name: m.name, shard: m.labels?.[SHARD_LABEL] });
      }
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return out;
  }

  async delete(namespace: string, name: string): Promise<boolean> {
    try {
      await kubeRequest(this.#kc, { method: 'DELETE', path: path(namespace, name) });
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return false;
      throw err;
    }
  }
}

export function statusOf(report: OriginReport, observedGeneration: number): PublishedStatus {
  const { majorVersionsBehind: _m, installedCreated: _c, ...rest } = report;
  return { ...rest, observedGeneration };
}
