import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Condition } from '../model/report.ts';
import type { ChartOriginMetrics } from '../publish/metrics.ts';
import { createChartSource } from '../sources/source.ts';
import type { ChartSource, RepositoryConfig } from '../model/repository.ts';
import { redactUrl } from '../sources/url.ts';
import { GROUP, plainCondition, VERSION } from '../publish/chart-origins.ts';
import type { KubeConfig } from '../kube/kubeconfig.ts';
import { KubeApiError, kubeRequest } from '../kube/raw-client.ts';
import { MetadataReflector, type ObjectMeta } from '../kube/reflector.ts';
import { sleep } from '../util/sleep.ts';
import { checkKeyring } from '../signatures/prov.ts';
import { cosignKeys as parseCosignKeys, identityMatcher } from '../signatures/cosign.ts';
import { trustFromJson } from '../signatures/sigstore-trust.ts';
import { credentialReadingOf, parseRepositorySpec, resolveChartRepository, type CredentialReading } from '../sources/chart-repository.ts';
import type { RepositoryView } from './reconciler.ts';
import { formatTime } from '../util/time.ts';
import { CONDITION, REPOSITORY_REASON } from '../model/reasons.ts';

interface Managed {
  name: string;
  source?: ChartSource | undefined;
  /** Not from a ChartRepository object (the --config file): no status to write. */
  static: boolean;
  generation: number;
  resourceVersion: string;
  up?: boolean | undefined;
  downSince?: string | undefined;
  downReason?: string | undefined;
  timer?: AbortController | undefined;
  lastFetched?: string | undefined;
  charts?: number | undefined;
  failures: number;
  /** The ChartRepository's spec, read again with its Secrets before each probe (not for --config ones). */
  spec?: unknown;
  /** Whose reading of its Secret applies (credentialReadingOf its labels: a Flux OCIRepository's is go-containerregistry's). */
  reading: CredentialReading;
  /** sha256 of the configuration the source was made from: a rotated Secret changes it. */
  configDigest?: string | undefined;
  /** The spec's URL, redacted, and interval: for status and metrics while no source could be made yet. */
  url?: string | undefined;
  intervalSeconds?: number | undefined;
  /** Made from Secrets read just now (the upsert): the first probe need not read them again. */
  fresh?: boolean | undefined;
  /** The resourceVersion our last status write produced: another one on a watch event means someone else wrote. */
  ownResourceVersion?: string | undefined;
  /** The last status written: an identical one is not written again. */
  lastStatus?: string | undefined;
  /** When the Ready condition last changed status or reason, kept while it does not. */
  lastTransition?: { key: string; time: string } | undefined;
}

/**
 * The configuration a source is made from, as a digest: the spec's fields and everything read from the
 * referenced Secrets (credentials, CA, client certificate, keys). Kept as a hash so that no credential is
 * held twice.
 */
function configDigest(config: RepositoryConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex');
}

/** A failed Secret read worth retrying soon without marking the repository down. */
const TRANSIENT_RETRY_MS = 5_000;

/**
 * Whether a failure to read a repository's Secrets is the API server's (throttled, unavailable, the
 * connection lost) rather than the Secret's (missing, forbidden, unusable).
 */
function transient(err: unknown): boolean {
  if (err instanceof KubeApiError) return err.status === 408 || err.status === 429 || err.status >= 500;
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  return typeof code === 'string' && /^(E[A-Z]+|UND_ERR_\w+|ERR_STREAM_PREMATURE_CLOSE)$/.test(code);
}

export interface RepositoryManagerOptions {
  kubeConfig: KubeConfig;
  metrics: ChartOriginMetrics;
  logger: Logger;
  /** Namespace for secretRef/caSecretRef without one: the controller's own. */
  defaultNamespace: string;
  /** Repositories from a file, in addition to ChartRepository objects. */
  staticRepositories?: readonly RepositoryConfig[];
  /** Watch ChartRepository objects (false when the CRD is not installed, e.g. CLI-only setups). */
  watchCustomResources?: boolean;
  /** Called when repository content or configuration changed: releases should be re-analysed. */
  changed: () => void;
  /** Upper bound for the back-off between failed probes. */
  maxBackoffSeconds?: number;
}


/**
 * The configured repositories: ChartRepository objects (credentials from referenced Secrets) and
 * static ones. Each is probed on its own interval with back-off on failure; a failing repository marks
 * only its own status and metrics and never blocks the others.
 */
export class RepositoryManager implements RepositoryView {
  readonly #o: RepositoryManagerOptions;
  readonly #repos = new Map<string, Managed>();
  #generation = 0;
  #signal: AbortSignal | undefined;
  #synced = false;

  constructor(options: RepositoryManagerOptions) {
    this.#o = options;
  }

  sources(): readonly ChartSource[] {
    const out: ChartSource[] = [];
    for (const r of this.#repos.values()) if (r.source) out.push(r.source);
    return out;
  }

  generation(): number {
    return this.#generation;
  }

  unavailable(): ReadonlyMap<string, { since: string; reason: string }> {
    const out = new Map<string, { since: string; reason: string }>();
    for (const r of this.#repos.values()) if (r.up === false) out.set(r.name, { since: r.downSince ?? '', reason: r.downReason ?? 'error' });
    return out;
  }

  get synced(): boolean {
    return this.#synced;
  }

  async run(signal: AbortSignal): Promise<void> {
    this.#signal = signal;
    for (const cfg of this.#o.staticRepositories ?? []) {
      const m: Managed = { name: cfg.name, static: true, generation: 0, resourceVersion: '', failures: 0, reading: 'helm', source: createChartSource(cfg) };
      this.#repos.set(cfg.name, m);
      this.#schedule(m, 0);
    }
    this.#bump();
    if (this.#o.watchCustomResources === false) {
      this.#synced = true;
      return;
    }
    const reflector = new MetadataReflector({
      kubeConfig: this.#o.kubeConfig,
      path: `/apis/${GROUP}/${VERSION}/chartrepositories`,
      full: true,
      logger: this.#o.logger,
      onWatchRestart: (reason) => this.#o.metrics.countWatchRestart('chartrepositories', reason),
      handler: {
        upsert: (m) => void this.#upsert(m),
        remove: (m) => this.#remove(m.name),
        synced: () => {
          this.#synced = true;
        },
      },
    });
    await reflector.run(signal);
    for (const r of this.#repos.values()) r.timer?.abort();
  }

  #bump(): void {
    this.#generation++;
    this.#o.changed();
  }

  #remove(name: string): void {
    const r = this.#repos.get(name);
    if (!r || r.static) return;
    r.timer?.abort();
    void r.source?.close();
    this.#repos.delete(name);
    this.#o.metrics.removeRepository(name);
    this.#bump();
  }

  async #upsert(m: ObjectMeta): Promise<void> {
    const prev = this.#repos.get(m.name);
    if (prev?.static) {
      this.#o.logger.warn({ repository: m.name }, 'ChartRepository has the name of a --config repository; the file wins');
      return;
    }
    // A status-only update (ours included): nothing to do, also while the repository waits for a retry. A
    // status someone else wrote (another replica, `kubectl edit --subresource=status`) is not the one we
    // remember: the next status is written even if it equals ours.
    const object = m.object as { metadata?: { labels?: unknown }; spec?: unknown; status?: { conditions?: unknown } } | undefined;
    // Labels do not move the generation: a new reading of the Secret (Flux discovery relabelled it) is a change too.
    const reading = credentialReadingOf(object?.metadata?.labels);
    if (prev && prev.generation === m.generation && prev.reading === reading) {
      if (m.resourceVersion !== prev.ownResourceVersion) prev.lastStatus = undefined;
      return;
    }
    prev?.timer?.abort();
    this.#retire(prev?.source);
    const managed: Managed = { name: m.name, static: false, generation: m.generation, resourceVersion: m.resourceVersion, failures: 0, reading };
    this.#repos.set(m.name, managed);
    const spec = object?.spec;
    managed.spec = spec;
    // The Ready condition's lastTransitionTime survives a restart, a lease handover and a spec edit while its
    // status does not change (as Kubernetes' SetStatusCondition keeps it).
    const ready = Array.isArray(object?.status?.conditions) ? (object.status.conditions as Partial<Condition>[]).find((c) => c?.type === CONDITION.Ready) : undefined;
    if (typeof ready?.status === 'string' && typeof ready.lastTransitionTime === 'string') managed.lastTransition = { key: ready.status, time: ready.lastTransitionTime };
    try {
      // The spec alone: an invalid one stays invalid until it is edited (a new generation), so no retry.
      const parsed = parseRepositorySpec(spec, this.#o.defaultNamespace);
      managed.url = redactUrl(parsed.url);
      managed.intervalSeconds = parsed.intervalSeconds;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.#o.logger.warn({ repository: m.name, err: message }, 'ChartRepository cannot be used');
      // Edited into an invalid spec: the old source is gone, so are its series, and releases are looked at again.
      this.#o.metrics.removeRepository(m.name);
      if (prev?.source) this.#bump();
      await this.#writeStatus(managed, { type: CONDITION.Ready, status: 'False', reason: REPOSITORY_REASON.InvalidSpec, message, lastTransitionTime: formatTime(new Date()) });
      return;
    }
    // Secrets now, so that the repository is among sources() from the start (as it was when only the upsert
    // read them); again before each later probe. A failure schedules its own retry.
    const source = await this.#refresh(managed);
    if (!source || this.#repos.get(m.name) !== managed) return;
    managed.fresh = true;
    this.#bump();
    this.#schedule(managed, 0);
  }

  /**
   * A ChartRepository's spec → its configuration, with the referenced Secrets read (with the controller's
   * permissions) and checked as the sources and signature stages will use them: keys parse, identity
   * expressions compile, a trusted root from a Secret is one Sigstore can use.
   */
  async #resolve(name: string, spec: unknown, reading: CredentialReading): Promise<RepositoryConfig> {
    const config = await resolveChartRepository(this.#o.kubeConfig, name, spec, this.#o.defaultNamespace, reading);
    const refs = (): ReturnType<typeof parseRepositorySpec> => parseRepositorySpec(spec, this.#o.defaultNamespace);
    if (config.cosignPublicKeys) {
      try {
        parseCosignKeys(config.cosignPublicKeys);
      } catch (err) {
        const ref = refs().cosignKeySecretRef;
        throw new Error(`Secret ${ref?.namespace}/${ref?.name}: ${(err as Error).message}`);
      }
    }
    if (config.keyring) {
      try {
        await checkKeyring(config.keyring);
      } catch (err) {
        const ref = refs().keyringSecretRef;
        throw new Error(`Secret ${ref?.namespace}/${ref?.name}: ${(err as Error).message}`);
      }
    }
    if (config.keyless) {
      identityMatcher(config.keyless.identities);
      if (config.keyless.trustedRootJson !== undefined) {
        try {
          await trustFromJson(config.keyless.trustedRootJson);
        } catch (err) {
          const ref = refs().keyless?.trustedRootSecretRef;
          throw new Error(`Secret ${ref?.namespace}/${ref?.name}: ${(err as Error).message}`);
        }
      }
    }
    return config;
  }

  /**
   * Secrets change without their ChartRepository changing: cert-manager renews a client certificate, a token
   * or password is rotated, a missing Secret is created. As Flux's source-controller reads a source's Secrets
   * on every reconcile, they are read before each probe (one GET per referenced Secret per interval, or per
   * back-off step while failing), and a changed configuration replaces the source. Returns the source to
   * probe, or undefined when there is none to probe now (a retry is then scheduled, or the repository was
   * replaced meanwhile).
   */
  async #refresh(r: Managed): Promise<ChartSource | undefined> {
    if (r.static) return r.source;
    if (r.fresh && r.source) {
      r.fresh = false;
      return r.source;
    }
    let config: RepositoryConfig;
    try {
      config = await this.#resolve(r.name, r.spec, r.reading);
    } catch (err) {
      // Replaced (the ChartRepository changed) or removed while its Secrets were read: the new one probes itself.
      if (this.#repos.get(r.name) !== r || this.#signal?.aborted) return undefined;
      const message = err instanceof Error ? err.message : String(err);
      if (!r.source && transient(err)) {
        // No source yet and the API server, not the Secret, failed: down, but not "InvalidSpec".
        await this.#markDown(r, 'unavailable', `Secrets not read: ${message}`, REPOSITORY_REASON.FetchFailed);
        return undefined;
      }
      if (r.source && transient(err)) {
        // The API server, not the Secret: one failed GET must not mark the repository down (every release
        // would be re-analysed twice). The last good configuration stays in use; read again soon.
        this.#o.logger.debug({ repository: r.name, err: message }, 'ChartRepository Secrets not read; retrying');
        this.#schedule(r, TRANSIENT_RETRY_MS * (0.8 + Math.random() * 0.4));
        return undefined;
      }
      // The source made from the last good Secrets, if any, stays in use; the status says why.
      if (r.up !== false) this.#o.logger.warn({ repository: r.name, err: message }, 'ChartRepository cannot be used');
      await this.#markDown(r, 'invalid_config', message, REPOSITORY_REASON.InvalidSpec);
      return undefined;
    }
    if (this.#repos.get(r.name) !== r) return undefined;
    const digest = configDigest(config);
    if (r.source && digest === r.configDigest) return r.source;
    if (r.source) this.#o.logger.info({ repository: r.name }, 'ChartRepository Secrets changed: the repository is read with the new ones');
    let next: ChartSource;
    try {
      next = createChartSource(config);
    } catch (err) {
      // Unreachable once the spec parser checked the URL; a client that cannot be made is the spec's fault.
      await this.#markDown(r, 'invalid_config', err instanceof Error ? err.message : String(err), REPOSITORY_REASON.InvalidSpec);
      return undefined;
    }
    this.#retire(r.source);
    r.source = next;
    r.configDigest = digest;
    // The next probe bumps when the new source comes up (its first load counts as a change): no bump here.
    return r.source;
  }

  /**
   * Closes a replaced source once lookups already under way through it had their time: closing destroys its
   * sockets, and a tarball download in flight would fail (its reconcile then retried for nothing). Lookups
   * started after the replacement use the new source.
   */
  #retire(source: ChartSource | undefined): void {
    if (!source) return;
    const t = setTimeout(() => void source.close(), (source.config.timeoutSeconds ?? 60) * 1000);
    t.unref();
  }

  #schedule(r: Managed, delayMs: number): void {
    r.timer?.abort();
    // Stopped (shutdown, lease lost): no more probes, which would fail on the aborted signal and report a
    // failure over the new leader's status.
    if (this.#signal?.aborted) return;
    const timer = new AbortController();
    r.timer = timer;
    const outer = this.#signal;
    const stop = (): void => timer.abort();
    outer?.addEventListener('abort', stop, { once: true });
    void (async () => {
      await sleep(delayMs, timer.signal);
      outer?.removeEventListener('abort', stop);
      if (timer.signal.aborted || this.#repos.get(r.name) !== r) return;
      await this.#probe(r);
    })();
  }

  async #probe(r: Managed): Promise<void> {
    const source = await this.#refresh(r);
    if (!source || this.#repos.get(r.name) !== r) return;
    const url = redactUrl(source.config.url);
    const started = performance.now();
    const now = new Date();
    let result: Awaited<ReturnType<ChartSource['probe']>>;
    try {
      result = await source.probe(this.#signal);
    } catch (err) {
      // Replaced while probing: the new one reports for itself; stopped: nothing to report.
      if (this.#repos.get(r.name) !== r || r.source !== source || this.#signal?.aborted) return;
      const reason = typeof err === 'object' && err !== null && 'reason' in err && typeof err.reason === 'string' ? err.reason : 'error';
      const message = err instanceof Error ? err.message : String(err);
      this.#o.metrics.observeRepositoryFetch(r.name, url, (performance.now() - started) / 1000, reason);
      await this.#markDown(r, reason, message, REPOSITORY_REASON.FetchFailed);
      return;
    }
    if (this.#repos.get(r.name) !== r || r.source !== source) return;
    this.#o.metrics.observeRepositoryFetch(r.name, url, (performance.now() - started) / 1000);
    const cameUp = r.up !== true;
    r.up = true;
    r.downSince = undefined;
    r.downReason = undefined;
    r.failures = 0;
    r.lastFetched = formatTime(now);
    r.charts = result.charts;
    this.#o.metrics.setRepositoryState(r.name, url, { up: true, lastSuccess: now, charts: result.charts });
    if (cameUp) this.#o.logger.info({ repository: r.name, url, charts: result.charts }, 'repository ready');
    await this.#writeStatus(r, { type: CONDITION.Ready, status: 'True', reason: REPOSITORY_REASON.Fetched, message: `${result.charts} charts`, lastTransitionTime: formatTime(now) });
    if (this.#repos.get(r.name) !== r) return;
    if (result.changed || cameUp) this.#bump();
    this.#schedule(r, source.config.intervalSeconds * 1000);
  }

  /** A failed probe (or Secrets that cannot be used): status, metrics, and the next try after a back-off. */
  async #markDown(r: Managed, reason: string, message: string, conditionReason: string): Promise<void> {
    const url = r.source ? redactUrl(r.source.config.url) : (r.url ?? '');
    const now = new Date();
    const wentDown = r.up !== false;
    r.up = false;
    if (wentDown) r.downSince = formatTime(now);
    r.downReason = reason;
    r.failures++;
    this.#o.metrics.setRepositoryState(r.name, url, { up: false });
    if (wentDown) this.#o.logger.warn({ repository: r.name, url, reason, err: message }, 'repository unavailable');
    await this.#writeStatus(r, { type: CONDITION.Ready, status: 'False', reason: conditionReason, message, lastTransitionTime: formatTime(now) });
    if (this.#repos.get(r.name) !== r) return;
    if (wentDown) this.#bump();
    const interval = r.source?.config.intervalSeconds ?? r.intervalSeconds ?? 3600;
    const cap = Math.min(interval, this.#o.maxBackoffSeconds ?? 300);
    const backoff = Math.min(cap, 5 * 2 ** Math.min(r.failures - 1, 10));
    this.#schedule(r, backoff * 1000 * (0.8 + Math.random() * 0.4));
  }

  /**
   * The ChartRepository's status, for the current object only (a replaced one's late answer must not
   * overwrite its successor's). The condition's lastTransitionTime moves only when its status does, and a status equal to the last one written is not written again: a repository failing the same
   * way at every back-off step costs no write (and no watch event) after the first.
   */
  async #writeStatus(r: Managed, ready: Condition): Promise<void> {
    if (r.static || this.#repos.get(r.name) !== r || this.#signal?.aborted) return;
    const transitionKey = ready.status;
    if (r.lastTransition?.key === transitionKey) ready = { ...ready, lastTransitionTime: r.lastTransition.time };
    else r.lastTransition = { key: transitionKey, time: ready.lastTransitionTime };
    const status = { conditions: [plainCondition(ready)], charts: r.charts, lastFetched: r.lastFetched, observedGeneration: r.generation };
    const written = JSON.stringify(status);
    if (written === r.lastStatus) return;
    try {
      const res = await kubeRequest<{ metadata?: { resourceVersion?: string } }>(this.#o.kubeConfig, {
        method: 'PATCH',
        path: `/apis/${GROUP}/${VERSION}/chartrepositories/${encodeURIComponent(r.name)}/status`,
        query: { fieldManager: 'chartorigin', force: true },
        headers: { 'Content-Type': 'application/apply-patch+yaml' },
        body: JSON.stringify({ apiVersion: `${GROUP}/${VERSION}`, kind: 'ChartRepository', metadata: { name: r.name }, status }),
      });
      r.lastStatus = written;
      r.ownResourceVersion = res.metadata?.resourceVersion;
    } catch (err) {
      this.#o.logger.warn({ repository: r.name, err: (err as Error).message }, 'cannot write ChartRepository status');
    }
  }
}
