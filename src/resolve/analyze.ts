import type { ChartTransformation } from './proof.ts';
import { fluxTransformation } from './flux-proof.ts';
import type { FluxHint } from '../chart/flux-build.ts';
import { failureOf, gatherCandidates, wantsSignature, type RepositoryFailure } from './candidates.ts';
import { discardProofInputs } from '../decode/proof-inputs.ts';
import { redactUrl } from '../sources/url.ts';
import { comparableUrl } from './source-url.ts';
import { deprecationOf, isUpstreamStale, newestPublished, recommend, upgradeNotes, type PublishedVersion } from '../recommend/recommend.ts';
import { decideOrigin } from './decide.ts';
import type { ReleaseRecord, StoredValues } from '../model/release.ts';
import type { ChartSource, ChartVersionEntry } from '../model/repository.ts';
import type { PublishedChart, PublishedChartCache } from './chart-cache.ts';
import { verifyProvenance } from '../signatures/prov.ts';
import { cosignKeys, identityMatcher, ociSignatureOf, type OciSignaturePolicy } from '../signatures/cosign.ts';
import { publicSigstoreTrust, trustFromJson } from '../signatures/sigstore-trust.ts';
import type { TrustMaterial } from '@sigstore/verify';
import type { Referrer, RepositoryConfig } from '../model/repository.ts';
import { MAX_CONDITION_MESSAGE, type Condition, type OriginReport, type OriginStatus, type SignatureStatus } from '../model/report.ts';
import { plainText } from '../util/terminal.ts';
import { formatTime } from '../util/time.ts';
import { CONDITION, ORIGIN_REASON } from '../model/reasons.ts';
import { byCodeUnits } from '../util/order.ts';
import { intern } from '../util/intern.ts';

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
  /** `upstreamStale` when the chart's newest published version is older than this (default one year, 8760h). */
  upstreamStaleAfterSeconds?: number | undefined;
  /** Legitimate rewrites of published charts made before Helm sees them, besides Flux's (added for Flux releases). */
  transformations?: readonly ChartTransformation[] | undefined;
  /** What the release's HelmRelease/HelmChart say about the Flux build, when they are readable. */
  flux?: FluxHint | undefined;
  /**
   * Another stored revision of the same release (values and config for the --reuse-values proof), read
   * only when the values differ from a fresh install's; undefined when that revision is not stored.
   */
  revision?: ((revision: number) => Promise<StoredValues | undefined>) | undefined;
}

export const DEFAULT_UPSTREAM_STALE_AFTER_SECONDS = 8760 * 3600;
/**
 * OCI versions carry their notes in each version's config blob (a manifest and a blob request): the changes
 * and security flags are read from at most this many newer versions, newest first. HTTP indexes have them all.
 */
const MAX_OCI_NOTES_LOOKUPS = 10;

export type { RepositoryFailure } from './candidates.ts';

export interface Analysis {
  report: OriginReport;
  failures: RepositoryFailure[];
}

/** Messages name charts and repositories, untrusted text: kept readable, bounded, control characters removed (also for `-o json`). */
function condition(status: Condition['status'], reason: string, message: string, now: Date): Condition {
  // Interned: the controller keeps each release's last report, and most say the same ("origin Verified in main.").
  return { type: CONDITION.Ready, status, reason, message: intern(plainText(message, MAX_CONDITION_MESSAGE)), lastTransitionTime: formatTime(now) };
}

/** Per repository config object: keys parsed, identity expressions compiled and the trusted root read once. */
const policies = new WeakMap<RepositoryConfig, OciSignaturePolicy>();

function ociPolicy(config: RepositoryConfig): OciSignaturePolicy {
  let p = policies.get(config);
  if (p) return p;
  const keyless = config.keyless;
  let trust: () => Promise<TrustMaterial>;
  if (keyless?.trustedRootJson !== undefined) {
    const json = keyless.trustedRootJson;
    let material: Promise<TrustMaterial> | undefined;
    trust = () => (material ??= trustFromJson(json));
  } else {
    trust = () => publicSigstoreTrust().trust();
  }
  p = {
    keys: cosignKeys(config.cosignPublicKeys ?? []),
    keyless: keyless ? { identities: identityMatcher(keyless.identities), trust } : undefined,
    required: config.requireSignature === true,
  };
  policies.set(config, p);
  return p;
}

/** OCI signature results per source and chart manifest, for the repository interval (the referrers list is cached as long). */
const ociChecks = new WeakMap<ChartSource, Map<string, { key: string; status: SignatureStatus | undefined; verified: (boolean | undefined)[]; at: number }>>();

/** The OCI signatures (cosign key, keyless, notation) of the origin chart manifest; `referrers` get `verified`. */
async function ociSignature(source: ChartSource, chart: string, manifestDigest: string, referrers: Referrer[], now: number, signal?: AbortSignal): Promise<SignatureStatus | undefined> {
  const reader = source.artifacts?.(chart);
  if (!reader) return undefined;
  let cache = ociChecks.get(source);
  if (!cache) ociChecks.set(source, (cache = new Map()));
  const key = referrers.map((r) => r.digest).join(',');
  const hit = cache.get(manifestDigest);
  if (hit && hit.key === key && now - hit.at < source.config.intervalSeconds * 1000) {
    referrers.forEach((r, i) => (r.verified = hit.verified[i]));
    return hit.status;
  }
  const status = await ociSignatureOf(reader, manifestDigest, referrers, ociPolicy(source.config), signal);
  cache.delete(manifestDigest);
  cache.set(manifestDigest, { key, status, verified: referrers.map((r) => r.verified), at: now });
  if (cache.size > 1024) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  return status;
}

/**
 * One signature status for the origin: a verified one wins; between failures, the kind the repository is
 * configured for (cosign keys or keyless identities: the OCI one; a keyring: the .prov).
 */
function pickSignature(config: RepositoryConfig, prov: SignatureStatus | undefined, oci: SignatureStatus | undefined): SignatureStatus | undefined {
  if (!prov || !oci) return prov ?? oci;
  if (prov.verified !== oci.verified) return prov.verified ? prov : oci;
  const ociConfigured = (config.cosignPublicKeys?.length ?? 0) > 0 || config.keyless !== undefined;
  return ociConfigured && (config.keyring?.length ?? 0) === 0 ? oci : prov;
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
  const failures: RepositoryFailure[] = [];
  const pinned = options.spec?.repository;
  const sources = pinned ? options.sources.filter((s) => s.config.name === pinned) : options.sources;

  // A release helm-controller installed may be Flux's build of the published chart, not the chart itself.
  const transformations = record.flux ? [...(options.transformations ?? []), fluxTransformation(options.flux)] : options.transformations;
  const { listings, evidence, entries, publishedBy } = await gatherCandidates(record, sources, { ...options, transformations }, failures);

  // The user values' booleans were needed by the proofs only.
  discardProofInputs(record);
  const unsearched = listings.filter((l) => l.versions === undefined).map((l) => l.source.config.name);
  // The source the HelmRelease names picks among repositories serving the same content (decide.ts).
  const origin = decideOrigin(evidence, unsearched, record.flux ? options.flux?.source : undefined);
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
    .map((e) => ({ e, m: sources.find((s) => s.config.name === e.repository)?.movedTag?.(chart.name, entries.get(e.repository)?.version ?? chart.version) }))
    .filter((x) => x.m !== undefined && x.e.differences !== undefined);
  const tagMoved = moved.map(({ e, m }) => `tag ${m?.tag} in ${e.repository} now serves ${m?.manifestDigest} (it served ${m?.previousManifestDigest} before; re-pushed, seen ${m?.detectedAt})`).join('; ');
  if (tagMoved) origin.message = `${origin.message ? `${origin.message}; ` : ''}${tagMoved}`;
  const originSource = sources.find((s) => s.config.name === origin.repository);
  if (origin.manifestDigest && originSource?.referrers) {
    try {
      const r = await originSource.referrers(chart.name, origin.manifestDigest, options.signal);
      // Copies: the source caches its list, `verified` belongs to this repository's signature policy.
      origin.referrers = r.referrers.map((x) => ({ ...x }));
      if (r.note) origin.referrersMessage = r.note;
    } catch (err) {
      origin.referrersMessage = `referrers not read: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  if (origin.manifestDigest && originSource && origin.match === 'Verified') {
    let oci: SignatureStatus | undefined;
    try {
      oci = await ociSignature(originSource, chart.name, origin.manifestDigest, origin.referrers ?? [], now.getTime(), options.signal);
    } catch (err) {
      if (options.signal?.aborted) throw err;
      // A config the parsers let through but the verifier cannot use (trusted root, expression): named, not fatal.
      oci = { type: originSource.config.keyless ? 'cosign-keyless' : 'cosign', verified: false, reason: 'Malformed', message: `signature policy unusable: ${err instanceof Error ? err.message : String(err)}`, required: originSource.config.requireSignature === true };
    }
    origin.signature = pickSignature(originSource.config, origin.signature, oci);
  }
  // --- end OCI ---

  // Advice comes from the origin repository; without one, from the best candidate, or from the only
  // repository that publishes the chart name at all (the installed version may have been removed).
  const adviceRepo =
    origin.repository ??
    [...evidence].sort((a, b) => b.priority - a.priority || byCodeUnits(a.repository, b.repository))[0]?.repository ??
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
    lastChecked: formatTime(now),
    conditions: [],
  };

  let problem: string | undefined;
  if (adviceListing?.versions) {
    const source = adviceListing.source;
    // OCI tags say nothing but the version: deprecation, pre-release and notes are in each version's config.
    // The newest few are read before the advice, so that a deprecated newest version is known as such.
    const listed = adviceListing.versions;
    const versions =
      source.kind === 'oci'
        ? [...(await Promise.all(listed.slice(0, MAX_OCI_NOTES_LOOKUPS).map((e) => source.details(e, options.signal).catch(() => e)))), ...listed.slice(MAX_OCI_NOTES_LOOKUPS)]
        : listed;
    const rec = recommend({
      installed: chart.version,
      published: versions as PublishedVersion[],
      versionConstraint: options.spec?.versionConstraint,
      allowPrerelease: options.spec?.allowPrerelease,
    });
    problem = rec.problem;
    const latestEntry = rec.latest ? versions.find((v) => v.version === rec.latest?.version) : undefined;
    const installedEntry = entries.get(source.config.name) ?? (rec.installedEntry as ChartVersionEntry | undefined);
    const newestEntry = newestPublished(versions) as ChartVersionEntry | undefined;
    const newerEntries = (rec.newer ?? []) as ChartVersionEntry[];
    const detail = async (e: ChartVersionEntry | undefined): Promise<ChartVersionEntry | undefined> => {
      if (!e) return undefined;
      try {
        return await source.details(e, options.signal);
      } catch (err) {
        failures.push(failureOf(source.config.name, err));
        return e;
      }
    };
    const noteLookups = source.kind === 'oci' ? newerEntries.slice(0, MAX_OCI_NOTES_LOOKUPS) : newerEntries;
    const [latestDetails, installedDetails, newestDetails, ...newerDetails] = await Promise.all(
      [latestEntry, installedEntry, newestEntry, ...noteLookups].map(detail),
    );
    if (rec.latest) {
      const notes = upgradeNotes(newerDetails.filter((e): e is ChartVersionEntry => e !== undefined), latestDetails, newestDetails);
      report.latest = {
        version: rec.latest.version,
        appVersion: latestDetails?.appVersion ?? rec.latest.appVersion,
        created: latestDetails?.created ?? rec.latest.created,
        deprecated: latestDetails?.deprecated ?? rec.latest.deprecated,
        changes: notes.changes,
        securityUpdates: notes.securityUpdates,
        home: notes.home,
      };
    }
    report.sameMajor = rec.sameMajor;
    report.upgrade = rec.upgrade;
    report.upgradeTarget = rec.upgradeTarget;
    report.versionsBehind = rec.versionsBehind;
    report.majorVersionsBehind = rec.majorVersionsBehind;
    report.installedCreated = installedDetails?.created;
    report.upstreamStale = isUpstreamStale(newestDetails, now, options.upstreamStaleAfterSeconds ?? DEFAULT_UPSTREAM_STALE_AFTER_SECONDS);
    const deprecation = deprecationOf(chart, chart.deprecated || installedDetails?.deprecated === true, newestDetails);
    report.chart.deprecated = deprecation.deprecated;
    report.chart.deprecationMessage = deprecation.message;
  } else if (chart.deprecated) {
    report.chart.deprecationMessage = `installed version ${chart.version} of chart ${chart.name} is deprecated by its publisher`;
  }

  const failed = failures.length ? ` Repository errors: ${failures.map((f) => `${f.repository} (${f.reason})`).join(', ')}.` : '';
  if (problem) {
    report.conditions.push(condition('False', ORIGIN_REASON.InvalidSpec, problem + failed, now));
  } else if (origin.match === 'Unreachable') {
    report.conditions.push(condition('False', ORIGIN_REASON.RepositoryUnavailable, `${origin.message ?? ''}.${failed}`.trim(), now));
  } else if (origin.signature?.required && !origin.signature.verified) {
    // The content is the repository's, but the repository only vouches for signed charts.
    report.conditions.push(condition('False', ORIGIN_REASON.SignatureNotVerified, `origin ${origin.match} in ${origin.repository ?? '?'}, but the repository requires a signature: ${origin.signature.message}.${failed}`, now));
  } else {
    const movedNote = tagMoved ? ` OCI tag re-pushed: ${tagMoved}.` : '';
    report.conditions.push(condition('True', origin.match, `origin ${origin.match}${origin.repository ? ` in ${origin.repository}` : ''}.${movedNote}${failed}`, now));
  }
  return { report, failures };
}
