import type { KubeConfig } from '../kube/kubeconfig.ts';
import type { Logger } from 'pino';
import { PublishedChartCache } from '../resolve/chart-cache.ts';
import type { ChartOriginMetrics } from '../publish/metrics.ts';
import { HELM_SECRET_TYPE } from '../decode/decode.ts';
import type { RepositoryConfig } from '../model/repository.ts';
import { ChartOriginStore, chartOriginsPath } from '../publish/chart-origins.ts';
import { EventRecorder } from '../publish/events.ts';
import { MetadataReflector, type ObjectMeta } from '../kube/reflector.ts';
import { ReleaseIndex } from '../watch/release-index.ts';
import { ReleaseReconciler, type ReconcileResult, type ReconcilerOptions } from './reconciler.ts';
import { RepositoryManager } from './repositories.ts';
import { WorkQueue } from '../kube/work-queue.ts';
import { AdaptiveLimit } from '../kube/adaptive-limit.ts';
import { revisionRef } from '../watch/current.ts';
import { owns, type ShardSpec } from '../watch/shard.ts';
import { runFluxDiscovery } from './flux-discovery.ts';
import { runArgoCd } from './argocd.ts';
import { readFluxHint } from '../sources/discovery/flux.ts';
import { FluxOwners } from './flux-owners.ts';

export interface ControllerOptions {
  kubeConfig: KubeConfig;
  /** undefined: all namespaces. */
  namespaces?: readonly string[] | undefined;
  storage: { secrets: boolean; configMaps: boolean };
  /** Reconciles at once: a fixed number, or 'auto' (an AdaptiveLimit sized from their answer times). */
  concurrency: number | 'auto';
  /** The controller's own namespace: default for Secret references of ChartRepository objects. */
  namespace: string;
  staticRepositories?: readonly RepositoryConfig[];
  watchChartRepositories: boolean;
  verify: boolean;
  /** `upstreamStale` after this many seconds without a new published version (default 8760h). */
  upstreamStaleAfterSeconds?: number | undefined;
  metrics: ChartOriginMetrics;
  logger: Logger;
  published?: ReconcilerOptions['published'];
  /** This replica's shard; undefined or count 1: every release. */
  shard?: ShardSpec | undefined;
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
  /** The oldest `lastProgress` (Date.now() ms) of the controller's watches: how long the most stuck one has been silent. */
  watchProgress(): number;
}

/**
 * watch → decode → resolve → recommend → publish, for as long as `signal` is not aborted (the leader's
 * term). Everything is rebuilt from the API on each start: the controller keeps no state of its own.
 */
export function startController(o: ControllerOptions, signal: AbortSignal): { state: ControllerState; done: Promise<void> } {
  // Each part logs through its own child of the caller's logger, which carries no `component`: a child's
  // `component` would otherwise be written a second time after the parent's (pino does not merge them).
  const parts = o.logger;
  const log = parts.child({ component: 'controller' });
  const queue = new WorkQueue({
    onError: (key, err) => {
      const slash = key.indexOf('/');
      log.warn({ namespace: key.slice(0, slash), release: key.slice(slash + 1), err: (err as Error).message }, 'reconcile failed; will retry');
    },
  });
  const index = new ReleaseIndex((key) => queue.add(key));
  const repositories = new RepositoryManager({
    kubeConfig: o.kubeConfig,
    metrics: o.metrics,
    logger: parts.child({ component: 'repositories' }),
    defaultNamespace: o.namespace,
    staticRepositories: o.staticRepositories,
    watchCustomResources: o.watchChartRepositories,
    changed: () => {
      for (const key of index.keys()) queue.add(key);
    },
  });
  const sharded = o.shard !== undefined && o.shard.count > 1 ? o.shard : undefined;
  const firstShard = !sharded || sharded.index === 0;
  const origins = new ChartOriginStore(o.kubeConfig, {
    specChanged: (namespace, name) => {
      const key = `${namespace}/${name}`;
      if (index.current(key)) queue.add(key);
    },
    shard: sharded?.index,
  });
  // Other shards' releases are dropped by the reflector (not kept, not indexed): nothing downstream
  // (queue, reconciler, metrics, write-back, the orphan sweep) can then touch them. Every shard still
  // receives all release objects' metadata over the wire: Helm writes them, so there is no label a
  // server-side selector could split them by (src/watch/shard.ts).
  const mine = (m: ObjectMeta): boolean => {
    if (!sharded) return true;
    const ref = revisionRef({ metadata: m });
    return ref !== undefined && owns(sharded, ref.namespace, ref.release);
  };
  const cache = new PublishedChartCache();
  const fluxOwners =
    o.flux === false
      ? undefined
      : new FluxOwners({
          kubeConfig: o.kubeConfig,
          logger: parts.child({ component: 'flux-owners' }),
          namespaces: o.namespaces,
          periodMs: o.gitopsIntervalMs,
          changed: (keys) => {
            for (const key of keys) if (index.current(key)) queue.add(key);
          },
        });
  const reconciler = new ReleaseReconciler({
    kubeConfig: o.kubeConfig,
    index,
    origins,
    repositories,
    metrics: o.metrics,
    cache,
    logger: parts.child({ component: 'reconciler' }),
    events: new EventRecorder(o.kubeConfig, parts.child({ component: 'events' })),
    verify: o.verify,
    upstreamStaleAfterSeconds: o.upstreamStaleAfterSeconds,
    published: o.published,
    fluxHint: o.flux === false ? undefined : (owner) => readFluxHint(o.kubeConfig, owner),
    fluxOwner: fluxOwners ? (key) => fluxOwners.get(key) : undefined,
    fluxOwnerFor: fluxOwners ? (key, release, now, options) => fluxOwners.ownerFor(key, release, now, options) : undefined,
    refreshFluxOwners: fluxOwners ? async (key, since) => {
      await fluxOwners.refresh(since);
      return fluxOwners.get(key);
    } : undefined,
  });

  const reflectors: MetadataReflector[] = [];
  const synced = new Set<MetadataReflector>();
  const originReflectors: MetadataReflector[] = [];
  let originsSynced: () => void = () => {};
  const originsListed = new Promise<void>((resolve) => {
    originsSynced = resolve;
  });
  const onSynced = (r: MetadataReflector): void => {
    synced.add(r);
    if (originReflectors.every((x) => synced.has(x))) originsSynced();
    if (synced.size === reflectors.length && !orphansQueued) queueOrphans();
  };
  const namespaces: (string | undefined)[] = o.namespaces && o.namespaces.length ? [...o.namespaces] : [undefined];
  for (const ns of namespaces) {
    const scope = ns === undefined ? '/api/v1' : `/api/v1/namespaces/${encodeURIComponent(ns)}`;
    const kinds: ['Secret' | 'ConfigMap', string, string | undefined][] = [];
    if (o.storage.secrets) kinds.push(['Secret', `${scope}/secrets`, `type=${HELM_SECRET_TYPE}`]);
    if (o.storage.configMaps) kinds.push(['ConfigMap', `${scope}/configmaps`, undefined]);
    for (const [storage, path, fieldSelector] of kinds) {
      const r: MetadataReflector = new MetadataReflector({
        kubeConfig: o.kubeConfig,
        path,
        labelSelector: 'owner=helm',
        fieldSelector,
        accept: sharded ? mine : undefined,
        logger: parts.child({ component: 'watch', storage }),
        onWatchRestart: (reason) => o.metrics.countWatchRestart(storage === 'Secret' ? 'secrets' : 'configmaps', reason),
        handler: {
          upsert: (m) => index.upsert(storage, m),
          remove: (m) => index.remove(storage, m),
          synced: () => onSynced(r),
        },
      });
      reflectors.push(r);
    }
    // ChartOrigins are few and small (no values, no manifests): whole objects are kept. A spec edit moves
    // the generation and the store re-queues its release (specChanged); a deleted ChartOrigin of an
    // installed release is re-created by that release's reconcile. Status writes queue nothing.
    const r: MetadataReflector = new MetadataReflector({
      kubeConfig: o.kubeConfig,
      path: chartOriginsPath(ns),
      full: true,
      logger: parts.child({ component: 'watch', resource: 'chartorigins' }),
      onWatchRestart: (reason) => o.metrics.countWatchRestart('chartorigins', reason),
      handler: {
        upsert: (m) => origins.observe(m.object),
        remove: (m) => {
          const key = `${m.namespace}/${m.name}`;
          origins.forget(m.namespace, m.name);
          if (index.current(key)) queue.add(key);
        },
        synced: () => onSynced(r),
      },
    });
    reflectors.push(r);
    originReflectors.push(r);
  }

  // A release uninstalled while no controller ran (a crash, a leader handover) leaves a ChartOrigin no
  // watch event will ever name: once every watch has listed, queue each ChartOrigin without a release;
  // the reconciler deletes it as it would on an uninstall.
  let orphansQueued = false;
  function queueOrphans(): void {
    for (const origin of origins.managed()) {
      // Another shard's ChartOrigin is that shard's to keep or delete.
      if (sharded && !owns(sharded, origin.namespace, origin.name)) continue;
      if (!index.current(origin.key)) queue.add(origin.key);
      // Re-sharded (or sharding just turned on/off): the label still names the previous owner. One
      // metadata apply (the same field manager, so a label it no longer sets is removed) moves it; the
      // reconciler does not look at labels.
      else if (origin.shard !== (sharded ? String(sharded.index) : undefined)) {
        origins.create(origin.namespace, origin.name).catch((err: unknown) => log.warn({ namespace: origin.namespace, release: origin.name, err: (err as Error).message }, 'relabelling the ChartOrigin for this shard failed'));
      }
    }
    orphansQueued = true;
  }

  let firstRoundDone = false;
  const ready = (): boolean => {
    if (!firstRoundDone && orphansQueued && synced.size === reflectors.length && repositories.synced && queue.len() === 0 && queue.processing() === 0) firstRoundDone = true;
    return firstRoundDone;
  };
  const watchProgress = (): number => Math.min(...reflectors.map((r) => r.lastProgress));

  // 'auto': limit.max workers take keys, and the limit decides how many reconcile at once (a waiting
  // worker holds its key as "processing", so no key is handled twice and readiness still waits for it).
  const limit = o.concurrency === 'auto' ? new AdaptiveLimit() : undefined;
  let lastLimit = limit?.limit;

  const gauges = setInterval(() => {
    if (limit && limit.limit !== lastLimit) {
      log.debug({ from: lastLimit, to: limit.limit }, 'reconcile concurrency changed');
      lastLimit = limit.limit;
    }
    o.metrics.setReleasesTracked(index.size);
    o.metrics.setWorkqueueDepth(queue.len());
  }, 1000);
  gauges.unref();

  const reconcile = async (key: string): Promise<void> => {
    if (limit) await limit.acquire();
    const t0 = performance.now();
    let result: ReconcileResult | 'error' = 'error';
    try {
      result = await reconciler.reconcile(key);
    } finally {
      o.metrics.observeReconcile(result === 'unchanged' ? 'success' : result, (performance.now() - t0) / 1000);
      limit?.release(performance.now() - t0);
    }
    // A throw reaches the queue, which retries with back-off and tells `onError`.
    if (result === 'requeue') queue.addRateLimited(key);
    else queue.forget(key);
  };

  const done = (async () => {
    log.info({ namespaces: o.namespaces ?? 'all', storage: o.storage, concurrency: o.concurrency, shard: sharded ? `${sharded.index}/${sharded.count}` : 'all' }, 'controller starting');
    const tasks = [
      repositories.run(signal),
      // Applications and Flux sources are not split between shards: shard 0 (or an unsharded replica) alone
      // serves them, so no ChartOrigin or ChartRepository is written by two shards.
      ...(o.argocd !== false && firstShard ? [runArgoCd({ kubeConfig: o.kubeConfig, origins, repositories, metrics: o.metrics, cache, logger: parts.child({ component: 'argocd' }), periodMs: o.gitopsIntervalMs, namespaces: o.namespaces }, signal)] : []),
      ...(o.flux !== false && o.discoverFluxSources !== false && o.watchChartRepositories && firstShard ? [runFluxDiscovery(o.kubeConfig, parts.child({ component: 'flux-discovery' }), signal, o.gitopsIntervalMs)] : []),
      // Every shard: each needs the owners of its own releases.
      ...(fluxOwners ? [fluxOwners.run(signal)] : []),
      ...reflectors.map((r) => r.run(signal)),
      // Reconciles read ChartOrigins from memory: none starts before they have been listed once, or a
      // release would be analysed without its ChartOrigin's spec; nor before the first list of HelmReleases has
      // been tried (if it failed, a Mismatch still waits for one that works: reconciler.ts).
      (async () => {
        await Promise.race([Promise.all([originsListed, fluxOwners?.firstList]), new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))]);
        // 'auto': limit.max workers take keys, and the limit decides how many reconcile at once (a waiting
        // worker holds its key as "processing", so no key is handled twice and readiness still waits for it).
        await queue.run(o.concurrency !== 'auto' ? o.concurrency : (limit?.max ?? 1), reconcile, signal);
      })(),
    ];
    await Promise.all(tasks);
    clearInterval(gauges);
    log.info('controller stopped');
  })();
  return { state: { ready, watchProgress }, done };
}
