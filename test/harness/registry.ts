/**
 * The real Debian docker-registry (distribution 2.8) on 127.0.0.1 with a generated config: filesystem
 * storage in a temp dir, deletes enabled, and optionally htpasswd auth or token auth backed by a small
 * token server here that signs real ES256 JWTs (x5c header, certificate in the registry's
 * rootcertbundle), so the registry checks real tokens and the whole Bearer challenge flow runs. The token
 * server speaks both protocols of distribution's spec: GET with Basic (docs/spec/auth/token.md) and the
 * OAuth2 POST (docs/spec/auth/oauth.md: `password` grant, issuing a refresh token for
 * `access_type=offline` as `docker login` asks, and `refresh_token` grant). With `tls` it serves HTTPS and,
 * with `clientCAs` (distribution's http.tls.clientcas), requires a client certificate.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, timingSafeEqual, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TOOLS_BIN } from './charts.ts';
import type { MutualTlsCerts } from './certs.ts';

export interface RegistryUser {
  username: string;
  password: string;
}

export interface RegistryOptions {
  /** htpasswd (Basic) auth with these users. */
  htpasswd?: RegistryUser[] | undefined;
  /**
   * Token auth: users may push and pull; `anonymousPull` lets anyone pull. `field` names the GET answer's token
   * field. `oauth2Status`: every POST is answered with this status instead (a token service without OAuth2).
   * `refreshTokens`: refresh tokens known from the start (token → user). `basicRefreshToken`: the GET protocol
   * takes a refresh token as the Basic password, any user name (what containerd's GET fallback sends).
   */
  token?: {
    users: RegistryUser[];
    anonymousPull?: boolean;
    expiresInSeconds?: number;
    field?: 'token' | 'access_token';
    oauth2Status?: number;
    refreshTokens?: Record<string, string>;
    basicRefreshToken?: boolean;
  } | undefined;
  /**
   * HTTPS with `certs.server`; `requireClientCert` lists `certs.ca` in http.tls.clientcas, so that the registry
   * (Go's tls.RequireAndVerifyClientCert) refuses a handshake without a client certificate of that CA.
   */
  tls?: { certs: MutualTlsCerts; requireClientCert: boolean } | undefined;
}

export interface TokenRequest {
  method: 'GET' | 'POST';
  scope: string[];
  service: string | undefined;
  /** The username that authenticated, or undefined for anonymous. */
  account: string | undefined;
  granted: boolean;
  /** The user named by a Basic Authorization header, whether it was accepted or not. */
  basicUser?: string | undefined;
  /** POST: the form as sent, and its fields (decoded; the last value of a repeated field). */
  rawForm?: string | undefined;
  form?: Record<string, string> | undefined;
  /** POST: the Content-Type header. */
  contentType?: string | undefined;
}

export interface Registry {
  /** 127.0.0.1:PORT */
  host: string;
  /** oci://127.0.0.1:PORT */
  url: string;
  /** Requests the token server answered (token auth only). */
  tokenRequests: TokenRequest[];
  /** The token service's URL (token auth only). */
  realm?: string | undefined;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function safeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

function basicUser(req: IncomingMessage, users: RegistryUser[]): string | undefined | null {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Basic\s+(.+)$/i.exec(h);
  if (!m) return null;
  const decoded = Buffer.from(m[1] ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  const user = users.find((u) => u.username === username);
  return user && safeEqual(user.password, password) ? username : null;
}

function basicName(req: IncomingMessage): string | undefined {
  const m = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1] ?? '', 'base64').toString('utf8');
  return decoded.slice(0, Math.max(0, decoded.indexOf(':')));
}

interface TokenServer {
  realm: string;
  server: Server;
  requests: TokenRequest[];
}

/** The `access` claim for `scopes`: what `account` (undefined: anonymous) may do. */
function grantedAccess(scopes: string[], account: string | undefined, anonymousPull: boolean): { type: string; name: string; actions: string[] }[] {
  const access: { type: string; name: string; actions: string[] }[] = [];
  for (const s of scopes) {
    const [type, ...rest] = s.split(':');
    const actions = (rest.pop() ?? '').split(',').filter(Boolean);
    const name = rest.join(':');
    if (type !== 'repository' || !name) continue;
    const allowed = account ? actions.filter((a) => a === 'pull' || a === 'push' || a === '*') : anonymousPull ? actions.filter((a) => a === 'pull') : [];
    if (allowed.length) access.push({ type, name, actions: allowed });
  }
  return access;
}

async function startTokenServer(dir: string, service: string, issuer: string, opts: NonNullable<RegistryOptions['token']>): Promise<TokenServer & { certPath: string }> {
  const keyPath = join(dir, 'token-key.pem');
  const certPath = join(dir, 'token-cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=chartorigin-test-token-signer', '-keyout', keyPath, '-out', certPath], { stdio: 'ignore' });
  const key = createPrivateKey(readFileSync(keyPath));
  const certDer = new X509Certificate(readFileSync(certPath)).raw;
  const requests: TokenRequest[] = [];

  // Refresh tokens issued by the password grant with access_type=offline → the account they stand for.
  const refreshTokens = new Map<string, string>(Object.entries(opts.refreshTokens ?? {}));
  const jwtFor = (account: string | undefined, access: ReturnType<typeof grantedAccess>): { jwt: string; now: number; expiresIn: number } => {
    const now = Math.floor(Date.now() / 1000);
    const expiresIn = opts.expiresInSeconds ?? 300;
    const header = { typ: 'JWT', alg: 'ES256', x5c: [certDer.toString('base64')] };
    const claims = { iss: issuer, sub: account ?? '', aud: service, exp: now + expiresIn, nbf: now - 10, iat: now, jti: randomBytes(12).toString('hex'), access };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
    return { jwt: `${signingInput}.${b64url(signature)}`, now, expiresIn };
  };
  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  /** The OAuth2 POST (docs/spec/auth/oauth.md); errors as RFC 6749 section 5.2 words them. */
  const oauth2 = (req: IncomingMessage, res: ServerResponse, raw: string): void => {
    const form = new URLSearchParams(raw);
    const fields = Object.fromEntries(form.entries());
    const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
    const record = (account: string | undefined, granted: boolean): void => {
      requests.push({ method: 'POST', scope: scopes, service: form.get('service') ?? undefined, account, granted, basicUser: basicName(req), rawForm: raw, form: fields, contentType: req.headers['content-type'] });
    };
    if (opts.oauth2Status !== undefined) {
      record(undefined, false);
      return json(res, opts.oauth2Status, { errors: [{ code: 'UNSUPPORTED' }] });
    }
    if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '') || !form.get('client_id') || !form.has('service')) {
      record(undefined, false);
      return json(res, 400, { error: 'invalid_request' });
    }
    let account: string | undefined;
    const grant = form.get('grant_type');
    if (grant === 'password') {
      const user = opts.users.find((u) => u.username === form.get('username'));
      account = user && safeEqual(user.password, form.get('password') ?? '') ? user.username : undefined;
    } else if (grant === 'refresh_token') {
      account = refreshTokens.get(form.get('refresh_token') ?? '');
    } else {
      record(undefined, false);
      return json(res, 400, { error: 'unsupported_grant_type' });
    }
    if (!account) {
      record(undefined, false);
      return json(res, 400, { error: 'invalid_grant' });
    }
    record(account, true);
    const access = grantedAccess(scopes, account, opts.anonymousPull === true);
    const { jwt, now, expiresIn } = jwtFor(account, access);
    let refresh: string | undefined;
    if (grant === 'refresh_token') refresh = form.get('refresh_token') ?? undefined;
    else if (form.get('access_type') === 'offline') refreshTokens.set((refresh = randomBytes(24).toString('base64url')), account);
    const scope = access.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`).join(' ');
    // Only `access_token`: the spec's field for this protocol (`token` belongs to the GET protocol).
    json(res, 200, { access_token: jwt, scope, expires_in: expiresIn, issued_at: new Date(now * 1000).toISOString(), ...(refresh ? { refresh_token: refresh } : {}) });
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/token') {
      res.writeHead(404);
      res.end();
      return;
    }
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= 64 * 1024) chunks.push(c);
      });
      req.on('end', () => (size > 64 * 1024 ? json(res, 413, { error: 'invalid_request' }) : oauth2(req, res, Buffer.concat(chunks).toString('utf8'))));
      return;
    }
    let account = basicUser(req, opts.users);
    if (account === null && opts.basicRefreshToken) {
      const decoded = Buffer.from(/^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '', 'base64').toString('utf8');
      account = refreshTokens.get(decoded.slice(decoded.indexOf(':') + 1)) ?? null;
    }
    const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
    const base = { method: 'GET' as const, scope: scopes, service: url.searchParams.get('service') ?? undefined, basicUser: basicName(req) };
    if (account === null) {
      requests.push({ ...base, account: undefined, granted: false });
      return json(res, 401, { errors: [{ code: 'UNAUTHORIZED' }] });
    }
    if (account === undefined && !opts.anonymousPull) {
      requests.push({ ...base, account: undefined, granted: false });
      return json(res, 401, { errors: [{ code: 'UNAUTHORIZED' }] }, { 'www-authenticate': 'Basic realm="token"' });
    }
    requests.push({ ...base, account, granted: true });
    const { jwt, now, expiresIn } = jwtFor(account, grantedAccess(scopes, account, opts.anonymousPull === true));
    json(res, 200, { [opts.field ?? 'token']: jwt, expires_in: expiresIn, issued_at: new Date(now * 1000).toISOString() });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const realm = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  return { realm, server, requests, certPath };
}

/** GET /v2/ over HTTPS with the test client certificate; resolves with the status. */
function httpsStatus(host: string, certs: MutualTlsCerts): Promise<number> {
  const [hostname, port] = host.split(':');
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ hostname, port, path: '/v2/', ca: readFileSync(certs.ca.cert), cert: readFileSync(certs.client.cert), key: readFileSync(certs.client.key), agent: false }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end();
  });
}

async function waitReady(host: string, child: ChildProcess, stderr: () => string, tls?: MutualTlsCerts): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited (${child.exitCode}): ${stderr().slice(-2000)}`);
    try {
      let status: number;
      if (tls) status = await httpsStatus(host, tls);
      else {
        const res = await fetch(`http://${host}/v2/`);
        await res.arrayBuffer();
        status = res.status;
      }
      if (status === 200 || status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not become ready: ${stderr().slice(-2000)}`);
}

export async function startRegistry(options: RegistryOptions = {}): Promise<Registry> {
  const dir = mkdtempSync(join(tmpdir(), 'chartorigin-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const service = 'chartorigin-test-registry';
  const issuer = 'chartorigin-test-issuer';
  let tokenServer: (TokenServer & { certPath: string }) | undefined;
  let auth = '';
  if (options.htpasswd) {
    const file = join(dir, 'htpasswd');
    const lines = options.htpasswd.map((u) => execFileSync('htpasswd', ['-nbB', u.username, u.password], { encoding: 'utf8' }).trim());
    writeFileSync(file, `${lines.join('\n')}\n`);
    auth = `auth:\n  htpasswd:\n    realm: chartorigin-test\n    path: ${file}\n`;
  } else if (options.token) {
    tokenServer = await startTokenServer(dir, service, issuer, options.token);
    auth = `auth:\n  token:\n    realm: ${tokenServer.realm}\n    service: ${service}\n    issuer: ${issuer}\n    rootcertbundle: ${tokenServer.certPath}\n`;
  }
  const t = options.tls;
  const tls = t ? `  tls:\n    certificate: ${t.certs.server.cert}\n    key: ${t.certs.server.key}\n${t.requireClientCert ? `    clientcas:\n      - ${t.certs.ca.cert}\n` : ''}` : '';
  const config = `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(dir, 'data')}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: ${host}
  secret: ${randomBytes(16).toString('hex')}
${tls}${auth}`;
  const configPath = join(dir, 'config.yml');
  writeFileSync(configPath, config);
  const child = spawn(join(TOOLS_BIN, 'docker-registry'), ['serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-8000);
  });
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', kill);
  const close = async (): Promise<void> => {
    process.removeListener('exit', kill);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    }
    if (tokenServer) {
      tokenServer.server.closeAllConnections();
      await new Promise<void>((r) => tokenServer?.server.close(() => r()));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(host, child, () => err, options.tls?.certs);
  } catch (e) {
    await close();
    throw e;
  }
  return { host, url: `oci://${host}`, tokenRequests: tokenServer?.requests ?? [], realm: tokenServer?.realm, close };
}

/**
 * A refresh token from the registry's token service, got the way `docker login` gets the `identitytoken` it
 * stores: the OAuth2 password grant with `access_type=offline`, a real POST.
 */
export async function issueRefreshToken(registry: Registry, user: RegistryUser): Promise<string> {
  if (!registry.realm) throw new Error('the registry has no token service');
  const form = new URLSearchParams({ grant_type: 'password', username: user.username, password: user.password, service: 'chartorigin-test-registry', client_id: 'chartorigin-test-login', access_type: 'offline' });
  const res = await fetch(registry.realm, { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  const body = (await res.json()) as { refresh_token?: string };
  if (res.status !== 200 || !body.refresh_token) throw new Error(`no refresh token (HTTP ${res.status})`);
  return body.refresh_token;
}

/**
 * A registry (access) token from the registry's token service, got by the GET protocol with the user's Basic
 * credentials for `scopes` — the token a Docker-format login's `registrytoken` holds: the registry checks its
 * ES256 signature, so it is accepted only exactly as issued, and it expires with the service's expiresInSeconds.
 */
export async function issueRegistryToken(registry: Registry, user: RegistryUser, scopes: readonly string[]): Promise<string> {
  if (!registry.realm) throw new Error('the registry has no token service');
  const url = new URL(registry.realm);
  url.searchParams.set('service', 'chartorigin-test-registry');
  for (const s of scopes) url.searchParams.append('scope', s);
  const res = await fetch(url, { headers: { authorization: `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}` } });
  const body = (await res.json()) as { token?: string; access_token?: string };
  const token = body.access_token ?? body.token;
  if (res.status !== 200 || !token) throw new Error(`no registry token (HTTP ${res.status})`);
  return token;
}
