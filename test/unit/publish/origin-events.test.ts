import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeErrorEvent, originEvents, summaryOf, type PublishedSummary } from '../../../src/publish/origin-events.ts';
import type { OriginReport } from '../../../src/model/report.ts';

function report(over: Partial<OriginReport> = {}, origin: Partial<OriginReport['origin']> = {}): OriginReport {
  return {
    release: { name: 'web', namespace: 'apps', revision: 2, status: 'deployed', storage: 'Secret' },
    chart: { name: 'webapp', version: '1.1.0', deprecated: false },
    origin: { match: 'Verified', repository: 'main', tarballDigest: 'sha256:ab', ...origin },
    latest: { version: '2.0.0', deprecated: false },
    upgrade: 'Major',
    versionsBehind: 2,
    lastChecked: '2026-11-23T00:00:00Z',
    conditions: [{ type: 'Ready', status: 'True', reason: 'Verified', message: 'ok', lastTransitionTime: '2026-11-23T00:00:00Z' }],
    ...over,
  };
}

const reasons = (prev: PublishedSummary | undefined, next: OriginReport): string[] => originEvents(prev, next).map((n) => `${n.type}/${n.reason}`);

describe('originEvents', () => {
  it('a healthy first analysis and an unchanged one write nothing', () => {
    assert.deepEqual(reasons(undefined, report()), []);
    assert.deepEqual(reasons(summaryOf(report()), report()), []);
  });

  it('warns on entering a bad state, also on the first analysis, and only once', () => {
    const mismatch = report({}, { match: 'Mismatch', repository: undefined, candidates: [{ repository: 'main', repoURL: 'https://charts.example/main' }], message: 'differs from main in templates/deployment.yaml' });
    assert.deepEqual(reasons(undefined, mismatch), ['Warning/OriginMismatch']);
    assert.equal(originEvents(undefined, mismatch)[0]?.message, 'webapp 1.1.0 matches no chart published by main: differs from main in templates/deployment.yaml');
    assert.deepEqual(reasons(summaryOf(mismatch), mismatch), []);
    assert.deepEqual(reasons(undefined, report({}, { match: 'NotFound', repository: undefined })), ['Warning/OriginNotFound']);
    assert.equal(originEvents(undefined, report({}, { match: 'NotFound', repository: undefined }))[0]?.message, 'webapp 1.1.0 is not published by any configured repository');
    assert.equal(originEvents(undefined, report({}, { match: 'NotFound', repository: undefined, message: 'no configured repository publishes this chart version' }))[0]?.message, 'webapp 1.1.0: no configured repository publishes this chart version');
    assert.deepEqual(reasons(undefined, report({ chart: { name: 'webapp', version: '1.1.0', deprecated: true } })), ['Warning/ChartDeprecated']);
    const upstream = report({ chart: { name: 'webapp', version: '1.1.0', deprecated: true, deprecationMessage: 'chart webapp is deprecated upstream: its newest version 2.0.0 is marked deprecated' } });
    assert.equal(originEvents(undefined, upstream).find((n) => n.reason === 'ChartDeprecated')?.message, 'webapp 1.1.0: chart webapp is deprecated upstream: its newest version 2.0.0 is marked deprecated');
    assert.deepEqual(reasons(undefined, report({}, { match: 'Unreachable', repository: undefined, message: 'not searched (repository error): main' })), [], 'a repository outage is not a chart that is missing');
    const unsigned = report({ conditions: [{ type: 'Ready', status: 'False', reason: 'SignatureNotVerified', message: 'origin Verified in main, but the repository requires a signature: no .prov', lastTransitionTime: '' }] });
    assert.deepEqual(reasons(summaryOf(report()), unsigned), ['Warning/SignatureNotVerified']);
    assert.deepEqual(reasons(summaryOf(unsigned), unsigned), []);
  });

  it('tells changes from an earlier state with Normal events: verified again, another origin, a new latest', () => {
    const before = summaryOf(report({}, { match: 'Mismatch', repository: undefined }));
    const n = originEvents(before, report());
    assert.deepEqual(n.map((x) => x.reason), ['OriginVerified']);
    assert.equal(n[0]?.message, 'webapp 1.1.0 verified in main (sha256:ab), was Mismatch');
    assert.deepEqual(reasons(summaryOf(report()), report({}, { repository: 'mirror' })), ['Normal/OriginVerified']);
    const newer = report({ latest: { version: '2.1.0', deprecated: false }, versionsBehind: 3 });
    assert.deepEqual(originEvents(summaryOf(report()), newer), [{ type: 'Normal', reason: 'UpgradeAvailable', message: 'webapp 2.1.0 is available (Major upgrade from 1.1.0, 3 versions behind)' }]);
    // Up to date after an upgrade: no UpgradeAvailable even though latest differs from the summary's.
    const upToDate = report({ chart: { name: 'webapp', version: '2.1.0', deprecated: false }, latest: { version: '2.1.0', deprecated: false }, upgrade: 'None', versionsBehind: 0 });
    assert.deepEqual(reasons(summaryOf(report()), upToDate), []);
  });

  it('a decode error warns once', () => {
    assert.deepEqual(decodeErrorEvent(undefined, 'Secret apps/x: not valid base64'), [{ type: 'Warning', reason: 'DecodeError', message: 'Secret apps/x: not valid base64' }]);
    assert.deepEqual(decodeErrorEvent({ readyReason: 'DecodeError' }, 'again'), []);
  });
});
