/** Small API helpers for benchmarks: direct requests, no kubectl process per poll. */
import { closeSync, openSync, readdirSync, readFileSync, readSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
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

/**
 * The image's malloc settings (Dockerfile ENV) for the controllers a benchmark starts, unless the command line
 * gives others: glibc reads them when a process starts, so they are set for the children only.
 */
export function imageMallocEnv(): void {
  process.env['MALLOC_ARENA_MAX'] ??= '2';
  process.env['MALLOC_MMAP_THRESHOLD_'] ??= '65536';
}

/** Runs `fn` over `items` with at most `n` in flight. */
export async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < items.length) await fn(items[i++] as T);
  }));
}

/**
 * A copy of an executable in `dir`, written 64 KiB at a time as a download or a package manager writes it; the
 * benchmarks run every binary they compare from such a copy. Linux (6.18 here) keeps a file in page-cache
 * folios as large as the writes that made it and maps a whole folio on a fault, so peak RSS depends on how the
 * file was last written: `--help` of the single executable peaked at 51.5 MiB written 64 KiB at a time and at
 * 81.8 MiB written 8 MiB at a time (node -e 0: 43 vs 71 MiB; nova version: 34 vs 52 MiB), and at 69 MiB as
 * postject leaves it (one write), against nova at 33 MiB as Go's linker leaves it. After dropping the page
 * cache every binary reads back at its small-write figure. Large folios also mean fewer faults (~7 ms less
 * start-up for the single executable), so the copy costs chartorigin time while it saves it memory.
 */
export function installedCopy(src: string, dir: string): string {
  const dst = join(dir, basename(src));
  const buf = Buffer.allocUnsafe(64 * 1024);
  const from = openSync(src, 'r');
  const to = openSync(dst, 'w', 0o755);
  try {
    for (let n = readSync(from, buf); n > 0; n = readSync(from, buf)) writeSync(to, buf, 0, n);
  } finally {
    closeSync(from);
    closeSync(to);
  }
  return dst;
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

/**
 * CPU seconds (user + system) used so far by every process whose command name is in `names`, by name, from
 * /proc: where a run's CPU went between two samples (on 2 cores the controller, kube-apiserver and etcd
 * share them, so the split says which one a wall-clock target is waiting on).
 */
export function cpuSecondsByName(names: readonly string[], extraPids: Record<string, number> = {}): Map<string, number> {
  const ticks = 100; // CLK_TCK on Linux x86-64 and arm64
  const out = new Map<string, number>(names.map((n) => [n, 0]));
  const read = (pid: string): { comm: string; cpu: number } | undefined => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const f = stat.slice(close + 2).split(' ');
      return { comm, cpu: (Number(f[11]) + Number(f[12])) / ticks };
    } catch {
      return undefined; // gone meanwhile
    }
  };
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const s = read(pid);
    if (s && out.has(s.comm)) out.set(s.comm, (out.get(s.comm) ?? 0) + s.cpu);
  }
  for (const [label, pid] of Object.entries(extraPids)) out.set(label, read(String(pid))?.cpu ?? 0);
  return out;
}

/**
 * Self size and count by constructor (objects), or by node type (strings, arrays, code…), from a V8
 * .heapsnapshot: what a process's heap is made of. Largest first.
 */
export function heapSnapshotSummary(file: string, top = 25): { what: string; count: number; selfBytes: number }[] {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const by = new Map<string, { count: number; selfBytes: number }>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt] as number] ?? '?';
    const what = type === 'object' ? (snap.strings[snap.nodes[i + nameAt] as number] ?? '?') : `(${type})`;
    const e = by.get(what) ?? { count: 0, selfBytes: 0 };
    e.count++;
    e.selfBytes += snap.nodes[i + sizeAt] as number;
    by.set(what, e);
  }
  return [...by].map(([what, e]) => ({ what, ...e })).sort((a, b) => b.selfBytes - a.selfBytes).slice(0, top);
}
