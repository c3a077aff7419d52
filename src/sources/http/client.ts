import { getCACertificates, rootCertificates } from 'node:tls';
import type * as Http from 'node:http';
import type * as Https from 'node:https';
import { http, https } from '../../util/node-http.ts';
import { describeProxy, ProxyAgents, ProxyError, type ProxyChoice } from '../../util/proxy.ts';
import type { Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { RepoError, type ClientCertificate, type Credentials, type RepoErrorReason, type RepositoryConfig } from '../../model/repository.ts';
import { redactUrl } from '../url.ts';
import { usableCaCertificates } from '../client-certificate.ts';
import { sleep } from '../../util/sleep.ts';

/**
 * The one HTTP layer under every repository client: a per-repository connection pool (custom CA,
 * insecureSkipTLSVerify), HTTP(S)_PROXY / NO_PROXY decided per request and per redirect hop as Go's net/http
 * decides them (util/proxy.ts), request timeouts, a body size limit enforced while streaming, manual redirects
 * that never carry credentials to another origin, bounded Retry-After handling, and errors that name the
 * repository and a redacted URL — never a credential or a response body.
 */

/**
 * Statuses that say "try again": rate limits and unavailability (429, 503, with Retry-After) and the transient
 * answers of a gateway or load balancer in front of a registry (408, 502, 504). Helm's registry client (oras-go's
 * retry transport) retries these too; a 500 is left to the next refresh, since it is rarely transient.
 */
const RETRIED = new Set([408, 429, 502, 503, 504]);

export interface RetryPolicy {
  /** Retries after a RETRIED status (default 3). */
  maxRetries: number;
  /** Total time spent waiting on Retry-After across retries of one request (default 30 s). */
  maxWaitMs: number;
  /** Wait used when a RETRIED status carries no Retry-After (default 1 s). */
  defaultWaitMs: number;
}

export interface HttpClientOptions {
  /** Repository name, used in every error message. */
  repository: string;
  caPem?: string | undefined;
  /** Presented to a server that asks for a client certificate (mutual TLS). */
  clientCertificate?: ClientCertificate | undefined;
  insecureSkipTLSVerify?: boolean | undefined;
  /** Whole request including the body (default 60 s). */
  timeoutMs?: number | undefined;
  /** Default body limit (default 20 MiB). */
  maxBodyBytes?: number | undefined;
  /** Redirects followed per request (default 5; chart downloads rarely need more than one). */
  maxRedirects?: number | undefined;
  retry?: Partial<RetryPolicy> | undefined;
  userAgent?: string | undefined;
  /**
   * Where HTTP_PROXY, HTTPS_PROXY, NO_PROXY (and lower-case forms) and REQUEST_METHOD are read, once, at
   * construction (default process.env).
   */
  proxyEnv?: NodeJS.ProcessEnv | undefined;
}

export interface HttpRequest {
  url: string;
  method?: 'GET' | 'HEAD' | 'POST' | undefined;
  headers?: Record<string, string> | undefined;
  /**
   * A POST's form (sent `application/x-www-form-urlencoded`). It may hold a credential (the OAuth2 refresh-token
   * grant), so it is sent to the request's origin only: a 307/308 within that origin re-sends it, any other
   * redirect fails the request (see #once).
   */
  form?: string | undefined;
  /** Sent as Authorization to the request's origin only, never after a redirect to another origin. */
  authorization?: string | undefined;
  maxBytes?: number | undefined;
  /** Statuses returned to the caller instead of raised (e.g. 304, 401 for an auth challenge). */
  acceptStatus?: readonly number[] | undefined;
  signal?: AbortSignal | undefined;
  /** What is being fetched, for messages ("index", "chart webapp-1.0.0"); defaults to "request". */
  what?: string | undefined;
  /**
   * The bytes as served: no Accept-Encoding asked for and no Content-Encoding undone. Helm's HTTP getter (3.3+)
   * downloads charts this way: a tarball served with `Content-Encoding: gzip` (Bitbucket, object stores with the
   * header set on the object) is the .tgz itself, and decoding it would change its digest.
   */
  raw?: boolean | undefined;
}

/** Response header lookup by case-insensitive name; repeated headers are joined with ", ". */
export interface ResponseHeaders {
  get(name: string): string | null;
}

export interface HttpResponse {
  status: number;
  /** The URL that answered (after redirects). */
  url: string;
  headers: ResponseHeaders;
  body: Buffer;
  /** true when the Authorization header was dropped because a redirect changed origin. */
  authorizationDropped: boolean;
}

const DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024;
const DEFAULT_RETRY: RetryPolicy = { maxRetries: 3, maxWaitMs: 30_000, defaultWaitMs: 1_000 };
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * The Authorization header that carries `credentials` as they are. A refresh token has none: it is never a
 * header, only the body of the token service's OAuth2 grant (oci/client.ts). Nor has a registry token: it
 * answers an OCI registry's Bearer challenge only (oci/client.ts challengeAuthorization).
 */
export function authorizationHeader(credentials: Credentials | undefined): string | undefined {
  if (!credentials) return undefined;
  if (credentials.kind === 'basic') return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
  if (credentials.kind === 'bearer') return `Bearer ${credentials.token}`;
  return undefined;
}

function statusReason(status: number): RepoErrorReason {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'server_error';
  return 'http_error';
}

/** Retry-After in ms (delta-seconds or an HTTP date), undefined when absent or unreadable. */
function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function origin(u: URL): string {
  return `${u.protocol}//${u.host}`;
}

const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(VERIFY|GET)|HOSTNAME|ALTNAME/i;

function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string') return e.code;
    e = typeof e === 'object' && e !== null && 'cause' in e ? e.cause : undefined;
  }
  return undefined;
}


export class HttpClient {
  readonly repository: string;
  /** Direct agents and one per proxy in use, all with this repository's TLS settings. */
  readonly #agents: ProxyAgents;
  readonly #timeoutMs: number;
  readonly #maxBody: number;
  readonly #maxRedirects: number;
  readonly #retry: RetryPolicy;
  readonly #userAgent: string;
  readonly #hasClientCertificate: boolean;

  constructor(options: HttpClientOptions) {
    this.repository = options.repository;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.#maxRedirects = options.maxRedirects ?? 5;
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#userAgent = options.userAgent ?? 'chartorigin';
    // One keep-alive pool per repository, so a custom CA, a client certificate or skipped verification never
    // leaks to another.
    const pool = { keepAlive: true, maxSockets: 8, maxFreeSockets: 8, timeout: 30_000 };
    const tls: Https.AgentOptions = { ...pool, rejectUnauthorized: !options.insecureSkipTLSVerify };
    // Setting `ca` replaces the default trust store, so the defaults are added back explicitly. The bundle goes
    // in certificate by certificate, as Go's pool reads it (client-certificate.ts usableCaCertificates).
    if (options.caPem) tls.ca = [...defaultCAs(), ...usableCaCertificates(options.caPem)];
    // Presented to every server of this client's requests that asks for one (redirect targets and an OCI
    // token realm too), as Helm's getter and Flux's transport present theirs. Only its possession is proven:
    // the key itself never leaves the process, so it is not held back from other origins as credentials are.
    if (options.clientCertificate) {
      tls.cert = options.clientCertificate.certPem;
      tls.key = options.clientCertificate.keyPem;
    }
    this.#hasClientCertificate = options.clientCertificate !== undefined;
    this.#agents = new ProxyAgents({ env: options.proxyEnv ?? process.env, http: pool, https: tls });
  }

  async close(): Promise<void> {
    this.#agents.destroy();
  }

  #tlsHint(code: string): string {
    return clientCertificateHint(code, this.#hasClientCertificate);
  }

  /** Performs the request, following redirects and honouring Retry-After within the retry policy. */
  async request(req: HttpRequest): Promise<HttpResponse> {
    let waited = 0;
    for (let attempt = 0; ; attempt++) {
      const res = await this.#once(req);
      if (RETRIED.has(res.status) && !req.acceptStatus?.includes(res.status)) {
        const retryAfter = parseRetryAfter(res.headers.get('retry-after'));
        const wait = retryAfter ?? this.#retry.defaultWaitMs;
        if (attempt < this.#retry.maxRetries && waited + wait <= this.#retry.maxWaitMs) {
          waited += wait;
          await sleep(wait, req.signal);
          req.signal?.throwIfAborted();
          continue;
        }
        const hint = retryAfter !== undefined ? ` (Retry-After ${Math.ceil(retryAfter / 1000)} s, wait budget ${Math.round(this.#retry.maxWaitMs / 1000)} s)` : '';
        throw this.#statusError(req, res, `after ${attempt + 1} attempt${attempt ? 's' : ''}${hint}`);
      }
      if ((res.status >= 200 && res.status < 300) || req.acceptStatus?.includes(res.status)) return res;
      throw this.#statusError(req, res);
    }
  }

  #statusError(req: HttpRequest, res: HttpResponse, extra?: string): RepoError {
    const reason = statusReason(res.status);
    return new RepoError(this.repository, reason, `repository ${this.repository}: ${req.what ?? 'request'} ${redactUrl(res.url)}: HTTP ${res.status}${extra ? ` ${extra}` : ''}`);
  }

  async #once(req: HttpRequest): Promise<HttpResponse> {
    const what = req.what ?? 'request';
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    const method = req.method ?? 'GET';
    const maxBytes = req.maxBytes ?? this.#maxBody;
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      throw new RepoError(this.repository, 'http_error', `repository ${this.repository}: ${what}: invalid URL ${redactUrl(req.url)}`);
    }
    const firstOrigin = origin(url);
    let authorization = req.authorization;
    let dropped = false;

    for (let hop = 0; ; hop++) {
      if (url.protocol !== 'https:' && url.protocol !== 'http:') {
        throw new RepoError(this.repository, 'redirect', `repository ${this.repository}: ${what}: unsupported URL scheme ${url.protocol}`);
      }
      // Credentials belong to the origin they were configured for; a redirect elsewhere (another host,
      // port, or a scheme change) loses them for good, even if a later hop comes back.
      if (authorization !== undefined && origin(url) !== firstOrigin) {
        authorization = undefined;
        dropped = true;
      }
      const headers: Record<string, string> = { 'user-agent': this.#userAgent, ...(req.raw ? {} : { 'accept-encoding': ACCEPT_ENCODING }), ...req.headers };
      if (authorization !== undefined) headers['authorization'] = authorization;
      if (req.form !== undefined) {
        headers['content-type'] = 'application/x-www-form-urlencoded';
        headers['content-length'] = String(Buffer.byteLength(req.form));
      }
      // Decided again on every hop: a redirect to another host may be bypassed, or not.
      let agent: Http.Agent;
      let proxy: ProxyChoice | undefined;
      try {
        ({ agent, proxy } = this.#agents.forUrl(url));
      } catch (err) {
        if (!(err instanceof ProxyError)) throw err;
        throw new RepoError(this.repository, 'invalid_config', `repository ${this.repository}: ${what} ${redactUrl(url.href)}: ${err.message}`, { cause: err });
      }
      let res: Http.IncomingMessage;
      try {
        res = await send(url, method, headers, signal, agent, req.form);
      } catch (err) {
        throw this.#transportError(err, req, url, timeout, proxy);
      }
      const status = res.statusCode ?? 0;
      if (REDIRECTS.has(status)) {
        res.resume();
        const location = res.headers.location;
        if (!location) throw new RepoError(this.repository, 'redirect', `repository ${this.repository}: ${what} ${redactUrl(url.href)}: HTTP ${status} without Location`);
        if (hop >= this.#maxRedirects) throw new RepoError(this.repository, 'redirect', `repository ${this.repository}: ${what} ${redactUrl(req.url)}: more than ${this.#maxRedirects} redirects`);
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          throw new RepoError(this.repository, 'redirect', `repository ${this.repository}: ${what} ${redactUrl(url.href)}: invalid redirect Location`);
        }
        // A form may be a credential: it goes to its own origin or nowhere. Go's client would re-send it on a
        // 307/308 to any host, and turn a 301-303 into a bodyless GET that a token service answers anonymously.
        if (req.form !== undefined && !((status === 307 || status === 308) && origin(next) === firstOrigin)) {
          throw new RepoError(this.repository, 'redirect', `repository ${this.repository}: ${what} ${redactUrl(url.href)}: HTTP ${status} redirect not followed (the request's form goes to its own origin only, and only as a POST)`);
        }
        url = next;
        continue;
      }
      let body: Buffer;
      try {
        const bodiless = method === 'HEAD' || status === 204 || status === 304;
        if (bodiless) res.resume();
        body = bodiless ? Buffer.alloc(0) : await readBody(res, maxBytes, req.raw === true);
      } catch (err) {
        if (err instanceof BodyTooLarge) {
          throw new RepoError(this.repository, 'too_large', `repository ${this.repository}: ${what} ${redactUrl(url.href)}: response larger than the limit of ${maxBytes} bytes`);
        }
        if (err instanceof UnsupportedEncoding) {
          throw new RepoError(this.repository, 'http_error', `repository ${this.repository}: ${what} ${redactUrl(url.href)}: unsupported Content-Encoding`);
        }
        throw this.#transportError(err, req, url, timeout, proxy);
      }
      return { status, url: url.href, headers: responseHeaders(res.headers), body, authorizationDropped: dropped };
    }
  }

  #transportError(err: unknown, req: HttpRequest, url: URL, timeout: AbortSignal, proxy?: ProxyChoice): unknown {
    const what = req.what ?? 'request';
    // The proxy is named by scheme, host and port only: its userinfo is a credential.
    const where = `repository ${this.repository}: ${what} ${redactUrl(url.href)}${proxy ? ` via proxy ${describeProxy(proxy.url)} (${proxy.variable})` : ''}`;
    if (req.signal?.aborted) return req.signal.reason;
    if (timeout.aborted) return new RepoError(this.repository, 'timeout', `${where}: timed out after ${Math.round(this.#timeoutMs / 1000)} s`, { cause: err });
    if (err instanceof RepoError) return err;
    const code = errorCode(err);
    if (code === 'ERR_PROXY_TUNNEL') {
      // Node's own message names the proxy without credentials, but the status line is all that is needed.
      const status = typeof err === 'object' && err !== null && 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : undefined;
      return new RepoError(this.repository, 'network', `${where}: ${status !== undefined ? `the proxy refused the tunnel (HTTP ${status})` : 'the proxy tunnel could not be established'} (${code})`, { cause: err });
    }
    if (code && TLS_CODE.test(code)) return new RepoError(this.repository, 'tls', `${where}: TLS error (${code})${this.#tlsHint(code)}`, { cause: err });
    if (code?.startsWith('Z_')) return new RepoError(this.repository, 'http_error', `${where}: the Content-Encoding body does not decode (${code})`, { cause: err });
    return new RepoError(this.repository, 'network', `${where}: ${code ?? 'connection failed'}`, { cause: err });
  }
}

/**
 * The server's TLS alert in words when it concerns the client certificate. OpenSSL reports an alert the server
 * sent as ERR_SSL_<version>_ALERT_<name>, and a server's alerts are about what the client sent: Go's servers
 * (distribution, Harbor, ChartMuseum) send bad_certificate for a missing or unknown client certificate
 * (certificate_required in TLS 1.3 when none is sent), OpenSSL's certificate_required or handshake_failure —
 * which may also mean no common cipher, hence "may".
 */
export function clientCertificateHint(code: string, hasClientCertificate: boolean): string {
  const alert = /_ALERT_([A-Z_]+)$/.exec(code)?.[1];
  if (!alert) return '';
  if (!hasClientCertificate) {
    if (alert === 'CERTIFICATE_REQUIRED' || alert === 'BAD_CERTIFICATE') return ': the server requires a TLS client certificate and none is configured';
    if (alert === 'HANDSHAKE_FAILURE') return ': the server may require a TLS client certificate; none is configured';
    return '';
  }
  return /^(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED)$/.test(alert) ? ': the server did not accept the client certificate' : '';
}

/** What a repository's caller may still set: the rest comes from its RepositoryConfig. */
export type RepositoryHttpOptions = Partial<Omit<HttpClientOptions, 'repository' | 'caPem' | 'clientCertificate' | 'insecureSkipTLSVerify'>>;

/** A repository's client: its name, TLS settings and timeout, over the caller's other options. */
export function repositoryHttpClient(config: RepositoryConfig, options: RepositoryHttpOptions = {}): HttpClient {
  return new HttpClient({
    ...options,
    ...(config.timeoutSeconds ? { timeoutMs: config.timeoutSeconds * 1000 } : {}),
    repository: config.name,
    caPem: config.caPem,
    clientCertificate: config.clientCertificate,
    insecureSkipTLSVerify: config.insecureSkipTLSVerify,
  });
}

/** Opens one request; resolves with the response head, the body still unread. */
function send(url: URL, method: string, headers: Record<string, string>, signal: AbortSignal, agent: Http.Agent, form?: string): Promise<Http.IncomingMessage> {
  // Userinfo in the URL is the configured credential's other form: never sent as such.
  const options: Http.RequestOptions = {
    method,
    protocol: url.protocol,
    hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port || undefined,
    path: url.pathname + url.search,
    headers,
    agent,
    signal,
  };
  return new Promise((resolve, reject) => {
    const r = (url.protocol === 'https:' ? https : http).request(options, resolve);
    r.once('error', reject);
    r.end(form);
  });
}

function responseHeaders(raw: Http.IncomingHttpHeaders): ResponseHeaders {
  return {
    get(name: string): string | null {
      const v = raw[name.toLowerCase()];
      if (v === undefined) return null;
      return Array.isArray(v) ? v.join(', ') : v;
    },
  };
}

class BodyTooLarge extends Error {}
class UnsupportedEncoding extends Error {}

/** gzip, deflate and br are decoded as fetch would; the limit applies to the decoded bytes. */
const ACCEPT_ENCODING = 'gzip, deflate, br';

function decoder(encoding: string | undefined): Transform | undefined {
  const e = (encoding ?? '').trim().toLowerCase();
  if (e === '' || e === 'identity') return undefined;
  if (e === 'gzip' || e === 'x-gzip') return createGunzip();
  if (e === 'deflate') return createInflate();
  if (e === 'br') return createBrotliDecompress();
  throw new UnsupportedEncoding();
}

/** Reads the body up to `max` decoded (or, `raw`, served) bytes; destroys the connection as soon as it exceeds. */
async function readBody(res: Http.IncomingMessage, max: number, raw: boolean): Promise<Buffer> {
  const encoding = raw ? undefined : res.headers['content-encoding'];
  const declared = Number(res.headers['content-length']);
  let stream: Readable;
  try {
    const d = decoder(encoding);
    if (!d && Number.isFinite(declared) && declared > max) throw new BodyTooLarge();
    stream = d ? res.pipe(d) : res;
    if (d) res.once('error', (err) => d.destroy(err));
  } catch (err) {
    res.destroy();
    throw err;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      const b = chunk as Buffer;
      total += b.byteLength;
      if (total > max) throw new BodyTooLarge();
      chunks.push(b);
    }
  } catch (err) {
    res.destroy();
    stream.destroy();
    throw err;
  }
  return Buffer.concat(chunks, total);
}

function defaultCAs(): string[] {
  try {
    return getCACertificates('default');
  } catch {
    return [...rootCertificates];
  }
}
