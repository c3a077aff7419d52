import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import type { Credentials, KeylessPolicy, RepositoryConfig } from '../model/repository.ts';
import { parseDuration, parseTimeout } from '../util/duration.ts';
import { isObject, str, type JsonObject } from '../util/guards.ts';
import { parseOidcIdentities } from '../sources/chart-repository.ts';
import { identityMatcher } from '../signatures/cosign.ts';
import { checkTrustedRoot } from '../signatures/sigstore-trust.ts';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface CliConfig {
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

function repository(r: unknown, i: number, file: string, baseDir: string, env: NodeJS.ProcessEnv): RepositoryConfig {
  const where = `${file}: repositories[${i}]`;
  if (!isObject(r)) throw new ConfigError(`${where}: must be a mapping`);
  const name = str(r['name']);
  if (!name || !NAME.test(name)) throw new ConfigError(`${where}.name: must be a DNS-style name (got ${name === undefined ? 'nothing' : JSON.stringify(name)})`);
  const url = str(r['url']);
  if (!url || !/^(https?|oci):\/\/[^/\s]+/.test(url)) throw new ConfigError(`${where}.url: must start with http://, https:// or oci:// and name a host`);
  const priority = r['priority'] ?? 0;
  if (typeof priority !== 'number' || !Number.isInteger(priority)) throw new ConfigError(`${where}.priority: must be an integer`);
  const interval = str(r['interval']) ?? '1h';
  const intervalSeconds = parseDuration(interval);
  if (intervalSeconds === undefined || intervalSeconds <= 0) throw new ConfigError(`${where}.interval: "${interval}" is not a duration like 30m or 1h`);
  const timeoutSeconds = parseTimeout(str(r['timeout']), (m) => new ConfigError(`${where}.timeout: ${m}`));
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
  let caPem: string | undefined;
  const caFile = str(r['caFile']);
  if (caFile) {
    const path = caFile.startsWith('/') ? caFile : `${baseDir}/${caFile}`;
    try {
      caPem = readFileSync(path, 'utf8');
    } catch {
      throw new ConfigError(`${where}.caFile: cannot read ${caFile}`);
    }
  }
  let keyring: string[] | undefined;
  const keyringFile = str(r['keyring']);
  if (keyringFile) {
    const path = keyringFile.startsWith('/') ? keyringFile : `${baseDir}/${keyringFile}`;
    try {
      keyring = [readFileSync(path).toString('latin1')];
    } catch {
      throw new ConfigError(`${where}.keyring: cannot read ${keyringFile}`);
    }
  }
  const keyless = keylessOf(r['keyless'], `${where}.keyless`, baseDir);
  if (r['requireSignature'] === true && !keyring && !keyless) throw new ConfigError(`${where}.requireSignature: needs keyring (a file of armored public keys) or keyless`);
  for (const flag of ['insecureSkipTLSVerify', 'plainHTTP', 'requireSignature'] as const) {
    if (r[flag] !== undefined && typeof r[flag] !== 'boolean') throw new ConfigError(`${where}.${flag}: must be true or false`);
  }
  return {
    name,
    url: url.replace(/\/+$/, ''),
    priority,
    intervalSeconds,
    timeoutSeconds,
    credentials,
    caPem,
    insecureSkipTLSVerify: r['insecureSkipTLSVerify'] === true,
    plainHTTP: r['plainHTTP'] === true,
    keyring,
    requireSignature: r['requireSignature'] === true,
    ...(keyless ? { keyless } : {}),
  };
}

/** `keyless: {matchOIDCIdentity: [...], trustedRoot: FILE}` (trustedRoot absent: Sigstore's public TUF root). */
function keylessOf(v: unknown, where: string, baseDir: string): KeylessPolicy | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) throw new ConfigError(`${where}: must be a mapping with matchOIDCIdentity`);
  let identities;
  try {
    identities = parseOidcIdentities(v['matchOIDCIdentity'], `${where}.matchOIDCIdentity`);
    identityMatcher(identities);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const file = str(v['trustedRoot']);
  if (!file) return { identities };
  const path = file.startsWith('/') ? file : `${baseDir}/${file}`;
  let trustedRootJson: string;
  try {
    trustedRootJson = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`${where}.trustedRoot: cannot read ${file}`);
  }
  try {
    checkTrustedRoot(trustedRootJson);
  } catch (err) {
    throw new ConfigError(`${where}.trustedRoot: ${(err as Error).message}`);
  }
  return { identities, trustedRootJson };
}

/** The CLI's `--config repos.yaml`: `repositories: [{name, url, ...}]` (product.md). */
export function parseConfig(text: string, file: string, baseDir = '.', env: NodeJS.ProcessEnv = process.env): CliConfig {
  let doc: unknown;
  try {
    doc = YAML.parse(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return { repositories: [], verify: true };
  if (!isObject(doc)) throw new ConfigError(`${file}: must be a mapping with a repositories list`);
  const list = doc['repositories'] ?? [];
  if (!Array.isArray(list)) throw new ConfigError(`${file}: repositories must be a list`);
  const repositories = list.map((r, i) => repository(r, i, file, baseDir, env));
  const names = new Set<string>();
  for (const r of repositories) {
    if (names.has(r.name)) throw new ConfigError(`${file}: repository name "${r.name}" is used twice`);
    names.add(r.name);
  }
  if (doc['verify'] !== undefined && typeof doc['verify'] !== 'boolean') throw new ConfigError(`${file}: verify must be true or false`);
  return { repositories, verify: doc['verify'] !== false };
}

export function loadConfig(path: string | undefined): CliConfig {
  if (!path) return { repositories: [], verify: true };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`${path}: cannot read the config file`);
  }
  const slash = path.lastIndexOf('/');
  return parseConfig(text, path, slash >= 0 ? path.slice(0, slash) || '/' : '.');
}
