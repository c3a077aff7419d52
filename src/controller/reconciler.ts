import type { Logger } from 'pino';
import { analyzeRelease } from '../resolve/analyze.ts';
import type { PublishedChartCache } from '../resolve/chart-cache.ts';
import type { OriginReport } from '../model/report.ts';
import type { ChartOriginMetrics } from '../publish/metrics.ts';
import { decodeErrorEvent, originEvents, type EventNote } from '../publish/origin-events.ts';
import { decodeStoredRelease, DEFAULT_DECODE_LIMITS, ReleaseDecodeError, storedValuesOf, type DecodeLimits } from '../decode/decode.ts';
import type { ReleaseRecord, StoredReleaseObject, StoredValues } from '../model/release.ts';
import type { ChartSource } from '../model/repository.ts';
import { redactUrl } from '../sources/url.ts';
import { statusOf, type ChartOriginStore, type ExistingOrigin } from '../publish/chart-origins.ts';
import { carryTransitionTimes, decodeErrorCondition, statusPolicy } from '../publish/status-policy.ts';
import { getObject } from '../kube/core-objects.ts';
import type { KubeConfig } from '../kube/kubeconfig.ts';
import type { CurrentRevision, ReleaseIndex } from '../watch/release-index.ts';
import { storedReleaseObject } from '../watch/list-releases.ts';
import { formatTime } from '../util/time.ts';
import type { FluxHint } from '../chart/flux-build.ts';
import { fluxOwnershipCandidate, releaseFluxOwner, type FluxOwnershipCandidate } from '../sources/discovery/flux.ts';

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
  upstreamStaleAfterSeconds?: number | undefined;
  decodeLimits?: DecodeLimits;
  now?: () => Date;
  /** Kubernetes Events about ChartOrigins (changes of origin, deprecation, signatures); none when absent. */
  events?: { emit(target: { namespace: string; name: string; uid?: string | undefined }, notes: readonly EventNote[]): Promise<void> };
  /** Called after a report was published (write-back hooks in here). */
  published?: (current: CurrentRevision, report: OriginReport) => Promise<void>;
  /** Reads what the HelmRelease of a Flux-managed release says about its chart build (undefined: unreadable). */
  fluxHint?: (owner: { namespace: string; name: string }) => Promise<FluxHint | undefined>;
  /**
   * The HelmRelease that names this release (by its key, `<storage namespace>/<release>`), for releases whose
   * manifest carries no Flux origin label (controller/flux-owners.ts).
   */
  fluxOwner?: (key: string) => { namespace: string; name: string } | undefined;
  /** The same after a list of HelmReleases that started at or after `since` (called before publishing a Mismatch). */
  refreshFluxOwners?: (key: string, since: number) => Promise<{ namespace: string; name: string } | undefined>;
  /**
   * The same by a list recent enough for the release (sources/discovery/flux.ts fluxListNeeded; `now`: when the
   * first reconcile that read this revision began, Date.now()): before anything is published of a release whose owner only a HelmRelease's
   * claim can tell, and with `everyLabelless` before `published` may write into one without origin labels.
   */
  fluxOwnerFor?: (key: string, release: FluxOwnershipCandidate, now: number, options?: { everyLabelless?: boolean }) => Promise<{ namespace: string; name: string } | undefined>;
}

export type ReconcileResult = 'success' | 'deleted' | 'unchanged' | 'requeue';

interface Memo {
  inputs: string;
  report?: OriginReport | undefined;
}

/**
 * key (namespace/release) → the observed current revision → ChartOrigin status and metrics.
 * Idempotent: a duplicate event finds the same inputs and does nothing; a restart recomputes the same
 * status. Repository failures keep the last good result, marked Stale, instead of erasing it.
 */
export class ReleaseReconciler {
  readonly #o: ReconcilerOptions;
  readonly #memo = new Map<string, Memo>();
  /**
   * When a reconcile first read the current revision of a release only a HelmRelease can name (no origin label, no
   * object in its manifest): Date.now() at its start. Those releases only; dropped on uninstall.
   */
  readonly #firstRead = new Map<string, { object: string; at: number }>();

  constructor(options: ReconcilerOptions) {
    this.#o = options;
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const begun = performance.now();
    const begunWall = Date.now();
    const { index, origins, metrics, logger } = this.#o;
    const current = index.current(key);
    const slash = key.indexOf('/');
    const namespace = key.slice(0, slash);
    const name = key.slice(slash + 1);
    if (!current) {
      this.#memo.delete(key);
      this.#firstRead.delete(key);
      metrics.removeRelease(namespace, name);
      const deleted = await origins.delete(namespace, name);
      if (deleted) logger.info({ namespace, release: name }, 'release uninstalled; ChartOrigin deleted');
      return 'deleted';
    }
    // Everything the result depends on: the release object's version, the ChartOrigin (its uid: a
    // deleted and recreated one must be written again; its generation: a spec edit) and the repositories.
    // Joined, not a template literal: a template literal's result is a rope of its pieces, and one is kept
    // per release (430 bytes each in a heap snapshot at 2,000 releases, against ~90 flat).
    let owner = this.#o.fluxOwner?.(key);
    const inputsOf = (o: ExistingOrigin): string => [current.storage, '/', current.objectName, '@', current.resourceVersion, '|u', o.uid, '|g', o.generation, '|r', this.#o.repositories.generation(), ...(owner ? ['|f', owner.namespace, '/', owner.name] : [])].join('');
    const memo = this.#memo.get(key);
    // A ChartOrigin an Argo CD Application declared under this name (an app that took over a release helm
    // installed, whose Secret is still here): the release takes it over — create() applies the metadata without
    // the declared-by label — and the Application's side leaves it alone from then on, so the two never alternate.
    const found = origins.get(namespace, name);
    const cached = found?.declaredBy === undefined ? found : undefined;
    if (cached && memo?.inputs === inputsOf(cached)) return 'unchanged';
    const existing = cached ?? (await origins.create(namespace, name));
    let inputs = inputsOf(existing);
    const uid = existing.uid;
    const emit = async (notes: readonly EventNote[]): Promise<void> => {
      if (notes.length) await this.#o.events?.emit({ namespace, name, uid }, notes);
    };

    const obj = await this.#read(current, current.objectName, current.resourceVersion);
    if (!obj) return 'unchanged'; // gone between the event and the read; its delete event follows
    const now = (this.#o.now ?? (() => new Date()))();
    let record: ReleaseRecord;
    try {
      record = decodeStoredRelease(obj, this.#o.decodeLimits ?? DEFAULT_DECODE_LIMITS);
    } catch (err) {
      if (!(err instanceof ReleaseDecodeError)) throw err;
      metrics.countDecodeError(err.reason);
      logger.warn({ namespace, release: name, reason: err.reason, err: err.message }, 'release data cannot be decoded');
      await origins.applyStatus(namespace, name, {
        release: { name, namespace, revision: current.revision, status: 'unknown', storage: current.storage },
        lastChecked: formatTime(now),
        conditions: carryTransitionTimes([decodeErrorCondition(err.message, now)], existing.conditions),
        observedGeneration: existing.generation,
      });
      metrics.removeRelease(namespace, name);
      this.#memo.set(key, { inputs });
      await emit(decodeErrorEvent(existing.published, err.message));
      return 'success';
    }

    // No origin label (nothing rendered carries one) but a HelmRelease names the release by its storage key:
    // Flux's all the same (the rule `scan` follows too). One deployed since the last list of HelmReleases began,
    // with no object in its manifest (hooks only, nothing enabled), may belong to a HelmRelease that list did not
    // see: nothing is published of it — managedBy, metrics, Events, the proof rules — before a list that did (one
    // list serves every release waiting, flux-owners.ts). A failed list fails the reconcile (retried with
    // back-off); a forbidden one counts as none.
    const candidate = (): FluxOwnershipCandidate => fluxOwnershipCandidate(record);
    // A list begun after any reconcile read this revision began also began after its deploy (on the controller's
    // own clock, no skew): a later reconcile of it (pending-install → deployed, a requeue) is not another list.
    let firstRead = begunWall;
    if (!record.flux && record.manifestObjects !== true) {
      const read = this.#firstRead.get(key);
      if (read?.object === current.objectName) firstRead = read.at;
      else this.#firstRead.set(key, { object: current.objectName, at: begunWall });
    } else {
      this.#firstRead.delete(key);
    }
    if (!record.flux && this.#o.fluxOwnerFor) {
      owner = await this.#o.fluxOwnerFor(key, candidate(), firstRead);
      inputs = inputsOf(existing);
    }
    const fluxOwner = releaseFluxOwner(record, key, () => owner);
    if (fluxOwner !== record.flux) record = { ...record, flux: fluxOwner };
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
      spec: existing.spec,
      cache: this.#o.cache,
      verify: this.#o.verify,
      upstreamStaleAfterSeconds: this.#o.upstreamStaleAfterSeconds,
      now: () => now,
      revision: (revision) => this.#storedValues(current, revision),
    });
    // A tamper alarm for a release without origin labels waits for a fresh list of HelmReleases: one created
    // since the last list may name it (its Flux build then explains the difference). Mismatches are rare, so is this list.
    // A failed list fails the reconcile (it is retried with back-off): the alarm waits, it is not raised blind
    // (a forbidden list counts as none, flux-owners.ts).
    if (report.origin.match === 'Mismatch' && !record.flux && this.#o.refreshFluxOwners) {
      if (await this.#o.refreshFluxOwners(key, begun)) return this.reconcile(key);
    } else if (this.#o.published && report.origin.match === 'Verified' && !record.flux && this.#o.fluxOwnerFor) {
      // `published` may write into a Verified release (--write-back): never into Flux's, including one whose
      // HelmRelease is newer than the last list of them. A failed list fails the reconcile too, rather than risk the write.
      if (await this.#o.fluxOwnerFor(key, candidate(), firstRead, { everyLabelless: true })) return this.reconcile(key);
    }
    const sources = this.#o.repositories.sources();
    for (const f of failures) {
      const source = sources.find((s) => s.config.name === f.repository);
      if (source) metrics.countRepositoryError(f.repository, redactUrl(source.config.url), f.reason);
      logger.warn({ namespace, release: name, chart: record.chart.name, repository: f.repository, reason: f.reason, err: f.message }, 'repository error during analysis');
    }
    const decision = statusPolicy({ report, previous: memo?.report, failed: failures.map((f) => f.repository), unavailable: this.#o.repositories.unavailable(), shown: existing.conditions, now });
    const final = decision.report;
    await origins.applyStatus(namespace, name, statusOf(final, existing.generation));
    metrics.setRelease(final, { namespace, name });
    await emit(originEvents(existing.published, final));
    // An incomplete result is not memoised, so the retry really re-analyses; what was published is
    // remembered for the policy's keep-last-good.
    this.#memo.set(key, { inputs: decision.complete ? inputs : '', report: final });
    await this.#o.published?.(current, final);
    logger.debug({ namespace, release: name, chart: record.chart.name, match: final.origin.match }, 'reconciled');
    return decision.complete ? 'success' : 'requeue';
  }

  /**
   * A revision's values and config, for the --reuse-values proof (another revision) and the proof of values
   * written by the chart's templates (this one): one GET, made only when a release's values differ from a
   * fresh install's. Undefined when Helm no longer keeps that revision
   * (--history-max) or it cannot be decoded; the values are used once by the caller and dropped.
   */
  async #storedValues(c: CurrentRevision, revision: number): Promise<StoredValues | undefined> {
    const objectName = c.objectName.replace(/\.v\d+$/, `.v${revision}`);
    // The current revision's own values (the proof of values a chart's templates wrote, Helm < 3.13) are read
    // at the resourceVersion the watch reported (from the watch cache); another revision's is not known here:
    // that read goes to etcd.
    const obj = await this.#read(c, objectName, objectName === c.objectName ? c.resourceVersion : undefined);
    if (!obj) return undefined;
    try {
      return storedValuesOf(obj, this.#o.decodeLimits ?? DEFAULT_DECODE_LIMITS);
    } catch (err) {
      if (err instanceof ReleaseDecodeError) return undefined;
      throw err;
    }
  }

  /**
   * One release object of `c`'s release, with when the API server created it (metadata.creationTimestamp: when
   * that revision was first written, a deploy time for fluxOwnershipCandidate). With the resourceVersion the watch reported, the API server answers
   * from its watch cache (etcd CPU 0.23 → 0.01 ms per GET, bench/RESULTS.md); without one, from etcd.
   */
  async #read(c: CurrentRevision, objectName: string, resourceVersion: string | undefined): Promise<StoredReleaseObject | undefined> {
    const o = await getObject(this.#o.kubeConfig, c.storage, c.namespace, objectName, resourceVersion || undefined); // "" too: from etcd
    return o ? storedReleaseObject(c.storage, o) : undefined;
  }
}
