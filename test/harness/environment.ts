/**
 * The shared test environment: control plane + OCI registry + static chart repository with the standard
 * charts (built by the real helm). global-setup.ts starts one per `npm test`; the demo and the fixture
 * capture script start their own. Everything in `TestEnv` is plain JSON so it can cross process borders.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildStandardRepos, scratchDir, type HttpRepoFixture } from './charts.ts';
import { startChartRepoServer, type ChartRepoServer } from './chart-repo-server.ts';
import { startControlPlane, type ClusterInfo, type ControlPlane, type StartupTimes } from './controlplane.ts';
import { stopAll } from './processes.ts';
import { startRegistry, type Registry } from './registry.ts';
import { requireTools, TOOLS_BIN } from './tools.ts';

export const TEST_ENV_VAR = 'CHARTORIGIN_TEST_ENV';

export interface ChartInfo {
  name: string;
  version: string;
  /** Absolute path of the packaged .tgz. */
  path: string;
  /** `sha256:<hex>` of the .tgz. */
  digest: string;
}

export interface HttpRepoInfo {
  /** Repository URL for `helm repo add` / `--repo` (no trailing slash). */
  url: string;
  dir: string;
  indexPath: string;
  /** Keyed `<name>-<version>`. */
  charts: Record<string, ChartInfo>;
}

export interface OciChartInfo extends ChartInfo {
  /** oci://127.0.0.1:PORT/<name> (what `helm install ... --version` takes). */
  ref: string;
  manifestDigest: string;
}

export interface TestEnv {
  schema: 1;
  cluster: ClusterInfo;
  /** Plain-HTTP, anonymous docker-registry. */
  registry: { host: string; url: string };
  /** One static server; `main` and `fork` are folders on it, each a Helm repository. */
  chartRepo: { url: string; dir: string; repos: { main: HttpRepoInfo; fork: HttpRepoInfo } };
  /** The standard OCI charts pushed with `helm push`, keyed `<name>-<version>`. */
  oci: Record<string, OciChartInfo>;
  toolsBin: string;
  startup: StartupTimes & { registryMs: number; chartsMs: number; environmentMs: number };
}

export interface RunningEnv {
  env: TestEnv;
  /** Path of the JSON file describing `env`. */
  file: string;
  controlPlane: ControlPlane;
  registry: Registry;
  chartServer: ChartRepoServer;
  stop(): Promise<void>;
}

function repoInfo(fx: HttpRepoFixture, url: string): HttpRepoInfo {
  const charts: Record<string, ChartInfo> = {};
  for (const [key, c] of Object.entries(fx.charts)) charts[key] = { name: c.spec.name, version: c.spec.version, path: c.path, digest: c.digest };
  return { url, dir: fx.dir, indexPath: fx.indexPath, charts };
}

const active = new Set<() => Promise<void>>();

/**
 * Stops every environment this process started or is still starting (for signal handlers that run
 * while `startTestEnvironment` has not returned yet).
 */
export async function stopAllEnvironments(): Promise<void> {
  await Promise.allSettled([...active].map((stop) => stop()));
  await stopAll();
}

export async function startTestEnvironment(options: { log?: (line: string) => void } = {}): Promise<RunningEnv> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[harness] ${line}\n`));
  requireTools();
  const t0 = performance.now();
  // Started together; `stop` waits for whichever are still starting, so an interrupt during start-up
  // leaves nothing behind.
  const cpPromise = startControlPlane();
  const tr = performance.now();
  const registryPromise = startRegistry();
  const repoRoot = scratchDir('chart-repo');
  const chartServerPromise = startChartRepoServer({ dir: repoRoot });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const closers = await Promise.allSettled([
        chartServerPromise.then((s) => s.close()),
        registryPromise.then((r) => r.close()),
        cpPromise.then((cp) => cp.stop()),
      ]);
      await stopAll();
      active.delete(stop);
      for (const r of closers) {
        if (r.status === 'rejected' && !startFailures.has(r.reason)) log(`teardown: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`);
      }
    })();
    return stopping;
  };
  const startFailures = new Set<unknown>();
  for (const p of [cpPromise, registryPromise, chartServerPromise]) p.catch((err: unknown) => startFailures.add(err));
  active.add(stop);
  try {
    const registry = await registryPromise;
    const registryMs = Math.round(performance.now() - tr);
    const tc = performance.now();
    const chartServer = await chartServerPromise;
    const mainDir = join(repoRoot, 'main');
    const forkDir = join(repoRoot, 'fork');
    mkdirSync(mainDir, { recursive: true });
    mkdirSync(forkDir, { recursive: true });
    const repos = await buildStandardRepos({ mainDir, forkDir, registry: { url: registry.url } });
    const chartsMs = Math.round(performance.now() - tc);
    const controlPlane = await cpPromise;
    const oci: Record<string, OciChartInfo> = {};
    for (const [key, o] of Object.entries(repos.oci ?? {})) {
      oci[key] = { name: o.chart.spec.name, version: o.chart.spec.version, path: o.chart.path, digest: o.chart.digest, ref: `${registry.url}/${o.chart.spec.name}`, manifestDigest: o.manifestDigest };
    }
    const env: TestEnv = {
      schema: 1,
      cluster: { server: controlPlane.server, kubeconfig: controlPlane.kubeconfig, context: controlPlane.context, caFile: controlPlane.caFile, dir: controlPlane.dir },
      registry: { host: registry.host, url: registry.url },
      chartRepo: {
        url: chartServer.url,
        dir: repoRoot,
        repos: { main: repoInfo(repos.main, `${chartServer.url}/main`), fork: repoInfo(repos.fork, `${chartServer.url}/fork`) },
      },
      oci,
      toolsBin: TOOLS_BIN,
      startup: { ...controlPlane.startup, registryMs, chartsMs, environmentMs: Math.round(performance.now() - t0) },
    };
    const file = join(controlPlane.dir, 'test-env.json');
    writeFileSync(file, `${JSON.stringify(env, null, 2)}\n`);
    return { env, file, controlPlane, registry, chartServer, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
