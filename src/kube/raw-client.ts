import type * as Http from 'node:http';
import type * as Https from 'node:https';
import { http, https } from '../util/node-http.ts';
import type { KubeConfig } from './kubeconfig.ts';

/** An API answer that was not 2xx. `status` lets callers tell 404/409/410 apart. */
export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
  }
}

export interface RawRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

function url(kc: KubeConfig, path: string, query: RawRequest['query']): URL {
  const server = kc.server;
  const u = new URL(server.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
  return u;
}

async function open(kc: KubeConfig, req: RawRequest): Promise<Http.IncomingMessage> {
  const u = url(kc, req.path, req.query);
  const opts: Https.RequestOptions = {
    method: req.method ?? 'GET',
    // URL keeps an IPv6 literal's brackets ([fd00::1]); a request needs the address itself.
    hostname: u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname,
    port: u.port,
    path: u.pathname + u.search,
    headers: { Accept: 'application/json', ...req.headers },
  };
  await kc.applyToHTTPSOptions(opts);
  const agent = kc.agentFor(u);
  if (agent) opts.agent = agent;
  const mod = u.protocol === 'http:' ? http : https;
  return new Promise((resolve, reject) => {
    const r = mod.request({ ...opts, signal: req.signal }, resolve);
    r.on('error', reject);
    if (req.body !== undefined) r.write(req.body);
    r.end();
  });
}

/**
 * A request; after a 401 answered to an exec plugin's credential, the plugin is run again and the request sent
 * once more (client-go's exec authenticator refreshes on 401 too: a token revoked or rotated before it expires).
 */
async function openAuthenticated(kc: KubeConfig, req: RawRequest): Promise<Http.IncomingMessage> {
  const res = await open(kc, req);
  if (res.statusCode !== 401 || !kc.refreshAfterUnauthorized()) return res;
  res.resume();
  return open(kc, req);
}

async function readAll(res: Http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function apiError(status: number, text: string, what: string): KubeApiError {
  let reason = 'Unknown';
  let message = `${what}: HTTP ${status}`;
  try {
    const s = JSON.parse(text) as { reason?: string; message?: string };
    reason = s.reason ?? reason;
    if (s.message) message = `${what}: ${s.message}`;
  } catch {
    // not a Status object; keep the HTTP code only (the body may be anything)
  }
  return new KubeApiError(status, reason, message);
}

/**
 * A JSON request to the API server with the kubeconfig's credentials. Used where client-node's typed
 * API cannot express the request: metadata-only lists and watches, server-side apply on custom resources.
 */
export async function kubeRequest<T>(kc: KubeConfig, req: RawRequest): Promise<T> {
  const res = await openAuthenticated(kc, req);
  const text = await readAll(res);
  const status = res.statusCode ?? 0;
  if (status < 200 || status >= 300) throw apiError(status, text, `${req.method ?? 'GET'} ${req.path}`);
  return (text ? JSON.parse(text) : {}) as T;
}

/** A watch stream: calls onEvent for every JSON line until the server closes it or the signal aborts. */
export async function kubeWatch(kc: KubeConfig, req: RawRequest, onEvent: (event: unknown) => void): Promise<void> {
  const res = await openAuthenticated(kc, req);
  const status = res.statusCode ?? 0;
  if (status < 200 || status >= 300) throw apiError(status, await readAll(res), `WATCH ${req.path}`);
  let buffered = '';
  res.setEncoding('utf8');
  try {
    for await (const chunk of res) {
      buffered += chunk as string;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) onEvent(JSON.parse(line));
      }
    }
  } catch (err) {
    if (req.signal?.aborted) return;
    throw err;
  }
}
