import type { Credentials } from '../../model/repository.ts';

/**
 * Registry host names as Docker, oras-go and Helm treat them. Pure: no I/O.
 *
 * Docker Hub has three names: `docker.io` (what users write), `registry-1.docker.io` (the host that
 * serves the distribution API) and `index.docker.io` (the legacy index; `docker login`, `helm registry
 * login` and `kubectl create secret docker-registry` store Hub credentials under the key
 * `https://index.docker.io/v1/`). Requests for `docker.io` go to `registry-1.docker.io`; a login stored
 * under any of the three names is Docker Hub's login.
 */

/** The credentials-file key Docker Hub logins are written under. */
export const DOCKER_HUB_SERVER = 'https://index.docker.io/v1/';

const DOCKER_HUB_HOSTS = new Set(['docker.io', 'registry-1.docker.io', 'index.docker.io']);

/** `host[:port]` the registry API of `host` is requested from: only bare `docker.io` is served elsewhere. */
export function registryRequestHost(host: string): string {
  return host.toLowerCase() === 'docker.io' ? 'registry-1.docker.io' : host;
}

/** A credentials-file key (`host`, `https://host/v1/`, `http://host`) → its lower-cased `host[:port]`. */
export function credentialKeyHost(key: string): string {
  return key
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
}

/**
 * The name a login is filed under, for a repository host or a credentials-file key: Docker Hub's names
 * all give DOCKER_HUB_SERVER, any other its lower-cased `host[:port]`.
 */
export function loginKey(hostOrKey: string): string {
  const host = credentialKeyHost(hostOrKey);
  return DOCKER_HUB_HOSTS.has(host) ? DOCKER_HUB_SERVER : host;
}

/** What a docker-credential helper is asked for `host`: Docker Hub's server address, else the host. */
export function helperServerAddress(host: string): string {
  const key = loginKey(host);
  return key === DOCKER_HUB_SERVER ? key : host;
}

/**
 * A credentials file's `auths` (or `credHelpers`) object → entries by loginKey. When several keys name
 * the same registry, the key in its canonical form wins (`https://index.docker.io/v1/` for Docker Hub,
 * the bare host otherwise: the key oras-go looks up first), else the first in the file.
 */
export function loginEntries<T>(entries: Iterable<[string, T]>): Map<string, T> {
  const out = new Map<string, T>();
  const canonical = new Set<string>();
  for (const [raw, value] of entries) {
    const key = loginKey(raw);
    if (canonical.has(key)) continue;
    const isCanonical = raw === key;
    if (out.has(key) && !isCanonical) continue;
    out.set(key, value);
    if (isCanonical) canonical.add(key);
  }
  return out;
}

/**
 * The credentials of one `auths` entry of a Docker-format config (Docker's and Helm's registry config.json, a
 * dockerconfigjson Secret), read as Helm's registry client reads it (oras-go v2 credentials: AuthConfig →
 * Credential{Username, Password, RefreshToken: identitytoken, AccessToken: registrytoken}, Helm 3.18+ and 4).
 * Which one answers depends on the registry's challenge (auth.Client fetchBearerToken, fetchBasicAuth):
 *
 * - Bearer: a `registrytoken` is sent to the registry as it is (kind `access`), before anything else; else an
 *   `identitytoken` (`az acr login`, `docker login` to registries that hand out refresh tokens) is exchanged
 *   at the token service (kind `refresh`); else the user and password go to the token service.
 * - Basic: the user and password, and only when both are non-empty; a token never answers Basic. A token
 *   login keeps them for that (`basic`); the entries that carry an identity token rarely have both (ACR's
 *   is the placeholder user `00000000-0000-0000-0000-000000000000` with an empty password).
 *
 * `auth` (base64 user:password) wins over `username`/`password`, as Docker and oras-go read the file.
 */
export function authEntryCredentials(e: Record<string, unknown>): Credentials | undefined {
  const text = (k: string): string | undefined => (typeof e[k] === 'string' && e[k] !== '' ? (e[k] as string) : undefined);
  let username = text('username');
  let password = text('password') ?? '';
  const auth = text('auth');
  if (auth) {
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) [username, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
  }
  const basic = username && password ? { basic: { username, password } } : {};
  const registryToken = text('registrytoken');
  if (registryToken) return { kind: 'access', token: registryToken, ...basic };
  const identityToken = text('identitytoken');
  if (identityToken) return { kind: 'refresh', token: identityToken, ...basic };
  return username ? { kind: 'basic', username, password, basicNeedsBoth: true } : undefined;
}

/**
 * A docker-credential helper's `get` answer (`{"Username", "Secret"}`) → credentials. `Username: <token>` is
 * the helper protocol's mark of an identity token (oras-go v2 nativeStore.Get: the Secret is a refresh token).
 */
export function helperAnswerCredentials(doc: unknown): Credentials | undefined {
  if (typeof doc !== 'object' || doc === null) return undefined;
  const { Username: username, Secret: secret } = doc as Record<string, unknown>;
  if (typeof username !== 'string' || username === '' || typeof secret !== 'string') return undefined;
  if (username === '<token>') return secret ? { kind: 'refresh', token: secret } : undefined;
  return { kind: 'basic', username, password: secret, basicNeedsBoth: true };
}
