/**
 * Candidates → proof: every configured repository that publishes the installed name+version, its
 * tarball downloaded once (shared cache) and proven against the installed chart (proof.ts).
 */
import { fingerprintChart } from '../chart/fingerprint.ts';
import { readChartTree } from '../chart/chart-tree.ts';
import { treeJson } from '../chart/helm-install.ts';
import { sameVersion } from '../chart/version.ts';
import type { ReleaseRecord, StoredValues } from '../model/release.ts';
import type { ChartSource, ChartVersionEntry } from '../model/repository.ts';
import type { PublishedChart, PublishedChartCache } from './chart-cache.ts';
import type { CandidateEvidence } from './decide.ts';
import { proveContent, type ChartTransformation } from './proof.ts';

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
  return cache.get(key, async () => {
    const fetched = await source.fetchChart(entry, signal);
    const { content, tree } = readChartTree(fetched.bytes, { repository: source.config.name });
    return { tarballDigest: fetched.tarballDigest, manifestDigest: fetched.manifestDigest, fingerprint: fingerprintChart(content), tree: treeJson(tree), provenance: fetched.provenance };
  });
}

/** Lists every source, then downloads and proves each candidate; failures are pushed, never thrown. */
export async function gatherCandidates(record: ReleaseRecord, sources: readonly ChartSource[], lookup: string, options: CandidateOptions, failures: RepositoryFailure[]): Promise<Candidates> {
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
  await Promise.all(
    listings.map(async ({ source, versions }) => {
      const entry = versions?.find((v) => sameVersion(v.version, lookup));
      if (!entry) return;
      const name = source.config.name;
      entries.set(name, entry);
      const base = { repository: name, repoURL: source.repoURL(chart.name), priority: source.config.priority, tarballDigest: entry.digest };
      if (options.verify === false) {
        evidence.push({ ...base, notCompared: 'verification disabled' });
        return;
      }
      try {
        const pub = await published(source, entry, options.cache, options.signal);
        publishedBy.set(name, pub);
        const proof = await proveContent(record, pub, { transformations: options.transformations, previous: options.revision });
        const digests = { ...base, tarballDigest: pub.tarballDigest, manifestDigest: pub.manifestDigest };
        evidence.push(proof.unverifiable ? { ...digests, notCompared: proof.unverifiable } : { ...digests, differences: proof.differences, accounted: proof.accounted });
      } catch (err) {
        const f = failureOf(name, err);
        failures.push(f);
        evidence.push({ ...base, notCompared: f.message });
      }
    }),
  );

  return { listings, evidence, entries, publishedBy };
}
