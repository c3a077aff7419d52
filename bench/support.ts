/** Small API helpers for benchmarks: direct requests, no kubectl process per poll. */
import { apiKubeConfigFor, type ClusterInfo } from '../test/harness/controlplane.ts';
import { kubeRequest } from '../src/kube/raw-client.ts';

export function adminKubeConfigFor(cluster: Pick<ClusterInfo, 'kubeconfig'>): { getChartOrigin(ns: string, name: string): Promise<{ revision?: number; version?: string }> } {
  const kc = apiKubeConfigFor(cluster);
  return {
    async getChartOrigin(ns, name) {
      try {
        const o = await kubeRequest<{ status?: { release?: { revision?: number }; chart?: { version?: string } } }>(kc, { path: `/apis/chartorigin.io/v1alpha1/namespaces/${ns}/chartorigins/${name}` });
        return { revision: o.status?.release?.revision, version: o.status?.chart?.version };
      } catch {
        return {};
      }
    },
  };
}

/** Runs `fn` over `items` with at most `n` in flight. */
export async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < items.length) await fn(items[i++] as T);
  }));
}

/** Moved to the harness (the soak test writes revisions the same way); re-exported for the benchmarks. */
export { createReleaseSecret } from '../test/harness/release-secrets.ts';
