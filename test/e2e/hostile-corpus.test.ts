/**
 * The hostile-input corpus at the controller level, complementing hostile-controller.test.ts (which has the
 * huge index, the 10 MB release and odd-but-valid statuses): OCI /v2/ answers, registries hostile only on
 * chart lookup, hard links and digest mismatches, corrupt gzip, missing data. ONE controller process against the real control plane,
 * with many hostile inputs at once, each in its own release or repository — release Secrets written directly
 * (helm's labels, owner=helm, type helm.sh/release.v1) holding every kind of bad release data, HTTP chart
 * repositories answering HTML, 4xx/5xx, malformed YAML and an alias bomb, OCI registries answering the same
 * on /v2/ — next to healthy releases installed by the real helm.
 *
 * Per case: the specific condition (type, status, reason, a message naming the problem) on the affected
 * ChartOrigin or ChartRepository and its metric series; at the end, the process is still alive and healthy
 * and the healthy releases are Verified, untouched by their hostile neighbours.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { startChartRepoServer, type ChartRepoServer, type Fault } from '../harness/chart-repo-server.ts';
import { ensureNamespace, kubectl } from '../harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess, type ControllerProcess } from '../harness/controller-process.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { helmInstall } from '../harness/helm.ts';
import { tgz, type TarEntry } from '../unit/chart/tar-writer.ts';

const env = testEnv();
const cluster = env.cluster;
const ns = uniqueNamespace('e2e-corpus');
const prefix = ns.replace(/[^a-z0-9-]/g, '');
const HEALTHY = ['ok-a', 'ok-b'] as const;

interface Condition { type: string; status: string; reason?: string; message?: string }
interface ChartOriginObject {
  status?: { release?: { status?: string }; origin?: { match: string }; conditions?: Condition[] };
}

let controller: ControllerProcess;
const servers: ChartRepoServer[] = [];
const repoNames: string[] = [];

const b64 = (b: Buffer | string): string => Buffer.from(b).toString('base64');

/** A release-data case: the helm string (what helm stores under data.release, before the Secret's own base64). */
interface ReleaseCase {
  name: string;
  /** undefined = the Secret has no data.release at all. */
  helmString: (json: Record<string, unknown>) => string | undefined;
  reason: string;
  message: RegExp;
}

/** Real release JSON from a release the real helm installed, renamed for the case. */
function renamed(json: Record<string, unknown>, name: string, patch: (j: Record<string, unknown>) => void = () => undefined): Record<string, unknown> {
  const j = structuredClone(json);
  j['name'] = name;
  j['namespace'] = ns;
  patch(j);
  return j;
}

const RELEASE_CASES: ReleaseCase[] = [
  { name: 'h-not-base64', helmString: () => '%%% this is not base64 %%%', reason: 'not_base64', message: /not valid base64/ },
  { name: 'h-not-gzip', helmString: () => b64('neither gzip nor JSON, just text'), reason: 'invalid_json', message: /not valid JSON/ },
  {
    name: 'h-corrupt-gzip',
    // A gzip header followed by bytes that are no deflate stream.
    helmString: () => b64(Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff]), Buffer.alloc(64, 0xff)])),
    reason: 'corrupt_gzip',
    message: /not a valid gzip stream/,
  },
  { name: 'h-gzip-bomb', helmString: () => b64(gzipSync(Buffer.alloc(80 * 1024 * 1024), { level: 9 })), reason: 'too_large', message: /gzip bomb/ },
  {
    name: 'h-truncated',
    helmString: (j) => {
      const gz = gzipSync(JSON.stringify(renamed(j, 'h-truncated')));
      return b64(gz.subarray(0, Math.floor(gz.length / 2)));
    },
    reason: 'truncated',
    message: /truncated/,
  },
  { name: 'h-invalid-json', helmString: () => b64(gzipSync('{"name": "h-invalid-json", "info": {')), reason: 'invalid_json', message: /not valid JSON/ },
  { name: 'h-wrong-shape', helmString: () => b64(gzipSync('[1, 2, 3]')), reason: 'invalid_shape', message: /not a JSON object/ },
  {
    name: 'h-unknown-status',
    helmString: (j) => b64(gzipSync(JSON.stringify(renamed(j, 'h-unknown-status', (x) => ((x['info'] as Record<string, unknown>)['status'] = 'Exploded!'))))),
    reason: 'invalid_shape',
    message: /not a Helm status/,
  },
  { name: 'h-no-data', helmString: () => undefined, reason: 'missing_data', message: /no data\.release/ },
];

/** A repository case: a ChartRepository spec against a server answering with a fault. */
interface RepoCase {
  name: string;
  kind: 'http' | 'oci';
  fault: Fault;
  reason: string;
  message: RegExp;
}

const HTML = '<!doctype html><html><head><title>Sign in</title></head><body><form>Login</form></body></html>';
/** Billion laughs: 12 levels of 10 aliases each (10^12 strings if expanded); js-yaml's alias cap refuses it. */
const LEVELS = 'abcdefghijklm'.split('');
const ALIAS_BOMB = ['apiVersion: v1', 'a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
for (let i = 1; i < LEVELS.length; i++) ALIAS_BOMB.push(`${LEVELS[i]}: &${LEVELS[i]} [${Array(10).fill(`*${LEVELS[i - 1]}`).join(',')}]`);
ALIAS_BOMB.push('entries:', `  bomb: *${LEVELS.at(-1)}`);

const REPO_CASES: RepoCase[] = [
  { name: 'http-html', kind: 'http', fault: { path: '/index.yaml', status: 200, headers: { 'content-type': 'text/html' }, body: HTML }, reason: 'invalid_index', message: /invalid index/ },
  { name: 'http-401', kind: 'http', fault: { path: '/index.yaml', status: 401 }, reason: 'unauthorized', message: /401/ },
  { name: 'http-403', kind: 'http', fault: { path: '/index.yaml', status: 403 }, reason: 'forbidden', message: /403/ },
  { name: 'http-404', kind: 'http', fault: { path: '/index.yaml', status: 404 }, reason: 'not_found', message: /404/ },
  { name: 'http-429', kind: 'http', fault: { path: '/index.yaml', status: 429, headers: { 'retry-after': '3600' } }, reason: 'rate_limited', message: /429/ },
  { name: 'http-500', kind: 'http', fault: { path: '/index.yaml', status: 500, body: 'boom' }, reason: 'server_error', message: /500/ },
  { name: 'http-malformed', kind: 'http', fault: { path: '/index.yaml', status: 200, body: 'apiVersion: v1\nentries: [unclosed\n  - {' }, reason: 'invalid_index', message: /malformed YAML at line/ },
  { name: 'http-alias-bomb', kind: 'http', fault: { path: '/index.yaml', status: 200, body: ALIAS_BOMB.join('\n') + '\n' }, reason: 'invalid_index', message: /aliases exceeded/ },
  { name: 'oci-html', kind: 'oci', fault: { path: '/v2/', status: 200, headers: { 'content-type': 'text/html' }, body: HTML }, reason: 'invalid_manifest', message: /answers HTML, not the OCI distribution API/ },
  { name: 'oci-401', kind: 'oci', fault: { path: '/v2/', status: 401 }, reason: 'unauthorized', message: /401/ },
  { name: 'oci-403', kind: 'oci', fault: { path: '/v2/', status: 403 }, reason: 'forbidden', message: /403/ },
  { name: 'oci-404', kind: 'oci', fault: { path: '/v2/', status: 404 }, reason: 'not_found', message: /404/ },
  { name: 'oci-429', kind: 'oci', fault: { path: '/v2/', status: 429 }, reason: 'rate_limited', message: /429/ },
  { name: 'oci-500', kind: 'oci', fault: { path: '/v2/', status: 500 }, reason: 'server_error', message: /500/ },
];

/**
 * Registries whose /v2/ is fine (so the repository is Ready) but that turn hostile when a release's chart is
 * looked up: the error surfaces per release — counted, logged, retried — while the release resolves elsewhere.
 */
interface LookupCase {
  name: string;
  faults: Fault[];
  reason: string;
  log: RegExp;
}

const JSON_HEADERS = { 'content-type': 'application/json' };
const V2_OK: Fault = { path: '/v2/', status: 200, headers: JSON_HEADERS, body: '{}' };
const TAGS = '/v2/charts/webapp/tags/list';
const LOOKUP_CASES: LookupCase[] = [
  {
    name: 'oci-endless-link',
    faults: [V2_OK, { path: TAGS, status: 200, headers: { ...JSON_HEADERS, link: `<${TAGS}?n=1&last=1.0.0>; rel="next"` }, body: '{"name":"charts/webapp","tags":["1.0.0"]}' }],
    reason: 'too_large',
    log: /tags of charts\/webapp: more than \d+ pages/,
  },
  {
    name: 'oci-wrong-media-type',
    faults: [
      V2_OK,
      { path: TAGS, status: 200, headers: JSON_HEADERS, body: '{"name":"charts/webapp","tags":["1.0.0"]}' },
      {
        path: '/v2/charts/webapp/manifests/1.0.0',
        status: 200,
        headers: { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' },
        body: JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
          config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: `sha256:${'a'.repeat(64)}`, size: 2 },
          layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: `sha256:${'b'.repeat(64)}`, size: 2 }],
        }),
      },
    ],
    reason: 'invalid_manifest',
    log: /manifest charts\/webapp:1\.0\.0: media type .* is not an OCI image manifest/,
  },
];

/**
 * HTTP repositories whose index is fine but whose webapp-1.0.0.tgz (the installed chart) is hostile; the index
 * digest is rewritten to the hostile bytes' so the archive reader, not the digest check, must refuse it —
 * except in the digest case, whose index names a digest the served bytes do not have.
 */
const WEBAPP: TarEntry[] = [
  { name: 'webapp/Chart.yaml', data: 'apiVersion: v2\nname: webapp\nversion: 1.0.0\n' },
  { name: 'webapp/values.yaml', data: 'a: 1\n' },
];
const TARBALL_CASES: (LookupCase & { tgz: Buffer; keepDigest?: boolean })[] = [
  { name: 'tar-traversal', tgz: tgz([...WEBAPP, { name: 'webapp/../../etc/passwd', data: 'x' }]), faults: [], reason: 'invalid_archive', log: /etc\/passwd.*\.\./ },
  { name: 'tar-symlink', tgz: tgz([...WEBAPP, { name: 'webapp/templates/link.yaml', type: '2', linkname: '/etc/passwd' }]), faults: [], reason: 'invalid_archive', log: /link\.yaml.*symbolic link/ },
  { name: 'tar-hardlink', tgz: tgz([...WEBAPP, { name: 'webapp/templates/hard.yaml', type: '1', linkname: 'webapp/values.yaml' }]), faults: [], reason: 'invalid_archive', log: /hard\.yaml/ },
  { name: 'tar-oversized-file', tgz: tgz([...WEBAPP, { name: 'webapp/big.bin', data: Buffer.alloc(6 * 1024 * 1024) }]), faults: [], reason: 'too_large', log: /big\.bin.*per-file limit/ },
  { name: 'tar-digest-mismatch', tgz: tgz(WEBAPP), keepDigest: true, faults: [], reason: 'digest_mismatch', log: /content digest sha256:[0-9a-f]{64} differs from the index digest/ },
];

function hostileRepoDir(c: { tgz: Buffer; keepDigest?: boolean }): string {
  const dir = mkdtempSync(join(tmpdir(), 'chartorigin-hostile-tgz-'));
  cpSync(env.chartRepo.repos.main.dir, dir, { recursive: true });
  const file = join(dir, basename(env.chartRepo.repos.main.charts['webapp-1.0.0']!.path));
  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
  const before = sha(readFileSync(file));
  writeFileSync(file, c.tgz);
  const index = join(dir, 'index.yaml');
  const text = readFileSync(index, 'utf8');
  assert.ok(text.includes(before), 'the index carries the original digest');
  // Published charts are cached by digest, so the mismatch case needs a digest no other repository has.
  writeFileSync(index, text.replaceAll(before, c.keepDigest ? sha(Buffer.from('some other tarball')) : sha(c.tgz)));
  return dir;
}
const lookupServers = new Map<string, ChartRepoServer>();

async function apply(doc: unknown): Promise<void> {
  await kubectl(cluster, ['apply', '-f', '-'], { input: JSON.stringify(doc) });
}

async function getJson<T>(args: string[]): Promise<T | undefined> {
  try {
    return JSON.parse(await kubectl(cluster, [...args, '-o', 'json'])) as T;
  } catch {
    return undefined;
  }
}

/** Every series of a metric with a given label subset; the sum of their values. */
function metricSum(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.split(' ').at(-1));
  }
  return sum;
}

before(async () => {
  await installCrds(cluster);
  await ensureNamespace(cluster, ns);
  await apply({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name: `${prefix}-main` }, spec: { url: env.chartRepo.repos.main.url, interval: '1h', priority: 10 } });
  repoNames.push(`${prefix}-main`);
  for (const r of HEALTHY) await helmInstall(cluster, 4, r, 'webapp', { namespace: ns, repo: env.chartRepo.repos.main.url, version: '1.0.0' });

  // Real release JSON to mutate: the first healthy release, as the real helm stored it.
  const stored = await kubectl(cluster, ['get', 'secret', `sh.helm.release.v1.${HEALTHY[0]}.v1`, '-n', ns, '-o', 'jsonpath={.data.release}']);
  const json = JSON.parse(gunzipSync(Buffer.from(Buffer.from(stored, 'base64').toString('utf8'), 'base64')).toString('utf8')) as Record<string, unknown>;

  const secret = (name: string, labels: Record<string, string>, helmString: string | undefined): Promise<void> =>
    apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `sh.helm.release.v1.${name}.v1`, namespace: ns, labels },
      type: 'helm.sh/release.v1',
      data: helmString === undefined ? {} : { release: b64(helmString) },
    });
  const helmLabels = (name: string): Record<string, string> => ({ owner: 'helm', name, version: '1', status: 'deployed' });
  for (const c of RELEASE_CASES) await secret(c.name, helmLabels(c.name), c.helmString(json));
  // Missing labels: only owner=helm; name and revision come from the object name, as helm's own storage would.
  await secret('h-missing-labels', { owner: 'helm' }, b64(gzipSync(JSON.stringify(renamed(json, 'h-missing-labels')))));

  for (const c of REPO_CASES) {
    const server = await startChartRepoServer({ dir: env.chartRepo.repos.main.dir });
    server.inject(c.fault);
    servers.push(server);
    const url = c.kind === 'http' ? server.url : `oci://127.0.0.1:${server.port}/charts`;
    const name = `${prefix}-${c.name}`;
    repoNames.push(name);
    await apply({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name }, spec: { url, interval: '1h', ...(c.kind === 'oci' ? { plainHTTP: true } : {}) } });
  }

  for (const c of LOOKUP_CASES) {
    const server = await startChartRepoServer({ dir: env.chartRepo.repos.main.dir });
    for (const f of c.faults) server.inject(f);
    servers.push(server);
    lookupServers.set(c.name, server);
    const name = `${prefix}-${c.name}`;
    repoNames.push(name);
    await apply({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name }, spec: { url: `oci://127.0.0.1:${server.port}/charts`, plainHTTP: true, interval: '1h' } });
  }

  for (const c of TARBALL_CASES) {
    const server = await startChartRepoServer({ dir: hostileRepoDir(c) });
    servers.push(server);
    const name = `${prefix}-${c.name}`;
    repoNames.push(name);
    await apply({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name }, spec: { url: server.url, interval: '1h' } });
  }

  controller = await startControllerProcess(cluster, ['--leader-elect=false', '--namespaces', ns, '--log-level', 'debug'], 'ctrl-hostile-corpus');
  await eventually('controller ready', async () => ((await controller.ready()) ? true : undefined), 60_000);
});

after(async () => {
  await controller?.stop();
  for (const s of servers) await s.close().catch(() => undefined);
  for (const r of repoNames) await kubectl(cluster, ['delete', 'chartrepository', r, '--ignore-not-found']).catch(() => undefined);
  // No namespace controller runs here: delete the broken releases, or later `scan -A` tests meet them.
  await kubectl(cluster, ['delete', 'secrets,configmaps', '-n', ns, '-l', 'owner=helm', '--ignore-not-found']).catch(() => undefined);
});

/** Waits for the repository error to be counted, then checks the per-release log lines name it. */
async function countedAndLogged(name: string, reason: string, log: RegExp): Promise<string[]> {
  await eventually(`${name} counted`, async () => {
    const n = metricSum(await controller.metrics(), 'chartorigin_repository_fetch_errors_total', { repository: name, reason });
    return n >= 1 ? true : undefined;
  }, 60_000, 250);
  const lines = readFileSync(controller.proc.logFile, 'utf8').split('\n').filter((l) => l.includes('repository error during analysis') && l.includes(`"repository":"${name}"`));
  assert.ok(lines.some((l) => log.test(l)), `a log line names the problem: ${lines[0] ?? 'none'}`);
  assert.ok(lines.every((l) => l.includes(`"reason":"${reason}"`)), lines.join('\n'));
  return lines;
}

describe('hostile input against one controller', () => {
  for (const c of RELEASE_CASES) {
    it(`release data ${c.name}: ChartOrigin Ready=False DecodeError naming the problem, decode_errors_total{reason=${c.reason}}`, async () => {
      const cond = await eventually(`${c.name} condition`, async () => {
        const o = await getJson<ChartOriginObject>(['get', 'chartorigin', c.name, '-n', ns]);
        return o?.status?.conditions?.find((x) => x.type === 'Ready' && x.reason === 'DecodeError');
      }, 60_000, 250);
      assert.equal(cond.status, 'False');
      assert.match(cond.message ?? '', c.message);
      assert.match(cond.message ?? '', new RegExp(`sh\\.helm\\.release\\.v1\\.${c.name}\\.v1`), 'the message names the object');
      assert.ok(metricSum(await controller.metrics(), 'chartorigin_release_decode_errors_total', { reason: c.reason }) >= 1);
    });
  }

  it('release Secret without name/version/status labels: resolved from the object name and Verified', async () => {
    const o = await eventually('h-missing-labels verified', async () => {
      const x = await getJson<ChartOriginObject>(['get', 'chartorigin', 'h-missing-labels', '-n', ns]);
      return x?.status?.origin?.match === 'Verified' ? x : undefined;
    }, 60_000, 250);
    assert.equal(o.status?.release?.status, 'deployed');
  });

  for (const c of REPO_CASES) {
    it(`repository ${c.name}: Ready=False FetchFailed naming the problem, fetch_errors_total{reason=${c.reason}}, up 0`, async () => {
      const name = `${prefix}-${c.name}`;
      const cond = await eventually(`${c.name} condition`, async () => {
        const r = await getJson<{ status?: { conditions?: Condition[] } }>(['get', 'chartrepository', name]);
        return r?.status?.conditions?.find((x) => x.type === 'Ready' && x.status === 'False');
      }, 60_000, 250);
      assert.equal(cond.reason, 'FetchFailed');
      assert.match(cond.message ?? '', c.message);
      assert.ok(cond.message?.includes(name), `the message names the repository: ${cond.message}`);
      const metrics = await controller.metrics();
      assert.ok(metricSum(metrics, 'chartorigin_repository_fetch_errors_total', { repository: name, reason: c.reason }) >= 1, `fetch_errors_total{repository=${name},reason=${c.reason}}`);
      assert.equal(metricSum(metrics, 'chartorigin_repository_up', { repository: name }), 0);
    });
  }

  for (const c of LOOKUP_CASES) {
    it(`registry ${c.name} (hostile only on chart lookup): counted in fetch_errors_total{reason=${c.reason}}, logged per release, bounded`, async () => {
      const name = `${prefix}-${c.name}`;
      await countedAndLogged(name, c.reason, c.log);
      // The probe only checks /v2/: the repository itself stays Ready.
      const r = await getJson<{ status?: { conditions?: Condition[] } }>(['get', 'chartrepository', name]);
      assert.equal(r?.status?.conditions?.find((x) => x.type === 'Ready')?.status, 'True');
      // Endless pagination is cut at the page limit per lookup, not followed forever.
      const tagRequests = lookupServers.get(c.name)!.requestsFor(TAGS).length;
      assert.ok(tagRequests >= 1 && tagRequests <= 100 * 20, `tag requests bounded: ${tagRequests}`);
    });
  }

  for (const c of TARBALL_CASES) {
    it(`tarball ${c.name} of an installed chart: counted in fetch_errors_total{reason=${c.reason}}, logged per release, never extracted`, async () => {
      await countedAndLogged(`${prefix}-${c.name}`, c.reason, c.log);
    });
  }

  it('afterwards: the controller is alive and healthy, the healthy releases are Verified, reconcile errors were not retried forever', async () => {
    assert.ok(controller.proc.running(), 'the controller process is still running');
    const healthz = await fetch(`${controller.metricsUrl}/healthz`, { signal: AbortSignal.timeout(5000) });
    assert.equal(healthz.status, 200, '/healthz');
    for (const r of HEALTHY) {
      await eventually(`${r} verified`, async () => {
        const o = await getJson<ChartOriginObject>(['get', 'chartorigin', r, '-n', ns]);
        return o?.status?.origin?.match === 'Verified' ? true : undefined;
      }, 60_000, 250);
    }
    const metrics = await controller.metrics();
    assert.equal(metricSum(metrics, 'chartorigin_repository_up', { repository: `${prefix}-main` }), 1);
    // Decode errors are a final state for that revision (success), not an error to retry in a loop.
    assert.ok(metricSum(metrics, 'chartorigin_reconcile_total', { result: 'success' }) >= RELEASE_CASES.length);
    // The healthy releases met the hostile registries on lookup: requeued with backoff, not failed.
    assert.ok(metricSum(metrics, 'chartorigin_reconcile_total', { result: 'requeue' }) >= 1);
  });
});
