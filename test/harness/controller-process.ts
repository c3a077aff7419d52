/** Runs `chartorigin controller` as a real child process against the test cluster. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { kubectl, type ClusterInfo } from './controlplane.ts';
import { freePort } from './free-port.ts';
import { startProcess, type ManagedProcess } from './processes.ts';
import { REPO_ROOT } from './tools.ts';

export const CRD_DIR = process.env['CHARTORIGIN_CRD_DIR'] ?? join(REPO_ROOT, 'charts', 'chartorigin', 'crds');

/** Installs (or updates) the chart's CRDs and waits until the API serves them. */
export async function installCrds(cluster: Pick<ClusterInfo, 'kubeconfig'>): Promise<void> {
  for (const f of readdirSync(CRD_DIR).filter((n) => n.endsWith('.yaml'))) {
    await kubectl(cluster, ['apply', '--server-side', '--force-conflicts', '-f', join(CRD_DIR, f)]);
  }
  await waitEstablished(cluster, ['chartorigins.chartorigin.io', 'chartrepositories.chartorigin.io']);
}

/**
 * `kubectl wait --for=condition=Established` for CRDs just applied. kubectl refuses an object whose
 * status.conditions is still null ("accessor error: <nil> is of the type <nil>") instead of waiting, which it is
 * for a moment after the create: that answer is retried for up to 60 s, any other failure is not.
 */
export async function waitEstablished(cluster: Pick<ClusterInfo, 'kubeconfig'>, crds: readonly string[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await kubectl(cluster, ['wait', '--for=condition=Established', '--timeout=60s', ...crds.map((c) => `crd/${c}`)]);
      return;
    } catch (err) {
      if (Date.now() > deadline || !/accessor error: <nil>/.test((err as Error).message)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

export interface ControllerProcess {
  proc: ManagedProcess;
  metricsUrl: string;
  metrics(): Promise<string>;
  ready(): Promise<boolean>;
  stop(): Promise<void>;
}

export interface ControllerProcessOptions {
  /** Added to the process's environment. */
  env?: NodeJS.ProcessEnv | undefined;
  /** Another identity (a ServiceAccount's kubeconfig); default: admin. */
  kubeconfig?: string | undefined;
  /** POD_NAMESPACE, the controller's own namespace (default: default). */
  namespace?: string | undefined;
  /** Entry point (default src/cli/main.ts; benchmarks use the compiled dist/src/cli/main.js, as the image does). */
  entry?: string | undefined;
  /** Extra Node.js flags for the controller process. */
  nodeFlags?: readonly string[] | undefined;
}

export async function startControllerProcess(
  cluster: Pick<ClusterInfo, 'kubeconfig' | 'dir'>,
  args: readonly string[],
  name = 'controller',
  options: ControllerProcessOptions = {},
): Promise<ControllerProcess> {
  const port = await freePort();
  const proc = startProcess(
    name,
    process.execPath,
    [...(options.nodeFlags ?? []), options.entry ?? join(REPO_ROOT, 'src/cli/main.ts'), 'controller', '--kubeconfig', options.kubeconfig ?? cluster.kubeconfig, '--metrics-bind-address', `127.0.0.1:${port}`, ...args],
    { logFile: join(cluster.dir, `${name}-${port}.log`), env: { ...process.env, ...options.env, POD_NAMESPACE: options.namespace ?? 'default' } },
  );
  const metricsUrl = `http://127.0.0.1:${port}`;
  const get = async (path: string): Promise<Response> => fetch(metricsUrl + path, { signal: AbortSignal.timeout(5000) });
  return {
    proc,
    metricsUrl,
    metrics: async () => (await get('/metrics')).text(),
    ready: async () => {
      try {
        return (await get('/readyz')).status === 200;
      } catch {
        return false;
      }
    },
    stop: () => proc.stop(10_000),
  };
}

/** Polls `check` until it returns a value (not undefined) or the time is up; the error names what was awaited. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
