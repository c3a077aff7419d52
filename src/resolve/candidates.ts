/**
 * Candidates → proof: every configured repository that publishes the installed name+version (looked up
 * as Helm resolves a version: chart/version.ts versionCandidates), its tarball downloaded once (shared
 * cache) and proven against the installed chart (proof.ts).
 */
import { fingerprintChart } from '../chart/fingerprint.ts';
import { readChartTree } from '../chart/chart-tree.ts';
import { treeJson } from '../chart/helm-install.ts';
import { versionCandidates } from '../chart/version.ts';
import type { ReleaseRecord, StoredValues } from '../model/release.ts';
import type { ChartSource, ChartVersionEntry } from '../model/repository.ts';
import type { PublishedChart, PublishedChartCache } from './chart-cache.ts';
import type { CandidateEvidence } from './decide.ts';
import { proveContent, type ChartTransformation } from './proof.ts';
import { versionRebuilt } from './flux-proof.ts';

/** A repository failure met while analysing one release, for metrics and the release's message. */
export interface RepositoryFailure {
  repository: string;
  reason: string;
  message: string;
}

export function failureOf(repository: string, err: unknown): RepositoryFailure {
  const reason = typeof err === 'object' && err !== null && 'reason' in err && typeof err.reason === 'string' ? err.reason : 'error';
  return { repository, reason, message: err instanceof Error ? err.message : String(err) };
}

export function wantsSignature(source: ChartSource): boolean {
  return source.config.requireSignature === true || (source.config.keyring?.length ?? 0) > 0;
}

export interface CandidateOptions {
  verify?: boolean | undefined;
  cache: PublishedChartCache;
  signal?: AbortSignal | undefined;
  transformations?: readonly ChartTransformation[] | undefined;
  revision?: ((revision: number) => Promise<StoredValues | undefined>) | undefined;
}

export interface Listing {
  source: ChartSource;
  /** undefined: the repository could not be searched. */
  versions: ChartVersionEntry[] | undefined;
}

export interface Candidates {
  listings: Listing[];
  evidence: CandidateEvidence[];
  entries: Map<string, ChartVersionEntry>;
  publishedBy: Map<string, PublishedChart>;
}

async function published(source: ChartSource, listed: ChartVersionEntry, cache: PublishedChartCache, signal?: AbortSignal): Promise<PublishedChart> {
  // An OCI tag can be re-pushed: key by the layer digest its manifest names now, never by the tag URL.
  const entry = source.kind === 'oci' && !listed.digest ? await source.details(listed, signal) : listed;
  // A source that checks signatures fetches the .prov too, so it does not share entries with one that does not.
  const key = entry.digest && !wantsSignature(source) ? entry.digest : `${source.config.name}|${entry.digest ?? entry.urls[0] ?? `${entry.name}@${entry.version}`}`;
  const pub = await cache.get(key, async () => {
    const fetched = await source.fetchChart(entry, signal);
    const { content, tree } = readChartTree(fetched.bytes, { repository: source.config.name });
    return { tarballDigest: fetched.tarballDigest, manifestDigest: fetched.manifestDigest, fingerprint: fingerprintChart(content), tree: treeJson(tree), provenance: fetched.provenance };
  });
  // The cache is by tarball digest, shared by every repository serving those bytes (the same chart over HTTP and
  // OCI): the manifest digest is not content but this repository's, so it is never taken from another's download
  // (an HTTP candidate had the registry's, an OCI one none, and the `+<manifest digest>` proof of a chartRef to an
  // OCIRepository was then not checked against the registry).
  const manifestDigest = source.kind === 'oci' ? (entry.manifestDigest ?? pub.manifestDigest) : undefined;
  return manifestDigest === pub.manifestDigest ? pub : { ...pub, manifestDigest };
}

/**
 * At most this many published entries of one repository are downloaded for one installed version when
 * several may be it (semver-equal builds: a GitLab index publishes many `1.0.0+<sha>` of one chart).
 */
export const MAX_SAME_VERSION_CANDIDATES = 8;


function alternatives(matches: readonly ChartVersionEntry[], version: string): string {
  const shown = matches.slice(0, MAX_SAME_VERSION_CANDIDATES).map((e) => e.version);
  return `${matches.length} published entries may be version ${version} (${shown.join(', ')}${matches.length > shown.length ? ', …' : ''})`;
}

/** Lists every source, then downloads and proves each candidate; failures are pushed, never thrown. */
export async function gatherCandidates(record: ReleaseRecord, sources: readonly ChartSource[], options: CandidateOptions, failures: RepositoryFailure[]): Promise<Candidates> {
  const { chart } = record;
  const listings = await Promise.all(
    sources.map(async (source) => {
      try {
        return { source, versions: await source.versions(chart.name, options.signal) };
      } catch (err) {
        failures.push(failureOf(source.config.name, err));
        return { source, versions: undefined };
      }
    }),
  );

  const evidence: CandidateEvidence[] = [];
  const entries = new Map<string, ChartVersionEntry>();
  const publishedBy = new Map<string, PublishedChart>();
  const rebuilt = versionRebuilt(record);
  await Promise.all(
    listings.map(async ({ source, versions }) => {
      const matches = versions ? versionCandidates(versions, chart.version, rebuilt) : [];
      const first = matches[0];
      if (!first) return;
      const name = source.config.name;
      const several = matches.length > 1;
      const base = { repository: name, repoURL: source.repoURL(chart.name), priority: source.config.priority, tarballDigest: several ? undefined : first.digest };
      if (options.verify === false) {
        if (!several) entries.set(name, first);
        evidence.push({ ...base, notCompared: several ? `verification disabled; ${alternatives(matches, chart.version)}` : 'verification disabled' });
        return;
      }
      // Exact entries come first: the loop stops at the first one whose content is the installed chart.
      const outcomes: string[] = [];
      for (const entry of matches.slice(0, MAX_SAME_VERSION_CANDIDATES)) {
        try {
          const pub = await published(source, entry, options.cache, options.signal);
          const proof = await proveContent(record, pub, { transformations: options.transformations, previous: options.revision });
          const digests = { ...base, tarballDigest: pub.tarballDigest, manifestDigest: pub.manifestDigest };
          if (!several) {
            entries.set(name, entry);
            publishedBy.set(name, pub);
            evidence.push(proof.unverifiable ? { ...digests, notCompared: proof.unverifiable } : { ...digests, differences: proof.differences, accounted: proof.accounted });
            return;
          }
          if (!proof.unverifiable && proof.differences.length === 0) {
            entries.set(name, entry);
            publishedBy.set(name, pub);
            evidence.push({ ...digests, differences: [], accounted: proof.accounted });
            return;
          }
          outcomes.push(`${entry.version}: ${proof.unverifiable ?? `differs in ${proof.differences.slice(0, 3).join(', ')}${proof.differences.length > 3 ? ' and more' : ''}`}`);
        } catch (err) {
          const f = failureOf(name, err);
          failures.push(f);
          if (!several) {
            entries.set(name, entry);
            evidence.push({ ...base, notCompared: f.message });
            return;
          }
          outcomes.push(`${entry.version}: ${f.message}`);
        }
      }
      // Several alternatives, none proven: which one was installed is unknown, so a difference is no tamper signal.
      const skipped = matches.length > MAX_SAME_VERSION_CANDIDATES ? `; ${matches.length - MAX_SAME_VERSION_CANDIDATES} more not compared` : '';
      evidence.push({ ...base, notCompared: `${alternatives(matches, chart.version)}, and none is proven to be the installed chart (${outcomes.join('; ')}${skipped})` });
    }),
  );

  return { listings, evidence, entries, publishedBy };
}
