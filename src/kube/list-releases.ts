import { listObjects, type CoreObject } from './core-objects.ts';
import type { KubeConfig } from './kubeconfig.ts';
import { releaseKey, revisionRef } from '../release/current.ts';
import { HELM_SECRET_TYPE } from '../release/decode.ts';
import type { StoredReleaseObject } from '../release/types.ts';

export interface ListOptions {
  /** undefined: all namespaces. */
  namespace?: string | undefined;
  storage: { secrets: boolean; configMaps: boolean };
  pageSize?: number;
}

const HELM_OWNED = 'owner=helm';

function toStored(kind: 'Secret' | 'ConfigMap', o: CoreObject): StoredReleaseObject {
  return {
    kind,
    type: kind === 'Secret' ? o.type : undefined,
    metadata: { name: o.metadata?.name, namespace: o.metadata?.namespace, labels: o.metadata?.labels, resourceVersion: o.metadata?.resourceVersion },
    data: o.data,
  };
}

/**
 * The current revision of every Helm release, listed page by page. Only the highest revision seen so
 * far is kept per release, so memory stays at one object per release however many revisions exist.
 */
export async function listCurrentReleases(kc: KubeConfig, options: ListOptions): Promise<StoredReleaseObject[]> {
  const best = new Map<string, { revision: number; obj: StoredReleaseObject }>();
  const keep = (obj: StoredReleaseObject): void => {
    const ref = revisionRef(obj);
    if (!ref) return;
    const key = `${obj.kind}|${releaseKey(ref.namespace, ref.release)}`;
    const prev = best.get(key);
    if (!prev || ref.revision > prev.revision) best.set(key, { revision: ref.revision, obj });
  };
  const limit = options.pageSize ?? 250;
  if (options.storage.secrets) {
    let cont: string | undefined;
    do {
      const page = await listObjects(kc, 'Secret', { namespace: options.namespace, labelSelector: HELM_OWNED, fieldSelector: `type=${HELM_SECRET_TYPE}`, limit, continue: cont });
      for (const s of page.items) keep(toStored('Secret', s));
      cont = page.metadata?.continue || undefined;
    } while (cont);
  }
  if (options.storage.configMaps) {
    let cont: string | undefined;
    do {
      const page = await listObjects(kc, 'ConfigMap', { namespace: options.namespace, labelSelector: HELM_OWNED, limit, continue: cont });
      for (const c of page.items) if (c.data?.['release']) keep(toStored('ConfigMap', c));
      cont = page.metadata?.continue || undefined;
    } while (cont);
  }
  return [...best.values()].map((b) => b.obj);
}
