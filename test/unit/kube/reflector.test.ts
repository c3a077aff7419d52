import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { kubeConfigFromText } from '../../../src/kube/kubeconfig.ts';
import { MetadataReflector, type ReflectorHandler, type WatchRestartReason } from '../../../src/kube/reflector.ts';

/** One request the scripted apiserver saw. */
interface Seen {
  watch: boolean;
  resourceVersion: string | null;
}

/** A kubeconfig for a plain-HTTP test server, no credentials. */
function plainKubeConfig(url: string): ReturnType<typeof kubeConfigFromText> {
  const doc = { apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster: { server: url } }], users: [{ name: 'u', user: {} }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' };
  return kubeConfigFromText(JSON.stringify(doc), '/nonexistent/config');
}

const secret = (name: string, rv: string): unknown => ({ metadata: { name, namespace: 'apps', resourceVersion: rv, labels: { owner: 'helm' } } });

/**
 * A loopback apiserver playing a script: list → watch (one event, then the stream breaks) → watch resumed
 * from rv 11 (a bookmark, then closes) → watch from rv 12 answered with an ERROR 410 → relist (b deleted,
 * c added) → watch that stays open.
 */
async function scriptedApiserver(): Promise<{ server: http.Server; seen: Seen[]; url: string }> {
  const seen: Seen[] = [];
  let watches = 0;
  let lists = 0;
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const watch = u.searchParams.get('watch') === 'true';
    seen.push({ watch, resourceVersion: u.searchParams.get('resourceVersion') });
    res.setHeader('content-type', 'application/json');
    if (!watch) {
      lists++;
      const items = lists === 1 ? [secret('a', '5'), secret('b', '6')] : [secret('a', '5'), secret('c', '20')];
      res.end(JSON.stringify({ metadata: { resourceVersion: lists === 1 ? '10' : '21' }, items }));
      return;
    }
    watches++;
    if (watches === 1) {
      res.write(JSON.stringify({ type: 'MODIFIED', object: secret('a', '11') }) + '\n');
      setTimeout(() => res.destroy(), 20); // a broken stream (e.g. apiserver restart)
    } else if (watches === 2) {
      res.write(JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '12' } } }) + '\n');
      res.end(); // the server's watch timeout
    } else if (watches === 3) {
      const status = { kind: 'Status', status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version: 12 (19)' };
      res.end(JSON.stringify({ type: 'ERROR', object: status }) + '\n');
    } else {
      res.write(''); // stays open until the test aborts
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, seen, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** The requests the script leads a reflector to make: list, three watches resumed (broken, closed, 410), relist, watch. */
const SCRIPTED_REQUESTS = ['list:', 'watch:10', 'watch:11', 'watch:12', 'list:', 'watch:21'];

/**
 * Runs the reflector against the scripted apiserver until its fourth watch (10 s at most), then stops both;
 * the requests it made, as `list:<resourceVersion>` or `watch:<resourceVersion>`.
 */
async function runScript(r: MetadataReflector, api: { server: http.Server; seen: Seen[] }): Promise<string[]> {
  const ac = new AbortController();
  const done = r.run(ac.signal);
  const deadline = Date.now() + 10_000;
  while (api.seen.filter((s) => s.watch).length < 4 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
  ac.abort();
  await done;
  api.server.close();
  return api.seen.map((s) => `${s.watch ? 'watch' : 'list'}:${s.resourceVersion ?? ''}`);
}

/** A handler that records what the reflector reports: `+name@resourceVersion`, `-name`, `synced`. */
function recorder(events: string[]): ReflectorHandler {
  return {
    upsert: (m) => events.push(`+${m.name}@${m.resourceVersion}`),
    remove: (m) => events.push(`-${m.name}`),
    synced: () => events.push('synced'),
  };
}

describe('MetadataReflector against a scripted apiserver', () => {
  it('resumes a broken or closed watch from the last resourceVersion and relists only on 410', async () => {
    const api = await scriptedApiserver();
    const events: string[] = [];
    const restarts: WatchRestartReason[] = [];
    const r = new MetadataReflector({
      kubeConfig: plainKubeConfig(api.url),
      path: '/api/v1/secrets',
      logger: pino({ level: 'silent' }),
      onWatchRestart: (reason) => restarts.push(reason),
      handler: recorder(events),
    });
    const created = r.lastProgress;
    assert.deepEqual(await runScript(r, api), SCRIPTED_REQUESTS);
    // A watch closed by the server (its timeout) is re-opened silently; failures are reported.
    assert.deepEqual(restarts, ['error', 'expired']);
    // The relist after 410 delivers exactly the difference: a changed (rv 11 → 5) and c new as their page
    // arrives, then b gone once the list is complete (only then does absence mean deleted).
    assert.deepEqual(events, ['+a@5', '+b@6', 'synced', '+a@11', '+a@5', '+c@20', '-b', 'synced']);
    assert.equal(r.size, 2);
    // The last list (after the 410 back-off) came well after construction: the health check sees progress.
    assert.ok(r.lastProgress > created, 'progress recorded');
  });

  it('records no progress while every request fails', async () => {
    const server = http.createServer((_req, res) => {
      res.statusCode = 500;
      res.end('{"kind":"Status","code":500,"message":"down"}');
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const kc = plainKubeConfig(url);
    let failures = 0;
    const r = new MetadataReflector({ kubeConfig: kc, path: '/api/v1/secrets', logger: pino({ level: 'silent' }), onWatchRestart: () => failures++, handler: { upsert: () => {}, remove: () => {}, synced: () => {} } });
    const created = r.lastProgress;
    const ac = new AbortController();
    const done = r.run(ac.signal);
    const deadline = Date.now() + 5_000;
    while (failures < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
    ac.abort();
    await done;
    server.close();
    assert.ok(failures >= 2, `${failures} failed lists`);
    assert.equal(r.lastProgress, created);
  });

  it('with accept, neither keeps nor reports the objects it filters out, and still resumes from their events', async () => {
    const api = await scriptedApiserver();
    const events: string[] = [];
    const r = new MetadataReflector({ kubeConfig: plainKubeConfig(api.url), path: '/api/v1/secrets', logger: pino({ level: 'silent' }), accept: (m) => m.name !== 'a', handler: recorder(events) });
    // The MODIFIED a@11 is not reported, but the next watch still resumes from rv 11.
    assert.deepEqual(await runScript(r, api), SCRIPTED_REQUESTS);
    assert.deepEqual(events, ['+b@6', 'synced', '+c@20', '-b', 'synced']);
    assert.equal(r.size, 1);
  });
});
