import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { pino } from 'pino';
import { ChartOriginMetrics } from '../../../src/publish/metrics.ts';
import { startHttpServer } from '../../../src/server/http-server.ts';
import { HealthMonitor } from '../../../src/server/health.ts';
import type { HttpServer } from '../../../src/server/http-server.ts';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  socket: Socket;
}

function get(url: string, options: { method?: string; agent?: Agent; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', agent: options.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), socket: req.socket as Socket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('http server', () => {
  const metrics = new ChartOriginMetrics();
  let ready = false;
  let healthy = true;
  let server: HttpServer;

  before(async () => {
    server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      registry: metrics,
      isReady: () => ready,
      isHealthy: () => healthy,
      logger: pino({ level: 'silent' }),
    });
  });
  after(() => server.close());

  it('listens on the given host and a free port', () => {
    assert.ok(server.port > 0);
    assert.equal(server.url, `http://127.0.0.1:${server.port}`);
  });

  it('serves /metrics in the registry content type, with the current values', async () => {
    metrics.setLeader(true);
    metrics.countDecodeError('bad_gzip');
    const r = await get(`${server.url}/metrics`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], metrics.contentType);
    assert.match(r.body, /^chartorigin_leader 1$/m);
    assert.match(r.body, /chartorigin_release_decode_errors_total\{reason="bad_gzip"\} 1/);
    const q = await get(`${server.url}/metrics?name[]=x`);
    assert.equal(q.status, 200, 'a query string does not change the route');
  });

  it('/readyz is 503 with a reason before the first sync and 200 after', async () => {
    ready = false;
    const before = await get(`${server.url}/readyz`);
    assert.equal(before.status, 503);
    assert.match(before.body, /first full sync/);
    ready = true;
    const afterSync = await get(`${server.url}/readyz`);
    assert.equal(afterSync.status, 200);
    assert.equal(afterSync.body, 'ok\n');
  });

  it('/healthz is 200 "ok" while healthy and 500 otherwise', async () => {
    healthy = true;
    const ok = await get(`${server.url}/healthz`);
    assert.equal(ok.status, 200);
    assert.equal(ok.body, 'ok\n');
    healthy = false;
    const bad = await get(`${server.url}/healthz`);
    assert.equal(bad.status, 500);
    assert.match(bad.body, /not healthy/);
    healthy = true;
  });

  it('404 for other paths, 405 for other methods, HEAD without a body', async () => {
    const missing = await get(`${server.url}/`);
    assert.equal(missing.status, 404);
    const other = await get(`${server.url}/metricsx`);
    assert.equal(other.status, 404);
    const post = await get(`${server.url}/metrics`, { method: 'POST', body: 'x'.repeat(100_000) });
    assert.equal(post.status, 405);
    assert.equal(post.headers['allow'], 'GET, HEAD');
    const head = await get(`${server.url}/healthz`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });
});

/** A server that is always ready and healthy, with an empty registry and no logs. */
function startQuietServer(port = 0): ReturnType<typeof startHttpServer> {
  return startHttpServer({ host: '127.0.0.1', port, registry: new ChartOriginMetrics({ defaultMetrics: false }), isReady: () => true, isHealthy: () => true, logger: pino({ level: 'silent' }) });
}

describe('http server close', () => {
  it('closes idle keep-alive connections at once', async () => {
    const server = await startQuietServer();
    const agent = new Agent({ keepAlive: true });
    const first = await get(`${server.url}/metrics`, { agent });
    const second = await get(`${server.url}/healthz`, { agent });
    assert.equal(first.socket, second.socket, 'the connection was kept alive and reused');
    const socketClosed = new Promise<void>((resolve) => first.socket.once('close', () => resolve()));
    await server.close();
    await socketClosed;
    assert.equal(first.socket.destroyed, true);
    await assert.rejects(get(`${server.url}/healthz`), /ECONNREFUSED/);
    await server.close(); // idempotent
    agent.destroy();
  });

  it('closes connections with a request in progress at once', async () => {
    const server = await startQuietServer();
    const socket = connect(server.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    // Headers never finished: not idle, so only closing every connection ends it before headersTimeout (10 s).
    socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
    const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.resume();
    await new Promise((r) => setTimeout(r, 50));
    // A deadline far above the milliseconds this takes and far below headersTimeout, which would end it anyway.
    const deadline = new Promise<string>((resolve) => setTimeout(() => resolve('still open after 5 s'), 5000).unref());
    const outcome = await Promise.race([server.close().then(() => 'closed'), deadline]);
    assert.equal(outcome, 'closed');
    await socketClosed;
  });

  it('rejects when the port is taken', async () => {
    const a = await startQuietServer();
    await assert.rejects(
      startQuietServer(a.port),
      /EADDRINUSE/,
    );
    await a.close();
  });
});

describe('/healthz with the health monitor', () => {
  it('fails after the event loop was blocked, and recovers once the stall is out of the window', async () => {
    const health = new HealthMonitor({ tickMs: 50, maxEventLoopDelayMs: 600, delayWindowMs: 1_500 });
    health.start();
    const server = await startHttpServer({ host: '127.0.0.1', port: 0, registry: new ChartOriginMetrics({ defaultMetrics: false }), isReady: () => true, isHealthy: () => health.healthy(), logger: pino({ level: 'silent' }) });
    try {
      assert.equal((await get(`${server.url}/healthz`)).status, 200);
      // Block the event loop for real: nothing else runs for 1 s (limits well above a loaded machine's timer jitter).
      const until = performance.now() + 1_000;
      while (performance.now() < until);
      const stalled = await get(`${server.url}/healthz`);
      assert.equal(stalled.status, 500);
      assert.match(stalled.body, /not healthy/);
      await new Promise((r) => setTimeout(r, 1_800));
      assert.equal((await get(`${server.url}/healthz`)).status, 200);
    } finally {
      health.stop();
      await server.close();
    }
  });

  it('fails when the watches stop making progress', async () => {
    let progress = Date.now();
    const health = new HealthMonitor({ watchProgress: () => progress, maxWatchSilenceMs: 60_000 });
    const server = await startHttpServer({ host: '127.0.0.1', port: 0, registry: new ChartOriginMetrics({ defaultMetrics: false }), isReady: () => true, isHealthy: () => health.healthy(), logger: pino({ level: 'silent' }) });
    try {
      assert.equal((await get(`${server.url}/healthz`)).status, 200);
      progress = Date.now() - 61_000;
      assert.equal((await get(`${server.url}/healthz`)).status, 500);
    } finally {
      await server.close();
    }
  });
});
