import type { ClientCertificate, Credentials, KeylessPolicy, OidcIdentity, RepositoryConfig } from '../model/repository.ts';
import { caBundleProblem, clientCertificateProblem } from './client-certificate.ts';
import { isObject, str } from '../util/guards.ts';
import { secretReader } from '../kube/core-objects.ts';
import type { KubeConfig } from '../kube/kubeconfig.ts';
import { CHART_REPOSITORY_SPEC_KEYS, ConfigError, parseOidcIdentities, parseRepositorySettings } from './repository-config.ts';
import { authEntryCredentials, loginEntries, loginKey } from './oci/registry-host.ts';
import type { CloudProvider } from './oci/cloud-registry.ts';

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
  /** The repository's TLS Secret (Flux's certSecretRef): `ca.crt`, and/or a client certificate `tls.crt` + `tls.key`. */
  caSecretRef?: SecretRef | undefined;
  insecureSkipTLSVerify: boolean;
  plainHTTP: boolean;
  /** OCI: registry credentials from the controller's cloud identity when no secretRef is given (Flux's spec.provider). */
  provider?: CloudProvider | undefined;
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
    ...(settings.provider ? { provider: settings.provider } : {}),
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
 * Whose reading of a dockerconfigjson entry applies: Helm's (oras-go v2), for ChartRepositories written by hand,
 * Helm's and Docker's configs and Flux HelmRepositories; or go-containerregistry's, for a Flux OCIRepository,
 * which source-controller fetches through it (k8schain → authn.FromConfig → transport). The two differ in one
 * place: go-containerregistry sends a `registrytoken` to a Basic challenge too, as Bearer (basicTransport).
 */
export type CredentialReading = 'helm' | 'go-containerregistry';

/**
 * The label Flux discovery puts on a ChartRepository it creates: the kind of the Flux object that declares it
 * first (the one whose Secret it uses), so that the controller reads that Secret as that kind's fetcher does.
 */
export const FLUX_SOURCE_KIND_LABEL = 'chartorigin.io/flux-source-kind';

/** A ChartRepository's labels → the reading of its Secret: go-containerregistry's for an OCIRepository's. */
export function credentialReadingOf(labels: unknown): CredentialReading {
  return isObject(labels) && labels[FLUX_SOURCE_KIND_LABEL] === 'OCIRepository' ? 'go-containerregistry' : 'helm';
}

/**
 * Credentials from a referenced Secret: kubernetes.io/basic-auth (username/password),
 * kubernetes.io/dockerconfigjson (the entry for the repository's host; Docker Hub's three names share
 * one; an `identitytoken` is a refresh token, a `registrytoken` an access token, authEntryCredentials), or a
 * `token` key (bearer).
 */
export function credentialsFromSecret(type: string | undefined, data: Record<string, string> | undefined, repoUrl: string, reading: CredentialReading = 'helm'): Credentials | undefined {
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
    const c = authEntryCredentials(entry);
    if (reading === 'go-containerregistry' && c?.kind === 'access') return { ...c, answersBasic: true };
    // go-containerregistry's authn.Basic sends `user:` to a Basic challenge; oras-go (Helm) refuses it.
    if (reading === 'go-containerregistry' && c?.kind === 'basic') return { kind: 'basic', username: c.username, password: c.password };
    return c;
  }
  const username = b64(d['username']);
  if (username !== undefined) return { kind: 'basic', username, password: b64(d['password']) ?? '' };
  return undefined;
}

export function toRepositoryConfig(name: string, spec: ChartRepositorySpec, credentials: Credentials | undefined, tls: SecretTls, keyring?: readonly string[], cosignPublicKeys?: string[], keyless?: KeylessPolicy): RepositoryConfig {
  return {
    name,
    url: spec.url,
    priority: spec.priority,
    intervalSeconds: spec.intervalSeconds,
    timeoutSeconds: spec.timeoutSeconds,
    credentials,
    caPem: tls.caPem,
    ...(tls.clientCertificate ? { clientCertificate: tls.clientCertificate } : {}),
    insecureSkipTLSVerify: spec.insecureSkipTLSVerify,
    plainHTTP: spec.plainHTTP,
    // As source-controller: a secretRef, readable or not, means the provider is not used.
    ...(spec.provider && !spec.secretRef ? { provider: spec.provider } : {}),
    keyring,
    requireSignature: spec.requireSignature,
    cosignPublicKeys,
    keyless,
  };
}

/** One key of a TLS Secret's data, decoded: which key it came from, and its value ('' when empty). */
interface TlsValue {
  key: string;
  pem: string;
}

/**
 * fluxcd/pkg runtime/secrets getSecretData: the standard key when the Secret has it at all, even empty (then
 * the legacy key is not looked at), else Flux's legacy key.
 */
function tlsValue(data: Record<string, string>, standard: string, legacy: string): TlsValue | undefined {
  const key = standard in data ? standard : legacy in data ? legacy : undefined;
  return key === undefined ? undefined : { key, pem: Buffer.from(data[key] ?? '', 'base64').toString('utf8') };
}

/** What a Secret gives the repository's TLS: a CA to trust and a client certificate to present. */
export interface SecretTls {
  caPem?: string | undefined;
  clientCertificate?: ClientCertificate | undefined;
}

/**
 * A Secret's TLS, read as Flux reads it (fluxcd/pkg runtime/secrets, TLSConfigFromSecret and
 * AuthMethodsFromSecret): `tls.crt` and `tls.key`, a client certificate and its key, and `ca.crt`, each
 * standard key over Flux's legacy `certFile`/`keyFile`/`caFile`. A pair needs both halves; an empty value
 * counts as absent.
 *
 * `strict` is the Secret named for TLS (Flux's certSecretRef, a ChartRepository's caSecretRef): half a pair,
 * or neither a pair nor a CA, is an error there. A secretRef's TLS (deprecated in Flux, still served) is
 * only taken when it is complete: there those cases are "no TLS", as AuthMethodsFromSecret ignores them. A
 * pair that is complete but unusable is an error either way. Messages name keys, never values; the caller
 * names the Secret.
 */
export function tlsFromSecretData(data: Record<string, string> | undefined, strict: boolean): SecretTls {
  const d = data ?? {};
  const cert = tlsValue(d, 'tls.crt', 'certFile');
  const key = tlsValue(d, 'tls.key', 'keyFile');
  const ca = tlsValue(d, 'ca.crt', 'caFile');
  const hasCert = Boolean(cert?.pem);
  const hasKey = Boolean(key?.pem);
  const caPem = ca?.pem || undefined;
  if (hasCert !== hasKey) {
    if (!strict) return {};
    throw new Error(hasCert ? `has ${cert?.key} but no private key (tls.key)` : `has ${key?.key} but no certificate (tls.crt)`);
  }
  if (!hasCert && !caPem) {
    if (strict) throw new Error("has neither ca.crt nor both tls.crt and tls.key (nor Flux's legacy caFile, certFile, keyFile)");
    return {};
  }
  // A CA that holds no certificate fails the Secret in either mode: buildTLSConfig's error is not one of the
  // TLSValidationErrors that AuthMethodsFromSecret ignores in a secretRef.
  const caIssue = caPem === undefined ? undefined : caBundleProblem(caPem);
  if (caIssue) throw new Error(`has ${ca?.key} that cannot be used: ${caIssue}`);
  if (!cert?.pem || !key?.pem) return { caPem };
  const clientCertificate: ClientCertificate = { certPem: cert.pem, keyPem: key.pem };
  const problem = clientCertificateProblem(clientCertificate);
  if (problem) throw new Error(`has ${cert.key} and ${key.key} that cannot be used: ${problem}`);
  return { caPem, clientCertificate };
}

/** A referenced Secret as read: where it is (for messages) and its data. */
export interface ReadSecret {
  ref: SecretRef;
  data: Record<string, string> | undefined;
}

/**
 * A repository's TLS from its Secrets, as source-controller reads a HelmRepository's (internal/helm/getter
 * GetClientOpts): the TLS Secret, when one is named, decides alone and strictly; without one, TLS beside the
 * credentials in the secretRef Secret is used. The secretRef Secret's TLS is read either way, so a broken pair
 * there is an error even when unused, as in Flux. The one rule for ChartRepositories and the CLI's Flux sources.
 */
export function repositoryTls(secret: ReadSecret | undefined, tlsSecret: ReadSecret | undefined): SecretTls {
  const named = (s: ReadSecret, strict: boolean): SecretTls => {
    try {
      return tlsFromSecretData(s.data, strict);
    } catch (err) {
      throw new Error(`Secret ${s.ref.namespace}/${s.ref.name} ${(err as Error).message}`);
    }
  };
  const beside = secret ? named(secret, false) : {};
  return tlsSecret ? named(tlsSecret, true) : beside;
}

/**
 * A ChartRepository object → the repository it declares, with credentials, TLS, keyring and cosign keys read
 * from the Secrets it references (with `kc`'s permissions). The controller and the CLI's cluster discovery
 * both use this, so a repository is read the same way wherever it is used (`reading`: credentialReadingOf its
 * labels). The keyring is returned unchecked:
 * checking it needs the signature code, a later pipeline stage.
 */
export async function resolveChartRepository(kc: KubeConfig, name: string, spec: unknown, defaultNamespace: string, reading: CredentialReading = 'helm'): Promise<RepositoryConfig> {
  const parsed = parseRepositorySpec(spec, defaultNamespace);
  const readSecret = secretReader(kc);
  // Every referenced Secret requested at once, each once; awaited below in this order, so the error reported
  // is the same whichever answer comes first.
  for (const ref of [parsed.secretRef, parsed.caSecretRef, parsed.cosignKeySecretRef, parsed.keyringSecretRef, parsed.keyless?.trustedRootSecretRef]) if (ref) void readSecret(ref);
  let credentials: Credentials | undefined;
  let secret: ReadSecret | undefined;
  if (parsed.secretRef) {
    const s = await readSecret(parsed.secretRef);
    secret = { ref: parsed.secretRef, data: s.data };
    credentials = credentialsFromSecret(s.type, s.data, parsed.url, reading);
  }
  const tlsSecret = parsed.caSecretRef ? { ref: parsed.caSecretRef, data: (await readSecret(parsed.caSecretRef)).data } : undefined;
  const tls = repositoryTls(secret, tlsSecret);
  let cosignKeys: string[] | undefined;
  if (parsed.cosignKeySecretRef) {
    cosignKeys = cosignKeysFromSecret((await readSecret(parsed.cosignKeySecretRef)).data);
    if (!cosignKeys.length) throw new Error(`Secret ${parsed.cosignKeySecretRef.namespace}/${parsed.cosignKeySecretRef.name} has no PEM public key`);
  }
  let keyring: string[] | undefined;
  if (parsed.keyringSecretRef) {
    keyring = keyringFromSecret((await readSecret(parsed.keyringSecretRef)).data);
  } else if (parsed.requireSignature && !parsed.cosignKeySecretRef && !parsed.keyless) {
    throw new Error('spec.requireSignature needs spec.keyringSecretRef, spec.cosignKeySecretRef or spec.keyless (who may sign)');
  }
  let keyless: KeylessPolicy | undefined;
  if (parsed.keyless) {
    const ref = parsed.keyless.trustedRootSecretRef;
    let trustedRootJson: string | undefined;
    if (ref) {
      const value = (await readSecret(ref)).data?.[ref.key];
      if (!value) throw new Error(`Secret ${ref.namespace}/${ref.name} has no ${ref.key}`);
      trustedRootJson = Buffer.from(value, 'base64').toString('utf8');
    }
    keyless = { identities: parsed.keyless.identities, trustedRootJson };
  }
  return toRepositoryConfig(name, parsed, credentials, tls, keyring, cosignKeys, keyless);
}
