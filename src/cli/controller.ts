import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadKubeConfig } from '../kube/kubeconfig.ts';
import { startController, type ControllerState } from '../controller/controller.ts';
import { WriteBack } from '../publish/write-back.ts';
import { LeaderElector } from '../kube/leader-election.ts';
import { ChartOriginMetrics } from '../publish/metrics.ts';
import { startHttpServer } from '../server/http-server.ts';
import { HealthMonitor } from '../server/health.ts';
import { loadConfig } from './config.ts';
import { parseShardSpec } from '../watch/shard.ts';
import { parseDuration } from '../util/duration.ts';

export const CONTROLLER_USAGE = `Usage: chartorigin controller [flags]
  --namespaces a,b               watch only these namespaces (default: all)
  --storage secrets,configmaps   where Helm stores releases (default: both)
  --metrics-bind-address :8080   /metrics, /healthz, /readyz
  --leader-elect=true|false      Lease-based leader election (default true)
  --leader-election-namespace NS (default: $POD_NAMESPACE, else the kubeconfig's namespace)
  --leader-election-id NAME      Lease name (default chartorigin; with --shards N>1: NAME-shard-I)
  --shards N --shard-index I     serve only the releases whose namespace/name hashes to shard I of N
                                 (default 1 and 0: all); run one replica set per shard
  --write-back none|annotations|release   (default none)
  --config repos.yaml            repositories in addition to ChartRepository objects
  --watch-chart-repositories=true|false   (default true; false when the CRD is not installed)
  --verify=true|false            download tarballs and compare content (default true)
  --flux=true|false              read HelmRelease/HelmChart of Flux-managed releases (default true;
                                 works without Flux installed)
  --discover-flux-sources=true|false   ChartRepositories from Flux HelmRepository/OCIRepository (default true;
                                 needs --flux and --watch-chart-repositories)
  --argocd=true|false            ChartOrigins for Argo CD Applications with Helm sources (default true;
                                 works without Argo CD installed; served by shard 0 when sharded)
  --gitops-interval 60s          how often Flux sources and Argo CD Applications are listed
  --concurrency auto|N           releases analysed at once: auto (default) sizes it from the answer
                                 times (1..64, starting at 4); N fixes it
  --upstream-stale-after 8760h   status.upstreamStale when a chart's newest version is older (default one year)
  --kubeconfig F                 out-of-cluster use: this kubeconfig (kubectl's rules without it)
  --context C                    out-of-cluster use: this kubeconfig context
  --log-level info
  --help                         this help
  --version                      print the version`;

function boolFlag(v: string | undefined, name: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (v === 'true' || v === '') return true;
  if (v === 'false') return false;
  throw new Error(`--${name} must be true or false`);
}

function bindAddress(v: string): { host: string; port: number } {
  const i = v.lastIndexOf(':');
  const port = Number(v.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--metrics-bind-address "${v}" is not host:port`);
  const host = v.slice(0, i).replace(/^\[|\]$/g, '');
  return { host: host || '0.0.0.0', port };
}

/** Leader election turns the pipeline on and off; the HTTP server runs on every replica. */
export async function runController(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      namespaces: { type: 'string' },
      storage: { type: 'string', default: 'secrets,configmaps' },
      'metrics-bind-address': { type: 'string', default: ':8080' },
      'leader-elect': { type: 'string' },
      'leader-election-namespace': { type: 'string' },
      'leader-election-id': { type: 'string', default: 'chartorigin' },
      shards: { type: 'string' },
      'shard-index': { type: 'string' },
      'write-back': { type: 'string', default: 'none' },
      config: { type: 'string' },
      'watch-chart-repositories': { type: 'string' },
      verify: { type: 'string' },
      flux: { type: 'string' },
      'discover-flux-sources': { type: 'string' },
      argocd: { type: 'string' },
      'gitops-interval': { type: 'string', default: '60s' },
      concurrency: { type: 'string', default: 'auto' },
      'upstream-stale-after': { type: 'string', default: '8760h' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${CONTROLLER_USAGE}\n`);
    return 0;
  }
  // `component` is set once per line: pino writes a child's bindings after its parent's without merging,
  // so a `component` in the root's base and again in a child printed the key twice (invalid for most
  // JSON log shippers, which keep either one). The root has none; every part logs through a child.
  const root = pino({ level: values['log-level'], base: { pid: process.pid, hostname: hostname() }, timestamp: pino.stdTimeFunctions.isoTime });
  const logger = root.child({ component: 'controller' });
  const upstreamStaleAfterSeconds = parseDuration(values['upstream-stale-after']);
  if (upstreamStaleAfterSeconds === undefined || upstreamStaleAfterSeconds <= 0) throw new Error('--upstream-stale-after must be a duration like 8760h');
  const writeBack = values['write-back'];
  if (writeBack !== 'none' && writeBack !== 'annotations' && writeBack !== 'release') throw new Error('--write-back must be none, annotations or release');
  const concurrency = values.concurrency === 'auto' ? 'auto' : Number(values.concurrency);
  if (concurrency !== 'auto' && (!Number.isInteger(concurrency) || concurrency < 1)) throw new Error('--concurrency must be auto or a positive integer');
  const storage = new Set(values.storage.split(',').map((s) => s.trim()));
  const kc = loadKubeConfig({ kubeconfig: values.kubeconfig, context: values.context });
  const ownNamespace = values['leader-election-namespace'] ?? process.env['POD_NAMESPACE'] ?? kc.namespace ?? 'default';
  const config = loadConfig(values.config);
  const namespaces = values.namespaces ? values.namespaces.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  const leaderElect = boolFlag(values['leader-elect'], 'leader-elect', true);
  const shard = parseShardSpec(values['shard-index'], values.shards);
  // One Lease per shard: the replicas of a shard stand in for each other, never for another shard.
  // Unsharded keeps the plain name, so turning sharding on or off is visible as a different Lease.
  const leaseName = shard.count > 1 ? `${values['leader-election-id']}-shard-${shard.index}` : values['leader-election-id'];
  const gitopsSeconds = parseDuration(values['gitops-interval']);
  if (!gitopsSeconds) throw new Error('--gitops-interval must be a duration such as 60s');

  const metrics = new ChartOriginMetrics();
  metrics.setShard(shard.index, shard.count);
  const writer = new WriteBack(kc, writeBack, root.child({ component: 'write-back' }));
  const stop = new AbortController();
  let state: ControllerState | undefined;
  let leading = false;
  const health = new HealthMonitor({ watchProgress: () => state?.watchProgress(), logger: root.child({ component: 'health' }) });
  health.start();
  const { host, port } = bindAddress(values['metrics-bind-address']);
  const server = await startHttpServer({
    host,
    port,
    registry: metrics,
    isHealthy: () => health.healthy(),
    isReady: () => (leaderElect && !leading ? true : (state?.ready() ?? false)),
    logger,
  });
  logger.info({ url: server.url }, 'serving /metrics, /healthz, /readyz');

  const shutdown = (sig: string): void => {
    logger.info({ signal: sig }, 'shutting down');
    stop.abort();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));

  const run = async (signal: AbortSignal): Promise<void> => {
    const c = startController(
      {
        kubeConfig: kc,
        namespaces,
        storage: { secrets: storage.has('secrets'), configMaps: storage.has('configmaps') },
        concurrency,
        namespace: ownNamespace,
        staticRepositories: config.repositories,
        watchChartRepositories: boolFlag(values['watch-chart-repositories'], 'watch-chart-repositories', true),
        verify: boolFlag(values.verify, 'verify', config.verify),
        upstreamStaleAfterSeconds,
        metrics,
        logger: root,
        flux: boolFlag(values.flux, 'flux', true),
        discoverFluxSources: boolFlag(values['discover-flux-sources'], 'discover-flux-sources', true),
        argocd: boolFlag(values.argocd, 'argocd', true),
        gitopsIntervalMs: gitopsSeconds * 1000,
        published: writeBack === 'none' ? undefined : (current, report) => writer.apply(current, report),
        shard,
      },
      signal,
    );
    state = c.state;
    await c.done;
  };

  try {
    if (!leaderElect) {
      await run(stop.signal);
    } else {
      const elector = new LeaderElector({
        kubeConfig: kc,
        namespace: ownNamespace,
        name: leaseName,
        identity: `${hostname()}_${process.pid}`,
        logger: root.child({ component: 'leader-election' }),
        // Returning the pipeline's promise lets the elector wait for in-flight work before it releases
        // the Lease, so a successor never overlaps with this replica's last writes.
        onStartedLeading: (signal: AbortSignal) => {
          leading = true;
          metrics.setLeader(true);
          return run(signal);
        },
        onStoppedLeading: () => {
          leading = false;
          metrics.setLeader(false);
          state = undefined;
        },
      });
      await elector.run(stop.signal);
    }
  } finally {
    health.stop();
    await server.close();
  }
  return 0;
}
