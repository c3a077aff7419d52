import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { afterWatchFailure } from '../../../src/kube/reflector.ts';
import { KubeApiError } from '../../../src/kube/raw-client.ts';

describe('reflector: resume or relist after a failed watch (client-go semantics)', () => {
  it('410 Gone (HTTP or a watch ERROR event) relists at once', () => {
    assert.deepEqual(afterWatchFailure(new KubeApiError(410, 'Expired', 'too old resource version: 5 (90)'), 1), { relist: true, delayMs: 0, reason: 'expired' });
    assert.deepEqual(afterWatchFailure(new KubeApiError(410, 'WatchError', 'The resourceVersion for the provided watch is too old.'), 7), { relist: true, delayMs: 0, reason: 'expired' });
  });

  it('anything else keeps the resourceVersion and resumes after an exponential back-off capped at 30 s', () => {
    const broken = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const delays = [1, 2, 3, 6, 7, 20].map((n) => afterWatchFailure(broken, n));
    assert.ok(delays.every((d) => !d.relist && d.reason === 'error'));
    assert.deepEqual(delays.map((d) => d.delayMs), [1000, 2000, 4000, 30_000, 30_000, 30_000]);
    assert.equal(afterWatchFailure(new KubeApiError(500, 'InternalError', 'etcd unavailable'), 1).relist, false);
    assert.equal(afterWatchFailure(new KubeApiError(403, 'Forbidden', 'no'), 1).relist, false);
  });
});
