/**
 * HTTP(S)_PROXY / NO_PROXY end to end, with the real helm as the oracle: a small loopback forward proxy
 * (CONNECT tunnels and absolute-form requests, optional Basic Proxy-Authorization) logs what it is asked for,
 * and helm (Go's ProxyFromEnvironment) and chartorigin's HttpClient fetch the same index and chart under the
 * same environment. They must ask the proxy for the same targets, and go direct for the same ones.
 *
 * Every server is on loopback, which Go never proxies, so the repository is addressed as `repo.test`: a name
 * that resolves nowhere, which the proxy alone maps to 127.0.0.1. A request for it succeeds only through the
 * proxy; a bypassed one fails to resolve.
 */
import { strict as assert } from 'node:assert';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RepoError } from '../../src/model/repository.ts';
import { HttpClient } from '../../src/sources/http/client.ts';
import { resolveChartUrl } from '../../src/sources/url.ts';
import { packageChart, repoIndex } from '../harness/charts.ts';
import { toolPath, type ToolName } from '../harness/tools.ts';
import { expectRepoError } from '../support/repo-errors.ts';

const HELMS: readonly ToolName[] = ['helm4-latest', 'helm3-latest'];
const REPO_HOST = 'repo.test';

let work = '';
let caFile = '';
let caPem = '';
let chartDir = '';
let chartBytes: Buffer;
let httpsPort = 0;
let httpPort = 0;
const servers: Server[] = [];

// ---- the repository: static files over http and https, plus /hop/<file> redirecting to 127.0.0.1 -----------

function serveFiles(scheme: 'http' | 'https') {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path.startsWith('/hop/')) {
      const port = scheme === 'https' ? httpsPort : httpPort;
      res.writeHead(302, { location: `${scheme}://127.0.0.1:${port}/${path.slice('/hop/'.length)}` });
      res.end();
      return;
    }
    try {
      const body = readFileSync(join(chartDir, path.replace(/^\/+/, '').replace(/\.\./g, '')));
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  };
}

// ---- the proxy --------------------------------------------------------------------------------------------

interface ProxyEntry {
  method: string;
  target: string;
  auth: string | undefined;
}

interface TestProxy {
  url: string;
  port: number;
  log: ProxyEntry[];
  /** When set, requests without exactly this Proxy-Authorization get 407. */
  requireAuth: string | undefined;
}

const proxy: TestProxy = { url: '', port: 0, log: [], requireAuth: undefined };
const proxySockets = new Set<Socket>();

/** Where the proxy really connects for a host: only repo.test is known (to 127.0.0.1). */
function upstream(host: string): string | undefined {
  return host === REPO_HOST ? '127.0.0.1' : undefined;
}

function startProxy(): Promise<Server> {
  const server = createHttpServer((req, res) => {
    // An absolute-form request for an http:// target.
    const auth = req.headers['proxy-authorization'];
    proxy.log.push({ method: req.method ?? '', target: req.url ?? '', auth });
    if (proxy.requireAuth !== undefined && auth !== proxy.requireAuth) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test"' });
      res.end();
      return;
    }
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400);
      res.end();
      return;
    }
    const address = upstream(target.hostname);
    if (!address) {
      res.writeHead(502);
      res.end();
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const up = httpRequest({ host: address, port: target.port || 80, method: req.method, path: target.pathname + target.search, headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.once('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    proxySockets.add(client);
    const auth = req.headers['proxy-authorization'];
    proxy.log.push({ method: 'CONNECT', target: req.url ?? '', auth });
    if (proxy.requireAuth !== undefined && auth !== proxy.requireAuth) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const [host = '', port = ''] = (req.url ?? '').split(/:(?=\d+$)/);
    const address = upstream(host);
    if (!address) {
      client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const up = connect(Number(port), address, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    proxySockets.add(up);
    const close = (): void => {
      up.destroy();
      client.destroy();
    };
    up.once('error', close);
    client.once('error', close);
  });
  server.on('connection', (s: Socket) => proxySockets.add(s));
  return listen(server);
}

async function listen(server: Server): Promise<Server> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return server;
}

function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

// ---- the two clients under test ---------------------------------------------------------------------------

interface Outcome {
  ok: boolean;
  error: string;
  /** What the proxy was asked, deduplicated and sorted (helm and Node pool connections differently). */
  asked: string[];
}

function asked(entries: readonly ProxyEntry[]): string[] {
  return [...new Set(entries.map((e) => `${e.method} ${e.target}${e.auth ? ` [${e.auth}]` : ''}`))].sort();
}

/** helm repo add + helm pull of webapp 1.0.0 from `repoUrl`, with only `env`'s proxy settings. */
async function helmFetch(helm: ToolName, repoUrl: string, env: Record<string, string>): Promise<Outcome> {
  const home = mkdtempSync(join(work, 'helm-home-'));
  const helmEnv: NodeJS.ProcessEnv = {
    HOME: home,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
    NO_COLOR: '1',
    ...env,
  };
  const run = (args: string[]): Promise<void> =>
    new Promise((resolve, reject) => {
      execFile(toolPath(helm), args, { env: helmEnv, timeout: 60_000 }, (err, _stdout, stderr) => (err ? reject(new Error(stderr.trim() || err.message)) : resolve()));
    });
  const start = proxy.log.length;
  try {
    mkdirSync(join(home, 'out'));
    const caArgs = repoUrl.startsWith('https:') ? ['--ca-file', caFile] : [];
    await run(['repo', 'add', 'proxied', repoUrl, ...caArgs]);
    await run(['pull', 'proxied/webapp', '--version', '1.0.0', '--destination', join(home, 'out')]);
    assert.deepEqual(readFileSync(join(home, 'out', 'webapp-1.0.0.tgz')), chartBytes);
    return { ok: true, error: '', asked: asked(proxy.log.slice(start)) };
  } catch (err) {
    return { ok: false, error: (err as Error).message, asked: asked(proxy.log.slice(start)) };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** The same through chartorigin's HttpClient: the index, then the chart URL it lists. */
async function chartoriginFetch(repoUrl: string, env: Record<string, string>): Promise<Outcome & { err?: unknown }> {
  const client = new HttpClient({ repository: 'proxied', caPem, proxyEnv: env, timeoutMs: 20_000, retry: { maxRetries: 0 } });
  const start = proxy.log.length;
  try {
    const index = await client.request({ url: `${repoUrl}/index.yaml`, what: 'index' });
    const ref = /urls:\s*\n\s*-\s*(\S+)/.exec(index.body.toString())?.[1];
    assert.ok(ref, 'index lists the chart');
    // Relative chart URLs resolve against the repository URL, not where the index was redirected (as helm does).
    const chart = await client.request({ url: resolveChartUrl(repoUrl, ref), what: 'chart webapp-1.0.0' });
    assert.deepEqual(chart.body, chartBytes);
    return { ok: true, error: '', asked: asked(proxy.log.slice(start)) };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err), asked: asked(proxy.log.slice(start)), err };
  } finally {
    await client.close();
  }
}

/** Runs every helm and chartorigin under `env`; asserts they agree on success and on what the proxy saw. */
async function compare(repoUrl: string, env: Record<string, string>): Promise<Outcome & { err?: unknown }> {
  const ours = await chartoriginFetch(repoUrl, env);
  for (const helm of HELMS) {
    const theirs = await helmFetch(helm, repoUrl, env);
    assert.equal(ours.ok, theirs.ok, `${helm} ${theirs.ok ? 'succeeded' : `failed (${theirs.error})`}, chartorigin ${ours.ok ? 'succeeded' : `failed (${ours.error})`}`);
    assert.deepEqual(ours.asked, theirs.asked, `the proxy was asked the same by ${helm} and chartorigin`);
  }
  return ours;
}

// ---------------------------------------------------------------------------------------------------------

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'chartorigin-proxy-'));
  // A CA and a serving certificate for repo.test (and 127.0.0.1, for the direct cases).
  const openssl = (args: string[]): void => void execFileSync('openssl', args, { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
  writeFileSync(join(work, 'ca.cnf'), '[req]\ndistinguished_name=dn\nx509_extensions=v3_ca\n[dn]\n[v3_ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\n');
  openssl(['req', '-x509', '-config', 'ca.cnf', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=proxy-test-ca']);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', `/CN=${REPO_HOST}`]);
  writeFileSync(join(work, 'srv.ext'), `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:${REPO_HOST},DNS:localhost,IP:127.0.0.1\n`);
  openssl(['x509', '-req', '-in', 'srv.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-sha256', '-extfile', 'srv.ext', '-out', 'srv.crt']);
  caFile = join(work, 'ca.crt');
  caPem = readFileSync(caFile, 'utf8');

  chartDir = join(work, 'charts');
  mkdirSync(chartDir);
  chartBytes = (await packageChart({ name: 'webapp', version: '1.0.0' }, chartDir)).bytes;
  await repoIndex(chartDir); // relative chart URLs: each fetch resolves them against the URL it used

  httpsPort = portOf(await listen(createHttpsServer({ key: readFileSync(join(work, 'srv.key')), cert: readFileSync(join(work, 'srv.crt')) }, serveFiles('https'))));
  httpPort = portOf(await listen(createHttpServer(serveFiles('http'))));
  const p = await startProxy();
  proxy.port = portOf(p);
  proxy.url = `http://127.0.0.1:${proxy.port}`;
});

after(async () => {
  for (const s of proxySockets) s.destroy();
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
  rmSync(work, { recursive: true, force: true });
});

describe('HTTP(S)_PROXY and NO_PROXY, helm as the oracle', () => {
  it('tunnels an https repository through HTTPS_PROXY with CONNECT, as helm does', async () => {
    const ours = await compare(`https://${REPO_HOST}:${httpsPort}`, { HTTPS_PROXY: proxy.url, HTTP_PROXY: 'http://127.0.0.1:1' });
    assert.ok(ours.ok, ours.error);
    assert.deepEqual(ours.asked, [`CONNECT ${REPO_HOST}:${httpsPort}`]);
  });

  it('sends absolute-form requests for an http repository through HTTP_PROXY (lower-case names too)', async () => {
    const ours = await compare(`http://${REPO_HOST}:${httpPort}`, { http_proxy: proxy.url.replace('http://', ''), https_proxy: 'http://127.0.0.1:1' });
    assert.ok(ours.ok, ours.error);
    assert.deepEqual(ours.asked, [`GET http://${REPO_HOST}:${httpPort}/index.yaml`, `GET http://${REPO_HOST}:${httpPort}/webapp-1.0.0.tgz`]);
  });

  it('sends the proxy URL credentials as Basic Proxy-Authorization, for CONNECT and absolute-form requests', async () => {
    const withAuth = `http://build%20bot:p%40ss:w@127.0.0.1:${proxy.port}`;
    proxy.requireAuth = `Basic ${Buffer.from('build bot:p@ss:w').toString('base64')}`;
    try {
      const tls = await compare(`https://${REPO_HOST}:${httpsPort}`, { HTTPS_PROXY: withAuth });
      assert.ok(tls.ok, tls.error);
      assert.deepEqual(tls.asked, [`CONNECT ${REPO_HOST}:${httpsPort} [${proxy.requireAuth}]`]);
      const plain = await compare(`http://${REPO_HOST}:${httpPort}`, { HTTP_PROXY: withAuth });
      assert.ok(plain.ok, plain.error);
      assert.ok(plain.asked.every((a) => a.endsWith(`[${proxy.requireAuth}]`)), plain.asked.join('\n'));
    } finally {
      proxy.requireAuth = undefined;
    }
  });

  it('fails like helm when the proxy refuses the credentials, without printing them', async () => {
    proxy.requireAuth = `Basic ${Buffer.from('someone:else').toString('base64')}`;
    try {
      const ours = await compare(`https://${REPO_HOST}:${httpsPort}`, { HTTPS_PROXY: `http://bot:hunter2@127.0.0.1:${proxy.port}` });
      assert.equal(ours.ok, false);
      await expectRepoError(Promise.reject(ours.err), 'network', new RegExp(`via proxy http://127\\.0\\.0\\.1:${proxy.port} \\(HTTPS_PROXY\\): the proxy refused the tunnel \\(HTTP 407\\)`));
      assert.doesNotMatch(ours.error, /hunter2|bot:/);
    } finally {
      proxy.requireAuth = undefined;
    }
  });

  it('never proxies localhost or loopback IPs, whatever the variables say', async () => {
    const env = { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url };
    for (const url of [`https://127.0.0.1:${httpsPort}`, `https://localhost:${httpsPort}`, `http://127.0.0.1:${httpPort}`, `http://localhost:${httpPort}`]) {
      const ours = await compare(url, env);
      assert.ok(ours.ok, `${url}: ${ours.error}`);
      assert.deepEqual(ours.asked, [], url);
    }
  });

  it('bypasses NO_PROXY matches (which then fail to resolve repo.test) and proxies the rest', async () => {
    const url = `https://${REPO_HOST}:${httpsPort}`;
    for (const noProxy of ['.test', 'repo.test', '*.test', `REPO.TEST:${httpsPort}`, '*']) {
      const ours = await compare(url, { HTTPS_PROXY: proxy.url, NO_PROXY: noProxy });
      assert.equal(ours.ok, false, noProxy);
      assert.deepEqual(ours.asked, [], noProxy);
    }
    for (const noProxy of ['test.', '.repo.test', `repo.test:${httpsPort + 1}`, '127.0.0.0/8', 'example.com']) {
      const ours = await compare(url, { HTTPS_PROXY: proxy.url, no_proxy: noProxy });
      assert.ok(ours.ok, `${noProxy}: ${ours.error}`);
      assert.deepEqual(ours.asked, [`CONNECT ${REPO_HOST}:${httpsPort}`], noProxy);
    }
  });

  it('decides again after a redirect: repo.test through the proxy, then 127.0.0.1 directly', async () => {
    for (const [scheme, port] of [['https', httpsPort], ['http', httpPort]] as const) {
      const ours = await compare(`${scheme}://${REPO_HOST}:${port}/hop`, { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url });
      assert.ok(ours.ok, ours.error);
      // Only the first hop of each download reaches the proxy; the redirected hop goes straight to 127.0.0.1.
      const firstHops = [`GET http://${REPO_HOST}:${port}/hop/index.yaml`, `GET http://${REPO_HOST}:${port}/hop/webapp-1.0.0.tgz`];
      assert.deepEqual(ours.asked, scheme === 'https' ? [`CONNECT ${REPO_HOST}:${port}`] : firstHops);
    }
  });

  it('refuses HTTP_PROXY for http URLs in a CGI environment (REQUEST_METHOD set), as helm does', async () => {
    const ours = await compare(`http://127.0.0.1:${httpPort}`, { HTTP_PROXY: proxy.url, REQUEST_METHOD: 'GET' });
    assert.equal(ours.ok, false);
    assert.ok(ours.err instanceof RepoError && ours.err.reason === 'invalid_config', ours.error);
    assert.match(ours.error, /refusing to use HTTP_PROXY in a CGI environment/);
    const tls = await compare(`https://${REPO_HOST}:${httpsPort}`, { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, REQUEST_METHOD: 'GET' });
    assert.ok(tls.ok, tls.error);
  });

  it('refuses a socks5 proxy it would have to use, naming the variable (helm would try SOCKS)', async () => {
    const ours = await chartoriginFetch(`https://${REPO_HOST}:${httpsPort}`, { HTTPS_PROXY: 'socks5h://user:secret@127.0.0.1:1080' });
    assert.equal(ours.ok, false);
    await expectRepoError(Promise.reject(ours.err), 'invalid_config', /HTTPS_PROXY names a socks5h proxy \(socks5h:\/\/127\.0\.0\.1:1080\): only http:\/\/ and https:\/\/ proxies are supported/);
    assert.doesNotMatch(ours.error, /secret/);
    const direct = await chartoriginFetch(`https://127.0.0.1:${httpsPort}`, { HTTPS_PROXY: 'socks5h://127.0.0.1:1080' });
    assert.ok(direct.ok, direct.error);
  });
});
