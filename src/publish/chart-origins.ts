import type { KubeConfig } from '../kube/kubeconfig.ts';
import type { OriginSpec } from '../resolve/analyze.ts';
import { summaryOf, type PublishedSummary } from './origin-events.ts';
import type { Condition, OriginReport } from '../model/report.ts';
import { isObject } from '../util/guards.ts';
import { KubeApiError, kubeRequest } from '../kube/raw-client.ts';

export const GROUP = 'chartorigin.io';
export const VERSION = 'v1alpha1';
const API_VERSION = `${GROUP}/${VERSION}`;
/** On ChartOrigins of charts a GitOps tool declares (value `argocd`): they have no Helm release to follow. */
export const DECLARED_BY_LABEL = 'chartorigin.io/declared-by';
const APPLY = { 'Content-Type': 'application/apply-patch+yaml' };

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

  constructor(kc: KubeConfig, fieldManager = 'chartorigin') {
    this.#kc = kc;
    this.#manager = fieldManager;
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
  async create(namespace: string, name: string, labels: Record<string, string> = {}): Promise<string | undefined> {
    const o = await kubeRequest<{ metadata?: { uid?: string } }>(this.#kc, {
      method: 'PATCH',
      path: path(namespace, name),
      query: { fieldManager: this.#manager, force: true },
      headers: APPLY,
      body: JSON.stringify({
        apiVersion: API_VERSION,
        kind: 'ChartOrigin',
        metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'chartorigin', ...labels } },
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
