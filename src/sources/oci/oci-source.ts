import semver from 'semver';
import { isObject, str } from '../../util/guards.ts';
import { repositoryHttpClient, type HttpClient, type RepositoryHttpOptions } from '../http/client.ts';
import { listReferrers } from './referrers.ts';
import { DOCKER_MANIFEST, OCI_MANIFEST, OciClient, type OciDescriptor, type OciManifest } from './client.ts';
import { registryRequestHost } from './registry-host.ts';
import { CloudCredentials, type CloudIdentityOptions } from './cloud-identity.ts';
import { notesOf } from '../../chart/publisher-notes.ts';
import {
  RepoError,
  type ArtifactReader,
  type ChartSource,
  type ChartVersionEntry,
  type Credentials,
  type FetchedChart,
  type MovedTag,
  type ProbeResult,
  type ReferrersReport,
  type RepositoryConfig,
} from '../../model/repository.ts';
import { ociRepoURL, redactUrl } from '../url.ts';
import { formatTime } from '../../util/time.ts';
import { intern } from '../../util/intern.ts';

const HELM_CONFIG = 'application/vnd.cncf.helm.config.v1+json';
const HELM_CHART_LAYER = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';
const HELM_LEGACY_LAYER = 'application/tar+gzip';
const HELM_PROV_LAYER = 'application/vnd.cncf.helm.chart.provenance.v1.prov';
const CREATED_ANNOTATION = 'org.opencontainers.image.created';

export interface OciSourceOptions {
  http?: RepositoryHttpOptions | undefined;
  /** Tags per page (`?n=`); the registry's default when absent. */
  tagPageSize?: number | undefined;
  /** Refuse to follow more `Link: rel="next"` pages than this (default 100). */
  maxTagPages?: number | undefined;
  maxManifestBytes?: number | undefined;
  maxConfigBytes?: number | undefined;
  maxChartBytes?: number | undefined;
  /** Referrers listed per chart manifest at most (default 20). */
  maxReferrers?: number | undefined;
  /** Tags re-checked per probe for having moved (default 200, most recently read first). */
  maxTagChecks?: number | undefined;
  now?: (() => number) | undefined;
  /** Where a `provider`'s cloud identity is read (the environment, extra trust for its endpoints). */
  cloud?: CloudIdentityOptions | undefined;
}


/** semver.org's regular expression: Helm keeps tags that Masterminds' StrictNewVersion accepts (no `v`, all three numbers). */
const STRICT_SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

interface Details {
  entry: ChartVersionEntry;
  manifest: OciManifest;
  layer: OciDescriptor;
}

interface CachedTags {
  entries: ChartVersionEntry[];
  fetchedAt: number;
}

/** The chart layer: Helm's media type, or the legacy `application/tar+gzip`. */
function chartLayer(m: OciManifest): OciDescriptor | undefined {
  return m.layers.find((l) => l.mediaType === HELM_CHART_LAYER) ?? m.layers.find((l) => l.mediaType === HELM_LEGACY_LAYER);
}

/**
 * `oci://host[:port]/prefix` → registry base URL, the repository prefix and the host as written. The base
 * is where requests go: `docker.io` is served by `registry-1.docker.io` (as oras-go's Reference.Host
 * has it), while the URL as written stays the repository's identity (repoURL, names, logs).
 */
export function parseOciUrl(url: string, plainHTTP: boolean): { base: string; prefix: string; host: string; credentials: Credentials | undefined } {
  const u = new URL(url);
  if (u.protocol !== 'oci:') throw new Error(`not an oci:// URL: ${redactUrl(url)}`);
  if (!u.host) throw new Error(`oci:// URL without a host: ${redactUrl(url)}`);
  const prefix = u.pathname.replace(/^\/+|\/+$/g, '');
  const credentials: Credentials | undefined = u.username || u.password ? { kind: 'basic', username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } : undefined;
  return { base: `${plainHTTP ? 'http' : 'https'}://${registryRequestHost(u.host)}`, prefix, host: u.host, credentials };
}

/**
 * An OCI registry as a chart source: chart `x` lives at `<prefix>/x`; versions are its strict-semver tags
 * (`_` read as `+`), newest first; details and downloads come from the manifest and its layers.
 */
export class OciChartSource implements ChartSource {
  readonly config: RepositoryConfig;
  readonly kind = 'oci' as const;
  readonly client: OciClient;
  readonly #http: HttpClient;
  readonly #prefix: string;
  readonly #host: string;
  readonly #options: OciSourceOptions;
  readonly #now: () => number;
  readonly #tags = new Map<string, CachedTags>();
  readonly #details = new Map<string, Details>();
  readonly #referrers = new Map<string, { chart: string; report: ReferrersReport; fetchedAt: number }>();
  readonly #moved = new Map<string, MovedTag>();
  #everUp = false;

  constructor(config: RepositoryConfig, options: OciSourceOptions = {}) {
    this.config = config;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const parsed = parseOciUrl(config.url, config.plainHTTP);
    this.#prefix = parsed.prefix;
    this.#host = parsed.host;
    this.#http = repositoryHttpClient(config, options.http);
    const credentials = config.credentials ?? parsed.credentials;
    // A cloud provider stands in for credentials only where none are configured (source-controller uses the
    // provider only for a source without a secretRef).
    const ambient = config.provider && !credentials ? new CloudCredentials(config.name, config.provider, `${parsed.host}/${parsed.prefix}`, config, options.cloud) : undefined;
    this.client = new OciClient(config.name, parsed.base, this.#http, credentials, config.plainHTTP, this.#now, ambient);
  }

  /** `<prefix>/<chart>` in the registry. */
  repositoryName(chart: string): string {
    return this.#prefix ? `${this.#prefix}/${chart}` : chart;
  }

  /**
   * Whether the artifact at `<prefix>/<chart>:<reference>` (a tag or a manifest digest) is a Helm chart: false
   * when its manifest's config is another media type (Argo CD 3.1+ also syncs plain manifests pushed with
   * `oras push`), undefined when the manifest cannot be read (the analysis reports that as it is).
   */
  async artifactIsChart(chart: string, reference: string, signal?: AbortSignal): Promise<boolean | undefined> {
    try {
      const manifest = await this.client.manifest(this.repositoryName(chart), reference.replace(/\+/g, '_'), { maxBytes: this.#options.maxManifestBytes ?? 4 * 1024 * 1024, signal });
      return manifest.config.mediaType === HELM_CONFIG;
    } catch {
      return undefined;
    }
  }

  repoURL(chart: string): string {
    // One string per chart for every release's report (the controller keeps one per release).
    return intern(ociRepoURL(this.config.url, chart));
  }

  async versions(chart: string, signal?: AbortSignal): Promise<ChartVersionEntry[]> {
    const cached = this.#tags.get(chart);
    if (cached && this.#now() - cached.fetchedAt < this.config.intervalSeconds * 1000) return cached.entries;
    return (await this.#listTags(chart, signal)).entries;
  }

  async #listTags(chart: string, signal?: AbortSignal): Promise<CachedTags> {
    if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/.test(chart)) {
      // Not a valid OCI repository name component, so the registry cannot hold it.
      const empty = { entries: [], fetchedAt: this.#now() };
      this.#tags.set(chart, empty);
      return empty;
    }
    const name = this.repositoryName(chart);
    const tags = await this.client.tags(name, { pageSize: this.#options.tagPageSize, maxPages: this.#options.maxTagPages ?? 100, signal });
    const seen = new Set<string>();
    const versions: string[] = [];
    for (const tag of tags) {
      const version = tag.replace(/_/g, '+');
      if (!STRICT_SEMVER.test(version) || seen.has(version)) continue;
      seen.add(version);
      versions.push(version);
    }
    versions.sort((a, b) => semver.rcompare(a, b) || (a < b ? 1 : a > b ? -1 : 0));
    const repoUrl = this.repoURL(chart);
    const entries = versions.map((version) => {
      const known = this.#details.get(`${chart}:${version}`);
      return known ? known.entry : { name: chart, version, deprecated: false, urls: [`${repoUrl}:${version.replace(/\+/g, '_')}`] };
    });
    const result = { entries, fetchedAt: this.#now() };
    this.#tags.set(chart, result);
    return result;
  }

  async details(entry: ChartVersionEntry, signal?: AbortSignal): Promise<ChartVersionEntry> {
    return (await this.#loadDetails(entry, signal)).entry;
  }

  async #loadDetails(entry: ChartVersionEntry, signal?: AbortSignal): Promise<Details> {
    const key = `${entry.name}:${entry.version}`;
    const known = this.#details.get(key);
    if (known) return known;
    const name = this.repositoryName(entry.name);
    const tag = entry.version.replace(/\+/g, '_');
    const manifest = await this.client.manifest(name, tag, { maxBytes: this.#options.maxManifestBytes ?? 4 * 1024 * 1024, signal });
    const what = `manifest ${name}:${tag}`;
    if (manifest.config.mediaType !== HELM_CONFIG) {
      throw new RepoError(this.config.name, 'invalid_manifest', `repository ${this.config.name}: ${what}: config media type is not a Helm chart config`);
    }
    const layer = chartLayer(manifest);
    if (!layer) throw new RepoError(this.config.name, 'invalid_manifest', `repository ${this.config.name}: ${what}: no Helm chart layer`);
    const configBytes = await this.client.blob(name, manifest.config, { maxBytes: this.#options.maxConfigBytes ?? 1024 * 1024, signal, what: `chart config of ${name}:${tag}` });
    let meta: unknown;
    try {
      meta = JSON.parse(configBytes.toString('utf8'));
    } catch {
      throw new RepoError(this.config.name, 'invalid_manifest', `repository ${this.config.name}: chart config of ${name}:${tag} is not JSON`);
    }
    const m = isObject(meta) ? meta : {};
    const appVersion = typeof m['appVersion'] === 'string' && m['appVersion'] !== '' ? m['appVersion'] : undefined;
    const details: Details = {
      entry: {
        name: entry.name,
        version: entry.version,
        appVersion,
        created: manifest.annotations[CREATED_ANNOTATION],
        deprecated: m['deprecated'] === true,
        digest: layer.digest,
        manifestDigest: manifest.digest,
        urls: entry.urls.length ? entry.urls : [`${this.repoURL(entry.name)}:${tag}`],
        notes: notesOf(m, str),
      },
      manifest,
      layer,
    };
    this.#details.set(key, details);
    return details;
  }

  async fetchChart(entry: ChartVersionEntry, signal?: AbortSignal): Promise<FetchedChart> {
    const d = await this.#loadDetails(entry, signal);
    const name = this.repositoryName(entry.name);
    const what = `chart ${entry.name}-${entry.version}`;
    if (entry.digest && entry.digest !== d.layer.digest) {
      throw new RepoError(this.config.name, 'digest_mismatch', `repository ${this.config.name}: ${what}: the manifest's layer digest ${d.layer.digest} differs from the expected ${entry.digest}`);
    }
    const bytes = await this.client.blob(name, d.layer, { maxBytes: this.#options.maxChartBytes ?? 20 * 1024 * 1024, signal, what });
    const out: FetchedChart = { tarballDigest: d.layer.digest, manifestDigest: d.manifest.digest, bytes };
    const prov = d.manifest.layers.find((l) => l.mediaType === HELM_PROV_LAYER);
    if (prov) out.provenance = await this.client.blob(name, prov, { maxBytes: 1024 * 1024, signal, what: `provenance of ${what}` });
    return out;
  }

  /**
   * Checks the registry (GET /v2/ with auth), re-lists the tags of every chart looked up so far and
   * re-checks the digest of every tag read so far (HEAD, bounded): OCI tags are mutable, and a tag that
   * now serves another manifest must lead to a new comparison. `changed` when a tag list differs, a tag
   * moved, or on the first success.
   */
  async probe(signal?: AbortSignal): Promise<ProbeResult> {
    await this.client.ping(signal);
    let changed = !this.#everUp;
    this.#everUp = true;
    for (const [chart, before] of [...this.#tags]) {
      const after = await this.#listTags(chart, signal);
      const a = before.entries.map((e) => e.version).join(',');
      const b = after.entries.map((e) => e.version).join(',');
      if (a !== b) changed = true;
    }
    if (await this.#checkTags(signal)) changed = true;
    if (await this.#checkReferrers(signal)) changed = true;
    return { charts: this.#tags.size, changed };
  }

  /**
   * Re-reads the referrers of the chart manifests read so far (bounded, most recent first): a signature
   * or SBOM pushed after installation then reaches ChartOrigin status. A lookup that fails keeps the
   * last list (a registry hiccup does not re-analyse every release).
   */
  async #checkReferrers(signal?: AbortSignal): Promise<boolean> {
    let changed = false;
    const key = (r: ReferrersReport): string => r.referrers.map((x) => `${x.kind}/${x.digest}/${String(x.verified)}`).join(',') + `#${r.total}`;
    for (const [digest, before] of [...this.#referrers].reverse().slice(0, this.#options.maxTagChecks ?? 200)) {
      const after = await listReferrers(this.client, this.repositoryName(before.chart), digest, { maxListed: this.#options.maxReferrers, signal });
      if (after.note && after.note.includes('failed')) continue;
      this.#referrers.set(digest, { chart: before.chart, report: after, fetchedAt: this.#now() });
      if (key(after) !== key(before.report)) changed = true;
    }
    return changed;
  }

  /** true when a tag read before serves another manifest now (its details are dropped to be read again). */
  async #checkTags(signal?: AbortSignal): Promise<boolean> {
    let moved = false;
    const known = [...this.#details].reverse().slice(0, this.#options.maxTagChecks ?? 200);
    for (const [key, d] of known) {
      const name = this.repositoryName(d.entry.name);
      const tag = d.entry.version.replace(/\+/g, '_');
      const now = await this.client.tagDigest(name, tag, { maxBytes: this.#options.maxManifestBytes ?? 4 * 1024 * 1024, signal });
      if (now === d.manifest.digest) continue;
      moved = true;
      this.#details.delete(key);
      if (now) {
        const first = this.#moved.get(key)?.previousManifestDigest ?? d.manifest.digest;
        // Moved back to what it first served: nothing to report any more.
        if (first === now) this.#moved.delete(key);
        else this.#moved.set(key, { tag, previousManifestDigest: first, manifestDigest: now, detectedAt: formatTime(this.#now()) });
      }
      // The listing handed out entries carrying the old layer digest: replace them with bare ones.
      const listed = this.#tags.get(d.entry.name);
      if (listed) {
        listed.entries = listed.entries.map((e) => (e.version === d.entry.version ? { name: e.name, version: e.version, deprecated: false, urls: e.urls } : e));
      }
    }
    return moved;
  }

  /** The signature checks (src/signatures/cosign.ts) read through the same client, auth and limits. */
  artifacts(chart: string): ArtifactReader {
    const name = this.repositoryName(chart);
    return {
      manifest: (reference, signal) => this.client.anyManifest(name, reference, { accept: `${OCI_MANIFEST}, ${DOCKER_MANIFEST};q=0.5`, maxBytes: 1024 * 1024, signal }),
      blob: (desc, maxBytes, what, signal) => this.client.blob(name, desc, { maxBytes, signal, what }),
    };
  }

  movedTag(chart: string, version: string): MovedTag | undefined {
    return this.#moved.get(`${chart}:${version}`);
  }

  /**
   * What refers to the chart manifest `manifestDigest` (signatures, SBOMs, attestations), cached per
   * digest for the repository interval so that reconciles do not query the registry each time.
   */
  async referrers(chart: string, manifestDigest: string, signal?: AbortSignal): Promise<ReferrersReport> {
    const hit = this.#referrers.get(manifestDigest);
    if (hit && this.#now() - hit.fetchedAt < this.config.intervalSeconds * 1000) return hit.report;
    return this.#readReferrers(chart, manifestDigest, signal);
  }

  async #readReferrers(chart: string, manifestDigest: string, signal?: AbortSignal): Promise<ReferrersReport> {
    const report = await listReferrers(this.client, this.repositoryName(chart), manifestDigest, { maxListed: this.#options.maxReferrers, signal });
    this.#referrers.delete(manifestDigest);
    this.#referrers.set(manifestDigest, { chart, report, fetchedAt: this.#now() });
    if (this.#referrers.size > 1024) {
      const oldest = this.#referrers.keys().next().value;
      if (oldest !== undefined) this.#referrers.delete(oldest);
    }
    return report;
  }

  /** The registry host as the repository URL names it, for logs (no credentials). */
  get host(): string {
    return this.#host;
  }

  async close(): Promise<void> {
    await this.#http.close();
  }
}
