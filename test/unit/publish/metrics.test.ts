import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { ChartOriginMetrics, labelSafeUrl } from '../../../src/publish/metrics.ts';
import type { OriginReport } from '../../../src/model/report.ts';
import type { MetricsSource } from '../../../src/server/http-server.ts';
import { RELEASE_DECODE_REASONS } from '../../../src/decode/decode.ts';
import { REPO_ERROR_REASONS } from '../../../src/model/repository.ts';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

function report(overrides: Partial<OriginReport> = {}): OriginReport {
  return {
    release: { name: 'web', namespace: 'apps', revision: 3, status: 'deployed', storage: 'Secret' },
    chart: { name: 'podinfo', version: '6.5.0', appVersion: '6.5.0', deprecated: false },
    origin: { repoURL: 'https://stefanprodan.github.io/podinfo', tarballDigest: DIGEST, repository: 'podinfo', match: 'Verified' },
    latest: { version: '6.7.1', appVersion: '6.7.1', created: '2025-01-02T03:04:05Z', deprecated: false },
    sameMajor: { version: '6.7.1' },
    upgrade: 'Minor',
    versionsBehind: 4,
    majorVersionsBehind: 0,
    installedCreated: '2024-01-01T00:00:00Z',
    lastChecked: '2026-01-01T00:00:00Z',
    conditions: [],
    ...overrides,
  };
}

/** The metrics and the whole exposition they serve (the registry's metrics and the per-release families). */
function fresh(): { m: ChartOriginMetrics; registry: MetricsSource } {
  const m = new ChartOriginMetrics({ registry: new Registry() });
  return { m, registry: m };
}

/** The exposition lines of one metric family (no HELP/TYPE). */
async function series(registry: MetricsSource, name: string): Promise<string[]> {
  const text = await registry.metrics();
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

describe('ChartOriginMetrics: releases', () => {
  it('exports every per-release series with the contract labels', async () => {
    const { m, registry } = fresh();
    m.setRelease(report());
    const base = 'namespace="apps",release="web",chart="podinfo"';
    assert.deepEqual(await series(registry, 'chartorigin_release_info'), [
      `chartorigin_release_info{${base},version="6.5.0",app_version="6.5.0",repo_url="https://stefanprodan.github.io/podinfo",tarball_digest="${DIGEST}",match="Verified",signature=""} 1`,
    ]);
    assert.deepEqual(await series(registry, 'chartorigin_release_outdated'), [
      `chartorigin_release_outdated{${base},version="6.5.0",latest_version="6.7.1"} 1`,
    ]);
    assert.deepEqual(await series(registry, 'chartorigin_release_versions_behind'), [`chartorigin_release_versions_behind{${base}} 4`]);
    assert.deepEqual(await series(registry, 'chartorigin_release_major_versions_behind'), [
      `chartorigin_release_major_versions_behind{${base}} 0`,
    ]);
    assert.deepEqual(await series(registry, 'chartorigin_release_deprecated'), [`chartorigin_release_deprecated{${base}} 0`]);
    assert.deepEqual(await series(registry, 'chartorigin_release_installed_version_created_timestamp_seconds'), [
      `chartorigin_release_installed_version_created_timestamp_seconds{${base}} 1704067200`,
    ]);
    assert.deepEqual(await series(registry, 'chartorigin_release_latest_version_created_timestamp_seconds'), [
      `chartorigin_release_latest_version_created_timestamp_seconds{${base}} 1735787045`,
    ]);
    assert.deepEqual(await series(registry, 'chartorigin_release_security_update_available'), [`chartorigin_release_security_update_available{${base}} 0`]);
    assert.deepEqual(await series(registry, 'chartorigin_release_upstream_stale'), [], 'absent while the age of the newest version is unknown');
    m.setRelease(report({ latest: { version: '6.7.1', deprecated: true, securityUpdates: true }, upgrade: 'Minor', upgradeTarget: '6.6.0', upstreamStale: true }));
    assert.deepEqual(await series(registry, 'chartorigin_release_security_update_available'), [`chartorigin_release_security_update_available{${base}} 1`]);
    assert.deepEqual(await series(registry, 'chartorigin_release_upstream_stale'), [`chartorigin_release_upstream_stale{${base}} 1`]);
    assert.deepEqual(await series(registry, 'chartorigin_release_outdated'), [
      `chartorigin_release_outdated{${base},version="6.5.0",latest_version="6.6.0"} 1`,
    ], 'a deprecated latest is not the upgrade target the alert names');
    const text = await registry.metrics();
    assert.match(text, /# TYPE chartorigin_release_info gauge/);
    assert.match(text, /process_cpu_user_seconds_total/, 'default process metrics are registered');
  });

  it('an upgrade replaces the label sets: the old version series are gone', async () => {
    const { m, registry } = fresh();
    m.setRelease(report());
    m.setRelease(
      report({
        chart: { name: 'podinfo', version: '6.7.1', appVersion: '6.7.1', deprecated: false },
        origin: { repoURL: 'https://stefanprodan.github.io/podinfo', tarballDigest: `sha256:${'cd'.repeat(32)}`, match: 'Verified' },
        upgrade: 'None',
        versionsBehind: 0,
      }),
    );
    const info = await series(registry, 'chartorigin_release_info');
    assert.equal(info.length, 1);
    assert.match(info[0] ?? '', /version="6\.7\.1"/);
    assert.doesNotMatch(info[0] ?? '', /abab/);
    const outdated = await series(registry, 'chartorigin_release_outdated');
    assert.deepEqual(outdated, [
      'chartorigin_release_outdated{namespace="apps",release="web",chart="podinfo",version="6.7.1",latest_version="6.7.1"} 0',
    ]);
    assert.doesNotMatch(await registry.metrics(), /version="6\.5\.0"/);
  });

  it('outdated is present and 0 when up to date', async () => {
    const { m, registry } = fresh();
    m.setRelease(report({ chart: { name: 'podinfo', version: '6.7.1', deprecated: false }, upgrade: 'None', versionsBehind: 0 }));
    assert.deepEqual(await series(registry, 'chartorigin_release_outdated'), [
      'chartorigin_release_outdated{namespace="apps",release="web",chart="podinfo",version="6.7.1",latest_version="6.7.1"} 0',
    ]);
  });

  it('a non-semver installed version (no upgrade kind) is outdated only when latest differs', async () => {
    const { m, registry } = fresh();
    m.setRelease(report({ chart: { name: 'podinfo', version: 'v6.7.1', deprecated: false }, upgrade: undefined, versionsBehind: undefined }));
    assert.match((await series(registry, 'chartorigin_release_outdated'))[0] ?? '', / 0$/);
    m.setRelease(report({ chart: { name: 'podinfo', version: 'nightly', deprecated: false }, upgrade: undefined, versionsBehind: undefined }));
    assert.match((await series(registry, 'chartorigin_release_outdated'))[0] ?? '', /version="nightly".* 1$/);
    assert.deepEqual(await series(registry, 'chartorigin_release_versions_behind'), []);
  });

  it('an unresolved release (NotFound) has info and deprecated but no advice or timestamps', async () => {
    const { m, registry } = fresh();
    m.setRelease(
      report({
        chart: { name: 'podinfo', version: '6.5.0', deprecated: true },
        origin: { match: 'NotFound' },
        latest: undefined,
        sameMajor: undefined,
        upgrade: undefined,
        versionsBehind: undefined,
        majorVersionsBehind: undefined,
        installedCreated: undefined,
      }),
    );
    assert.deepEqual(await series(registry, 'chartorigin_release_info'), [
      'chartorigin_release_info{namespace="apps",release="web",chart="podinfo",version="6.5.0",app_version="",repo_url="",tarball_digest="",match="NotFound",signature=""} 1',
    ]);
    assert.deepEqual(await series(registry, 'chartorigin_release_deprecated'), [
      'chartorigin_release_deprecated{namespace="apps",release="web",chart="podinfo"} 1',
    ]);
    for (const name of [
      'chartorigin_release_outdated',
      'chartorigin_release_versions_behind',
      'chartorigin_release_major_versions_behind',
      'chartorigin_release_installed_version_created_timestamp_seconds',
      'chartorigin_release_latest_version_created_timestamp_seconds',
    ]) {
      assert.deepEqual(await series(registry, name), [], name);
    }
  });

  it('removeRelease removes every series of that release and only that release', async () => {
    const { m, registry } = fresh();
    m.setRelease(report({ upstreamStale: false }));
    m.setRelease(report({ upstreamStale: false, release: { name: 'api', namespace: 'apps', revision: 1, status: 'deployed', storage: 'Secret' } }));
    assert.equal(m.releaseCount(), 2);
    m.removeRelease('apps', 'web');
    m.removeRelease('apps', 'never-existed');
    assert.equal(m.releaseCount(), 1);
    const text = await registry.metrics();
    assert.doesNotMatch(text, /release="web"/);
    const remaining = text.split('\n').filter((l) => l.startsWith('chartorigin_release_') && !l.startsWith('chartorigin_release_decode'));
    assert.equal(remaining.length, 9, remaining.join('\n'));
    assert.ok(remaining.every((l) => l.includes('release="api"')));
  });

  it('redacts credentials in repo_url', async () => {
    const { m, registry } = fresh();
    m.setRelease(report({ origin: { repoURL: 'https://user:pw@charts.example.com/stable?token=s3cret', match: 'Unverified' } }));
    const info = (await series(registry, 'chartorigin_release_info'))[0] ?? '';
    assert.match(info, /repo_url="https:\/\/charts\.example\.com\/stable"/);
    assert.doesNotMatch(info, /pw|s3cret|user/);
  });
});

describe('ChartOriginMetrics: repositories', () => {
  it('strips userinfo and query from url labels', async () => {
    const { m, registry } = fresh();
    m.setRepositoryState('bitnami', 'https://alice:hunter2@charts.example.com/repo?sig=abc#x', { up: true, lastSuccess: new Date('2026-01-01T00:00:00Z'), charts: 412 });
    const text = await registry.metrics();
    assert.match(text, /chartorigin_repository_up\{repository="bitnami",url="https:\/\/charts\.example\.com\/repo"\} 1/);
    assert.match(text, /chartorigin_repository_last_success_timestamp_seconds\{repository="bitnami",url="https:\/\/charts\.example\.com\/repo"\} 1767225600/);
    assert.match(text, /chartorigin_repository_charts\{repository="bitnami",url="https:\/\/charts\.example\.com\/repo"\} 412/);
    assert.doesNotMatch(text, /hunter2|alice|sig=|abc"/);
  });

  it('labelSafeUrl handles oci:// and unparseable input', () => {
    assert.equal(labelSafeUrl('oci://u:p@ghcr.io/org/charts'), 'oci://ghcr.io/org/charts');
    assert.equal(labelSafeUrl('not a url://x:y@host/p?q=1'), 'not a url://x:y@host/p');
    assert.equal(labelSafeUrl('http://u:p@[::1/x?y'), 'http://[::1/x');
  });

  it('counts fetch errors by reason, observes durations, and removeRepository drops all its series', async () => {
    const { m, registry } = fresh();
    m.observeRepositoryFetch('podinfo', 'https://example.com/podinfo', 0.2);
    m.observeRepositoryFetch('podinfo', 'https://example.com/podinfo', 1.5, 'http_status');
    m.observeRepositoryFetch('podinfo', 'https://example.com/podinfo', 3, 'http_status');
    m.observeRepositoryFetch('podinfo', 'https://example.com/podinfo', 60, 'Weird Reason!');
    m.setRepositoryState('podinfo', 'https://example.com/podinfo', { up: false });
    m.setRepositoryState('other', 'https://example.org/', { up: true });
    let text = await registry.metrics();
    assert.match(text, /chartorigin_repository_fetch_errors_total\{repository="podinfo",url="https:\/\/example\.com\/podinfo",reason="http_status"\} 2/);
    assert.match(text, /chartorigin_repository_fetch_errors_total\{repository="podinfo",url="https:\/\/example\.com\/podinfo",reason="other"\} 1/);
    assert.match(text, /chartorigin_repository_fetch_duration_seconds_count\{repository="podinfo",url="https:\/\/example\.com\/podinfo"\} 4/);
    assert.match(text, /chartorigin_repository_fetch_duration_seconds_bucket\{le="0\.25",repository="podinfo",url="https:\/\/example\.com\/podinfo"\} 1/);
    assert.match(text, /chartorigin_repository_up\{repository="podinfo",url="https:\/\/example\.com\/podinfo"\} 0/);
    // Known reasons exist at 0 before their first error, for every repository, so increase() sees the first one.
    for (const reason of REPO_ERROR_REASONS) {
      assert.match(text, new RegExp(`chartorigin_repository_fetch_errors_total\\{repository="other",url="https://example\\.org/",reason="${reason}"\\} 0\n`));
    }
    assert.match(text, /chartorigin_repository_fetch_errors_total\{repository="podinfo",url="https:\/\/example\.com\/podinfo",reason="timeout"\} 0/);

    m.removeRepository('podinfo');
    text = await registry.metrics();
    assert.doesNotMatch(text, /repository="podinfo"/);
    assert.match(text, /chartorigin_repository_up\{repository="other",url="https:\/\/example\.org\/"\} 1/);
  });

  it('a changed repository url drops the series under the old url', async () => {
    const { m, registry } = fresh();
    m.setRepositoryState('podinfo', 'https://old.example.com/', { up: true, charts: 3 });
    m.setRepositoryState('podinfo', 'https://new.example.com/', { up: true });
    const text = await registry.metrics();
    assert.doesNotMatch(text, /old\.example\.com/);
    assert.match(text, /chartorigin_repository_up\{repository="podinfo",url="https:\/\/new\.example\.com\/"\} 1/);
  });
});

describe('ChartOriginMetrics: controller', () => {
  it('counts decode errors by reason; every known reason starts at 0', async () => {
    const { m, registry } = fresh();
    assert.deepEqual((await series(registry, 'chartorigin_release_decode_errors_total')).sort(), RELEASE_DECODE_REASONS.map((r) => `chartorigin_release_decode_errors_total{reason="${r}"} 0`).sort());
    m.countDecodeError('corrupt_gzip');
    m.countDecodeError('corrupt_gzip');
    m.countDecodeError('too_large');
    m.countDecodeError('Not A Reason');
    const after = await series(registry, 'chartorigin_release_decode_errors_total');
    assert.ok(after.includes('chartorigin_release_decode_errors_total{reason="corrupt_gzip"} 2'));
    assert.ok(after.includes('chartorigin_release_decode_errors_total{reason="too_large"} 1'));
    assert.ok(after.includes('chartorigin_release_decode_errors_total{reason="other"} 1'));
    assert.ok(after.includes('chartorigin_release_decode_errors_total{reason="truncated"} 0'));
  });

  it('reconcile results start at 0 and count; gauges for releases, leader, queue depth', async () => {
    const { m, registry } = fresh();
    assert.deepEqual((await series(registry, 'chartorigin_reconcile_total')).sort(), [
      'chartorigin_reconcile_total{result="deleted"} 0',
      'chartorigin_reconcile_total{result="error"} 0',
      'chartorigin_reconcile_total{result="requeue"} 0',
      'chartorigin_reconcile_total{result="success"} 0',
    ]);
    assert.deepEqual(await series(registry, 'chartorigin_leader'), ['chartorigin_leader 0']);
    m.observeReconcile('success', 0.02);
    m.observeReconcile('error', 0.5);
    m.setLeader(true);
    m.setReleasesTracked(12);
    m.setWorkqueueDepth(5);
    const text = await registry.metrics();
    assert.match(text, /chartorigin_reconcile_total\{result="success"\} 1/);
    assert.match(text, /chartorigin_reconcile_total\{result="error"\} 1/);
    assert.match(text, /chartorigin_reconcile_duration_seconds_count 2/);
    assert.match(text, /chartorigin_reconcile_duration_seconds_bucket\{le="0\.025"\} 1/);
    assert.match(text, /^chartorigin_leader 1$/m);
    assert.match(text, /^chartorigin_releases 12$/m);
    assert.match(text, /^chartorigin_workqueue_depth 5$/m);
  });

  it('uses a new registry when none is passed', async () => {
    const m = new ChartOriginMetrics({ defaultMetrics: false });
    m.setLeader(true);
    const text = await m.metrics();
    assert.match(text, /^chartorigin_leader 1$/m);
    assert.doesNotMatch(text, /process_cpu/);
  });

  it('a scrape between changes gives the same text, a change shows at the next scrape', async () => {
    const m = new ChartOriginMetrics({ defaultMetrics: false });
    m.setRelease(report());
    const first = await m.metrics();
    const second = await m.metrics();
    assert.equal(second, first);
    assert.equal(m.registry.getSingleMetric('chartorigin_release_info'), undefined, 'per-release series are not prom-client gauges');
    m.setRelease(report({ chart: { name: 'podinfo', version: '6.6.0', deprecated: false } }));
    const third = await m.metrics();
    assert.match(third, /chartorigin_release_info\{[^}]*version="6\.6\.0"/);
    assert.doesNotMatch(third, /version="6\.5\.0"/);
    m.removeRelease('apps', 'web');
    assert.doesNotMatch(await m.metrics(), /release="web"/);
    // Controller metrics are never cached.
    m.setLeader(true);
    assert.match(await m.metrics(), /^chartorigin_leader 1$/m);
    m.setLeader(false);
    assert.match(await m.metrics(), /^chartorigin_leader 0$/m);
  });
});

describe('ChartOriginMetrics: cached per-release exposition', () => {
  it('a scrape after a change shows the change; counters still move between scrapes without a release change', async () => {
    const { m, registry } = fresh();
    m.setRelease(report());
    const first = await registry.metrics();
    assert.match(first, /chartorigin_release_versions_behind\{namespace="apps",release="web",chart="podinfo"\} 4\n/);
    m.observeReconcile('success', 0.01);
    const second = await registry.metrics();
    assert.match(second, /chartorigin_reconcile_total\{result="success"\} 1\n/);
    m.setRelease(report({ versionsBehind: 2 }));
    const third = await registry.metrics();
    assert.match(third, /chartorigin_release_versions_behind\{namespace="apps",release="web",chart="podinfo"\} 2\n/);
    assert.doesNotMatch(third, /release="web",chart="podinfo"\} 4\n/);
    m.removeRelease('apps', 'web');
    assert.doesNotMatch(await registry.metrics(), /release="web"/);
  });

  it('label values are escaped exactly as prom-client escapes them', async () => {
    const { m, registry } = fresh();
    const odd = 'a"b\\c\nd';
    m.setRelease(report({ chart: { name: odd, version: '1.0.0', appVersion: odd, deprecated: false } }));
    const reference = new Registry();
    const { Gauge } = await import('prom-client');
    new Gauge({ name: 'x', help: 'x', labelNames: ['chart'], registers: [reference] }).set({ chart: odd }, 1);
    const escaped = /x\{chart=("(?:[^"\\]|\\.)*")\} 1/.exec(await reference.metrics())?.[1];
    assert.ok(escaped);
    assert.ok((await registry.metrics()).includes(`chartorigin_release_deprecated{namespace="apps",release="web",chart=${escaped}} 0\n`));
  });

  it('every family keeps HELP and TYPE gauge even with no release, and the exposition ends with one newline', async () => {
    const { registry } = fresh();
    const text = await registry.metrics();
    assert.match(text, /# TYPE chartorigin_release_info gauge\n/);
    assert.match(text, /# TYPE chartorigin_release_latest_version_created_timestamp_seconds gauge\n/);
    assert.match(text, /[^\n]\n$/);
    assert.doesNotMatch(text, /\n\n\n/);
  });
});

describe('shard info', () => {
  it('says 0 of 1 until sharded, then exactly one series naming this replica\'s shard', async () => {
    const registry = new Registry();
    const m = new ChartOriginMetrics({ registry, defaultMetrics: false });
    assert.deepEqual(await series(registry, 'chartorigin_shard_info'), ['chartorigin_shard_info{shard="0",shards="1"} 1']);
    m.setShard(1, 2);
    assert.deepEqual(await series(registry, 'chartorigin_shard_info'), ['chartorigin_shard_info{shard="1",shards="2"} 1']);
  });
});
