import type { ChartTransformation } from './proof.ts';
import { failureOf, gatherCandidates, wantsSignature, type RepositoryFailure } from './candidates.ts';
import { discardProofInputs } from '../decode/proof-inputs.ts';
import { redactUrl } from '../sources/url.ts';
import { recommend, type PublishedVersion } from '../recommend/recommend.ts';
import { stripBuildMetadata } from '../chart/version.ts';
import { decideOrigin } from './decide.ts';
import type { ReleaseRecord, StoredValues } from '../model/release.ts';
import type { ChartSource, ChartVersionEntry } from '../model/repository.ts';
import type { PublishedChart, PublishedChartCache } from './chart-cache.ts';
import { verifyProvenance } from '../signatures/prov.ts';
import type { Condition, OriginReport, OriginStatus, SignatureStatus } from '../model/report.ts';

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
  /** Legitimate rewrites of published charts made before Helm sees them (e.g. Flux's chart build). */
  transformations?: readonly ChartTransformation[] | undefined;
  /**
   * Another stored revision of the same release (values and config for the --reuse-values proof), read
   * only when the values differ from a fresh install's; undefined when that revision is not stored.
   */
  revision?: ((revision: number) => Promise<StoredValues | undefined>) | undefined;
}

export type { RepositoryFailure } from './candidates.ts';

export interface Analysis {
  report: OriginReport;
  failures: RepositoryFailure[];
}

function condition(status: Condition['status'], reason: string, message: string, now: Date): Condition {
  return { type: 'Ready', status, reason, message, lastTransitionTime: now.toISOString().replace(/\.\d{3}Z$/, 'Z') };
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

function comparableUrl(u: string): string {
  return redactUrl(u).replace(/\/+$/, '').toLowerCase();
}

/** origin.claim from a claim Helm wrote into the release; judged only against a Verified origin. */
export function applyClaim(record: ReleaseRecord, origin: OriginStatus): void {
  if (!record.claim) return;
  const repoURL = redactUrl(record.claim.value);
  origin.claim = { field: record.claim.field, repoURL };
  if (origin.match !== 'Verified' || !origin.repoURL) return;
  const proven = comparableUrl(origin.repoURL);
  const claimed = comparableUrl(repoURL);
  // OCI repoURLs name the chart (oci://host/path/chart); a claim may name its repository only.
  const agrees = claimed === proven || (proven.startsWith('oci://') && claimed === proven.slice(0, proven.lastIndexOf('/')));
  origin.claim.agrees = agrees;
  if (!agrees) origin.message = `${origin.message ? `${origin.message}; ` : ''}the release claims ${repoURL} (${record.claim.field}) but its content was proven to come from ${origin.repoURL}`;
}

/**
 * One release through resolve → recommend, as an orchestrator: candidates (every configured repository
 * publishing the installed name+version, each proven against the installed chart: candidates.ts,
 * proof.ts) → decision (decide.ts) → claim, signature and OCI extras → upgrade advice from the origin
 * repository's versions. Repository failures never throw: they are returned and named in the report.
 */
export async function analyzeRelease(record: ReleaseRecord, options: AnalyzeOptions): Promise<Analysis> {
  const now = (options.now ?? (() => new Date()))();
  const { chart } = record;
  const lookup = stripBuildMetadata(chart.version);
  const failures: RepositoryFailure[] = [];
  const pinned = options.spec?.repository;
  const sources = pinned ? options.sources.filter((s) => s.config.name === pinned) : options.sources;

  const { listings, evidence, entries, publishedBy } = await gatherCandidates(record, sources, lookup, options, failures);

  // The user values' booleans were needed by the proofs only.
  discardProofInputs(record);
  const unsearched = listings.filter((l) => l.versions === undefined).map((l) => l.source.config.name);
  const origin = decideOrigin(evidence, unsearched);
  applyClaim(record, origin);
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
