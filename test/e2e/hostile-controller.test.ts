/**
 * The hostile-input corpus at controller level: one controller against the real control plane with every
 * kind of bad release data, bad repository answer and hostile tarball at once, each in its own release or
 * ChartRepository, next to healthy releases. Per case: the specific condition on the affected object, the
 * metric that counts it, the process still healthy, and the healthy releases still Verified.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { startChartRepoServer, type ChartRepoServer, type Fault } from '../harness/chart-repo-server.ts';
import { startHostileRegistry, type HostileMode, type HostileRegistry } from '../harness/hostile-registry.ts';
import { applyObject, getChartOrigin } from '../harness/chart-origins.ts';
import { packageChart, scratchDir } from '../harness/charts.ts';
import { ensureNamespace, kubectl } from '../harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess, type ControllerProcess } from '../harness/controller-process.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { helmInstall } from '../harness/helm.ts';
import { MINIMAL_CHART, tgz, type TarEntry } from '../unit/chart/tar-writer.ts';

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
interface ChartOriginObject {
  status?: {
    release?: { name: string; revision: number; status: string };
    chart?: { name: string; version: string };
    origin?: { match: string; repository?: string; message?: string };
    conditions?: Condition[];
  };
}

const env = testEnv();
const cluster = env.cluster;
const ns = uniqueNamespace('e2e-hostile');
const prefix = ns.replace(/[^a-z0-9-]/g, '');
const servers: ChartRepoServer[] = [];
const repositories: string[] = [];
let controller: ControllerProcess;
let realJson = '';
let hostileOci: HostileRegistry;

const b64 = (b: Buffer | string): string => Buffer.from(b).toString('base64');
/** Helm's own encoding of a release: gzip, then base64 (the API adds the second base64 layer). */
const helmString = (json: string | Buffer): string => b64(gzipSync(json));

/** Release data cases: what the Secret holds, the decode reason, and what the condition must say. */
const RELEASE_CASES: { name: string; helm: string; reason: string; message: RegExp }[] = [
  { name: 'not-base64', helm: '!!!not base64!!!', reason: 'not_base64', message: /is not valid base64/ },
  { name: 'not-gzip-not-json', helm: b64('this is neither gzip nor JSON'), reason: 'invalid_json', message: /not valid JSON/ },
  { name: 'gzip-bomb', helm: b64(gzipSync(Buffer.alloc(200 * 1024 * 1024))), reason: 'too_large', message: /inflates beyond 67108864 bytes \(gzip bomb/ },
  { name: 'truncated', helm: '', reason: 'truncated', message: /truncated/ },
  { name: 'invalid-json', helm: helmString('{"name": "x", "chart": {'), reason: 'invalid_json', message: /not valid JSON/ },
  { name: 'wrong-shape', helm: helmString('[1, 2, 3]'), reason: 'invalid_shape', message: /not a JSON object/ },
  { name: 'no-chart', helm: helmString('{"name":"no-chart","version":1,"info":{"status":"deployed"}}'), reason: 'invalid_shape', message: /no chart/ },
];

/** Repository cases: a fault on the whole server, the RepoError reason, and the message. */
const REPO_CASES: { name: string; fault: Fault; reason: string; message: RegExp; spec?: Record<string, unknown> }[] = [
  { name: 'unauthorized', fault: { status: 401 }, reason: 'unauthorized', message: /401/ },
  { name: 'forbidden', fault: { status: 403 }, reason: 'forbidden', message: /403/ },
  { name: 'not-found', fault: { status: 404 }, reason: 'not_found', message: /404/ },
  { name: 'rate-limited', fault: { status: 429, headers: { 'retry-after': '3600' } }, reason: 'rate_limited', message: /429/ },
  { name: 'server-error', fault: { status: 500 }, reason: 'server_error', message: /500/ },
  { name: 'html', fault: { status: 200, headers: { 'content-type': 'text/html' }, body: '<!doctype html><html><body><h1>Sign in</h1></body></html>' }, reason: 'invalid_index', message: /index/ },
  { name: 'malformed', fault: { status: 200, body: 'apiVersion: v1\nentries: [unclosed\n' }, reason: 'invalid_index', message: /index/ },
  // Billion laughs: 11 levels of 10 references each (110 aliases). The parser never expands aliases and
  // refuses more than 100, so this fails fast instead of growing exponentially.
  { name: 'alias-bomb', fault: { status: 200, body: aliasBomb() }, reason: 'invalid_index', message: /alias/i },
  { name: 'huge', fault: { path: '/index.yaml', padBytes: 101 * 1024 * 1024, chunked: true }, reason: 'too_large', message: /larger than|limit|too large/i },
  // A server that stalls mid-body, and one that never answers, against the repository's own spec.timeout.
  { name: 'slow-body', fault: { path: '/index.yaml', slowBodyMs: 600_000 }, spec: { timeout: '2s' }, reason: 'timeout', message: /index .*: timed out after 2 s/ },
  { name: 'no-answer', fault: { path: '/index.yaml', delayMs: 600_000 }, spec: { timeout: '2s' }, reason: 'timeout', message: /index .*: timed out after 2 s/ },
];

/** OCI registry answers met while looking up an installed chart (the registry's /v2/ itself is fine). */
const OCI_CASES: { mode: HostileMode; reason: string }[] = [
  { mode: 'html', reason: 'invalid_manifest' },
  { mode: 'e401', reason: 'unauthorized' },
  { mode: 'e403', reason: 'forbidden' },
  { mode: 'e429', reason: 'rate_limited' },
  { mode: 'e500', reason: 'server_error' },
  { mode: 'endless', reason: 'too_large' },
  { mode: 'wrongtype', reason: 'invalid_manifest' },
];

/** Hostile tarballs served for charts that are installed (each its own chart name). */
const TAR_CASES: { chart: string; entries: (c: string) => TarEntry[]; lieAboutDigest?: boolean; reason: string; message: RegExp }[] = [
  { chart: 'hostile-traversal', entries: (c) => [...rename(c), { name: `${c}/../../etc/evil`, data: 'x' }], reason: 'invalid_archive', message: /\.\./ },
  { chart: 'hostile-symlink', entries: (c) => [...rename(c), { name: `${c}/templates/link.yaml`, type: '2', linkname: '/etc/passwd' }], reason: 'invalid_archive', message: /link/i },
  { chart: 'hostile-oversized', entries: (c) => [...rename(c), { name: `${c}/files/big.bin`, data: Buffer.alloc(6 * 1024 * 1024) }], reason: 'too_large', message: /big\.bin/ },
  { chart: 'hostile-digest', entries: (c) => rename(c), lieAboutDigest: true, reason: 'digest_mismatch', message: /differs from the index digest/ },
];

function aliasBomb(): string {
  const lines = ['apiVersion: v1', 'entries:', '  bomb:', '  - name: bomb', '    version: 1.0.0', '    urls: [bomb-1.0.0.tgz]', 'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i <= 11; i++) lines.push(`l${i}: &l${i} [${Array.from({ length: 10 }, () => `*l${i - 1}`).join(',')}]`);
  return `${lines.join('\n')}\n`;
}

function rename(chart: string): TarEntry[] {
  return MINIMAL_CHART.map((e) => ({ ...e, name: e.name.replace(/^demo\//, `${chart}/`), data: typeof e.data === 'string' ? e.data.replace('name: demo', `name: ${chart}`).replace('version: 0.1.0', 'version: 1.0.0') : e.data }));
}

const apply = (doc: object): Promise<void> => applyObject(cluster, doc);

function releaseSecret(name: string, helm: string, labels?: Record<string, string>): object {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'helm.sh/release.v1',
    metadata: { name: `sh.helm.release.v1.${name}.v1`, namespace: ns, labels: labels ?? { name, owner: 'helm', status: 'deployed', version: '1' } },
    data: { release: b64(helm) },
  };
}

const origin = (name: string): Promise<ChartOriginObject | undefined> => getChartOrigin<ChartOriginObject>(cluster, ns, name);

async function repoReady(name: string): Promise<Condition | undefined> {
  const r = JSON.parse(await kubectl(cluster, ['get', 'chartrepository', name, '-o', 'json'])) as { status?: { conditions?: Condition[] } };
  return r.status?.conditions?.find((c) => c.type === 'Ready');
}

const ready = (o: ChartOriginObject | undefined): Condition | undefined => o?.status?.conditions?.find((c) => c.type === 'Ready');

before(async () => {
  await installCrds(cluster);
  await ensureNamespace(cluster, ns);
  const main = env.chartRepo.repos.main;
  await helmInstall(cluster, 4, 'healthy-a', 'webapp', { namespace: ns, repo: main.url, version: '1.0.0' });
  await helmInstall(cluster, 3, 'healthy-b', 'webapp', { namespace: ns, repo: main.url, version: '1.2.0' });
  // Real release JSON, written by helm, as the base of the malformed variants.
  const secret = JSON.parse(await kubectl(cluster, ['get', 'secret', 'sh.helm.release.v1.healthy-a.v1', '-n', ns, '-o', 'json'])) as { data: { release: string } };
  realJson = gunzipSync(Buffer.from(Buffer.from(secret.data.release, 'base64').toString('latin1'), 'base64')).toString('utf8');

  // Release data.
  for (const c of RELEASE_CASES) {
    const helm = c.name === 'truncated' ? b64(gzipSync(realJson).subarray(0, 300)) : c.helm;
    await apply(releaseSecret(c.name, helm));
  }
  // Legitimate but unusual: a 10 MB release (a huge manifest; compresses to little), an unknown status,
  // and a Secret without Helm's name/version labels (the object name still says which release it is).
  const doc = JSON.parse(realJson) as { name: string; manifest: string; info: { status: string } };
  await apply(releaseSecret('ten-mb', helmString(JSON.stringify({ ...doc, name: 'ten-mb', manifest: `# ${'x'.repeat(10 * 1024 * 1024)}\n` }))));
  await apply(releaseSecret('odd-status', helmString(JSON.stringify({ ...doc, name: 'odd-status', info: { ...doc.info, status: 'half-deployed' } })), { name: 'odd-status', owner: 'helm', status: 'half-deployed', version: '1' }));
  await apply(releaseSecret('no-labels', helmString(JSON.stringify({ ...doc, name: 'no-labels' })), { owner: 'helm' }));

  // Repositories that answer badly.
  for (const c of REPO_CASES) {
    const dir = mkdtempSync(join(tmpdir(), 'chartorigin-hostile-repo-'));
    cpSync(main.dir, dir, { recursive: true });
    const server = await startChartRepoServer({ dir });
    server.inject(c.fault);
    servers.push(server);
    const name = `${prefix}-${c.name}`;
    repositories.push(name);
    await apply({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name }, spec: { url: server.url, interval: '1h', ...c.spec } });
  }

  // OCI registries answering badly, and one wrong prefix (404 NAME_UNKNOWN: the chart is simply not there).
  hostileOci = await startHostileRegistry();
  for (const mode of [...OCI_CASES.map((c) => c.mode), 'unknown' as const]) {
    const name = `${prefix}-oci-${mode}`;
    repositories.push(name);
    await apply({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name }, spec: { url: `${hostileOci.url}/${mode}`, plainHTTP: true, interval: '1h' } });
  }

  // Hostile tarballs: each chart installed from a normal package, the repository serves a hostile one.
  const tarDir = scratchDir('hostile-tars');
  const entries: string[] = [];
  for (const c of TAR_CASES) {
    const installed = await packageChart({ name: c.chart, version: '1.0.0' }, scratchDir('installed'));
    await helmInstall(cluster, 4, c.chart, installed.path, { namespace: ns });
    const bytes = tgz(c.entries(c.chart));
    writeFileSync(join(tarDir, `${c.chart}-1.0.0.tgz`), bytes);
    const digest = c.lieAboutDigest ? createHash('sha256').update('something else').digest('hex') : createHash('sha256').update(bytes).digest('hex');
    entries.push(`  ${c.chart}:\n  - apiVersion: v2\n    name: ${c.chart}\n    version: 1.0.0\n    digest: ${digest}\n    created: "2026-01-01T00:00:00Z"\n    urls: [${c.chart}-1.0.0.tgz]\n`);
  }
  writeFileSync(join(tarDir, 'index.yaml'), `apiVersion: v1\nentries:\n${entries.join('')}generated: "2026-01-01T00:00:00Z"\n`);
  const tarServer = await startChartRepoServer({ dir: tarDir });
  servers.push(tarServer);
  repositories.push(`${prefix}-tars`, `${prefix}-main`);
  await apply({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name: `${prefix}-tars` }, spec: { url: tarServer.url, interval: '1h' } });
  await apply({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name: `${prefix}-main` }, spec: { url: main.url, interval: '1h', priority: 100 } });

  controller = await startControllerProcess(cluster, ['--leader-elect=false', '--namespaces', ns]);
  await eventually('controller ready', async () => ((await controller.ready()) ? true : undefined), 90_000);
});

after(async () => {
  await controller?.stop();
  for (const s of servers) await s.close().catch(() => undefined);
  await hostileOci?.close();
  for (const r of repositories) await kubectl(cluster, ['delete', 'chartrepository', r, '--ignore-not-found']).catch(() => undefined);
  // The shared cluster has no namespace controller: delete the broken releases themselves, so that later
  // tests listing releases across namespaces (chartorigin scan -A) do not meet them.
  await kubectl(cluster, ['delete', 'secrets', '-n', ns, '-l', 'owner=helm', '--ignore-not-found']).catch(() => undefined);
});

describe('hostile input at controller level', () => {
  it(`bad release data (${RELEASE_CASES.length} cases): Ready False DecodeError naming the problem, counted by reason`, async () => {
    for (const c of RELEASE_CASES) {
      const o = await eventually(`${c.name} DecodeError`, async () => {
        const x = await origin(c.name);
        return ready(x)?.reason === 'DecodeError' ? x : undefined;
      }, 60_000);
      const r = ready(o);
      assert.equal(r?.status, 'False', c.name);
      assert.match(r?.message ?? '', c.message, c.name);
      assert.match(r?.message ?? '', new RegExp(`sh\\.helm\\.release\\.v1\\.${c.name}\\.v1`), `${c.name}: the message names the object`);
    }
    const metrics = await controller.metrics();
    for (const reason of new Set(RELEASE_CASES.map((c) => c.reason))) {
      assert.match(metrics, new RegExp(`^chartorigin_release_decode_errors_total\\{reason="${reason}"\\} [1-9]`, 'm'), reason);
    }
  });

  it('unusual but valid releases (10 MB, unknown status, no labels) are analysed like any other', async () => {
    for (const name of ['ten-mb', 'odd-status', 'no-labels']) {
      const o = await eventually(`${name} Verified`, async () => {
        const x = await origin(name);
        return x?.status?.origin?.match === 'Verified' ? x : undefined;
      }, 60_000);
      assert.equal(o.status?.chart?.name, 'webapp');
      assert.equal(o.status?.origin?.repository, `${prefix}-main`);
    }
    assert.equal((await origin('odd-status'))?.status?.release?.status, 'half-deployed');
  });

  it(`bad repository answers (${REPO_CASES.length} cases): ChartRepository Ready False FetchFailed, repository_up 0 and fetch errors by reason`, async () => {
    for (const c of REPO_CASES) {
      const name = `${prefix}-${c.name}`;
      const cond = await eventually(`${name} FetchFailed`, async () => {
        const x = await repoReady(name);
        return x?.reason === 'FetchFailed' ? x : undefined;
      }, 60_000);
      assert.equal(cond.status, 'False', c.name);
      assert.match(cond.message, c.message, c.name);
    }
    const metrics = await controller.metrics();
    for (const c of REPO_CASES) {
      const name = `${prefix}-${c.name}`;
      assert.match(metrics, new RegExp(`^chartorigin_repository_up\\{repository="${name}",[^}]*\\} 0$`, 'm'), `${c.name} up 0`);
      assert.match(metrics, new RegExp(`^chartorigin_repository_fetch_errors_total\\{repository="${name}",[^}]*reason="${c.reason}"\\} [1-9]`, 'm'), `${c.name} reason ${c.reason}`);
    }
  });

  it(`hostile tarballs (${TAR_CASES.length} cases): the release says which repository failed and why, and the error is counted`, async () => {
    for (const c of TAR_CASES) {
      const o = await eventually(`${c.chart} names the tarball problem`, async () => {
        const x = await origin(c.chart);
        return x?.status?.origin?.message && c.message.test(x.status.origin.message) ? x : undefined;
      }, 60_000);
      assert.equal(o.status?.origin?.match, 'Unverified', c.chart);
      assert.match(ready(o)?.message ?? '', new RegExp(`${prefix}-tars \\(${c.reason}\\)`), c.chart);
    }
    const metrics = await controller.metrics();
    for (const reason of new Set(TAR_CASES.map((c) => c.reason))) {
      assert.match(metrics, new RegExp(`^chartorigin_repository_fetch_errors_total\\{repository="${prefix}-tars",[^}]*reason="${reason}"\\} [1-9]`, 'm'), reason);
    }
  });

  it(`bad OCI registry answers (${OCI_CASES.length} cases): the releases looked up there name the repository and reason, counted by reason; a wrong prefix is not an error`, async () => {
    const o = await eventually('healthy-a names every hostile OCI repository', async () => {
      const x = await origin('healthy-a');
      const msg = ready(x)?.message ?? '';
      return OCI_CASES.every((c) => msg.includes(`${prefix}-oci-${c.mode} (`)) ? x : undefined;
    }, 60_000);
    const message = ready(o)?.message ?? '';
    for (const c of OCI_CASES) assert.match(message, new RegExp(`${prefix}-oci-${c.mode} \\(${c.reason}\\)`), c.mode);
    assert.doesNotMatch(message, new RegExp(`${prefix}-oci-unknown`), 'a repository without the chart is no failure');
    assert.equal(o.status?.origin?.match, 'Verified', 'the healthy release keeps its proven origin');
    const metrics = await controller.metrics();
    for (const c of OCI_CASES) {
      assert.match(metrics, new RegExp(`^chartorigin_repository_fetch_errors_total\\{repository="${prefix}-oci-${c.mode}",[^}]*reason="${c.reason}"\\} [1-9]`, 'm'), c.mode);
    }
    // Its counters exist (every known reason starts at 0), but none counted an error.
    assert.doesNotMatch(metrics, new RegExp(`^chartorigin_repository_fetch_errors_total\\{repository="${prefix}-oci-unknown",[^}]*\\} [1-9]`, 'm'));
  });

  it('meanwhile the controller stays healthy and the healthy releases are Verified', async () => {
    assert.ok(controller.proc.running());
    const health = await fetch(`${controller.metricsUrl}/healthz`);
    assert.equal(health.status, 200);
    for (const name of ['healthy-a', 'healthy-b']) {
      const o = await eventually(`${name} Verified`, async () => {
        const x = await origin(name);
        return x?.status?.origin?.match === 'Verified' ? x : undefined;
      });
      assert.equal(ready(o)?.status, 'True');
      assert.equal(o.status?.origin?.repository, `${prefix}-main`);
    }
  });
});
