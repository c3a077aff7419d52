import { createHash } from 'node:crypto';
import { isObject, str, type JsonObject } from '../../util/guards.ts';
import { authorizationHeader, type HttpClient, type HttpRequest, type HttpResponse } from '../http/client.ts';
import { normalizeDigest } from '../http/index-parse.ts';
import { RepoError, type Credentials } from '../../model/repository.ts';
import { redactUrl } from '../url.ts';

// The OCI registry client shared by the chart source (oci-source.ts) and the referrers lookup
// (referrers.ts); it lives apart from both so that neither imports the other.

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

export interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations: Record<string, string>;
}

export interface OciManifest {
  /** sha256 of the manifest bytes as served (what `helm push` prints). */
  digest: string;
  mediaType: string;
  config: OciDescriptor;
  layers: OciDescriptor[];
  annotations: Record<string, string>;
}

interface TokenEntry {
  authorization: string;
  expiresAt: number;
}

/** Credentials that are issued when needed and may change between calls (cloud tokens). */
export interface AmbientCredentials {
  get(signal?: AbortSignal): Promise<Credentials>;
}

export interface Challenge {
  scheme: 'bearer' | 'basic';
  params: Record<string, string>;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * The first challenge of a WWW-Authenticate value (RFC 7235: `scheme [token68 / #auth-param]`, challenges
 * separated by commas), e.g. `Bearer realm="https://x",service="y",scope="repository:a:pull"`. Node joins
 * repeated headers with ", " and the HTTP layer hands over that joined value; taking its first challenge
 * is reading the first header only, as oras-go does, so a later header (or challenge) can never replace
 * the realm or service of the first. Within it, a repeated parameter keeps its first value.
 */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const s = header;
  let i = 0;
  const space = (): void => {
    while (s[i] === ' ' || s[i] === '\t') i++;
  };
  const token = (): string => {
    const start = i;
    while (i < s.length && TCHAR.test(s[i] ?? '')) i++;
    return s.slice(start, i);
  };
  // Empty list elements (", ,") before the first challenge are allowed by the list syntax.
  for (space(); s[i] === ','; space()) i++;
  const scheme = token().toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'basic') return undefined;
  const params: Record<string, string> = {};
  for (;;) {
    for (space(); s[i] === ','; space()) i++;
    const key = token().toLowerCase();
    if (!key) break;
    space();
    // A token not followed by "=" starts the next challenge (or is a token68): the first one ends here.
    if (s[i] !== '=') break;
    i++;
    space();
    let value: string;
    if (s[i] === '"') {
      let v = '';
      let closed = false;
      for (i++; i < s.length; i++) {
        const c = s[i];
        if (c === '\\') v += s[++i] ?? '';
        else if (c === '"') {
          closed = true;
          i++;
          break;
        } else v += c;
      }
      if (!closed) break;
      value = v;
    } else {
      value = token();
      if (!value) break;
    }
    if (!(key in params)) params[key] = value;
    space();
    if (s[i] !== ',') break;
  }
  return { scheme, params };
}

/** `<url>; rel="next"` from a Link header, or undefined. */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const m = /<([^>]*)>\s*;(.*)/.exec(part);
    if (m && /rel\s*=\s*"?next"?/i.test(m[2] ?? '')) return m[1];
  }
  return undefined;
}

/** Same scheme, host and port (default ports made explicit by URL parsing). */
function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

function descriptor(v: unknown): OciDescriptor | undefined {
  if (!isObject(v)) return undefined;
  const mediaType = str(v['mediaType']);
  const digest = normalizeDigest(v['digest']);
  const size = typeof v['size'] === 'number' && Number.isSafeInteger(v['size']) && v['size'] >= 0 ? v['size'] : undefined;
  if (mediaType === undefined || digest === undefined || size === undefined) return undefined;
  return { mediaType, digest, size, annotations: stringRecord(v['annotations']) };
}

function stringRecord(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObject(v)) for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * The `client_id` of the OAuth2 grant: oras-go's default, which Helm 3.18+ and 4 send (Helm sets no ClientID;
 * Helm ≤ 3.17 sent containerd's `containerd-client` for pulls). The spec asks only for a meaningful string
 * (docs/spec/auth/oauth.md); sending Helm's means a token service that accepts Helm accepts this client too.
 */
export const OAUTH2_CLIENT_ID = 'oras-go';

/**
 * The form of the OAuth2 refresh-token grant: the fields oras-go v2 sends, in the order Go's url.Values.Encode
 * writes them (sorted by name). `service` is always sent (required by the spec, empty when the challenge has
 * none); `scope` is the challenge's scopes joined by spaces, left out when there are none.
 */
export function refreshTokenForm(refreshToken: string, service: string | undefined, scopes: readonly string[]): string {
  const form = new URLSearchParams();
  form.set('client_id', OAUTH2_CLIENT_ID);
  form.set('grant_type', 'refresh_token');
  form.set('refresh_token', refreshToken);
  if (scopes.length) form.set('scope', scopes.join(' '));
  form.set('service', service ?? '');
  // URLSearchParams leaves `*` as is and escapes `~`; Go's QueryEscape does the opposite. Written as Go writes
  // them, the bytes are Helm's own.
  return form.toString().replace(/\*/g, '%2A').replace(/%7E/g, '~');
}

/**
 * The Authorization a challenge is answered with when no token service is asked; undefined when the token service
 * is (a Bearer challenge without a token to send as it is). The rules of Helm's registry client (oras-go v2
 * auth.Client): a Bearer challenge takes a registry token (`access`) as it is, without asking the token service
 * (fetchBearerToken); a Basic challenge takes a user and password, never a token, and a login that has no
 * non-empty pair of them fails there with "missing username or password for basic auth" (fetchBasicAuth), so
 * no Basic header with an empty or made-up half is sent. A registry token read as go-containerregistry reads it
 * (`answersBasic`: a Flux OCIRepository's Secret) answers Basic too, as Bearer, before a user and password
 * (basicTransport). A `token` of a Secret (kind `bearer`) is chartorigin's own and answers either. `refused`
 * says why not, naming what the login holds, never its value.
 */
export function challengeAuthorization(scheme: Challenge['scheme'], credentials: Credentials | undefined): string | { refused: string } | undefined {
  if (credentials?.kind === 'bearer' || (credentials?.kind === 'access' && (scheme === 'bearer' || credentials.answersBasic))) return `Bearer ${credentials.token}`;
  if (scheme === 'bearer') return undefined;
  if (credentials === undefined) return { refused: 'HTTP 401, the registry requires credentials' };
  if (credentials.kind === 'basic') {
    if (credentials.basicNeedsBoth && !(credentials.username && credentials.password)) {
      return { refused: `HTTP 401, the registry asks for a username and password (Basic) and the login has ${credentials.username ? 'a username with an empty password' : 'no username'}, which Helm does not send to Basic either ("missing username or password for basic auth")` };
    }
    return authorizationHeader(credentials) ?? { refused: 'HTTP 401, the registry requires credentials' };
  }
  if (credentials.basic) return authorizationHeader({ kind: 'basic', ...credentials.basic }) ?? { refused: 'HTTP 401, the registry requires credentials' };
  const has = credentials.kind === 'refresh' ? 'an identity token (identitytoken)' : 'a registry token (registrytoken)';
  return { refused: `HTTP 401, the registry asks for a username and password (Basic) and the login has only ${has}, which Helm does not send to Basic either ("missing username or password for basic auth")` };
}

export interface TokenAnswer {
  token: string;
  /** Seconds; 60 when absent or not positive (the spec's default). */
  expiresIn: number;
  /** ms since the epoch, when the service says when it issued the token. */
  issuedAt?: number | undefined;
}

/**
 * A token service's JSON answer → the access token, or a message saying what is wrong (never the body: it
 * may hold tokens). The GET protocol's token is in `token` or `access_token` (the same when both; oras-go
 * prefers `access_token`); the OAuth2 grant's only in `access_token` (required by the spec, and the only
 * field oras-go v2 and containerd read there).
 */
export function readTokenAnswer(body: Buffer, protocol: 'distribution' | 'oauth2'): TokenAnswer | string {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return 'the token service answered with something that is not JSON';
  }
  if (!isObject(doc)) return 'the token service answered without a token';
  const token = protocol === 'oauth2' ? str(doc['access_token']) : (str(doc['access_token']) || str(doc['token']));
  if (!token) return protocol === 'oauth2' ? 'the token service answered the OAuth2 grant without an access_token' : 'the token service answered without a token';
  const expiresIn = typeof doc['expires_in'] === 'number' && doc['expires_in'] > 0 ? doc['expires_in'] : 60;
  const issuedAt = typeof doc['issued_at'] === 'string' ? Date.parse(doc['issued_at']) : Number.NaN;
  return { token, expiresIn, issuedAt: Number.isNaN(issuedAt) ? undefined : issuedAt };
}

/**
 * The OCI distribution API as Helm uses it: tags list, manifests, blobs, with the registry token flow
 * (401 + WWW-Authenticate → token per scope, cached until it expires) or Basic. Public so that a later
 * signature feature can read referrers (`/v2/<name>/referrers/<digest>`) through the same auth and limits.
 */
export class OciClient {
  readonly repository: string;
  readonly base: string;
  readonly #http: HttpClient;
  readonly #credentials: Credentials | undefined;
  readonly #now: () => number;
  readonly #tokens = new Map<string, TokenEntry>();
  /** Scopes whose challenge an ambient credential answered directly (Basic, as ECR asks), by scheme. */
  readonly #directScheme = new Map<string, Challenge['scheme']>();
  readonly #plainHTTP: boolean;
  readonly #ambient: AmbientCredentials | undefined;

  /**
   * `ambient`: credentials issued on demand (a cloud provider's, cloud-identity.ts), asked for when the registry
   * challenges and no configured credentials exist; what it returns is then used like configured credentials.
   */
  constructor(repository: string, base: string, http: HttpClient, credentials: Credentials | undefined, plainHTTP: boolean, now: () => number, ambient?: AmbientCredentials) {
    this.repository = repository;
    this.base = base;
    this.#http = http;
    this.#credentials = credentials;
    this.#plainHTTP = plainHTTP;
    this.#now = now;
    this.#ambient = credentials ? undefined : ambient;
  }

  /**
   * A GET against the registry for `name` (undefined: the /v2/ ping), answering auth challenges once, and
   * only challenges from the registry's own origin: a 401 that a redirect brought from elsewhere is never
   * answered with the registry's credentials (as oras-go since GHSA-vh4v-2xq2-g5cg). A 401
   * `insufficient_scope` that a freshly exchanged token still meets is how Docker Hub says a repository
   * does not exist or is not visible: the answer is a 404 (NotFound), not a registry failure.
   */
  async get(path: string, name: string | undefined, req: Omit<HttpRequest, 'url' | 'authorization'>): Promise<HttpResponse> {
    const url = new URL(path, this.base).toString();
    const scope = name === undefined ? '' : `repository:${name}:pull`;
    const accept = [...(req.acceptStatus ?? []), 401];
    const cached = this.#cachedAuth(scope) ?? (await this.#ambientAuth(scope, req.signal));
    let res = await this.#http.request({ ...req, url, authorization: cached, acceptStatus: accept });
    if (res.status !== 401) return this.#checkStatus(res, req);
    if (!sameOrigin(res.url, url)) return this.#foreignChallenge(res, req);
    const answer = await this.#answer(parseChallenge(res.headers.get('www-authenticate')), scope, req.signal, url);
    res = await this.#http.request({ ...req, url, authorization: answer.authorization, acceptStatus: accept });
    if (res.status !== 401) return this.#checkStatus(res, req);
    this.#tokens.delete(scope);
    if (!sameOrigin(res.url, url)) return this.#foreignChallenge(res, req);
    const again = parseChallenge(res.headers.get('www-authenticate'));
    if (answer.exchanged && name !== undefined && again?.scheme === 'bearer' && again.params['error']?.toLowerCase() === 'insufficient_scope') {
      return this.#notVisible(res, name, req);
    }
    throw new RepoError(this.repository, 'unauthorized', `repository ${this.repository}: ${req.what ?? 'request'} ${redactUrl(url)}: HTTP 401 (credentials ${this.#credentials || this.#ambient ? 'refused' : 'required'})`);
  }

  #checkStatus(res: HttpResponse, req: Omit<HttpRequest, 'url' | 'authorization'>): HttpResponse {
    if (res.status === 401 && !req.acceptStatus?.includes(401)) {
      throw new RepoError(this.repository, 'unauthorized', `repository ${this.repository}: ${req.what ?? 'request'} ${redactUrl(res.url)}: HTTP 401`);
    }
    return res;
  }

  /** A 401 from another origin: returned untouched to a caller that accepts 401, else an error; never answered. */
  #foreignChallenge(res: HttpResponse, req: Omit<HttpRequest, 'url' | 'authorization'>): HttpResponse {
    if (req.acceptStatus?.includes(401)) return res;
    throw new RepoError(
      this.repository,
      'unauthorized',
      `repository ${this.repository}: ${req.what ?? 'request'}: HTTP 401 from ${redactUrl(res.url)}, another origin than the registry's (after a redirect); not answered with the registry's credentials`,
    );
  }

  /** Docker Hub's answer for a repository that does not exist or that these credentials cannot see: a 404. */
  #notVisible(res: HttpResponse, name: string, req: Omit<HttpRequest, 'url' | 'authorization'>): HttpResponse {
    if (req.acceptStatus?.includes(404)) return { status: 404, url: res.url, headers: { get: () => null }, body: Buffer.alloc(0), authorizationDropped: res.authorizationDropped };
    throw new RepoError(
      this.repository,
      'not_found',
      `repository ${this.repository}: ${req.what ?? 'request'} ${redactUrl(res.url)}: HTTP 401 insufficient_scope with a valid token: ${name} does not exist or is not visible ${this.#credentials || this.#ambient ? 'with these credentials' : 'without credentials'}`,
    );
  }

  #cachedAuth(scope: string): string | undefined {
    const t = this.#tokens.get(scope);
    if (t && t.expiresAt > this.#now()) return t.authorization;
    if (t) this.#tokens.delete(scope);
    return undefined;
  }

  /**
   * An ambient credential's direct authorization that expired (kept a minute, below): asked for again before the
   * request (a cache hit in cloud-identity.ts), instead of an anonymous round trip for a 401 at every scope.
   * Only once a challenge was answered directly for this scope, so a registry with a token service still gets
   * its challenge first.
   */
  async #ambientAuth(scope: string, signal: AbortSignal | undefined): Promise<string | undefined> {
    const scheme = this.#ambient ? this.#directScheme.get(scope) : undefined;
    if (!scheme || !this.#ambient) return undefined;
    const direct = challengeAuthorization(scheme, await this.#ambient.get(signal));
    if (typeof direct !== 'string') return undefined;
    this.#tokens.set(scope, { authorization: direct, expiresAt: this.#now() + 60_000 });
    return direct;
  }

  /** The Authorization for a challenge; `exchanged` when it is a token the registry's token service just issued. */
  async #answer(challenge: Challenge | undefined, scope: string, signal: AbortSignal | undefined, url: string): Promise<{ authorization: string; exchanged: boolean }> {
    const unauthorized = (detail: string): RepoError => new RepoError(this.repository, 'unauthorized', `repository ${this.repository}: ${redactUrl(url)}: ${detail}`);
    if (!challenge) throw unauthorized('HTTP 401 without a usable WWW-Authenticate challenge');
    // Cloud credentials are issued now, for this challenge (oras-go and go-containerregistry ask their
    // credential functions at a challenge too); a registry that never challenges never causes one.
    const credentials = this.#credentials ?? (await this.#ambient?.get(signal));
    const direct = challengeAuthorization(challenge.scheme, credentials);
    if (direct !== undefined) {
      if (typeof direct === 'object') throw unauthorized(direct.refused);
      // Issued credentials expire: reused for a minute, then asked for again (cloud-identity.ts reuses one for
      // 80 % of its lifetime, so a minute never outlives it: ECR's last 12 h, GCP's 1 h, ACR's 3 h).
      this.#tokens.set(scope, { authorization: direct, expiresAt: this.#ambient ? this.#now() + 60_000 : Number.POSITIVE_INFINITY });
      if (this.#ambient) this.#directScheme.set(scope, challenge.scheme);
      return { authorization: direct, exchanged: false };
    }
    const realm = challenge.params['realm'];
    if (!realm) throw unauthorized('Bearer challenge without realm');
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      throw unauthorized('Bearer challenge with an invalid realm');
    }
    // The registry names its token service; credentials go there (as with docker, oras, helm) over https
    // (http only for a plainHTTP registry), but never onward: the HTTP layer drops an Authorization header
    // and refuses to carry a form on any redirect to another origin.
    if (realmUrl.protocol !== 'https:' && !(realmUrl.protocol === 'http:' && this.#plainHTTP)) {
      throw unauthorized(`token realm ${redactUrl(realmUrl.href)} is not https`);
    }
    const service = challenge.params['service'];
    const scopes = (challenge.params['scope'] ?? scope).split(' ').filter(Boolean);
    const answer = credentials?.kind === 'refresh' ? await this.#oauth2Token(realmUrl, credentials.token, service, scopes, signal, unauthorized) : await this.#distributionToken(realmUrl, credentials, service, scopes, signal, unauthorized);
    const start = answer.issuedAt === undefined ? this.#now() : Math.min(answer.issuedAt, this.#now());
    const authorization = `Bearer ${answer.token}`;
    // Renew a little early so a token never expires between the check and the request.
    this.#tokens.set(scope, { authorization, expiresAt: start + answer.expiresIn * 1000 * 0.9 });
    return { authorization, exchanged: true };
  }

  /** The distribution token protocol: GET realm?service&scope, the configured credentials as Basic (or none). */
  async #distributionToken(realmUrl: URL, credentials: Credentials | undefined, service: string | undefined, scopes: string[], signal: AbortSignal | undefined, unauthorized: (detail: string) => RepoError): Promise<TokenAnswer> {
    if (service) realmUrl.searchParams.set('service', service);
    for (const s of scopes) realmUrl.searchParams.append('scope', s);
    const res = await this.#http.request({
      url: realmUrl.toString(),
      authorization: authorizationHeader(credentials),
      maxBytes: 1024 * 1024,
      signal,
      what: 'token',
    });
    const answer = readTokenAnswer(res.body, 'distribution');
    if (typeof answer === 'string') throw unauthorized(answer);
    return answer;
  }

  /**
   * The OAuth2 refresh-token grant (distribution docs/spec/auth/oauth.md), as Helm 3.18+ and 4 send it (oras-go
   * v2 auth.Client fetchOAuth2Token). No fallback to GET when the realm refuses the POST: oras-go v2 has none
   * (Helm ≤ 3.17's pull path, containerd's authorizer, retried a 400/401/404 as GET with the token as a Basic
   * password; the current Helm lines do not, so neither does this).
   */
  async #oauth2Token(realmUrl: URL, refreshToken: string, service: string | undefined, scopes: string[], signal: AbortSignal | undefined, unauthorized: (detail: string) => RepoError): Promise<TokenAnswer> {
    const res = await this.#http.request({
      url: realmUrl.toString(),
      method: 'POST',
      form: refreshTokenForm(refreshToken, service, scopes),
      maxBytes: 1024 * 1024,
      acceptStatus: [400, 401, 403, 404, 405],
      signal,
      what: 'token',
    });
    if (res.status === 404 || res.status === 405) {
      throw unauthorized(`the token service ${redactUrl(realmUrl.href)} does not take the OAuth2 POST an identity token needs (HTTP ${res.status})`);
    }
    if (res.status >= 400) throw unauthorized(`the token service ${redactUrl(realmUrl.href)} refused the identity token (HTTP ${res.status})`);
    const answer = readTokenAnswer(res.body, 'oauth2');
    if (typeof answer === 'string') throw unauthorized(answer);
    return answer;
  }

  /** Every tag of `name`, following `Link: rel="next"` for at most `maxPages` pages; [] when the name is unknown. */
  async tags(name: string, options: { pageSize?: number | undefined; maxPages: number; signal?: AbortSignal | undefined }): Promise<string[]> {
    let path: string | undefined = `/v2/${name}/tags/list${options.pageSize ? `?n=${options.pageSize}` : ''}`;
    const tags: string[] = [];
    for (let page = 0; path; page++) {
      if (page >= options.maxPages) {
        throw new RepoError(this.repository, 'too_large', `repository ${this.repository}: tags of ${name}: more than ${options.maxPages} pages`);
      }
      const res = await this.get(path, name, { signal: options.signal, acceptStatus: [404], maxBytes: 4 * 1024 * 1024, what: `tags of ${name}`, headers: { accept: 'application/json' } });
      if (res.status === 404) return [];
      let body: unknown;
      try {
        body = JSON.parse(res.body.toString('utf8'));
      } catch {
        throw new RepoError(this.repository, 'invalid_manifest', `repository ${this.repository}: tags of ${name}: response is not JSON`);
      }
      const list = isObject(body) && Array.isArray(body['tags']) ? body['tags'] : isObject(body) && body['tags'] === null ? [] : undefined;
      if (!list) throw new RepoError(this.repository, 'invalid_manifest', `repository ${this.repository}: tags of ${name}: no tags list in the response`);
      for (const t of list) if (typeof t === 'string') tags.push(t);
      const next = nextLink(res.headers.get('link'));
      if (next) {
        const nextUrl = new URL(next, res.url);
        if (nextUrl.origin !== new URL(this.base).origin) {
          throw new RepoError(this.repository, 'redirect', `repository ${this.repository}: tags of ${name}: next page on another host`);
        }
        path = nextUrl.pathname + nextUrl.search;
      } else {
        path = undefined;
      }
    }
    return tags;
  }

  /** The OCI image manifest of `name:reference`, its digest checked against Docker-Content-Digest. */
  async manifest(name: string, reference: string, options: { maxBytes: number; signal?: AbortSignal | undefined }): Promise<OciManifest> {
    const what = `manifest ${name}:${reference}`;
    // Other manifest types are accepted on the wire so that they can be refused by name below, instead of
    // the registry answering a bare 400/404 for an Accept it cannot satisfy.
    const accept = `${OCI_MANIFEST}, ${OCI_INDEX};q=0.5, ${DOCKER_MANIFEST};q=0.5`;
    const res = await this.get(`/v2/${name}/manifests/${reference}`, name, { signal: options.signal, maxBytes: options.maxBytes, what, headers: { accept } });
    const bad = (detail: string): RepoError => new RepoError(this.repository, 'invalid_manifest', `repository ${this.repository}: ${what}: ${detail}`);
    const digest = sha256(res.body);
    const served = res.headers.get('docker-content-digest');
    if (served && normalizeDigest(served) !== digest) {
      throw new RepoError(this.repository, 'digest_mismatch', `repository ${this.repository}: ${what}: content digest ${digest} differs from Docker-Content-Digest ${normalizeDigest(served) ?? 'unreadable'}`);
    }
    if (reference.startsWith('sha256:') && reference !== digest) {
      throw new RepoError(this.repository, 'digest_mismatch', `repository ${this.repository}: ${what}: content digest ${digest} differs from the requested digest`);
    }
    const contentType = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
    let body: unknown;
    try {
      body = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw bad('not JSON');
    }
    if (!isObject(body)) throw bad('not a JSON object');
    const mediaType = str(body['mediaType']) ?? contentType;
    if (mediaType !== OCI_MANIFEST) throw bad(`media type ${JSON.stringify(mediaType.slice(0, 100))} is not an OCI image manifest`);
    if (body['schemaVersion'] !== 2) throw bad('schemaVersion is not 2');
    const config = descriptor(body['config']);
    if (!config) throw bad('missing or invalid config descriptor');
    const layers: OciDescriptor[] = [];
    for (const l of Array.isArray(body['layers']) ? body['layers'] : []) {
      const d = descriptor(l);
      if (!d) throw bad('invalid layer descriptor');
      layers.push(d);
    }
    return { digest, mediaType, config, layers, annotations: stringRecord(body['annotations']) };
  }

  /**
   * Any manifest or index of `name:reference` as parsed JSON, its digest checked like manifest(); undefined
   * on 404. For artifacts that are not charts (referrers, cosign tags), so the media type is not checked.
   */
  async anyManifest(name: string, reference: string, options: { accept: string; maxBytes: number; signal?: AbortSignal | undefined }): Promise<{ digest: string; contentType: string; body: JsonObject } | undefined> {
    const what = `manifest ${name}:${reference}`;
    const res = await this.get(`/v2/${name}/manifests/${reference}`, name, { signal: options.signal, maxBytes: options.maxBytes, what, acceptStatus: [404], headers: { accept: options.accept } });
    if (res.status === 404) return undefined;
    const digest = sha256(res.body);
    const served = res.headers.get('docker-content-digest');
    if ((served && normalizeDigest(served) !== digest) || (reference.startsWith('sha256:') && reference !== digest)) {
      throw new RepoError(this.repository, 'digest_mismatch', `repository ${this.repository}: ${what}: content digest ${digest} differs from the digest the registry names`);
    }
    let body: unknown;
    try {
      body = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new RepoError(this.repository, 'invalid_manifest', `repository ${this.repository}: ${what}: not JSON`);
    }
    if (!isObject(body)) throw new RepoError(this.repository, 'invalid_manifest', `repository ${this.repository}: ${what}: not a JSON object`);
    return { digest, contentType: (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '', body };
  }

  /**
   * The digest `name:tag` serves now (HEAD, Docker-Content-Digest; GET and hash when the registry omits
   * the header), undefined when the tag is gone. Cheap enough for every probe.
   */
  async tagDigest(name: string, tag: string, options: { maxBytes: number; signal?: AbortSignal | undefined }): Promise<string | undefined> {
    const accept = `${OCI_MANIFEST}, ${OCI_INDEX};q=0.5, ${DOCKER_MANIFEST};q=0.5`;
    const path = `/v2/${name}/manifests/${tag}`;
    // A registry that refuses HEAD (400/405/501) is asked with GET rather than marked down.
    const head = await this.get(path, name, { method: 'HEAD', signal: options.signal, maxBytes: options.maxBytes, what: `manifest ${name}:${tag}`, acceptStatus: [404, 400, 405, 501], headers: { accept } });
    if (head.status === 404) return undefined;
    const served = head.status === 200 ? normalizeDigest(head.headers.get('docker-content-digest')) : undefined;
    if (served) return served;
    const res = await this.get(path, name, { signal: options.signal, maxBytes: options.maxBytes, what: `manifest ${name}:${tag}`, acceptStatus: [404], headers: { accept } });
    return res.status === 404 ? undefined : sha256(res.body);
  }

  /** A blob, size-limited and verified against its digest. */
  async blob(name: string, desc: { digest: string; size?: number | undefined }, options: { maxBytes: number; signal?: AbortSignal | undefined; what: string }): Promise<Buffer> {
    if (desc.size !== undefined && desc.size > options.maxBytes) {
      throw new RepoError(this.repository, 'too_large', `repository ${this.repository}: ${options.what}: ${desc.size} bytes, more than the limit of ${options.maxBytes}`);
    }
    const res = await this.get(`/v2/${name}/blobs/${desc.digest}`, name, { signal: options.signal, maxBytes: options.maxBytes, what: options.what });
    const digest = sha256(res.body);
    if (digest !== desc.digest) {
      throw new RepoError(this.repository, 'digest_mismatch', `repository ${this.repository}: ${options.what}: content digest ${digest} differs from the manifest digest ${desc.digest}`);
    }
    return res.body;
  }

  /** GET /v2/: reachability and credentials. */
  async ping(signal?: AbortSignal): Promise<void> {
    const res = await this.get('/v2/', undefined, { signal, maxBytes: 64 * 1024, what: 'registry check' });
    // A login page or a web server at the wrong URL answers 200 too; a registry's /v2/ is JSON (or empty).
    if (/html/i.test(res.headers.get('content-type') ?? '') || /^\s*</.test(res.body.toString('utf8', 0, 256))) {
      throw new RepoError(this.repository, 'invalid_manifest', `repository ${this.repository}: registry check ${redactUrl(res.url)}: answers HTML, not the OCI distribution API (a login page or a wrong URL?)`);
    }
  }
}
