import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { carryTransitionTimes, decodeErrorCondition, statusPolicy } from '../../../src/publish/status-policy.ts';
import type { Condition, OriginReport } from '../../../src/model/report.ts';

const T0 = '2026-11-23T00:00:00Z';
const now = new Date('2026-11-30T12:34:56.789Z');

function report(over: Partial<OriginReport> = {}, origin: Partial<OriginReport['origin']> = {}): OriginReport {
  return {
    release: { name: 'web', namespace: 'apps', revision: 2, status: 'deployed', storage: 'Secret' },
    chart: { name: 'webapp', version: '1.1.0', deprecated: false },
    origin: { match: 'Verified', repository: 'main', tarballDigest: 'sha256:ab', ...origin },
    latest: { version: '2.0.0', deprecated: false },
    lastChecked: T0,
    conditions: [{ type: 'Ready', status: 'True', reason: 'Verified', message: 'ok', lastTransitionTime: T0 }],
    ...over,
  };
}
const notFound = (): OriginReport => report({ lastChecked: '2026-11-30T12:34:56Z', conditions: [{ type: 'Ready', status: 'False', reason: 'RepositoryUnavailable', message: 'main failed', lastTransitionTime: '2026-11-30T12:34:56Z' }] }, { match: 'NotFound', repository: undefined, tarballDigest: undefined });
const none = new Map<string, { since: string; reason: string }>();
const stale = (r: OriginReport): Condition | undefined => r.conditions.find((c) => c.type === 'Stale');

describe('statusPolicy', () => {
  it('publishes a clean analysis as it is: complete, no Stale', () => {
    const d = statusPolicy({ report: report(), failed: [], unavailable: none, shown: [], now });
    assert.deepEqual(d.report, report());
    assert.equal(d.complete, true);
    assert.equal(d.keptPrevious, false);
    assert.deepEqual(d.stale, []);
  });

  it('keeps the last good result when a repository that decided it fails, marked Stale with the probe reason', () => {
    const previous = report();
    const fresh = { ...notFound(), release: { ...notFound().release, lastDeployed: '2026-11-30T00:00:00Z' } };
    const down = new Map([['main', { since: '2026-11-30T12:00:00Z', reason: 'http_503' }]]);
    const d = statusPolicy({ report: fresh, previous, failed: ['main'], unavailable: down, shown: previous.conditions, now });
    assert.equal(d.keptPrevious, true);
    assert.equal(d.complete, false);
    assert.equal(d.report.origin.match, 'Verified');
    assert.equal(d.report.lastChecked, T0, 'the kept result says when it was last checked');
    assert.equal(d.report.release.lastDeployed, '2026-11-30T00:00:00Z', 'release fields are the current ones');
    assert.deepEqual(d.stale, ['main']);
    assert.deepEqual(stale(d.report), { type: 'Stale', status: 'True', reason: 'RepositoryUnavailable', message: 'last known result kept; unavailable: main (http_503 since 2026-11-30T12:00:00Z)', lastTransitionTime: '2026-11-30T12:34:56Z' });
  });

  it('does not keep a previous result of another revision or chart version, nor one the failed repository did not decide', () => {
    for (const previous of [report({ release: { ...report().release, revision: 1 } }), report({ chart: { ...report().chart, version: '1.0.0' } }), report({}, { repository: 'other' })]) {
      const d = statusPolicy({ report: notFound(), previous, failed: ['main'], unavailable: none, shown: [], now });
      assert.equal(d.keptPrevious, false);
      assert.equal(d.report.origin.match, 'NotFound');
      assert.equal(d.complete, false, 'a failure is never complete');
    }
  });

  it('marks a fresh result Stale when a repository it involves is down, without a failure in this analysis', () => {
    const r = report({}, { match: 'Ambiguous', repository: undefined, candidates: [{ repository: 'a', repoURL: 'https://a.example' }, { repository: 'b', repoURL: 'https://b.example' }] });
    const d = statusPolicy({ report: r, failed: [], unavailable: new Map([['b', { since: T0, reason: 'timeout' }], ['z', { since: T0, reason: 'dns' }]]), shown: [], now });
    assert.deepEqual(d.stale, ['b'], 'only involved repositories count');
    assert.equal(d.complete, false);
    assert.match(stale(d.report)?.message ?? '', /unavailable: b \(timeout since/);
  });

  it('drops a Stale condition once everything answered, and keeps transition times of unchanged conditions', () => {
    const shown: Condition[] = [{ type: 'Ready', status: 'True', reason: 'Verified', message: 'old', lastTransitionTime: '2026-01-01T00:00:00Z' }, { type: 'Stale', status: 'True', reason: 'RepositoryUnavailable', message: 'x', lastTransitionTime: T0 }];
    const previous = report({ conditions: shown });
    const d = statusPolicy({ report: report({ conditions: [{ type: 'Ready', status: 'True', reason: 'Verified', message: 'ok', lastTransitionTime: '2026-11-30T12:34:56Z' }] }), previous, failed: [], unavailable: none, shown, now });
    assert.equal(stale(d.report), undefined);
    assert.equal(d.report.conditions[0]?.lastTransitionTime, '2026-01-01T00:00:00Z');
  });
});

describe('carryTransitionTimes and decodeErrorCondition', () => {
  it('keeps the time only when the status is unchanged', () => {
    const prev: Condition[] = [{ type: 'Ready', status: 'True', reason: 'Verified', message: '', lastTransitionTime: T0 }];
    assert.equal(carryTransitionTimes([{ ...prev[0]!, lastTransitionTime: 'later' }], prev)[0]?.lastTransitionTime, T0);
    assert.equal(carryTransitionTimes([{ ...prev[0]!, status: 'False', lastTransitionTime: 'later' }], prev)[0]?.lastTransitionTime, 'later');
  });

  it('a decode error is Ready False with reason DecodeError at second precision', () => {
    assert.deepEqual(decodeErrorCondition('Secret apps/x: not valid base64', now), { type: 'Ready', status: 'False', reason: 'DecodeError', message: 'Secret apps/x: not valid base64', lastTransitionTime: '2026-11-30T12:34:56Z' });
  });
});
