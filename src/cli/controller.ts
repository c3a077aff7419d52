import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadKubeConfig } from '../kube/kubeconfig.ts';
import { startController } from '../controller/controller.ts';
import { WriteBack } from '../publish/write-back.ts';
import { LeaderElector } from '../kube/leader-election.ts';
import { ChartOriginMetrics } from '../publish/metrics.ts';
import { startHttpServer } from '../server/http-server.ts';
import { loadConfig } from './config.ts';
import { parseDuration } from '../util/duration.ts';

export const CONTROLLER_USAGE = `Usage: chartorigin controller [flags]
  --namespaces a,b               watch only these namespaces (default: all)
  --storage secrets,configmaps   where Helm stores releases (default: both)
  --metrics-bind-address :8080   /metrics, /healthz, /readyz
  --leader-elect=true|false      Lease-based leader election (default true)
  --leader-election-namespace NS (default: $POD_NAMESPACE, else the kubeconfig's namespace)
  --leader-election-id NAME      Lease name (default chartorigin)
  --write-back none|annotations|release   (default none)
  --config repos.yaml            repositories in addition to ChartRepository objects
  --watch-chart-repositories=true|false   (default true; false when the CRD is not installed)
  --verify=true|false            download tarballs and compare content (default true)
  --flux=true|false              read HelmRelease/HelmChart of Flux-managed releases (default true;
                                 works without Flux installed)
  --discover-flux-sources=true|false   ChartRepositories from Flux HelmRepository/OCIRepository (default true;
                                 needs --flux and --watch-chart-repositories)
  --argocd=true|false            ChartOrigins for Argo CD Applications with Helm sources (default true;
                                 works without Argo CD installed)
  --gitops-interval 60s          how often Flux sources and Argo CD Applications are listed
  --concurrency 4                releases analysed at once
  --kubeconfig F --context C     out-of-cluster use
  --log-level info`;

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
      'write-back': { type: 'string', default: 'none' },
      config: { type: 'string' },
      'watch-chart-repositories': { type: 'string' },
      verify: { type: 'string' },
      flux: { type: 'string' },
      'discover-flux-sources': { type: 'string' },
      argocd: { type: 'string' },
      'gitops-interval': { type: 'string', default: '60s' },
      concurrency: { type: 'string', default: '4' },
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
  const logger = pino({ level: values['log-level'], base: { component: 'chartorigin' }, timestamp: pino.stdTimeFunctions.isoTime });
  const writeBack = values['write-back'];
  if (writeBack !== 'none' && writeBack !== 'annotations' && writeBack !== 'release') throw new Error('--write-back must be none, annotations or release');
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error('--concurrency must be a positive integer');
  const storage = new Set(values.storage.split(',').map((s) => s.trim()));
  const kc = loadKubeConfig({ kubeconfig: values.kubeconfig, context: values.context });
  const ownNamespace = values['leader-election-namespace'] ?? process.env['POD_NAMESPACE'] ?? kc.namespace ?? 'default';
  const config = loadConfig(values.config);
  const namespaces = values.namespaces ? values.namespaces.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  const leaderElect = boolFlag(values['leader-elect'], 'leader-elect', true);
  const gitopsSeconds = parseDuration(values['gitops-interval']);
  if (!gitopsSeconds) throw new Error('--gitops-interval must be a duration such as 60s');

  const metrics = new ChartOriginMetrics();
  const writer = new WriteBack(kc, writeBack, logger.child({ component: 'write-back' }));
  const stop = new AbortController();
  let state: { ready(): boolean } | undefined;
  let leading = false;
  const { host, port } = bindAddress(values['metrics-bind-address']);
  const server = await startHttpServer({
    host,
    port,
    registry: metrics.registry,
    isHealthy: () => true,
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
        metrics,
        logger,
        flux: boolFlag(values.flux, 'flux', true),
        discoverFluxSources: boolFlag(values['discover-flux-sources'], 'discover-flux-sources', true),
        argocd: boolFlag(values.argocd, 'argocd', true),
        gitopsIntervalMs: gitopsSeconds * 1000,
        published: writeBack === 'none' ? undefined : (current, report) => writer.apply(current, report),
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
        name: values['leader-election-id'],
        identity: `${hostname()}_${process.pid}`,
        logger: logger.child({ component: 'leader-election' }),
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
    await server.close();
  }
  return 0;
}
