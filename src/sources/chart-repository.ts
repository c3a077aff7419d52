import type { Credentials, KeylessPolicy, OidcIdentity, RepositoryConfig } from '../model/repository.ts';
import { isObject, str } from '../util/guards.ts';
import { readSecret } from '../kube/core-objects.ts';
import type { KubeConfig } from '../kube/kubeconfig.ts';
import { CHART_REPOSITORY_SPEC_KEYS, ConfigError, parseOidcIdentities, parseRepositorySettings } from './repository-config.ts';
import { authEntryCredentials, loginEntries, loginKey } from './oci/registry-host.ts';

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

function ref(v: unknown, defaultNamespace: string): SecretRef | undefined {
  if (!isObject(v) || typeof v['name'] !== 'string' || !v['name']) return undefined;
  return { name: v['name'], namespace: str(v['namespace']) || defaultNamespace };
}

/**
 * ChartRepository.spec → plain data; throws a message for the Ready condition when it is unusable. The shared
 * fields go through the same parser as the CLI's --config file.
 */
export function parseRepositorySpec(spec: unknown, defaultNamespace: string): ChartRepositorySpec {
  if (!isObject(spec)) throw new ConfigError('spec is missing');
  const settings = parseRepositorySettings(spec, 'spec', CHART_REPOSITORY_SPEC_KEYS);
  return {
    url: settings.url,
    intervalSeconds: settings.intervalSeconds,
    timeoutSeconds: settings.timeoutSeconds,
    priority: settings.priority,
    secretRef: ref(spec['secretRef'], defaultNamespace),
    caSecretRef: ref(spec['caSecretRef'], defaultNamespace),
    insecureSkipTLSVerify: settings.insecureSkipTLSVerify,
    plainHTTP: settings.plainHTTP,
    keyringSecretRef: ref(spec['keyringSecretRef'], defaultNamespace),
    requireSignature: settings.requireSignature,
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
 * kubernetes.io/dockerconfigjson (the entry for the repository's host; Docker Hub's three names share
 * one; an `identitytoken` entry is a refresh token, authEntryCredentials), or a `token` key (bearer).
 */
export function credentialsFromSecret(type: string | undefined, data: Record<string, string> | undefined, repoUrl: string): Credentials | undefined {
  const d = data ?? {};
  const token = b64(d['token']);
  if (token) return { kind: 'bearer', token: token.trim() };
  if (type === 'kubernetes.io/dockerconfigjson' || d['.dockerconfigjson']) {
    // Docker Hub's names share the `https://index.docker.io/v1/` entry (kubectl's default --docker-server).
    const key = loginKey(new URL(repoUrl.replace(/^oci:/, 'https:')).host);
    let doc: unknown;
    try {
      doc = JSON.parse(b64(d['.dockerconfigjson']) ?? '{}');
    } catch {
      throw new Error('the .dockerconfigjson in the referenced Secret is not valid JSON');
    }
    const auths = isObject(doc) && isObject(doc['auths']) ? doc['auths'] : {};
    const entry = loginEntries(Object.entries(auths)).get(key);
    if (!isObject(entry)) return undefined;
    return authEntryCredentials(entry);
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

/**
 * The CA of a TLS Secret: `ca.crt`, else Flux's legacy `caFile` key (fluxcd/pkg runtime/secrets: the standard
 * name wins when both are there).
 */
export function caFromSecretData(data: Record<string, string> | undefined): string | undefined {
  const ca = data?.['ca.crt'] || data?.['caFile'];
  return ca ? Buffer.from(ca, 'base64').toString('utf8') : undefined;
}

/**
 * A repository's CA: from the CA Secret when one is named (`caData`, else undefined), else one beside the
 * credentials in `secretRef`'s Secret, as Flux reads a HelmRepository's secretRef (deprecated there, still
 * served: fluxcd/pkg runtime/secrets). The one rule for ChartRepositories and the CLI's Flux sources.
 */
export function repositoryCa(secretData: Record<string, string> | undefined, caData: Record<string, string> | undefined): string | undefined {
  return caData !== undefined ? caFromSecretData(caData) : caFromSecretData(secretData);
}

/**
 * A ChartRepository object → the repository it declares, with credentials, CA, keyring and cosign keys read
 * from the Secrets it references (with `kc`'s permissions). The controller and the CLI's cluster discovery
 * both use this, so a repository is read the same way wherever it is used. The keyring is returned unchecked:
 * checking it needs the signature code, a later pipeline stage.
 */
export async function resolveChartRepository(kc: KubeConfig, name: string, spec: unknown, defaultNamespace: string): Promise<RepositoryConfig> {
  const parsed = parseRepositorySpec(spec, defaultNamespace);
  let credentials: Credentials | undefined;
  let secretData: Record<string, string> | undefined;
  if (parsed.secretRef) {
    const s = await readSecret(kc, parsed.secretRef);
    secretData = s.data;
    credentials = credentialsFromSecret(s.type, s.data, parsed.url);
  }
  const caData = parsed.caSecretRef ? ((await readSecret(kc, parsed.caSecretRef)).data ?? {}) : undefined;
  const caPem = repositoryCa(secretData, caData);
  if (parsed.caSecretRef && !caPem) throw new Error(`Secret ${parsed.caSecretRef.namespace}/${parsed.caSecretRef.name} has no ca.crt (nor Flux's caFile)`);
  let cosignKeys: string[] | undefined;
  if (parsed.cosignKeySecretRef) {
    cosignKeys = cosignKeysFromSecret((await readSecret(kc, parsed.cosignKeySecretRef)).data);
    if (!cosignKeys.length) throw new Error(`Secret ${parsed.cosignKeySecretRef.namespace}/${parsed.cosignKeySecretRef.name} has no PEM public key`);
  }
  let keyring: string[] | undefined;
  if (parsed.keyringSecretRef) {
    keyring = keyringFromSecret((await readSecret(kc, parsed.keyringSecretRef)).data);
  } else if (parsed.requireSignature && !parsed.cosignKeySecretRef && !parsed.keyless) {
    throw new Error('spec.requireSignature needs spec.keyringSecretRef, spec.cosignKeySecretRef or spec.keyless (who may sign)');
  }
  let keyless: KeylessPolicy | undefined;
  if (parsed.keyless) {
    const ref = parsed.keyless.trustedRootSecretRef;
    let trustedRootJson: string | undefined;
    if (ref) {
      const value = (await readSecret(kc, ref)).data?.[ref.key];
      if (!value) throw new Error(`Secret ${ref.namespace}/${ref.name} has no ${ref.key}`);
      trustedRootJson = Buffer.from(value, 'base64').toString('utf8');
    }
    keyless = { identities: parsed.keyless.identities, trustedRootJson };
  }
  return toRepositoryConfig(name, parsed, credentials, caPem, keyring, cosignKeys, keyless);
}
