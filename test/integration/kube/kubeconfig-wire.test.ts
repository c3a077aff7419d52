/**
 * What goes on the wire, chartorigin against the real kubectl: the same kubeconfig, one request each to a
 * loopback HTTPS (or HTTP) server that records what reached it — Authorization, Impersonate-* headers, the
 * client certificate — or whether anything reached it at all. kubectl is the oracle for which credential wins
 * (token file over token, no exec plugin beside a token or a client certificate), impersonation, what is sent
 * to an http:// server, the configurations it refuses, and IPv6 server addresses.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadKubeConfig } from '../../../src/kube/kubeconfig.ts';
import { kubeRequest } from '../../../src/kube/raw-client.ts';
import { generateClusterCerts, issueClientCert, pem, type ClusterCerts } from '../../harness/certs.ts';
import { toolPath } from '../../harness/tools.ts';

const root = mkdtempSync(join(tmpdir(), 'kubeconfig-wire-'));
after(() => rmSync(root, { recursive: true, force: true }));

interface Seen {
  authorization?: string | undefined;
  impersonate: Record<string, string>;
  clientCN?: string | undefined;
}

let seen: Seen[] = [];
function record(req: IncomingMessage, res: ServerResponse): void {
  const impersonate: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] as string).toLowerCase();
    // One entry per header line, so repeated Impersonate-Group lines show as a list.
    if (name.startsWith('impersonate-')) impersonate[name] = impersonate[name] === undefined ? (req.rawHeaders[i + 1] as string) : `${impersonate[name]}|${req.rawHeaders[i + 1] as string}`;
  }
  const socket = req.socket as Partial<TLSSocket>;
  const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
  const entry: Seen = { authorization: typeof req.headers.authorization === 'string' ? req.headers.authorization : undefined, impersonate, clientCN: peer && peer.subject ? String(peer.subject.CN) : undefined };
  seen.push(entry);
  // A first token `t1` is refused, as a revoked one would be: the exec plugin must be asked again.
  if (req.headers.authorization === 'Bearer t1') {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end('{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Unauthorized","code":401}');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"x","namespace":"default"}}');
}

/** A CONNECT proxy that records each tunnel's target and maps the name kube.test to 127.0.0.1. */
let tunnels: string[] = [];
let proxy: Server;

let certs: ClusterCerts;
let https4: Server;
let https6: Server | undefined;
let plain: Server;
const port = (s: Server): number => (s.address() as AddressInfo).port;
const PATH = '/api/v1/namespaces/default/configmaps/x';

before(async () => {
  certs = generateClusterCerts(join(root, 'pki'));
  const tls = { key: pem(certs.apiserver.key), cert: pem(certs.apiserver.cert), requestCert: true, rejectUnauthorized: false };
  https4 = createHttpsServer(tls, record);
  plain = createHttpServer(record);
  await new Promise<void>((r) => https4.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  proxy = createHttpServer((_req, res) => {
    res.writeHead(502);
    res.end();
  });
  proxy.on('connect', (req: IncomingMessage, client: Socket) => {
    const target = req.url ?? '';
    tunnels.push(target);
    const [host, p] = target.split(':');
    const upstream = connect(Number(p), host === 'kube.test' ? '127.0.0.1' : (host ?? ''), () => {
      client.write('HTTP/1.1 200 Connection established\r\n\r\n');
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const v6 = createHttpsServer(tls, record);
  // IPv6 loopback may be absent from a sandbox: then that case is reported as such, not skipped silently.
  https6 = await new Promise<Server | undefined>((r) => {
    v6.once('error', () => r(undefined));
    v6.listen(0, '::1', () => r(v6));
  });
});
after(() => {
  https4.close();
  plain.close();
  proxy.close();
  https6?.close();
});

function kubectl(kubeconfig: string, env: NodeJS.ProcessEnv = {}): Promise<{ ok: boolean; stderr: string }> {
  return new Promise((resolve) => {
    execFile(toolPath('kubectl'), ['--kubeconfig', kubeconfig, 'get', '--raw', PATH], { env: { PATH: '/usr/bin:/bin', HOME: join(root, 'nohome'), ...env } }, (err, _stdout, stderr) => resolve({ ok: !err, stderr }));
  });
}

const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy'] as const;

/** chartorigin's request, with the proxy variables of `env` (and no others) in this process's environment. */
async function ours(kubeconfig: string, env: NodeJS.ProcessEnv = {}): Promise<{ ok: boolean; error?: string }> {
  const saved = PROXY_VARIABLES.map((k) => [k, process.env[k]] as const);
  for (const k of PROXY_VARIABLES) {
    if (env[k] === undefined) delete process.env[k];
    else process.env[k] = env[k];
  }
  try {
    await kubeRequest(loadKubeConfig({ kubeconfig }, {}), { path: PATH });
    return { ok: true };
  } catch (err) {
    return { ok: false, error: String(err) };
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

let n = 0;
function kubeconfigFile(user: Record<string, unknown>, cluster: Record<string, unknown>): string {
  const file = join(root, `config-${n++}`);
  writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster }], users: [{ name: 'u', user }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }));
  return file;
}

/** A plugin that counts its runs and answers t1, t2, … in turn. */
function plugin(name: string): { command: string; runs: () => number } {
  const dir = mkdtempSync(join(root, `${name}-`));
  const command = join(dir, 'plugin.sh');
  writeFileSync(
    command,
    `#!/bin/sh\necho run >> "${dir}/runs"\nn=$(wc -l < "${dir}/runs")\nprintf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t%s"}}' "$n"\n`,
  );
  chmodSync(command, 0o755);
  return {
    command,
    runs: () => {
      try {
        return readFileSync(join(dir, 'runs'), 'utf8').split('\n').filter(Boolean).length;
      } catch {
        return 0;
      }
    },
  };
}

/** One request by kubectl and one by chartorigin: what reached the server each time (nothing: undefined). */
async function both(
  kubeconfig: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ kubectl: Seen | undefined; ours: Seen | undefined; kubectlOk: boolean; oursOk: boolean; kubectlTunnels: string[]; oursTunnels: string[]; detail: string }> {
  seen = [];
  tunnels = [];
  const k = await kubectl(kubeconfig, env);
  const kubectlSeen = seen.at(-1);
  const kubectlTunnels = tunnels;
  seen = [];
  tunnels = [];
  const o = await ours(kubeconfig, env);
  return { kubectl: kubectlSeen, ours: seen.at(-1), kubectlOk: k.ok, oursOk: o.ok, kubectlTunnels, oursTunnels: tunnels, detail: `kubectl: ${k.stderr.trim()} | chartorigin: ${o.error ?? 'ok'}` };
}

const server = (): Record<string, unknown> => ({ server: `https://127.0.0.1:${port(https4)}`, 'certificate-authority': certs.ca.cert });

describe('kubeconfig on the wire: chartorigin sends what kubectl sends (real kubectl)', () => {
  it('a token file wins over an inline token', async () => {
    const tf = join(root, 'token-file');
    writeFileSync(tf, 'from-file\n');
    const r = await both(kubeconfigFile({ token: 'inline', tokenFile: tf }, server()));
    assert.ok(r.kubectlOk && r.oursOk, r.detail);
    assert.equal(r.kubectl?.authorization, 'Bearer from-file');
    assert.deepEqual(r.ours, r.kubectl);
  });

  it('an exec plugin beside a token or a client certificate is not run; alone it is', async () => {
    const p = plugin('beside-token');
    const r = await both(kubeconfigFile({ token: 'inline', exec: { apiVersion: 'client.authentication.k8s.io/v1', interactiveMode: 'Never', command: p.command } }, server()));
    assert.ok(r.kubectlOk && r.oursOk, r.detail);
    assert.equal(r.kubectl?.authorization, 'Bearer inline');
    assert.deepEqual(r.ours, r.kubectl);
    assert.equal(p.runs(), 0);

    const client = issueClientCert(certs, 'wire-client', { commonName: 'wire-user' });
    const q = plugin('beside-cert');
    const c = await both(kubeconfigFile({ 'client-certificate': client.cert, 'client-key': client.key, exec: { apiVersion: 'client.authentication.k8s.io/v1', interactiveMode: 'Never', command: q.command } }, server()));
    assert.ok(c.kubectlOk && c.oursOk, c.detail);
    assert.deepEqual(c.kubectl, { authorization: undefined, impersonate: {}, clientCN: 'wire-user' });
    assert.deepEqual(c.ours, c.kubectl);
    assert.equal(q.runs(), 0);
  });

  it('impersonation headers, extra keys escaped', async () => {
    const r = await both(kubeconfigFile({ token: 't', as: 'alice', 'as-uid': '42', 'as-groups': ['dev', 'ops'], 'as-user-extra': { scopes: ['view', 'edit'], 'example.com/team x': ['a b'] } }, server()));
    assert.ok(r.kubectlOk && r.oursOk, r.detail);
    assert.equal(r.kubectl?.impersonate['impersonate-user'], 'alice');
    assert.equal(r.kubectl?.impersonate['impersonate-group'], 'dev|ops');
    assert.deepEqual(r.ours, r.kubectl);
  });

  it('no credential goes to an http:// server (impersonation headers do)', async () => {
    const r = await both(kubeconfigFile({ token: 'secret-token', as: 'alice' }, { server: `http://127.0.0.1:${port(plain)}` }));
    assert.ok(r.kubectlOk && r.oursOk, r.detail);
    assert.deepEqual(r.kubectl, { authorization: undefined, impersonate: { 'impersonate-user': 'alice' }, clientCN: undefined });
    assert.deepEqual(r.ours, r.kubectl);
  });

  it('configurations kubectl refuses are refused before anything is sent', async () => {
    const refused = [
      kubeconfigFile({ token: 't' }, { ...server(), 'insecure-skip-tls-verify': true }),
      kubeconfigFile({ token: 't', username: 'a', password: 'b' }, server()),
      kubeconfigFile({ exec: { apiVersion: 'client.authentication.k8s.io/v1', command: '/bin/true' } }, server()),
      kubeconfigFile({ token: 't', 'as-groups': ['g'] }, server()),
    ];
    for (const file of refused) {
      const r = await both(file);
      assert.equal(r.kubectlOk, false, `kubectl accepted ${readFileSync(file, 'utf8')}`);
      assert.equal(r.oursOk, false, `chartorigin accepted ${readFileSync(file, 'utf8')}`);
      assert.equal(r.kubectl, undefined, r.detail);
      assert.equal(r.ours, undefined, r.detail);
    }
  });

  it('an IPv6 server address', async () => {
    assert.ok(https6, 'this machine has no IPv6 loopback (::1) to listen on');
    const r = await both(kubeconfigFile({ token: 'v6' }, { server: `https://[::1]:${port(https6)}`, 'insecure-skip-tls-verify': true }));
    assert.ok(r.kubectlOk && r.oursOk, r.detail);
    assert.equal(r.kubectl?.authorization, 'Bearer v6');
    assert.deepEqual(r.ours, r.kubectl);
  });

  it('proxies: a cluster proxy-url, else HTTPS_PROXY with NO_PROXY and loopback bypassed (client-go)', async () => {
    const proxyUrl = `http://127.0.0.1:${port(proxy)}`;
    // A name only the proxy resolves; the server's certificate is checked against localhost.
    const viaName = { server: `https://kube.test:${port(https4)}`, 'certificate-authority': certs.ca.cert, 'tls-server-name': 'localhost' };
    const cases: { what: string; cluster: Record<string, unknown>; env: NodeJS.ProcessEnv; tunnelled: boolean; ok: boolean }[] = [
      { what: 'proxy-url', cluster: { ...viaName, 'proxy-url': proxyUrl }, env: {}, tunnelled: true, ok: true },
      { what: 'proxy-url wins over the environment', cluster: { ...viaName, 'proxy-url': proxyUrl }, env: { HTTPS_PROXY: 'http://127.0.0.1:9', NO_PROXY: 'kube.test' }, tunnelled: true, ok: true },
      { what: 'HTTPS_PROXY', cluster: viaName, env: { HTTPS_PROXY: proxyUrl }, tunnelled: true, ok: true },
      { what: 'https_proxy without a scheme', cluster: viaName, env: { https_proxy: `127.0.0.1:${port(proxy)}` }, tunnelled: true, ok: true },
      { what: 'NO_PROXY bypass (then kube.test does not resolve)', cluster: viaName, env: { HTTPS_PROXY: proxyUrl, NO_PROXY: '.test' }, tunnelled: false, ok: false },
      { what: 'a loopback server is never proxied', cluster: server(), env: { HTTPS_PROXY: proxyUrl }, tunnelled: false, ok: true },
    ];
    for (const c of cases) {
      const r = await both(kubeconfigFile({ token: 'via-proxy' }, c.cluster), c.env);
      assert.equal(r.kubectlOk, c.ok, `${c.what}: kubectl ${r.detail}`);
      assert.equal(r.oursOk, c.ok, `${c.what}: chartorigin ${r.detail}`);
      assert.deepEqual(r.kubectlTunnels, c.tunnelled ? [`kube.test:${port(https4)}`] : [], `${c.what}: kubectl's tunnels`);
      assert.deepEqual(r.oursTunnels, r.kubectlTunnels, `${c.what}: chartorigin's tunnels`);
      assert.deepEqual(r.ours, r.kubectl, c.what);
    }
  });

  it('a socks5 proxy-url is refused with a clear error (kubectl would dial it; Node cannot)', async () => {
    const o = await ours(kubeconfigFile({ token: 't' }, { ...server(), 'proxy-url': 'socks5://127.0.0.1:1080' }));
    assert.equal(o.ok, false);
    assert.match(o.error ?? '', /proxy-url names a socks5 proxy \(socks5:\/\/127\.0\.0\.1:1080\): only http:\/\/ and https:\/\/ proxies are supported/);
  });

  it('after a 401 the exec plugin runs again and the request is sent once more with the new token', async () => {
    const p = plugin('refresh');
    const file = kubeconfigFile({ exec: { apiVersion: 'client.authentication.k8s.io/v1', interactiveMode: 'Never', command: p.command } }, server());
    seen = [];
    const o = await ours(file);
    assert.ok(o.ok, o.error);
    assert.deepEqual(
      seen.map((s) => s.authorization),
      ['Bearer t1', 'Bearer t2'],
    );
    assert.equal(p.runs(), 2);
  });
});
