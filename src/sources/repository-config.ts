/**
 * The one parser for declared repositories. The CLI's `--config` file and the ChartRepository adapter (and
 * through it every discovered source) read the shared fields here, so a field means the same everywhere and
 * a misspelt key is an error wherever it is written (the two parsers had drifted: the file took a fractional
 * `priority` the spec ignored, and neither noticed `plainHttp` for `plainHTTP`).
 */
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import type { ClientCertificate, Credentials, KeylessPolicy, OidcIdentity, RepositoryConfig } from '../model/repository.ts';
import { caBundleProblem, clientCertificateProblem } from './client-certificate.ts';
import { parseDuration, parseTimeout } from '../util/duration.ts';
import { isObject, str, type JsonObject } from '../util/guards.ts';
import { cloudRegistryInput, cloudTransportProblem, isCloudProvider, type CloudProvider } from './oci/cloud-registry.ts';
import { ociUrlProblem } from './url.ts';

/** A repository declaration that cannot be used; the message names the file or object and the field. */
export class ConfigError extends Error {
  readonly reason = 'invalid_config';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** The fields every way of declaring a repository shares. */
export interface RepositorySettings {
  url: string;
  intervalSeconds: number;
  timeoutSeconds: number;
  priority: number;
  insecureSkipTLSVerify: boolean;
  plainHTTP: boolean;
  requireSignature: boolean;
  /** OCI: credentials from the ambient cloud identity (Flux's `spec.provider`); `generic` is none. */
  provider?: CloudProvider | undefined;
}

const SHARED_KEYS = ['url', 'interval', 'timeout', 'priority', 'insecureSkipTLSVerify', 'plainHTTP', 'requireSignature', 'provider'] as const;
/** A repository in the CLI's `--config` file (secrets inline or from the environment, files relative to it). */
export const CONFIG_FILE_KEYS: readonly string[] = [...SHARED_KEYS, 'name', 'username', 'usernameEnv', 'password', 'passwordEnv', 'token', 'tokenEnv', 'caFile', 'certFile', 'keyFile', 'keyring', 'keyless'];
/** ChartRepository.spec (secrets and keys by reference). */
export const CHART_REPOSITORY_SPEC_KEYS: readonly string[] = [...SHARED_KEYS, 'secretRef', 'caSecretRef', 'keyringSecretRef', 'cosignKeySecretRef', 'keyless'];
const CONFIG_FILE_TOP_KEYS: readonly string[] = ['repositories', 'verify'];

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/**
 * The valid key a misspelt one most likely meant: same letters in another case first (`plainHttp`), else the
 * nearest by edit distance when at most a third of the key differs (`intervall`, `priorty`, `repositorys`).
 */
export function closestKey(key: string, valid: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const sameLetters = valid.find((v) => v.toLowerCase() === lower);
  if (sameLetters) return sameLetters;
  let best: { key: string; d: number } | undefined;
  for (const v of valid) {
    const d = editDistance(lower, v.toLowerCase());
    if (!best || d < best.d) best = { key: v, d };
  }
  return best && best.d <= Math.max(1, Math.floor(key.length / 3)) ? best.key : undefined;
}

/** Throws for the first key of `o` that is not in `valid`, naming the closest valid one. */
export function rejectUnknownKeys(o: JsonObject, valid: readonly string[], where: string): void {
  for (const key of Object.keys(o)) {
    if (valid.includes(key)) continue;
    const near = closestKey(key, valid);
    throw new ConfigError(`${where}: unknown key "${key}"${near ? ` (did you mean "${near}"?)` : ` (valid keys: ${valid.join(', ')})`}`);
  }
}

/** The shared fields of one declaration; `where` prefixes every message (`repos.yaml: repositories[0]`, `spec`). */
export function parseRepositorySettings(r: JsonObject, where: string, validKeys: readonly string[]): RepositorySettings {
  rejectUnknownKeys(r, validKeys, where);
  const url = str(r['url']);
  if (!url || !/^(https?|oci):\/\/[^/\s]+/.test(url)) throw new ConfigError(`${where}.url: must start with http://, https:// or oci:// and name a host`);
  // The prefix alone let `https://host:8443x/` or `https://a b/` through to the clients, which parse it with
  // WHATWG URL rules and threw far from the declaration. The URL is not quoted: it may carry credentials.
  if (!URL.canParse(url) || !URL.canParse(url.replace(/^oci:/, 'https:'))) throw new ConfigError(`${where}.url: not a valid URL (its host, port or characters)`);
  const ociProblem = ociUrlProblem(url);
  if (ociProblem) throw new ConfigError(`${where}.url: ${ociProblem}`);
  const priority = r['priority'] ?? 0;
  if (typeof priority !== 'number' || !Number.isInteger(priority)) throw new ConfigError(`${where}.priority: must be an integer`);
  const interval = r['interval'] ?? '1h';
  const intervalSeconds = typeof interval === 'string' ? parseDuration(interval) : undefined;
  if (intervalSeconds === undefined || intervalSeconds <= 0) throw new ConfigError(`${where}.interval: ${JSON.stringify(interval)} is not a duration like 30m or 1h`);
  if (r['timeout'] !== undefined && typeof r['timeout'] !== 'string') throw new ConfigError(`${where}.timeout: must be a duration like 30s or 2m`);
  const timeoutSeconds = parseTimeout(str(r['timeout']), (m) => new ConfigError(`${where}.timeout: ${m}`));
  for (const flag of ['insecureSkipTLSVerify', 'plainHTTP', 'requireSignature'] as const) {
    if (r[flag] !== undefined && typeof r[flag] !== 'boolean') throw new ConfigError(`${where}.${flag}: must be true or false`);
  }
  const provider = parseProvider(r['provider'], url, where);
  const transport = provider && cloudTransportProblem({ plainHTTP: r['plainHTTP'] === true, insecureSkipTLSVerify: r['insecureSkipTLSVerify'] === true });
  if (transport) throw new ConfigError(`${where}.provider: ${transport}`);
  return {
    url: url.replace(/\/+$/, ''),
    ...(provider ? { provider } : {}),
    intervalSeconds,
    timeoutSeconds,
    priority,
    insecureSkipTLSVerify: r['insecureSkipTLSVerify'] === true,
    plainHTTP: r['plainHTTP'] === true,
    requireSignature: r['requireSignature'] === true,
  };
}

/**
 * `provider`: Flux's enum (generic | aws | azure | gcp; `generic` and absent mean none), for oci:// URLs only
 * (Flux reads it for OCIRepository and HelmRepository type oci), on a registry host the provider serves —
 * fluxcd/pkg's patterns, whose message names the pattern (cloud-registry.ts), matched against the host the
 * clients will request (the URL parsed, not the string cut at its first slash).
 */
function parseProvider(v: unknown, url: string, where: string): CloudProvider | undefined {
  if (v === undefined || v === 'generic') return undefined;
  if (!isCloudProvider(v)) throw new ConfigError(`${where}.provider: must be generic, aws, azure or gcp`);
  if (!url.startsWith('oci://')) throw new ConfigError(`${where}.provider: only for oci:// registries`);
  const registry = cloudRegistryInput(v, url.slice('oci://'.length));
  if ('error' in registry) throw new ConfigError(`${where}.provider: ${registry.error}`);
  return v;
}

const IDENTITY_FIELDS = ['issuer', 'issuerRegExp', 'subject', 'subjectRegExp'] as const;

/**
 * `matchOIDCIdentity` (ChartRepository spec.keyless and the CLI config alike): a non-empty list of
 * {issuer | issuerRegExp, subject | subjectRegExp}, strings only. Whether the expressions compile is
 * checked where they are used (src/signatures/cosign.ts identityMatcher).
 */
export function parseOidcIdentities(v: unknown, where: string): OidcIdentity[] {
  if (!Array.isArray(v) || v.length === 0) throw new ConfigError(`${where}: must be a non-empty list of {issuer or issuerRegExp, subject or subjectRegExp}`);
  return v.map((item, i) => {
    if (!isObject(item)) throw new ConfigError(`${where}[${i}]: must be a mapping`);
    const id: OidcIdentity = {};
    for (const f of IDENTITY_FIELDS) {
      if (item[f] === undefined) continue;
      const s = str(item[f]);
      if (!s) throw new ConfigError(`${where}[${i}].${f}: must be a non-empty string`);
      id[f] = s;
    }
    if ((id.issuer === undefined) === (id.issuerRegExp === undefined)) throw new ConfigError(`${where}[${i}]: give issuer or issuerRegExp (one of them)`);
    if ((id.subject === undefined) === (id.subjectRegExp === undefined)) throw new ConfigError(`${where}[${i}]: give subject or subjectRegExp (one of them)`);
    return id;
  });
}

/**
 * The file's `keyless: {matchOIDCIdentity: [...], trustedRoot: FILE}` (trustedRoot absent: Sigstore's public
 * TUF root). The root file is read here; whether it is a usable trusted root is checked by the CLI, which
 * may load the signature code (src/cli/config.ts).
 */
function fileKeyless(v: unknown, where: string, baseDir: string): KeylessPolicy | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) throw new ConfigError(`${where}: must be a mapping with matchOIDCIdentity`);
  rejectUnknownKeys(v, ['matchOIDCIdentity', 'trustedRoot'], where);
  const identities = parseOidcIdentities(v['matchOIDCIdentity'], `${where}.matchOIDCIdentity`);
  const file = str(v['trustedRoot']);
  return file ? { identities, trustedRootJson: readRelative(baseDir, file, `${where}.trustedRoot`, 'utf8') } : { identities };
}

export interface ConfigFile {
  repositories: RepositoryConfig[];
  verify: boolean;
}

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function secretField(r: JsonObject, key: string, where: string, env: NodeJS.ProcessEnv): string | undefined {
  const direct = str(r[key]);
  const envName = str(r[`${key}Env`]);
  if (direct !== undefined && envName !== undefined) throw new ConfigError(`${where}: give ${key} or ${key}Env, not both`);
  if (envName === undefined) return direct;
  const v = env[envName];
  if (v === undefined) throw new ConfigError(`${where}.${key}Env: environment variable ${envName} is not set`);
  return v;
}

function readRelative(baseDir: string, file: string, where: string, encoding: 'utf8' | 'latin1'): string {
  const path = file.startsWith('/') ? file : `${baseDir}/${file}`;
  try {
    return readFileSync(path).toString(encoding);
  } catch {
    throw new ConfigError(`${where}: cannot read ${file}`);
  }
}

/**
 * `certFile` + `keyFile`, Helm's names (`helm repo add --cert-file --key-file`): a TLS client certificate and
 * its key, PEM files. Both or neither: half a pair is an error here, where Helm would silently drop it.
 */
function fileClientCertificate(r: JsonObject, where: string, baseDir: string): ClientCertificate | undefined {
  const certFile = str(r['certFile']);
  const keyFile = str(r['keyFile']);
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new ConfigError(`${where}: give certFile and keyFile together (a client certificate and its private key)`);
  const pair = { certPem: readRelative(baseDir, certFile, `${where}.certFile`, 'utf8'), keyPem: readRelative(baseDir, keyFile, `${where}.keyFile`, 'utf8') };
  const problem = clientCertificateProblem(pair);
  if (problem) throw new ConfigError(`${where}: certFile ${certFile} and keyFile ${keyFile}: ${problem}`);
  return pair;
}

function fileRepository(r: unknown, i: number, file: string, baseDir: string, env: NodeJS.ProcessEnv): RepositoryConfig {
  const where = `${file}: repositories[${i}]`;
  if (!isObject(r)) throw new ConfigError(`${where}: must be a mapping`);
  const name = str(r['name']);
  if (!name || !NAME.test(name)) throw new ConfigError(`${where}.name: must be a DNS-style name (got ${name === undefined ? 'nothing' : JSON.stringify(name)})`);
  const settings = parseRepositorySettings(r, where, CONFIG_FILE_KEYS);
  const username = secretField(r, 'username', where, env);
  const password = secretField(r, 'password', where, env);
  const token = secretField(r, 'token', where, env);
  let credentials: Credentials | undefined;
  if (token !== undefined) {
    if (username !== undefined) throw new ConfigError(`${where}: give username/password or token, not both`);
    credentials = { kind: 'bearer', token };
  } else if (username !== undefined) {
    credentials = { kind: 'basic', username, password: password ?? '' };
  }
  const caFile = str(r['caFile']);
  const caPem = caFile ? readRelative(baseDir, caFile, `${where}.caFile`, 'utf8') : undefined;
  const caIssue = caPem === undefined ? undefined : caBundleProblem(caPem);
  if (caIssue) throw new ConfigError(`${where}.caFile: ${caIssue}`);
  const clientCertificate = fileClientCertificate(r, where, baseDir);
  const keyringFile = str(r['keyring']);
  const keyring = keyringFile ? [readRelative(baseDir, keyringFile, `${where}.keyring`, 'latin1')] : undefined;
  const keyless = fileKeyless(r['keyless'], `${where}.keyless`, baseDir);
  if (settings.requireSignature && !keyring && !keyless) throw new ConfigError(`${where}.requireSignature: needs keyring (a file of armored public keys) or keyless`);
  return {
    name,
    url: settings.url,
    priority: settings.priority,
    intervalSeconds: settings.intervalSeconds,
    timeoutSeconds: settings.timeoutSeconds,
    credentials,
    caPem,
    ...(clientCertificate ? { clientCertificate } : {}),
    insecureSkipTLSVerify: settings.insecureSkipTLSVerify,
    plainHTTP: settings.plainHTTP,
    ...(settings.provider ? { provider: settings.provider } : {}),
    keyring,
    requireSignature: settings.requireSignature,
    ...(keyless ? { keyless } : {}),
  };
}

/** The `--config repos.yaml` file: `repositories: [{name, url, ...}]`, `verify` (product.md). */
export function parseConfigFile(text: string, file: string, baseDir = '.', env: NodeJS.ProcessEnv = process.env): ConfigFile {
  let doc: unknown;
  try {
    doc = YAML.parse(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return { repositories: [], verify: true };
  if (!isObject(doc)) throw new ConfigError(`${file}: must be a mapping with a repositories list`);
  rejectUnknownKeys(doc, CONFIG_FILE_TOP_KEYS, file);
  const list = doc['repositories'] ?? [];
  if (!Array.isArray(list)) throw new ConfigError(`${file}: repositories must be a list`);
  const repositories = list.map((r, i) => fileRepository(r, i, file, baseDir, env));
  const names = new Set<string>();
  for (const r of repositories) {
    if (names.has(r.name)) throw new ConfigError(`${file}: repository name "${r.name}" is used twice`);
    names.add(r.name);
  }
  if (doc['verify'] !== undefined && typeof doc['verify'] !== 'boolean') throw new ConfigError(`${file}: verify must be true or false`);
  return { repositories, verify: doc['verify'] !== false };
}
