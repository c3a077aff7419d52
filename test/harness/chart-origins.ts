/** Reading ChartOrigins and applying objects through kubectl, shared by the end-to-end tests. */
import type { ClusterInfo } from './controlplane.ts';
import { kubectl } from './controlplane.ts';
import { eventually } from './controller-process.ts';

type Cluster = Pick<ClusterInfo, 'kubeconfig' | 'dir'>;

/** The ChartOrigin as kubectl prints it, or undefined while it does not exist. */
export async function getChartOrigin<T>(cluster: Cluster, namespace: string, name: string): Promise<T | undefined> {
  try {
    return JSON.parse(await kubectl(cluster, ['get', 'chartorigin', name, '-n', namespace, '-o', 'json'])) as T;
  } catch {
    return undefined;
  }
}

/** Polls the ChartOrigin until `ok` holds; the timeout error names `what`. */
export function chartOriginWhere<T>(cluster: Cluster, namespace: string, name: string, ok: (o: T) => boolean, what: string, timeoutMs = 60_000): Promise<T> {
  return eventually(what, async () => {
    const o = await getChartOrigin<T>(cluster, namespace, name);
    return o && ok(o) ? o : undefined;
  }, timeoutMs, 250);
}

/** `kubectl apply` of one object (server-side, so repeated applies by a test never conflict). */
export async function applyObject(cluster: Cluster, doc: object): Promise<void> {
  await kubectl(cluster, ['apply', '--server-side', '--force-conflicts', '-f', '-'], { input: JSON.stringify(doc) });
}

export async function applyChartRepository(cluster: Cluster, name: string, spec: Record<string, unknown>): Promise<void> {
  await applyObject(cluster, { apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name }, spec });
}
