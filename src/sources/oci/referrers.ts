import { isObject, str, type JsonObject } from '../../util/guards.ts';
import { normalizeDigest } from '../http/index-parse.ts';
import { DOCKER_MANIFEST, nextLink, OCI_INDEX, OCI_MANIFEST, type OciClient } from './client.ts';
import { RepoError, type Referrer, type ReferrerKind, type ReferrerSource, type ReferrersReport } from '../../model/repository.ts';

/**
 * What refers to a chart manifest in an OCI registry: the OCI 1.1 referrers API, its `sha256-<hex>` tag
 * schema fallback for registries without it, and cosign's own `sha256-<hex>.sig|.att|.sbom` tags (which
 * cosign writes whatever the registry supports). Pure parsing and classification here, I/O in
 * listReferrers; every failure becomes a note, never an exception: referrers are extra information.
 * Signatures are verified later, in src/signatures/cosign.ts.
 */

export const COSIGN_SIMPLESIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const DSSE_ENVELOPE = 'application/vnd.dsse.envelope.v1+json';

const SIGNATURE_TYPES = new Set([
  COSIGN_SIMPLESIGNING,
  'application/vnd.dev.cosign.artifact.sig.v1+json',
  'application/vnd.cncf.notary.signature',
  'application/vnd.dev.sigstore.bundle+json',
  'application/vnd.dev.sigstore.bundle.v0.3+json',
  'application/pgp-signature',
]);
const ATTESTATION_TYPES = new Set([DSSE_ENVELOPE, 'application/vnd.in-toto+json', 'application/vnd.dev.cosign.attestation.v1+json']);
/** Config media types that say nothing about the artifact (the layers or artifactType do). */
const GENERIC_CONFIGS = new Set([
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.oci.empty.v1+json',
  'application/vnd.docker.container.image.v1+json',
  'application/vnd.unknown.config.v1+json',
]);

/** signature | sbom | attestation | other, from an artifact (or layer) media type. */
export function classifyArtifactType(type: string): ReferrerKind {
  const t = type.toLowerCase().split(';')[0]?.trim() ?? '';
  if (SIGNATURE_TYPES.has(t) || /(^|[./])(signature|sig)([.+]|$)/.test(t)) return 'signature';
  if (ATTESTATION_TYPES.has(t) || t.includes('in-toto') || t.includes('attestation')) return 'attestation';
  if (/spdx|cyclonedx|syft|sbom/.test(t)) return 'sbom';
  return 'other';
}

const KIND_ORDER: Record<ReferrerKind, number> = { signature: 0, attestation: 1, sbom: 2, other: 3 };

/** `sha256:<hex>` → the tag schema's `sha256-<hex>` (and cosign's base). */
export function digestTag(digest: string): string {
  return digest.replace(':', '-');
}

/**
 * The descriptors of an OCI image index (referrers API answer or tag-schema index), each classified by
 * its `artifactType` (registries fill it from the referrer's artifactType or config media type).
 */
export function parseReferrersIndex(body: unknown, source: ReferrerSource): Referrer[] {
  if (!isObject(body) || !Array.isArray(body['manifests'])) throw new Error('not an image index (no manifests list)');
  const mediaType = str(body['mediaType']);
  if (mediaType !== undefined && mediaType !== OCI_INDEX) throw new Error(`media type ${JSON.stringify(mediaType.slice(0, 100))} is not an OCI image index`);
  const out: Referrer[] = [];
  for (const d of body['manifests']) {
    if (!isObject(d)) continue;
    const digest = normalizeDigest(d['digest']);
    if (!digest) continue;
    const descMediaType = str(d['mediaType']);
    const artifactType = str(d['artifactType']) || undefined;
    out.push({ kind: artifactType ? classifyArtifactType(artifactType) : 'other', artifactType: artifactType ?? descMediaType ?? 'unknown', digest, mediaType: descMediaType, source });
  }
  return out;
}

/**
 * A referring manifest read in full (cosign's `.sig`/`.att`/`.sbom` tags, or a referrer whose descriptor
 * names no useful artifact type): the type is its artifactType, else a config media type that is not
 * generic, else its first layer's; for cosign tags the suffix decides when none of these is known.
 */
export function classifyManifest(body: JsonObject, digest: string, source: ReferrerSource, suffix?: 'sig' | 'att' | 'sbom'): Referrer {
  const artifactType = str(body['artifactType']) || undefined;
  const config = isObject(body['config']) ? str(body['config']['mediaType']) : undefined;
  const layers = Array.isArray(body['layers']) ? body['layers'].filter(isObject) : [];
  const layerType = layers.map((l) => str(l['mediaType'])).find((t): t is string => !!t);
  const type = artifactType ?? (config && !GENERIC_CONFIGS.has(config) ? config : undefined) ?? layerType ?? config ?? 'unknown';
  let kind = classifyArtifactType(type);
  if (kind === 'other' && suffix) kind = suffix === 'sig' ? 'signature' : suffix === 'att' ? 'attestation' : 'sbom';
  return { kind, artifactType: type, digest, mediaType: str(body['mediaType']), source };
}

/**
 * Descriptors that say nothing useful (no artifactType, or a generic config type: registries that fill
 * it from config.mediaType, as go-containerregistry's does, give `application/vnd.oci.empty.v1+json`
 * for every OCI 1.1 artifact) are classified from the manifest itself, at most `max` of them.
 */
async function refine(client: OciClient, name: string, found: Referrer[], o: ReferrersOptions, max: number): Promise<Referrer[]> {
  let budget = max;
  const out: Referrer[] = [];
  for (const r of found) {
    const vague = r.kind === 'other' && (r.artifactType === 'unknown' || r.artifactType === r.mediaType || GENERIC_CONFIGS.has(r.artifactType));
    if (!vague || budget <= 0) {
      out.push(r);
      continue;
    }
    budget--;
    const m = await client.anyManifest(name, r.digest, { accept: `${OCI_MANIFEST}, ${OCI_INDEX};q=0.5, ${DOCKER_MANIFEST};q=0.5`, maxBytes: o.maxIndexBytes ?? 1024 * 1024, signal: o.signal });
    out.push(m ? { ...classifyManifest(m.body, r.digest, r.source), mediaType: r.mediaType ?? m.contentType } : r);
  }
  return out;
}

/** Keeps only descriptors of `artifactType` when the registry did not apply the filter (OCI-Filters-Applied). */
export function applyArtifactTypeFilter(found: Referrer[], artifactType: string | undefined, filtersApplied: string | null): Referrer[] {
  if (!artifactType) return found;
  const applied = (filtersApplied ?? '').split(',').map((s) => s.trim());
  return applied.includes('artifactType') ? found : found.filter((r) => r.artifactType === artifactType);
}

/** Deduplicated by digest (first source wins), signatures first, then by digest for a stable order. */
export function mergeReferrers(lists: Referrer[][]): Referrer[] {
  const seen = new Map<string, Referrer>();
  for (const list of lists) for (const r of list) if (!seen.has(r.digest)) seen.set(r.digest, r);
  return [...seen.values()].sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
}

export interface ReferrersOptions {
  /** Referrers listed at most (the total is still counted); default 20. */
  maxListed?: number | undefined;
  /** Pages of the referrers API followed at most (`Link: rel="next"`); default 5. */
  maxPages?: number | undefined;
  /** Only this artifact type (server-side when the registry applies the filter). */
  artifactType?: string | undefined;
  maxIndexBytes?: number | undefined;
  signal?: AbortSignal | undefined;
}

const SUPPORTS_NOT = new Set([404, 400, 405, 501]);

async function referrersApi(client: OciClient, name: string, digest: string, o: ReferrersOptions): Promise<Referrer[] | undefined> {
  const maxPages = o.maxPages ?? 5;
  let path: string | undefined = `/v2/${name}/referrers/${digest}${o.artifactType ? `?artifactType=${encodeURIComponent(o.artifactType)}` : ''}`;
  const found: Referrer[] = [];
  for (let page = 0; path; page++) {
    if (page >= maxPages) throw new RepoError(client.repository, 'too_large', `referrers of ${name}@${digest}: more than ${maxPages} pages`);
    const res = await client.get(path, name, { signal: o.signal, maxBytes: o.maxIndexBytes ?? 1024 * 1024, what: `referrers of ${name}`, acceptStatus: [...SUPPORTS_NOT], headers: { accept: OCI_INDEX } });
    // No referrers API (docker-registry answers 404 for the unknown route): the tag schema applies.
    if (SUPPORTS_NOT.has(res.status)) return page === 0 ? undefined : found;
    let body: unknown;
    try {
      body = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new RepoError(client.repository, 'invalid_manifest', `referrers of ${name}@${digest}: not JSON`);
    }
    try {
      found.push(...applyArtifactTypeFilter(parseReferrersIndex(body, 'referrers-api'), o.artifactType, res.headers.get('oci-filters-applied')));
    } catch (err) {
      throw new RepoError(client.repository, 'invalid_manifest', `referrers of ${name}@${digest}: ${(err as Error).message}`);
    }
    const next = nextLink(res.headers.get('link'));
    if (next) {
      const u = new URL(next, res.url);
      if (u.origin !== new URL(client.base).origin) throw new RepoError(client.repository, 'redirect', `referrers of ${name}@${digest}: next page on another host`);
      path = u.pathname + u.search;
    } else path = undefined;
  }
  return found;
}

async function tagSchema(client: OciClient, name: string, digest: string, o: ReferrersOptions): Promise<Referrer[]> {
  const m = await client.anyManifest(name, digestTag(digest), { accept: OCI_INDEX, maxBytes: o.maxIndexBytes ?? 1024 * 1024, signal: o.signal });
  if (!m) return [];
  try {
    return applyArtifactTypeFilter(parseReferrersIndex(m.body, 'tag-schema'), o.artifactType, null);
  } catch (err) {
    throw new RepoError(client.repository, 'invalid_manifest', `referrers tag of ${name}@${digest}: ${(err as Error).message}`);
  }
}

async function cosignTags(client: OciClient, name: string, digest: string, o: ReferrersOptions): Promise<Referrer[]> {
  const out: Referrer[] = [];
  for (const suffix of ['sig', 'att', 'sbom'] as const) {
    const m = await client.anyManifest(name, `${digestTag(digest)}.${suffix}`, { accept: `${OCI_MANIFEST}, ${DOCKER_MANIFEST};q=0.5`, maxBytes: o.maxIndexBytes ?? 1024 * 1024, signal: o.signal });
    if (!m) continue;
    out.push(classifyManifest(m.body, m.digest, 'cosign-tag', suffix));
  }
  return applyArtifactTypeFilter(out, o.artifactType, null);
}

function describe(err: unknown): string {
  return err instanceof RepoError ? `${err.reason}: ${err.message}` : err instanceof Error ? err.message : String(err);
}

/**
 * Everything that refers to `name@digest`: the referrers API (or, without it, the tag schema) plus
 * cosign's tags. Never throws (an aborted signal aside): a failed lookup is named in `note`.
 */
export async function listReferrers(client: OciClient, name: string, digest: string, options: ReferrersOptions = {}): Promise<ReferrersReport> {
  const notes: string[] = [];
  const lists: Referrer[][] = [];
  try {
    const api = await referrersApi(client, name, digest, options);
    lists.push(await refine(client, name, api ?? (await tagSchema(client, name, digest, options)), options, options.maxListed ?? 20));
  } catch (err) {
    if (options.signal?.aborted) throw err;
    notes.push(`referrers lookup failed (${describe(err)})`);
  }
  try {
    lists.push(await cosignTags(client, name, digest, options));
  } catch (err) {
    if (options.signal?.aborted) throw err;
    notes.push(`cosign tag lookup failed (${describe(err)})`);
  }
  const all = mergeReferrers(lists);
  const max = Math.min(options.maxListed ?? 20, 50); // the CRD allows 50 items
  if (all.length > max) notes.push(`${all.length} referrers, ${max} listed`);
  return { referrers: all.slice(0, max), total: all.length, note: notes.length ? notes.join('; ') : undefined };
}
