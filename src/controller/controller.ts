import type { KubeConfig } from '../kube/kubeconfig.ts';
import type { Logger } from 'pino';
import { PublishedChartCache } from '../resolve/chart-cache.ts';
import type { ChartOriginMetrics } from '../publish/metrics.ts';
import { HELM_SECRET_TYPE } from '../decode/decode.ts';
import type { RepositoryConfig } from '../model/repository.ts';
import { ChartOriginStore } from '../publish/chart-origins.ts';
import { EventRecorder } from '../publish/events.ts';
import { KubeApiError } from '../kube/raw-client.ts';
import { MetadataReflector } from '../kube/reflector.ts';
import { ReleaseIndex } from '../watch/release-index.ts';
import { ReleaseReconciler, type ReconcilerOptions } from './reconciler.ts';
import { RepositoryManager } from './repositories.ts';
import { WorkQueue } from '../kube/work-queue.ts';
import { runFluxDiscovery } from './flux-discovery.ts';
import { runArgoCd } from './argocd.ts';
import { readFluxHint } from '../sources/discovery/flux.ts';

export interface ControllerOptions {
  kubeConfig: KubeConfig;
  /** undefined: all namespaces. */
  namespaces?: readonly string[] | undefined;
  storage: { secrets: boolean; configMaps: boolean };
  concurrency: number;
  /** The controller's own namespace: default for Secret references of ChartRepository objects. */
  namespace: string;
  staticRepositories?: readonly RepositoryConfig[];
  watchChartRepositories: boolean;
  verify: boolean;
  metrics: ChartOriginMetrics;
  logger: Logger;
  published?: ReconcilerOptions['published'];
  /** Read HelmRelease/HelmChart objects of Flux-managed releases (values files of the Flux build). */
  flux?: boolean | undefined;
  /** Create ChartRepositories from Flux HelmRepository/OCIRepository objects (needs flux and watchChartRepositories). */
  discoverFluxSources?: boolean | undefined;
  /** ChartOrigins for Argo CD Applications with Helm sources. */
  argocd?: boolean | undefined;
  /** How often Flux sources and Argo CD Applications are listed (default 60 s). */
  gitopsIntervalMs?: number | undefined;
}

export interface ControllerState {
  /** Every watch listed once, repositories loaded, and the first round of releases reconciled. */
  ready(): boolean;
}

/**
 * watch → decode → resolve → recommend → publish, for as long as `signal` is not aborted (the leader's
 * term). Everything is rebuilt from the API on each start: the controller keeps no state of its own.
 */
export function startController(o: ControllerOptions, signal: AbortSignal): { state: ControllerState; done: Promise<void> } {
  const log = o.logger;
  const queue = new WorkQueue();
  const index = new ReleaseIndex((key) => queue.add(key));
  const repositories = new RepositoryManager({
    kubeConfig: o.kubeConfig,
    metrics: o.metrics,
    logger: log.child({ component: 'repositories' }),
    defaultNamespace: o.namespace,
    staticRepositories: o.staticRepositories,
    watchCustomResources: o.watchChartRepositories,
    changed: () => {
      for (const key of index.keys()) queue.add(key);
    },
  });
  const origins = new ChartOriginStore(o.kubeConfig);
  const cache = new PublishedChartCache();
  const reconciler = new ReleaseReconciler({
    kubeConfig: o.kubeConfig,
    index,
    origins,
    repositories,
    metrics: o.metrics,
    cache,
    logger: log.child({ component: 'reconciler' }),
    events: new EventRecorder(o.kubeConfig, log.child({ component: 'events' })),
    verify: o.verify,
    published: o.published,
    fluxHint: o.flux === false ? undefined : (owner) => readFluxHint(o.kubeConfig, owner),
  });

  const reflectors: MetadataReflector[] = [];
  const synced = new Set<MetadataReflector>();
  const scopes = o.namespaces && o.namespaces.length ? o.namespaces.map((ns) => `/api/v1/namespaces/${encodeURIComponent(ns)}`) : ['/api/v1'];
  for (const scope of scopes) {
    const kinds: ['Secret' | 'ConfigMap', string, string | undefined][] = [];
    if (o.storage.secrets) kinds.push(['Secret', `${scope}/secrets`, `type=${HELM_SECRET_TYPE}`]);
    if (o.storage.configMaps) kinds.push(['ConfigMap', `${scope}/configmaps`, undefined]);
    for (const [storage, path, fieldSelector] of kinds) {
      const r: MetadataReflector = new MetadataReflector({
        kubeConfig: o.kubeConfig,
        path,
        labelSelector: 'owner=helm',
        fieldSelector,
        logger: log.child({ component: 'watch', storage }),
        onWatchRestart: (reason) => o.metrics.countWatchRestart(storage === 'Secret' ? 'secrets' : 'configmaps', reason),
        handler: {
          upsert: (m) => index.upsert(storage, m),
          remove: (m) => index.remove(storage, m),
          synced: () => {
            synced.add(r);
            if (synced.size === reflectors.length && !orphansQueued) void queueOrphans();
          },
        },
      });
      reflectors.push(r);
    }
  }

  // A release uninstalled while no controller ran (a crash, a leader handover) leaves a ChartOrigin no
  // watch event will ever name: once every watch has listed, queue each ChartOrigin without a release;
  // the reconciler deletes it as it would on an uninstall.
  let orphansQueued = false;
  let sweeping = false;
  async function queueOrphans(): Promise<void> {
    if (sweeping || signal.aborted) return;
    sweeping = true;
    try {
      const namespaces: (string | undefined)[] = o.namespaces && o.namespaces.length ? [...o.namespaces] : [undefined];
      for (const ns of namespaces) {
        for (const key of await origins.listKeys(ns)) if (!index.current(key)) queue.add(key);
      }
      orphansQueued = true;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 403) {
        // Without list permission the sweep can never succeed: do not hold readiness hostage to it.
        log.warn({ err: err.message }, 'not allowed to list ChartOrigins; ChartOrigins of releases uninstalled while the controller was down are not cleaned up');
        orphansQueued = true;
        return;
      }
      log.warn({ err: (err as Error).message }, 'listing ChartOrigins for orphans failed; will retry');
      setTimeout(() => void queueOrphans(), 5000).unref();
    } finally {
      sweeping = false;
    }
  }

  let firstRoundDone = false;
  const ready = (): boolean => {
    if (!firstRoundDone && orphansQueued && synced.size === reflectors.length && repositories.synced && queue.len() === 0 && queue.processing() === 0) firstRoundDone = true;
    return firstRoundDone;
  };

  const gauges = setInterval(() => {
    o.metrics.setReleasesTracked(index.size);
    o.metrics.setWorkqueueDepth(queue.len());
  }, 1000);
  gauges.unref();

  const done = (async () => {
    log.info({ namespaces: o.namespaces ?? 'all', storage: o.storage, concurrency: o.concurrency }, 'controller starting');
    const tasks = [
      repositories.run(signal),
      ...(o.argocd !== false ? [runArgoCd({ kubeConfig: o.kubeConfig, origins, repositories, metrics: o.metrics, cache, logger: log.child({ component: 'argocd' }), periodMs: o.gitopsIntervalMs, namespaces: o.namespaces }, signal)] : []),
      ...(o.flux !== false && o.discoverFluxSources !== false && o.watchChartRepositories ? [runFluxDiscovery(o.kubeConfig, log.child({ component: 'flux-discovery' }), signal, o.gitopsIntervalMs)] : []),
      ...reflectors.map((r) => r.run(signal)),
      queue.run(
        o.concurrency,
        async (key) => {
          const t0 = performance.now();
          try {
            const result = await reconciler.reconcile(key);
            o.metrics.observeReconcile(result === 'unchanged' ? 'success' : result, (performance.now() - t0) / 1000);
            if (result === 'requeue') queue.addRateLimited(key);
            else queue.forget(key);
          } catch (err) {
            o.metrics.observeReconcile('error', (performance.now() - t0) / 1000);
            const slash = key.indexOf('/');
            log.warn({ namespace: key.slice(0, slash), release: key.slice(slash + 1), err: (err as Error).message }, 'reconcile failed; will retry');
            queue.addRateLimited(key);
          }
        },
        signal,
      ),
    ];
    signal.addEventListener('abort', () => queue.shutDown(), { once: true });
    await Promise.all(tasks);
    clearInterval(gauges);
    log.info('controller stopped');
  })();
  return { state: { ready }, done };
}
