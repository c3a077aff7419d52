/**
 * Pushes OCI artifacts that refer to a chart (SBOMs, attestations, cosign signatures, tag-schema indexes)
 * through a real registry's distribution API, as oras/cosign would: blob upload (POST + monolithic PUT)
 * and manifest PUT. Plain HTTP on loopback, no auth. The cosign signature is a real ECDSA P-256
 * signature over a real simple-signing payload, like `cosign sign --key` makes.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export function digestOf(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export async function pushBlob(host: string, repo: string, bytes: Buffer): Promise<string> {
  const digest = digestOf(bytes);
  const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await start.arrayBuffer();
  if (start.status !== 202) throw new Error(`blob upload start: HTTP ${start.status}`);
  const location = new URL(start.headers.get('location') ?? '', `http://${host}`);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) } });
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`blob upload: HTTP ${put.status}`);
  return digest;
}

/** PUT a manifest or index; `reference` a tag or undefined (by its digest). Returns its descriptor. */
export async function pushManifest(host: string, repo: string, body: object, reference?: string): Promise<Descriptor> {
  const bytes = Buffer.from(JSON.stringify(body));
  const mediaType = (body as { mediaType?: string }).mediaType ?? OCI_MANIFEST;
  const digest = digestOf(bytes);
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${reference ?? digest}`, { method: 'PUT', body: bytes, headers: { 'content-type': mediaType } });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`manifest PUT ${repo}:${reference ?? digest}: HTTP ${res.status} ${text.slice(0, 300)}`);
  const artifactType = (body as { artifactType?: string }).artifactType;
  return { mediaType, digest, size: bytes.length, ...(artifactType ? { artifactType } : {}) };
}

/** The chart manifest's descriptor, read back from the registry (the `subject` of its referrers). */
export async function manifestDescriptor(host: string, repo: string, reference: string): Promise<Descriptor> {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${reference}`, { headers: { accept: OCI_MANIFEST } });
  const bytes = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`manifest ${repo}:${reference}: HTTP ${res.status}`);
  return { mediaType: OCI_MANIFEST, digest: digestOf(bytes), size: bytes.length };
}

/** An OCI 1.1 artifact manifest (empty config, one layer) with `subject`; pushed by digest. */
export async function pushReferrer(host: string, repo: string, subject: Descriptor | undefined, artifactType: string, layerMediaType: string, content: Buffer): Promise<Descriptor> {
  const empty = Buffer.from('{}');
  await pushBlob(host, repo, empty);
  const layer = await pushBlob(host, repo, content);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType,
    config: { mediaType: OCI_EMPTY, digest: digestOf(empty), size: empty.length },
    layers: [{ mediaType: layerMediaType, digest: layer, size: content.length }],
    ...(subject ? { subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size } } : {}),
    annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
  };
  return pushManifest(host, repo, manifest);
}

export interface CosignKey {
  privateKey: KeyObject;
  publicKeyPem: string;
}

export function cosignKey(): CosignKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/**
 * What `cosign sign --key` pushes as `sha256-<hex>.sig`: an OCI manifest whose layer is the simple-signing
 * payload naming the signed digest, the signature in the `dev.cosignproject.cosign/signature` annotation.
 */
export async function pushCosignSignature(host: string, repo: string, signed: Descriptor, key: CosignKey, tagFor: Descriptor = signed): Promise<Descriptor & { payload: Buffer }> {
  const payload = Buffer.from(
    JSON.stringify({
      critical: { identity: { 'docker-reference': `${host}/${repo}` }, image: { 'docker-manifest-digest': signed.digest }, type: 'cosign container image signature' },
      optional: null,
    }),
  );
  const signature = sign('sha256', payload, key.privateKey).toString('base64');
  const d = await pushCosignManifest(host, repo, 'application/vnd.dev.cosign.simplesigning.v1+json', payload, { 'dev.cosignproject.cosign/signature': signature }, `${tagFor.digest.replace(':', '-')}.sig`);
  return { ...d, payload };
}

/** The manifest shape cosign pushes for its tags: an image config naming one layer, the layer, the tag. */
export async function pushCosignManifest(host: string, repo: string, layerMediaType: string, layer: Buffer, annotations: Record<string, string>, tag: string): Promise<Descriptor> {
  const config = Buffer.from(JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: [digestOf(layer)] } }));
  await pushBlob(host, repo, config);
  await pushBlob(host, repo, layer);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length },
    layers: [{ mediaType: layerMediaType, digest: digestOf(layer), size: layer.length, annotations }],
  };
  return pushManifest(host, repo, manifest, tag);
}

/** What `cosign attest` pushes as `sha256-<hex>.att`: a DSSE envelope layer with an in-toto statement. */
export async function pushCosignAttestation(host: string, repo: string, signed: Descriptor, key: CosignKey): Promise<Descriptor> {
  const statement = Buffer.from(
    JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://slsa.dev/provenance/v0.2', subject: [{ name: `${host}/${repo}`, digest: { sha256: signed.digest.slice(7) } }], predicate: {} }),
  );
  const payloadType = 'application/vnd.in-toto+json';
  const pae = Buffer.from(`DSSEv1 ${payloadType.length} ${payloadType} ${statement.length} ${statement.toString('utf8')}`);
  const envelope = Buffer.from(JSON.stringify({ payloadType, payload: statement.toString('base64'), signatures: [{ keyid: '', sig: sign('sha256', pae, key.privateKey).toString('base64') }] }));
  return pushCosignManifest(host, repo, 'application/vnd.dsse.envelope.v1+json', envelope, { predicateType: 'https://slsa.dev/provenance/v0.2' }, `${signed.digest.replace(':', '-')}.att`);
}

/** The referrers tag schema: an index of the referrers at tag `sha256-<hex>` (what clients maintain without the API). */
export async function pushTagSchemaIndex(host: string, repo: string, subject: Descriptor, referrers: Descriptor[]): Promise<Descriptor> {
  return pushManifest(host, repo, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: referrers }, subject.digest.replace(':', '-'));
}
