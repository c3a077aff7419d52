import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { KubeApiError } from '../../../src/kube/raw-client.ts';
import { MetadataReflector, restartDecision, type WatchRestartReason } from '../../../src/kube/reflector.ts';

describe('restartDecision (client-go resume/relist rules)', () => {
  it('a watch closed by the server resumes at once, without relisting', () => {
    assert.deepEqual(restartDecision(undefined, true, 0), { reason: 'closed', relist: false, delayMs: 0 });
  });
  it('an HTTP 410 or an ERROR event with code 410 relists at once', () => {
    const d = restartDecision(new KubeApiError(410, 'Expired', 'too old resource version: 5 (90)'), true, 1);
    assert.deepEqual(d, { reason: 'gone', relist: true, delayMs: 0 });
  });
  it('a broken stream or a 5xx resumes from the last resourceVersion after a backoff', () => {
    const broken = restartDecision(new Error('socket hang up'), true, 1);
    assert.equal(broken.reason, 'error');
    assert.equal(broken.relist, false);
    assert.ok(broken.delayMs >= 500);
    const unavailable = restartDecision(new KubeApiError(503, 'ServiceUnavailable', 'x'), true, 3);
    assert.equal(unavailable.relist, false);
  });
  it('the backoff grows and is capped at 30 s', () => {
    const delays = [1, 2, 3, 6, 10, 50].map((f) => restartDecision(new Error('x'), true, f).delayMs);
    for (let i = 1; i < delays.length; i++) assert.ok(delays[i]! >= delays[i - 1]!);
    assert.equal(delays.at(-1), 30_000);
  });
  it('a failed list (no resourceVersion yet) lists again after a backoff', () => {
    const d = restartDecision(new Error('ECONNREFUSED'), false, 1);
    assert.equal(d.reason, 'list_error');
    assert.equal(d.relist, true);
    assert.ok(d.delayMs > 0);
  });
});

/** One request the scripted apiserver saw. */
interface Seen {
  watch: boolean;
  resourceVersion: string | null;
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

describe('MetadataReflector against a scripted apiserver', () => {
  it('resumes a broken or closed watch from the last resourceVersion and relists only on 410', async () => {
    const { server, seen, url } = await scriptedApiserver();
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: url, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const events: string[] = [];
    const restarts: WatchRestartReason[] = [];
    const ac = new AbortController();
    const r = new MetadataReflector({
      kubeConfig: kc,
      path: '/api/v1/secrets',
      logger: pino({ level: 'silent' }),
      onRestart: (reason) => restarts.push(reason),
      handler: {
        upsert: (m) => events.push(`+${m.name}@${m.resourceVersion}`),
        remove: (m) => events.push(`-${m.name}`),
        synced: () => events.push('synced'),
      },
    });
    const done = r.run(ac.signal);
    const deadline = Date.now() + 10_000;
    while (seen.filter((s) => s.watch).length < 4 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
    ac.abort();
    await done;
    server.close();

    assert.deepEqual(
      seen.map((s) => `${s.watch ? 'watch' : 'list'}:${s.resourceVersion ?? ''}`),
      ['list:', 'watch:10', 'watch:11', 'watch:12', 'list:', 'watch:21'],
    );
    assert.deepEqual(restarts, ['error', 'closed', 'gone']);
    // The relist after 410 delivers exactly the difference: b gone, c new; a unchanged at rv 5 → upsert (rv 11 → 5).
    assert.deepEqual(events, ['+a@5', '+b@6', 'synced', '+a@11', '-b', '+a@5', '+c@20', 'synced']);
    assert.equal(r.size, 2);
  });
});
