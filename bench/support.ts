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

/**
 * A full garbage collection in another Node process started with `--inspect=127.0.0.1:<port>`, through the
 * inspector protocol (HeapProfiler.collectGarbage), so that "heap used" afterwards is what the process
 * retains, not how much garbage it happened to carry at the sample: a measurement that does not depend on
 * the machine's load. Resolves when the collection has finished.
 */
export async function forceGc(inspectPort: number): Promise<void> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as { webSocketDebuggerUrl?: string }[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target on port ${inspectPort}`);
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error('inspector connection failed')), { once: true });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('HeapProfiler.collectGarbage timed out')), 60_000);
      ws.addEventListener('message', (e) => {
        const msg = JSON.parse(String(e.data)) as { id?: number; error?: { message?: string } };
        if (msg.id !== 1) return;
        clearTimeout(timer);
        if (msg.error) reject(new Error(msg.error.message ?? 'inspector error'));
        else resolve();
      });
      ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
    });
  } finally {
    ws.close();
  }
}
