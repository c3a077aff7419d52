import { fingerprintChart } from '../chart/fingerprint.ts';
import { fluxBuildInput, proveContent } from './flux-proof.ts';
import type { FluxHint } from '../chart/flux-build.ts';
import { recommend, type PublishedVersion } from '../recommend/recommend.ts';
import { sameVersion, stripBuildMetadata } from '../chart/version.ts';
import { decideOrigin, type CandidateEvidence } from './decide.ts';
import type { ReleaseRecord } from '../model/release.ts';
import { readChartArchive } from '../chart/archive.ts';
import type { ChartSource, ChartVersionEntry } from '../model/repository.ts';
import { PublishedChartCache, type PublishedChart } from './chart-cache.ts';
import { verifyProvenance } from '../signatures/prov.ts';
import type { Condition, OriginReport, SignatureStatus } from '../model/report.ts';

/** ChartOrigin.spec: user overrides. */
export interface OriginSpec {
  repository?: string | undefined;
  versionConstraint?: string | undefined;
  allowPrerelease?: boolean | undefined;
}

export interface AnalyzeOptions {
  sources: readonly ChartSource[];
  spec?: OriginSpec | undefined;
  /** Download tarballs and compare content (default true); false yields Unverified at best. */
  verify?: boolean | undefined;
  cache: PublishedChartCache;
  now?: () => Date;
  signal?: AbortSignal | undefined;
  /** What the release's HelmRelease/HelmChart say about the Flux build, when they are readable. */
  flux?: FluxHint | undefined;
}

/** A repository failure met while analysing one release, for metrics and the release's message. */
export interface RepositoryFailure {
  repository: string;
  reason: string;
  message: string;
}

export interface Analysis {
  report: OriginReport;
  failures: RepositoryFailure[];
}

function failureOf(repository: string, err: unknown): RepositoryFailure {
  const reason = typeof err === 'object' && err !== null && 'reason' in err && typeof err.reason === 'string' ? err.reason : 'error';
  return { repository, reason, message: err instanceof Error ? err.message : String(err) };
}

function condition(status: Condition['status'], reason: string, message: string, now: Date): Condition {
  return { type: 'Ready', status, reason, message, lastTransitionTime: now.toISOString().replace(/\.\d{3}Z$/, 'Z') };
}

function wantsSignature(source: ChartSource): boolean {
  return source.config.requireSignature === true || (source.config.keyring?.length ?? 0) > 0;
}

/** The origin's .prov check: reported when the repository has a keyring, requires one, or serves a .prov. */
async function signatureOf(source: ChartSource, chart: { name: string; version: string }, pub: PublishedChart): Promise<SignatureStatus | undefined> {
  const required = source.config.requireSignature === true;
  if (!required && !wantsSignature(source) && !pub.provenance) return undefined;
  const r = await verifyProvenance({
    provenance: pub.provenance,
    tarballDigest: pub.tarballDigest,
    fileName: `${chart.name}-${chart.version}.tgz`,
    keyring: source.config.keyring ?? [],
  });
  return { type: r.type, verified: r.verified, reason: r.reason, keyID: r.keyID, signer: r.signer, message: r.message, required };
}

async function published(source: ChartSource, listed: ChartVersionEntry, cache: PublishedChartCache, signal?: AbortSignal): Promise<PublishedChart> {
  // An OCI tag can be re-pushed: key by the layer digest its manifest names now, never by the tag URL.
  const entry = source.kind === 'oci' && !listed.digest ? await source.details(listed, signal) : listed;
  // A source that checks signatures fetches the .prov too, so it does not share entries with one that does not.
  const key = entry.digest && !wantsSignature(source) ? entry.digest : `${source.config.name}|${entry.digest ?? entry.urls[0] ?? `${entry.name}@${entry.version}`}`;
  return cache.get(key, async () => {
    const fetched = await source.fetchChart(entry, signal);
    const content = readChartArchive(fetched.bytes);
    return { tarballDigest: fetched.tarballDigest, manifestDigest: fetched.manifestDigest, fingerprint: fingerprintChart(content), provenance: fetched.provenance, fluxInput: fluxBuildInput(content) };
  });
}

/**
 * One release through resolve → recommend: finds every configured repository publishing the installed
 * name+version, compares contents, decides the origin and computes the upgrade advice from the origin
 * repository's versions. Repository failures never throw: they are returned and named in the report.
 */
export async function analyzeRelease(record: ReleaseRecord, options: AnalyzeOptions): Promise<Analysis> {
  const now = (options.now ?? (() => new Date()))();
  const { chart } = record;
  const lookup = stripBuildMetadata(chart.version);
  const failures: RepositoryFailure[] = [];
  const pinned = options.spec?.repository;
  const sources = pinned ? options.sources.filter((s) => s.config.name === pinned) : options.sources;

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
        // The published content as it is, then each legitimate transformation (Flux's build).
        const proof = proveContent({ version: chart.version, fingerprint: record.fingerprint, flux: record.flux }, pub, options.flux);
        evidence.push({
          ...base,
          tarballDigest: pub.tarballDigest,
          manifestDigest: pub.manifestDigest,
          differences: proof.differences,
          transformation: proof.transformation,
        });
      } catch (err) {
        const f = failureOf(name, err);
        failures.push(f);
        evidence.push({ ...base, notCompared: f.message });
      }
    }),
  );

  const unsearched = listings.filter((l) => l.versions === undefined).map((l) => l.source.config.name);
  const origin = decideOrigin(evidence, unsearched);
  if (pinned && sources.length === 0) origin.message = `pinned repository "${pinned}" is not configured`;

  // Signature: only for a repository whose content proved to be the installed chart.
  const signedSource = origin.match === 'Verified' ? sources.find((s) => s.config.name === origin.repository) : undefined;
  const originPublished = origin.repository ? publishedBy.get(origin.repository) : undefined;
  if (signedSource && originPublished) {
    origin.signature = await signatureOf(signedSource, { name: chart.name, version: entries.get(signedSource.config.name)?.version ?? chart.version }, originPublished);
  }

  // --- OCI: moved tags and referrers (extra information; never changes the match) ---
  // A tag that moved since it was first read is named for every candidate compared with its new content.
  const moved = evidence
    .map((e) => ({ e, m: sources.find((s) => s.config.name === e.repository)?.movedTag?.(chart.name, lookup) }))
    .filter((x) => x.m !== undefined && x.e.differences !== undefined);
  const tagMoved = moved.map(({ e, m }) => `tag ${m?.tag} in ${e.repository} now serves ${m?.manifestDigest} (it served ${m?.previousManifestDigest} before; re-pushed, seen ${m?.detectedAt})`).join('; ');
  if (tagMoved) origin.message = `${origin.message ? `${origin.message}; ` : ''}${tagMoved}`;
  const originSource = sources.find((s) => s.config.name === origin.repository);
  if (origin.manifestDigest && originSource?.referrers) {
    try {
      const r = await originSource.referrers(chart.name, origin.manifestDigest, options.signal);
      origin.referrers = r.referrers;
      if (r.note) origin.referrersMessage = r.note;
    } catch (err) {
      origin.referrersMessage = `referrers not read: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  // --- end OCI ---

  // Advice comes from the origin repository; without one, from the best candidate, or from the only
  // repository that publishes the chart name at all (the installed version may have been removed).
  const adviceRepo =
    origin.repository ??
    [...evidence].sort((a, b) => b.priority - a.priority || a.repository.localeCompare(b.repository))[0]?.repository ??
    (() => {
      const having = listings.filter((l) => l.versions && l.versions.length > 0);
      return having.length === 1 ? having[0]?.source.config.name : undefined;
    })();
  const adviceListing = listings.find((l) => l.source.config.name === adviceRepo);

  const report: OriginReport = {
    release: record.release,
    managedBy: record.flux ? 'Flux' : 'Helm',
    chart: { ...chart },
    origin,
    lastChecked: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    conditions: [],
  };

  let problem: string | undefined;
  if (adviceListing?.versions) {
    const source = adviceListing.source;
    const rec = recommend({
      installed: lookup,
      published: adviceListing.versions as PublishedVersion[],
      versionConstraint: options.spec?.versionConstraint,
      allowPrerelease: options.spec?.allowPrerelease,
    });
    problem = rec.problem;
    const latestEntry = rec.latest ? adviceListing.versions.find((v) => v.version === rec.latest?.version) : undefined;
    const installedEntry = entries.get(source.config.name) ?? (rec.installedEntry as ChartVersionEntry | undefined);
    const [latestDetails, installedDetails] = await Promise.all(
      [latestEntry, installedEntry].map(async (e) => {
        if (!e) return undefined;
        try {
          return await source.details(e, options.signal);
        } catch (err) {
          failures.push(failureOf(source.config.name, err));
          return e;
        }
      }),
    );
    if (rec.latest) {
      report.latest = {
        version: rec.latest.version,
        appVersion: latestDetails?.appVersion ?? rec.latest.appVersion,
        created: latestDetails?.created ?? rec.latest.created,
        deprecated: latestDetails?.deprecated ?? rec.latest.deprecated,
      };
    }
    report.sameMajor = rec.sameMajor;
    report.upgrade = rec.upgrade;
    report.versionsBehind = rec.versionsBehind;
    report.majorVersionsBehind = rec.majorVersionsBehind;
    report.installedCreated = installedDetails?.created;
    report.chart.deprecated = chart.deprecated || installedDetails?.deprecated === true;
  }

  const failed = failures.length ? ` Repository errors: ${failures.map((f) => `${f.repository} (${f.reason})`).join(', ')}.` : '';
  if (problem) {
    report.conditions.push(condition('False', 'InvalidSpec', problem + failed, now));
  } else if (origin.match === 'NotFound' && unsearched.length > 0) {
    report.conditions.push(condition('False', 'RepositoryUnavailable', `${origin.message ?? ''}.${failed}`.trim(), now));
  } else if (origin.signature?.required && !origin.signature.verified) {
    // The content is the repository's, but the repository only vouches for signed charts.
    report.conditions.push(condition('False', 'SignatureNotVerified', `origin ${origin.match} in ${origin.repository ?? '?'}, but the repository requires a signature: ${origin.signature.message}.${failed}`, now));
  } else {
    const movedNote = tagMoved ? ` OCI tag re-pushed: ${tagMoved}.` : '';
    report.conditions.push(condition('True', origin.match, `origin ${origin.match}${origin.repository ? ` in ${origin.repository}` : ''}.${movedNote}${failed}`, now));
  }
  return { report, failures };
}
