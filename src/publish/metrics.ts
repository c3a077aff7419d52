/**
 * The contract's Prometheus metrics (../shared/docs/product.md, "Metrics"). Names and labels are public API.
 *
 * Values are set when something changes (a reconcile, a repository fetch), never computed at scrape time:
 * a scrape only serializes what is already there, so its cost does not depend on the repositories or the API.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { OriginReport } from '../model/report.ts';
import { REPO_ERROR_REASONS } from '../model/repository.ts';
import { RELEASE_DECODE_REASONS } from '../decode/decode.ts';
import { intern } from '../util/intern.ts';

export type ReconcileResult = 'success' | 'error' | 'requeue' | 'deleted';

export interface RepositoryState {
  up: boolean;
  lastSuccess?: Date | undefined;
  charts?: number | undefined;
}

export interface ChartOriginMetricsOptions {
  /** The registry to register into; a new one when absent. */
  registry?: Registry | undefined;
  /** Register prom-client's process metrics (default true). */
  defaultMetrics?: boolean | undefined;
}

type Labels = Record<string, string>;

/**
 * A per-release family. Its series are not prom-client gauges: with 2,000 releases they are ~14,000 series,
 * and prom-client serialised all of them again on every scrape after any change (median 69 ms, issue #7).
 * Each release keeps its own rendered lines instead, and a scrape joins them.
 */
interface ReleaseFamily {
  name: string;
  help: string;
  /** Its slot in a release's lines. */
  index: number;
}

/**
 * A release's rendered series: the labels every family shares (namespace, release, chart) once, and per
 * family slot the rest of its line ('' where it has none), so a line is `name{` + base + slot. Built with
 * join(), not template literals: a template literal leaves a rope of string pieces. Measured in heap
 * snapshots: whole lines as ropes were 330 bytes per series (5.2 MiB at 2,000 releases, the largest
 * per-release structure); flat whole lines 1.5 KiB per release at 10,000.
 */
interface ReleaseLines {
  base: string;
  slots: string[];
}

/** prom-client's escaping of label values (backslash, newline, double quote). */
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** prom-client's rendering of sample values. */
function sampleValue(value: number): string {
  if (Number.isNaN(value)) return 'Nan';
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return String(value);
}

interface RepositoryRecord {
  url: string;
  errorReasons: Set<string>;
  /** Whether a fetch duration was observed (the histogram has this label set). */
  observed: boolean;
}

const REPOSITORY_LABELS = ['repository', 'url'] as const;

/** Fetches range from a local file server (ms) to a slow registry behind a proxy (a minute, the client timeout). */
const FETCH_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60];
/** A reconcile is mostly cached lookups; a cold one fetches a tarball. */
const RECONCILE_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const RECONCILE_RESULTS: readonly ReconcileResult[] = ['success', 'error', 'requeue', 'deleted'];

/**
 * A URL fit for a label: userinfo, query and fragment removed. Callers pass redacted URLs already; this is the
 * second fence, because a label is scraped, stored and shipped to places no log ever goes.
 */
export function labelSafeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString();
  } catch {
    const noQuery = url.split(/[?#]/, 1)[0] ?? '';
    return noQuery.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/@]*@/, '$1');
  }
}

/** Reasons are snake_case constants by convention; anything else is folded so a label cannot explode. */
function safeReason(reason: string): string {
  return /^[a-z0-9_]{1,64}$/.test(reason) ? reason : 'other';
}

function timestampSeconds(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms / 1000 : undefined;
}

function releaseKey(namespace: string, release: string): string {
  return `${namespace}/${release}`;
}

/** "v1.2.3" and "1.2.3" are the same version to Helm. */
function stripV(version: string): string {
  return version.startsWith('v') ? version.slice(1) : version;
}

/**
 * Every metric of the controller. `metrics()` is the whole exposition: the registry's metrics
 * (controller, repositories, process: few, changing all the time, serialised per scrape) followed by
 * the per-release families (kept rendered, see ReleaseFamily).
 */
export class ChartOriginMetrics {
  /** prom-client's registry: the metrics that are not per release. */
  readonly registry: Registry;

  readonly #releaseInfo: ReleaseFamily;
  readonly #releaseOutdated: ReleaseFamily;
  readonly #releaseVersionsBehind: ReleaseFamily;
  readonly #releaseMajorVersionsBehind: ReleaseFamily;
  readonly #releaseSignatureVerified: ReleaseFamily;
  readonly #releaseDeprecated: ReleaseFamily;
  readonly #installedCreated: ReleaseFamily;
  readonly #latestCreated: ReleaseFamily;
  readonly #securityUpdate: ReleaseFamily;
  readonly #upstreamStale: ReleaseFamily;

  readonly #repositoryUp: Gauge<string>;
  readonly #repositoryLastSuccess: Gauge<string>;
  readonly #repositoryFetchDuration: Histogram<string>;
  readonly #repositoryFetchErrors: Counter<string>;
  readonly #repositoryCharts: Gauge<string>;

  readonly #reconcileTotal: Counter<string>;
  readonly #reconcileDuration: Histogram<string>;
  readonly #decodeErrors: Counter<string>;
  readonly #releases: Gauge<string>;
  readonly #leader: Gauge<string>;
  readonly #shard: Gauge<string>;
  readonly #workqueueDepth: Gauge<string>;
  readonly #watchRestarts: Counter<string>;

  /** The per-release families in exposition order. */
  readonly #releaseFamilies: ReleaseFamily[] = [];
  /** namespace/release → the series currently exported for it. */
  readonly #releaseSeries = new Map<string, ReleaseLines>();
  readonly #repositories = new Map<string, RepositoryRecord>();

  constructor(options: ChartOriginMetricsOptions = {}) {
    const registry = options.registry ?? new Registry();
    this.registry = registry;
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
    const registers = [registry];

    // The label names (namespace, release, chart, then the family's own) are the ones setRelease renders.
    const releaseGauge = (name: string, help: string): ReleaseFamily => {
      const family = { name, help, index: this.#releaseFamilies.length };
      this.#releaseFamilies.push(family);
      return family;
    };
    this.#releaseInfo = releaseGauge(
      'chartorigin_release_info',
      'Installed chart of a Helm release and where it came from; always 1.',
    );
    this.#releaseSignatureVerified = releaseGauge(
      'chartorigin_release_signature_verified',
      "1 when the origin's provenance (.prov) signature is good for a key of the repository keyring and signs the served tarball; 0 otherwise. Present when the repository has a keyring, requires signatures, or serves a .prov.",
    );
    this.#releaseOutdated = releaseGauge(
      'chartorigin_release_outdated',
      '1 when a newer allowed chart version that is not deprecated exists in the origin repository (latest_version: the newest such version, the upgrade target), 0 when up to date.',
    );
    this.#releaseVersionsBehind = releaseGauge(
      'chartorigin_release_versions_behind',
      'Number of newer allowed chart versions than the installed one.',
    );
    this.#releaseMajorVersionsBehind = releaseGauge(
      'chartorigin_release_major_versions_behind',
      'Major versions between the installed chart and the newest allowed one.',
    );
    this.#releaseDeprecated = releaseGauge(
      'chartorigin_release_deprecated',
      '1 when the installed chart version is deprecated, or the chart is deprecated upstream (its newest published version is).',
    );
    this.#installedCreated = releaseGauge(
      'chartorigin_release_installed_version_created_timestamp_seconds',
      'When the installed chart version was published (index created / OCI annotation), Unix seconds.',
    );
    this.#latestCreated = releaseGauge(
      'chartorigin_release_latest_version_created_timestamp_seconds',
      'When the newest allowed chart version was published (index created / OCI annotation), Unix seconds.',
    );
    this.#securityUpdate = releaseGauge(
      'chartorigin_release_security_update_available',
      '1 when a newer allowed chart version says it contains security updates (artifacthub.io/containsSecurityUpdates), 0 otherwise.',
    );
    this.#upstreamStale = releaseGauge(
      'chartorigin_release_upstream_stale',
      "1 when the chart's newest published version is older than --upstream-stale-after (default one year), 0 otherwise; absent when its age is unknown.",
    );


    this.#repositoryUp = new Gauge({
      name: 'chartorigin_repository_up',
      help: '1 when the last fetch of the repository succeeded.',
      labelNames: REPOSITORY_LABELS,
      registers,
    });
    this.#repositoryLastSuccess = new Gauge({
      name: 'chartorigin_repository_last_success_timestamp_seconds',
      help: 'When the repository was last fetched successfully, Unix seconds.',
      labelNames: REPOSITORY_LABELS,
      registers,
    });
    this.#repositoryFetchDuration = new Histogram({
      name: 'chartorigin_repository_fetch_duration_seconds',
      help: 'Duration of repository fetches (index, tags, manifests, tarballs).',
      labelNames: REPOSITORY_LABELS,
      buckets: FETCH_BUCKETS,
      registers,
    });
    this.#repositoryFetchErrors = new Counter({
      name: 'chartorigin_repository_fetch_errors_total',
      help: 'Failed repository fetches by reason.',
      labelNames: [...REPOSITORY_LABELS, 'reason'],
      registers,
    });
    this.#repositoryCharts = new Gauge({
      name: 'chartorigin_repository_charts',
      help: 'Charts in the repository index (HTTP) or chart repositories looked up so far (OCI).',
      labelNames: REPOSITORY_LABELS,
      registers,
    });

    this.#reconcileTotal = new Counter({
      name: 'chartorigin_reconcile_total',
      help: 'Reconciles of Helm releases by result.',
      labelNames: ['result'],
      registers,
    });
    this.#reconcileDuration = new Histogram({
      name: 'chartorigin_reconcile_duration_seconds',
      help: 'Duration of one release reconcile.',
      buckets: RECONCILE_BUCKETS,
      registers,
    });
    this.#decodeErrors = new Counter({
      name: 'chartorigin_release_decode_errors_total',
      help: 'Helm release objects that could not be decoded, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.#releases = new Gauge({ name: 'chartorigin_releases', help: 'Helm releases tracked.', registers });
    this.#leader = new Gauge({ name: 'chartorigin_leader', help: '1 when this replica is the leader.', registers });
    this.#shard = new Gauge({
      name: 'chartorigin_shard_info',
      help: 'The shard this replica serves (shard of shards); 0 of 1 when not sharded. Releases and per-release series are per shard: sum over shards.',
      labelNames: ['shard', 'shards'],
      registers,
    });
    this.#workqueueDepth = new Gauge({
      name: 'chartorigin_workqueue_depth',
      help: 'Release keys waiting in the work queue.',
      registers,
    });

    this.#watchRestarts = new Counter({
      name: 'chartorigin_watch_restarts_total',
      help: 'Watches re-opened, by resource and reason: expired = 410 Gone, relisted; error = resumed from the last resourceVersion.',
      labelNames: ['resource', 'reason'],
      registers,
    });

    // Present from the start so that rate() and absent() alerts work before the first event.
    for (const result of RECONCILE_RESULTS) this.#reconcileTotal.inc({ result }, 0);
    for (const reason of RELEASE_DECODE_REASONS) this.#decodeErrors.inc({ reason }, 0);
    this.#leader.set(0);
    this.#shard.set({ shard: '0', shards: '1' }, 1);
    this.#releases.set(0);
    this.#workqueueDepth.set(0);
  }

  /**
   * Replaces every series of the report's release with the ones the report implies. `where` is its ChartOrigin
   * (default: the release's namespace and name): a release Flux installs into `targetNamespace` but stores in the
   * HelmRelease's namespace says the former in its JSON, while its ChartOrigin, its removal on uninstall and
   * the alerts' `kubectl get chartorigin -n <namespace>` are in the latter.
   */
  setRelease(report: OriginReport, where: { namespace: string; name: string } = report.release): void {
    const namespace = where.namespace;
    const release = where.name;
    const labelText = (labels: Labels, first: boolean): string[] => {
      const parts: string[] = [];
      for (const [k, v] of Object.entries(labels)) parts.push(first && !parts.length ? '' : ',', k, '="', escapeLabelValue(v), '"');
      return parts;
    };
    const series: ReleaseLines = { base: labelText({ namespace, release, chart: report.chart.name }, true).join(''), slots: this.#releaseFamilies.map(() => '') };
    const set = (family: ReleaseFamily, labels: Labels, value: number): void => {
      // A line's tail repeats across the releases of a chart version (`} 0` across most families): one copy.
      series.slots[family.index] = intern([...labelText(labels, false), '} ', sampleValue(value)].join(''));
    };

    set(
      this.#releaseInfo,
      {
        version: report.chart.version,
        app_version: report.chart.appVersion ?? '',
        repo_url: report.origin.repoURL ? labelSafeUrl(report.origin.repoURL) : '',
        tarball_digest: report.origin.tarballDigest ?? '',
        match: report.origin.match,
        signature: signatureLabel(report),
      },
      1,
    );
    const sig = report.origin.signature;
    if (sig) {
      set(this.#releaseSignatureVerified, { type: sig.type, reason: sig.reason, key_id: sig.keyID ?? '', required: String(sig.required) }, sig.verified ? 1 : 0);
    }

    // "Resolved" = the advice ran; from then on the series exists with 0 or 1, so `== 0` is meaningful.
    if (report.upgrade !== undefined || report.latest !== undefined) {
      const outdated =
        report.upgrade !== undefined
          ? report.upgrade !== 'None'
          : report.latest !== undefined && stripV(report.latest.version) !== stripV(report.chart.version);
      set(
        this.#releaseOutdated,
        { version: report.chart.version, latest_version: report.upgradeTarget ?? report.latest?.version ?? '' },
        outdated ? 1 : 0,
      );
    }
    if (report.latest) set(this.#securityUpdate, {}, report.latest.securityUpdates === true ? 1 : 0);
    if (report.upstreamStale !== undefined) set(this.#upstreamStale, {}, report.upstreamStale ? 1 : 0);
    if (report.versionsBehind !== undefined) set(this.#releaseVersionsBehind, {}, report.versionsBehind);
    if (report.majorVersionsBehind !== undefined) set(this.#releaseMajorVersionsBehind, {}, report.majorVersionsBehind);
    set(this.#releaseDeprecated, {}, report.chart.deprecated ? 1 : 0);
    const installedCreated = timestampSeconds(report.installedCreated);
    if (installedCreated !== undefined) set(this.#installedCreated, {}, installedCreated);
    const latestCreated = timestampSeconds(report.latest?.created);
    if (latestCreated !== undefined) set(this.#latestCreated, {}, latestCreated);

    this.#releaseSeries.set(releaseKey(namespace, release), series);
  }

  /** Removes every series of the release (uninstalled, or no longer ours after a leader change). */
  removeRelease(namespace: string, release: string): void {
    this.#releaseSeries.delete(releaseKey(namespace, release));
  }

  /** The whole exposition (what /metrics serves). */
  async metrics(): Promise<string> {
    return `${await this.registry.metrics()}\n${this.#renderReleases()}\n`;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * Joined on every scrape rather than cached: a cached text is a second copy of every line (~1.1 KiB per
   * release, 11 MiB at 10,000 releases, measured), and joining is cheap next to a scrape interval
   * (bench/metrics-scrape.ts: see bench/RESULTS.md).
   */
  #renderReleases(): string {
    const out: string[] = [];
    for (const f of this.#releaseFamilies) {
      if (out.length) out.push('');
      out.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${f.name} gauge`);
      const head = `${f.name}{`;
      for (const { base, slots } of this.#releaseSeries.values()) {
        const slot = slots[f.index];
        if (slot) out.push(head + base + slot);
      }
    }
    return out.join('\n');
  }

  /** Releases with series exported now. */
  releaseCount(): number {
    return this.#releaseSeries.size;
  }

  /** One fetch against a repository: its duration, and the reason when it failed. */
  observeRepositoryFetch(repository: string, url: string, seconds: number, errorReason?: string): void {
    const record = this.#repository(repository, url);
    const labels = { repository, url: record.url };
    this.#repositoryFetchDuration.observe(labels, seconds);
    record.observed = true;
    if (errorReason !== undefined) {
      const reason = safeReason(errorReason);
      this.#repositoryFetchErrors.inc({ ...labels, reason });
      record.errorReasons.add(reason);
    }
  }

  /** A repository failure met while analysing a release (tarball, manifest, listing): counted like a fetch error. */
  countRepositoryError(repository: string, url: string, reason: string): void {
    const record = this.#repository(repository, url);
    const r = safeReason(reason);
    this.#repositoryFetchErrors.inc({ repository, url: record.url, reason: r });
    record.errorReasons.add(r);
  }

  setRepositoryState(repository: string, url: string, state: RepositoryState): void {
    const record = this.#repository(repository, url);
    const labels = { repository, url: record.url };
    this.#repositoryUp.set(labels, state.up ? 1 : 0);
    if (state.lastSuccess) this.#repositoryLastSuccess.set(labels, state.lastSuccess.getTime() / 1000);
    if (state.charts !== undefined) this.#repositoryCharts.set(labels, state.charts);
  }

  removeRepository(repository: string): void {
    const record = this.#repositories.get(repository);
    if (!record) return;
    this.#removeRepositorySeries(repository, record);
    this.#repositories.delete(repository);
  }

  observeReconcile(result: ReconcileResult, seconds: number): void {
    this.#reconcileTotal.inc({ result });
    this.#reconcileDuration.observe(seconds);
  }

  countDecodeError(reason: string): void {
    this.#decodeErrors.inc({ reason: safeReason(reason) });
  }

  setReleasesTracked(count: number): void {
    this.#releases.set(count);
  }

  setLeader(leader: boolean): void {
    this.#leader.set(leader ? 1 : 0);
  }

  setShard(shard: number, shards: number): void {
    this.#shard.reset();
    this.#shard.set({ shard: String(shard), shards: String(shards) }, 1);
  }

  countWatchRestart(resource: string, reason: string): void {
    this.#watchRestarts.inc({ resource, reason: safeReason(reason) });
  }

  setWorkqueueDepth(depth: number): void {
    this.#workqueueDepth.set(depth);
  }

  /** The record of a repository; a changed URL drops the series under the old one (it would linger otherwise). */
  #repository(repository: string, url: string): RepositoryRecord {
    const safe = labelSafeUrl(url);
    const existing = this.#repositories.get(repository);
    if (existing && existing.url === safe) return existing;
    if (existing) this.#removeRepositorySeries(repository, existing);
    const record: RepositoryRecord = { url: safe, errorReasons: new Set(REPO_ERROR_REASONS), observed: false };
    this.#repositories.set(repository, record);
    // Every known reason from the start at 0: increase() and rate() then see the first error, and a
    // dashboard shows 0 instead of "No data" (a counter that is born at 1 has no increase to show).
    for (const reason of REPO_ERROR_REASONS) this.#repositoryFetchErrors.inc({ repository, url: safe, reason }, 0);
    return record;
  }

  #removeRepositorySeries(repository: string, record: RepositoryRecord): void {
    const labels = { repository, url: record.url };
    this.#repositoryUp.remove(labels);
    this.#repositoryLastSuccess.remove(labels);
    this.#repositoryCharts.remove(labels);
    if (record.observed) this.#repositoryFetchDuration.remove(labels);
    for (const reason of record.errorReasons) this.#repositoryFetchErrors.remove({ ...labels, reason });
  }
}

/** Bounded label value: "" when no signature was checked, else the reason in snake_case (verified, unsigned, unknown_key, bad_signature, digest_mismatch, malformed, identity_mismatch, untrusted_root, ...: a fixed set, src/model/report.ts). */
function signatureLabel(report: OriginReport): string {
  const reason = report.origin.signature?.reason;
  return reason ? reason.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase() : '';
}
