import type { Logger } from 'pino';
import { analyzeRelease } from '../resolve/analyze.ts';
import type { PublishedChartCache } from '../resolve/chart-cache.ts';
import type { Condition, OriginReport } from '../model/report.ts';
import type { ChartOriginMetrics } from '../publish/metrics.ts';
import { decodeErrorEvent, originEvents, type EventNote } from '../publish/origin-events.ts';
import { decodeStoredRelease, DEFAULT_DECODE_LIMITS, ReleaseDecodeError, type DecodeLimits } from '../decode/decode.ts';
import type { StoredReleaseObject } from '../model/release.ts';
import type { ChartSource } from '../model/repository.ts';
import { redactUrl } from '../sources/url.ts';
import { carryTransitionTimes, statusOf, type ChartOriginStore } from '../publish/chart-origins.ts';
import { getObject } from '../kube/core-objects.ts';
import type { KubeConfig } from '../kube/kubeconfig.ts';
import type { CurrentRevision, ReleaseIndex } from '../watch/release-index.ts';
import type { FluxHint } from '../chart/flux-build.ts';

export interface RepositoryView {
  sources(): readonly ChartSource[];
  /** Changes whenever a repository's configuration or content changes. */
  generation(): number;
  /** Repositories whose last probe failed, with when and why (served from cache meanwhile). */
  unavailable(): ReadonlyMap<string, { since: string; reason: string }>;
}

export interface ReconcilerOptions {
  kubeConfig: KubeConfig;
  index: ReleaseIndex;
  origins: ChartOriginStore;
  repositories: RepositoryView;
  metrics: ChartOriginMetrics;
  cache: PublishedChartCache;
  logger: Logger;
  verify?: boolean;
  decodeLimits?: DecodeLimits;
  now?: () => Date;
  /** Kubernetes Events about ChartOrigins (changes of origin, deprecation, signatures); none when absent. */
  events?: { emit(target: { namespace: string; name: string; uid?: string | undefined }, notes: readonly EventNote[]): Promise<void> };
  /** Called after a report was published (write-back hooks in here). */
  published?: (current: CurrentRevision, report: OriginReport) => Promise<void>;
  /** Reads what the HelmRelease of a Flux-managed release says about its chart build (undefined: unreadable). */
  fluxHint?: (owner: { namespace: string; name: string }) => Promise<FluxHint | undefined>;
}

export type ReconcileResult = 'success' | 'deleted' | 'unchanged' | 'requeue';

interface Memo {
  inputs: string;
  report?: OriginReport | undefined;
}

const stamp = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * key (namespace/release) → the observed current revision → ChartOrigin status and metrics.
 * Idempotent: a duplicate event finds the same inputs and does nothing; a restart recomputes the same
 * status. Repository failures keep the last good result, marked Stale, instead of erasing it.
 */
export class ReleaseReconciler {
  readonly #o: ReconcilerOptions;
  readonly #memo = new Map<string, Memo>();

  constructor(options: ReconcilerOptions) {
    this.#o = options;
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { index, origins, metrics, logger } = this.#o;
    const current = index.current(key);
    const slash = key.indexOf('/');
    const namespace = key.slice(0, slash);
    const name = key.slice(slash + 1);
    if (!current) {
      this.#memo.delete(key);
      metrics.removeRelease(namespace, name);
      const deleted = await origins.delete(namespace, name);
      if (deleted) logger.info({ namespace, release: name }, 'release uninstalled; ChartOrigin deleted');
      return 'deleted';
    }
    const existing = await origins.get(namespace, name);
    const inputs = `${current.storage}/${current.objectName}@${current.resourceVersion}|g${existing?.generation ?? -1}|r${this.#o.repositories.generation()}`;
    const memo = this.#memo.get(key);
    if (memo?.inputs === inputs && existing) return 'unchanged';
    const uid = existing ? existing.uid : await origins.create(namespace, name);
    const emit = async (notes: readonly EventNote[]): Promise<void> => {
      if (notes.length) await this.#o.events?.emit({ namespace, name, uid }, notes);
    };

    const obj = await this.#read(current);
    if (!obj) return 'unchanged'; // gone between the event and the read; its delete event follows
    const now = (this.#o.now ?? (() => new Date()))();
    let record;
    try {
      record = decodeStoredRelease(obj, this.#o.decodeLimits ?? DEFAULT_DECODE_LIMITS);
    } catch (err) {
      if (!(err instanceof ReleaseDecodeError)) throw err;
      metrics.countDecodeError(err.reason);
      logger.warn({ namespace, release: name, reason: err.reason, err: err.message }, 'release data cannot be decoded');
      const condition: Condition = { type: 'Ready', status: 'False', reason: 'DecodeError', message: err.message, lastTransitionTime: stamp(now) };
      await origins.applyStatus(namespace, name, {
        release: { name, namespace, revision: current.revision, status: 'unknown', storage: current.storage },
        lastChecked: stamp(now),
        conditions: carryTransitionTimes([condition], existing?.conditions ?? []),
        observedGeneration: existing?.generation,
      });
      metrics.removeRelease(namespace, name);
      this.#memo.set(key, { inputs });
      await emit(decodeErrorEvent(existing?.published, err.message));
      return 'success';
    }

    let flux: FluxHint | undefined;
    if (record.flux && this.#o.fluxHint) {
      try {
        flux = await this.#o.fluxHint(record.flux);
      } catch (err) {
        logger.debug({ namespace, release: name, err: (err as Error).message }, 'HelmRelease not readable; Flux values files are inferred from the chart');
      }
    }
    const { report, failures } = await analyzeRelease(record, {
      flux,
      sources: this.#o.repositories.sources(),
      spec: existing?.spec,
      cache: this.#o.cache,
      verify: this.#o.verify,
      now: () => now,
    });
    const sources = this.#o.repositories.sources();
    for (const f of failures) {
      const source = sources.find((s) => s.config.name === f.repository);
      if (source) metrics.countRepositoryError(f.repository, redactUrl(source.config.url), f.reason);
      logger.warn({ namespace, release: name, chart: record.chart.name, repository: f.repository, reason: f.reason, err: f.message }, 'repository error during analysis');
    }
    let final = report;
    const previous = memo?.report;
    const involved = (r: OriginReport): string[] => [r.origin.repository, ...(r.origin.candidates ?? []).map((c) => c.repository)].filter((x): x is string => !!x);
    const failedHere = new Set(failures.map((f) => f.repository));
    if (previous && previous.release.revision === report.release.revision && previous.chart.version === report.chart.version && involved(previous).some((r) => failedHere.has(r))) {
      // The repositories that decided the last result did not answer: keep that result rather than
      // publishing a worse one computed without them.
      final = { ...previous, release: report.release, lastChecked: previous.lastChecked };
    }
    const down = this.#o.repositories.unavailable();
    const staleRepos = [...new Set([...involved(final).filter((r) => down.has(r)), ...[...failedHere].filter((r) => involved(final).includes(r) || final !== report)])];
    const conditions = final.conditions.filter((c) => c.type !== 'Stale');
    if (staleRepos.length > 0) {
      conditions.push({
        type: 'Stale',
        status: 'True',
        reason: 'RepositoryUnavailable',
        message: `last known result kept; unavailable: ${staleRepos.map((r) => `${r}${down.get(r) ? ` (${down.get(r)?.reason} since ${down.get(r)?.since})` : ''}`).join(', ')}`,
        lastTransitionTime: stamp(now),
      });
    }
    final = { ...final, conditions };
    final = { ...final, conditions: carryTransitionTimes(final.conditions, existing?.conditions ?? []) };
    await origins.applyStatus(namespace, name, statusOf(final, existing?.generation ?? 1));
    metrics.setRelease(final);
    await emit(originEvents(existing?.published, final));
    // After a repository failure the inputs are not memoised, so the retry really re-analyses; the last
    // good report is kept to be shown as stale meanwhile.
    const good = failures.length === 0 || final !== report ? final : previous;
    this.#memo.set(key, { inputs: failures.length === 0 && staleRepos.length === 0 ? inputs : '', report: good });
    await this.#o.published?.(current, final);
    logger.debug({ namespace, release: name, chart: record.chart.name, match: final.origin.match }, 'reconciled');
    return failures.length === 0 && staleRepos.length === 0 ? 'success' : 'requeue';
  }

  async #read(c: CurrentRevision): Promise<StoredReleaseObject | undefined> {
    const o = await getObject(this.#o.kubeConfig, c.storage, c.namespace, c.objectName);
    if (!o) return undefined;
    return { kind: c.storage, type: c.storage === 'Secret' ? o.type : undefined, metadata: { name: o.metadata?.name, namespace: o.metadata?.namespace, labels: o.metadata?.labels }, data: o.data };
  }
}
