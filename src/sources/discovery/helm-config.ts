/**
 * The user's Helm configuration as a source of repositories: `helm repo add` entries (repositories.yaml),
 * their cached index files, and `helm registry login` / `docker login` credentials for OCI registries.
 * Paths follow Helm's helmpath package, the same in helm 3 and helm 4: an explicit file variable wins
 * (HELM_REPOSITORY_CONFIG, HELM_REPOSITORY_CACHE, HELM_REGISTRY_CONFIG), else HELM_CONFIG_HOME /
 * HELM_CACHE_HOME (the helm directory itself), else $XDG_CONFIG_HOME/helm / $XDG_CACHE_HOME/helm, else the
 * platform's default (Linux ~/.config and ~/.cache; macOS ~/Library/Preferences and ~/Library/Caches;
 * Windows %APPDATA% and %TEMP%) with `helm` appended.
 */
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { RepoError, type ClientCertificate, type Credentials, type RepositoryConfig } from '../../model/repository.ts';
import { caBundleProblem, clientCertificateProblem } from '../client-certificate.ts';
import { isObject, str, type JsonObject } from '../../util/guards.ts';
import type { DiscoveredRepository, DiscoveryContext, RegistryLogins, SourceSet } from './source-set.ts';
import { authEntryCredentials, credentialKeyHost, helperAnswerCredentials, helperServerAddress, loginEntries, loginKey } from '../oci/registry-host.ts';

export interface HelmPaths {
  repositoryConfig: string;
  repositoryCache: string;
  registryConfig: string;
}

/** Helm's own interval-free repositories are re-read like a ChartRepository with the default 1 h interval. */
export const HELM_REPOSITORY_INTERVAL_SECONDS = 3600;

function platformBase(kind: 'config' | 'cache', env: NodeJS.ProcessEnv, platform: NodeJS.Platform, home: string): string {
  if (platform === 'darwin') return join(home, 'Library', kind === 'config' ? 'Preferences' : 'Caches');
  if (platform === 'win32') return kind === 'config' ? (env['APPDATA'] ?? join(home, 'AppData', 'Roaming')) : (env['TEMP'] ?? tmpdir());
  return join(home, kind === 'config' ? '.config' : '.cache');
}

/** Where helm 3 and helm 4 keep repositories, their cached indexes and registry logins. */
export function helmPaths(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): HelmPaths {
  const home = env['HOME'] || homedir();
  const helmHome = (kind: 'config' | 'cache'): string => {
    const own = env[kind === 'config' ? 'HELM_CONFIG_HOME' : 'HELM_CACHE_HOME'];
    if (own) return own;
    const xdg = env[kind === 'config' ? 'XDG_CONFIG_HOME' : 'XDG_CACHE_HOME'];
    return join(xdg || platformBase(kind, env, platform, home), 'helm');
  };
  return {
    repositoryConfig: env['HELM_REPOSITORY_CONFIG'] || join(helmHome('config'), 'repositories.yaml'),
    repositoryCache: env['HELM_REPOSITORY_CACHE'] || join(helmHome('cache'), 'repository'),
    registryConfig: env['HELM_REGISTRY_CONFIG'] || join(helmHome('config'), 'registry', 'config.json'),
  };
}

/** `~/x` for the stderr line, so that a home path stays short. */
export function shortPath(p: string, env: NodeJS.ProcessEnv = process.env): string {
  const home = env['HOME'] || homedir();
  return home && p.startsWith(`${home}/`) ? `~${p.slice(home.length)}` : p;
}

function readMaybe(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}

function failed(config: RepositoryConfig, message: string): DiscoveredRepository {
  return { config, error: new RepoError(config.name, 'invalid_config', `repository ${config.name}: ${message}`) };
}

/**
 * Helm's `certFile` + `keyFile` (`helm repo add --cert-file --key-file`): the client certificate its HTTP getter
 * presents. Helm uses the pair only when both paths are set (pkg/getter httpgetter, helm 3 and 4); one alone is
 * ignored here as there (helm 4 fails on it only beside a caFile or insecure_skip_tls_verify). A file that
 * cannot be read or a key of another certificate fails, as the getter's tls.LoadX509KeyPair does. Paths are
 * used as Helm uses them: relative ones from the working directory.
 */
function helmClientCertificate(e: JsonObject): { pair?: ClientCertificate; error?: string } {
  const certFile = str(e['certFile']);
  const keyFile = str(e['keyFile']);
  if (!certFile || !keyFile) return {};
  const read = (file: string): string | undefined => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  };
  const certPem = read(certFile);
  if (certPem === undefined) return { error: `Helm's certFile ${certFile} cannot be read` };
  const keyPem = read(keyFile);
  if (keyPem === undefined) return { error: `Helm's keyFile ${keyFile} cannot be read` };
  const pair = { certPem, keyPem };
  const problem = clientCertificateProblem(pair);
  return problem ? { error: `Helm's certFile ${certFile} and keyFile ${keyFile}: ${problem}` } : { pair };
}

/** One `helm repo add` entry → a repository, with its credentials, CA and client certificate. */
function helmEntry(e: JsonObject, paths: HelmPaths, now: number): DiscoveredRepository | undefined {
  const name = str(e['name']);
  const url = str(e['url']);
  if (!name || !url || !/^https?:\/\/[^/\s]+/.test(url)) return undefined;
  const username = str(e['username']);
  const password = str(e['password']);
  // Helm's HTTP getter sends basic auth only when both are set (a username alone goes nowhere).
  const credentials: Credentials | undefined = username && password ? { kind: 'basic', username, password } : undefined;
  const config: RepositoryConfig = {
    name,
    url: url.replace(/\/+$/, ''),
    priority: 0,
    intervalSeconds: HELM_REPOSITORY_INTERVAL_SECONDS,
    credentials,
    passCredentials: e['pass_credentials_all'] === true,
    insecureSkipTLSVerify: e['insecure_skip_tls_verify'] === true,
    plainHTTP: false,
  };
  const caFile = str(e['caFile']);
  if (caFile) {
    try {
      config.caPem = readFileSync(caFile, 'utf8');
    } catch {
      return failed(config, `Helm's caFile ${caFile} cannot be read`);
    }
    // Helm's CertPoolFromFile refuses it the same way ("failed to append certificates from file").
    const caIssue = caBundleProblem(config.caPem);
    if (caIssue) return failed(config, `Helm's caFile ${caFile}: ${caIssue}`);
  }
  const cert = helmClientCertificate(e);
  if (cert.error) return failed(config, cert.error);
  if (cert.pair) config.clientCertificate = cert.pair;
  // Helm writes `<name>-index.yaml` on `helm repo add` / `helm repo update`. Fresh means younger than the
  // interval, the age at which a ChartRepository would be re-read.
  const cache = join(paths.repositoryCache, `${name}-index.yaml`);
  let cachedIndex: DiscoveredRepository['cachedIndex'];
  try {
    const st = statSync(cache);
    if (st.isFile() && now - st.mtimeMs < config.intervalSeconds * 1000 && st.mtimeMs <= now + 60_000) cachedIndex = { path: cache, mtimeMs: st.mtimeMs };
  } catch {
    cachedIndex = undefined;
  }
  return { config, cachedIndex };
}

/** `helm repo add` repositories from repositories.yaml; undefined when Helm has none configured. */
export async function discoverHelmRepositories(ctx: DiscoveryContext): Promise<SourceSet | undefined> {
  const paths = helmPaths(ctx.env);
  const origin = `Helm (${shortPath(paths.repositoryConfig, ctx.env)})`;
  let text: string | undefined;
  try {
    text = readMaybe(paths.repositoryConfig);
  } catch (err) {
    return { origin, repositories: [], notes: [`cannot read it: ${(err as Error).message}`] };
  }
  if (text === undefined) return undefined;
  let doc: unknown;
  try {
    doc = YAML.parse(text, { maxAliasCount: 100 });
  } catch {
    return { origin, repositories: [], notes: ['not valid YAML, ignored'] };
  }
  const list = isObject(doc) && Array.isArray(doc['repositories']) ? doc['repositories'] : [];
  const repositories = list.filter(isObject).map((e) => helmEntry(e, paths, ctx.now)).filter((r): r is DiscoveredRepository => r !== undefined);
  if (!repositories.length) return undefined;
  const cached = repositories.filter((r) => r.cachedIndex).length;
  return { origin, repositories, notes: cached ? [`${cached} cached ${cached === 1 ? 'index' : 'indexes'}`] : [] };
}

/** Reads Helm's cached index for a repository (undefined when it vanished meanwhile). */
export function readCachedIndex(cached: NonNullable<DiscoveredRepository['cachedIndex']>): { bytes: Uint8Array; fetchedAt: number } | undefined {
  try {
    return { bytes: readFileSync(cached.path), fetchedAt: cached.mtimeMs };
  } catch {
    return undefined;
  }
}

interface LoginFile {
  file: string;
  /** By loginKey: Docker Hub's names (docker.io, registry-1.docker.io, index.docker.io) share one entry. */
  auths: Map<string, JsonObject>;
  credHelpers: Map<string, string>;
  credsStore?: string | undefined;
  /** Every key's `host[:port]` (lower-cased), for the list of hosts with a login. */
  hosts: string[];
}

function readLoginFile(file: string): LoginFile | undefined {
  let text: string | undefined;
  try {
    text = readMaybe(file);
  } catch {
    return undefined;
  }
  if (text === undefined) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(doc)) return undefined;
  const authsList = isObject(doc['auths']) ? Object.entries(doc['auths']).filter((e): e is [string, JsonObject] => isObject(e[1])) : [];
  const helperList = isObject(doc['credHelpers']) ? Object.entries(doc['credHelpers']).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '') : [];
  return {
    file,
    auths: loginEntries(authsList),
    credHelpers: loginEntries(helperList),
    credsStore: str(doc['credsStore']) || undefined,
    hosts: [...authsList, ...helperList].map(([k]) => credentialKeyHost(k)),
  };
}


/**
 * `docker-credential-<helper> get` with the host on stdin, as Docker, oras and Helm do. Only run for a host
 * that an OCI repository without its own credentials needs; 10 s at most (a helper that waits for a desktop
 * unlock must not hang a scan). `Username: <token>` is an identity token (helperAnswerCredentials).
 */
function credentialHelper(helper: string, host: string): Promise<Credentials | undefined> {
  return new Promise((resolve) => {
    const child = execFile(`docker-credential-${helper}`, ['get'], { timeout: 10_000, maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) return resolve(undefined);
      try {
        resolve(helperAnswerCredentials(JSON.parse(stdout)));
      } catch {
        resolve(undefined);
      }
    });
    child.stdin?.end(host);
  });
}

/**
 * Registry logins: Helm's registry config first (`helm registry login`), then Docker's config.json
 * ($DOCKER_CONFIG/config.json or ~/.docker/config.json), as Helm falls back to Docker's. Per file, a
 * host's credHelpers entry, then its `auths` entry, then the file's credsStore (Docker's order).
 */
export function loadRegistryLogins(env: NodeJS.ProcessEnv = process.env): RegistryLogins {
  const files = [helmPaths(env).registryConfig, join(env['DOCKER_CONFIG'] || join(env['HOME'] || homedir(), '.docker'), 'config.json')];
  const loaded = files.map(readLoginFile).filter((f): f is LoginFile => f !== undefined);
  const hosts = [...new Set(loaded.flatMap((f) => f.hosts))];
  const cache = new Map<string, Promise<Credentials | undefined>>();
  // Keyed as oras-go's ServerAddressFromRegistry keys them: a Docker Hub login (`docker login`,
  // `helm registry login docker.io` write `https://index.docker.io/v1/`) serves docker.io,
  // registry-1.docker.io and index.docker.io; helpers are asked for that server address too.
  const lookup = async (host: string): Promise<Credentials | undefined> => {
    const key = loginKey(host);
    const server = helperServerAddress(host);
    for (const f of loaded) {
      const helper = f.credHelpers.get(key);
      if (helper) {
        const c = await credentialHelper(helper, server);
        if (c) return c;
      }
      const entry = f.auths.get(key);
      const c = entry ? authEntryCredentials(entry) : undefined;
      if (c) return c;
      if (f.credsStore && entry) {
        const s = await credentialHelper(f.credsStore, server);
        if (s) return s;
      }
    }
    return undefined;
  };
  return {
    files: loaded.map((f) => f.file),
    hosts,
    lookup: (host) => {
      const key = loginKey(host);
      let p = cache.get(key);
      if (!p) cache.set(key, (p = lookup(host)));
      return p;
    },
  };
}
