import type { Credentials, KeylessPolicy, OidcIdentity, RepositoryConfig } from '../model/repository.ts';
import { parseDuration, parseTimeout } from '../util/duration.ts';
import { isObject, str, type JsonObject } from '../util/guards.ts';

export interface SecretRef {
  name: string;
  namespace: string;
}

export interface ChartRepositorySpec {
  url: string;
  intervalSeconds: number;
  timeoutSeconds: number;
  priority: number;
  secretRef?: SecretRef | undefined;
  caSecretRef?: SecretRef | undefined;
  insecureSkipTLSVerify: boolean;
  plainHTTP: boolean;
  keyringSecretRef?: SecretRef | undefined;
  requireSignature: boolean;
  /** OCI: Secret whose PEM public keys verify cosign `.sig` signatures (reported on origin.referrers). */
  cosignKeySecretRef?: SecretRef | undefined;
  /** OCI: keyless signatures and who may make them; the trusted root from a Secret or Sigstore's public TUF. */
  keyless?: { identities: OidcIdentity[]; trustedRootSecretRef?: (SecretRef & { key: string }) | undefined } | undefined;
}

const IDENTITY_FIELDS = ['issuer', 'issuerRegExp', 'subject', 'subjectRegExp'] as const;

/**
 * `matchOIDCIdentity` (ChartRepository spec.keyless and the CLI config alike): a non-empty list of
 * {issuer | issuerRegExp, subject | subjectRegExp}, strings only. Whether the expressions compile is
 * checked where they are used (src/signatures/cosign.ts identityMatcher).
 */
export function parseOidcIdentities(v: unknown, where: string): OidcIdentity[] {
  if (!Array.isArray(v) || v.length === 0) throw new Error(`${where}: must be a non-empty list of {issuer or issuerRegExp, subject or subjectRegExp}`);
  return v.map((item, i) => {
    if (!isObject(item)) throw new Error(`${where}[${i}]: must be a mapping`);
    const id: OidcIdentity = {};
    for (const f of IDENTITY_FIELDS) {
      if (item[f] === undefined) continue;
      const s = str(item[f]);
      if (!s) throw new Error(`${where}[${i}].${f}: must be a non-empty string`);
      id[f] = s;
    }
    if ((id.issuer === undefined) === (id.issuerRegExp === undefined)) throw new Error(`${where}[${i}]: give issuer or issuerRegExp (one of them)`);
    if ((id.subject === undefined) === (id.subjectRegExp === undefined)) throw new Error(`${where}[${i}]: give subject or subjectRegExp (one of them)`);
    return id;
  });
}

function ref(v: unknown, defaultNamespace: string): SecretRef | undefined {
  if (!isObject(v) || typeof v['name'] !== 'string' || !v['name']) return undefined;
  return { name: v['name'], namespace: str(v['namespace']) || defaultNamespace };
}

/** ChartRepository.spec → plain data; throws a message for the Ready condition when it is unusable. */
export function parseRepositorySpec(spec: unknown, defaultNamespace: string): ChartRepositorySpec {
  if (!isObject(spec)) throw new Error('spec is missing');
  const url = str(spec['url']);
  if (!url || !/^(https?|oci):\/\/[^/\s]+/.test(url)) throw new Error('spec.url must start with http://, https:// or oci://');
  const interval = str(spec['interval']) ?? '1h';
  const intervalSeconds = parseDuration(interval);
  if (!intervalSeconds) throw new Error(`spec.interval "${interval}" is not a duration`);
  const timeoutSeconds = parseTimeout(str(spec['timeout']), (m) => new Error(`spec.timeout ${m}`));
  const priority = typeof spec['priority'] === 'number' ? spec['priority'] : 0;
  return {
    url: url.replace(/\/+$/, ''),
    intervalSeconds,
    timeoutSeconds,
    priority,
    secretRef: ref(spec['secretRef'], defaultNamespace),
    caSecretRef: ref(spec['caSecretRef'], defaultNamespace),
    insecureSkipTLSVerify: spec['insecureSkipTLSVerify'] === true,
    plainHTTP: spec['plainHTTP'] === true,
    keyringSecretRef: ref(spec['keyringSecretRef'], defaultNamespace),
    requireSignature: spec['requireSignature'] === true,
    ...(isObject(spec['cosignKeySecretRef']) ? { cosignKeySecretRef: ref(spec['cosignKeySecretRef'], defaultNamespace) } : {}),
    ...(spec['keyless'] !== undefined ? { keyless: parseKeyless(spec['keyless'], defaultNamespace) } : {}),
  };
}

function parseKeyless(v: unknown, defaultNamespace: string): NonNullable<ChartRepositorySpec['keyless']> {
  if (!isObject(v)) throw new Error('spec.keyless must be an object');
  const identities = parseOidcIdentities(v['matchOIDCIdentity'], 'spec.keyless.matchOIDCIdentity');
  const secret = ref(v['trustedRootSecretRef'], defaultNamespace);
  if (v['trustedRootSecretRef'] !== undefined && !secret) throw new Error('spec.keyless.trustedRootSecretRef needs a name');
  const key = isObject(v['trustedRootSecretRef']) ? (str(v['trustedRootSecretRef']['key']) ?? 'trusted_root.json') : 'trusted_root.json';
  return { identities, trustedRootSecretRef: secret ? { ...secret, key } : undefined };
}

/** Every value of a keyring Secret: each may hold one or more armored (or binary) public keys. */
export function keyringFromSecret(data: Record<string, string> | undefined): string[] {
  return Object.keys(data ?? {})
    .sort()
    .map((k) => Buffer.from(data?.[k] ?? '', 'base64').toString('latin1'));
}

/** Every value of a Secret that is a PEM public key (`cosign.pub` from `cosign generate-key-pair`). */
export function cosignKeysFromSecret(data: Record<string, string> | undefined): string[] {
  return Object.values(data ?? {})
    .map((v) => Buffer.from(v, 'base64').toString('utf8'))
    .filter((v) => v.includes('-----BEGIN PUBLIC KEY-----'));
}

function b64(v: string | undefined): string | undefined {
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

/**
 * Credentials from a referenced Secret: kubernetes.io/basic-auth (username/password),
 * kubernetes.io/dockerconfigjson (the entry for the repository's host), or a `token` key (bearer).
 */
export function credentialsFromSecret(type: string | undefined, data: Record<string, string> | undefined, repoUrl: string): Credentials | undefined {
  const d = data ?? {};
  const token = b64(d['token']);
  if (token) return { kind: 'bearer', token: token.trim() };
  if (type === 'kubernetes.io/dockerconfigjson' || d['.dockerconfigjson']) {
    const host = new URL(repoUrl.replace(/^oci:/, 'https:')).host;
    let doc: unknown;
    try {
      doc = JSON.parse(b64(d['.dockerconfigjson']) ?? '{}');
    } catch {
      throw new Error('the .dockerconfigjson in the referenced Secret is not valid JSON');
    }
    const auths = isObject(doc) && isObject(doc['auths']) ? doc['auths'] : {};
    const entry = Object.entries(auths).find(([k]) => k === host || k.replace(/^https?:\/\//, '').replace(/\/.*$/, '') === host)?.[1];
    if (!isObject(entry)) return undefined;
    const e = entry as JsonObject;
    if (typeof e['username'] === 'string') return { kind: 'basic', username: e['username'], password: str(e['password']) ?? '' };
    const auth = str(e['auth']);
    if (auth) {
      const decoded = Buffer.from(auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    return undefined;
  }
  const username = b64(d['username']);
  if (username !== undefined) return { kind: 'basic', username, password: b64(d['password']) ?? '' };
  return undefined;
}

export function toRepositoryConfig(name: string, spec: ChartRepositorySpec, credentials: Credentials | undefined, caPem: string | undefined, keyring?: readonly string[], cosignPublicKeys?: string[], keyless?: KeylessPolicy): RepositoryConfig {
  return {
    name,
    url: spec.url,
    priority: spec.priority,
    intervalSeconds: spec.intervalSeconds,
    timeoutSeconds: spec.timeoutSeconds,
    credentials,
    caPem,
    insecureSkipTLSVerify: spec.insecureSkipTLSVerify,
    plainHTTP: spec.plainHTTP,
    keyring,
    requireSignature: spec.requireSignature,
    cosignPublicKeys,
    keyless,
  };
}
