/**
 * Secrets stay secret, end to end. Canary strings are planted everywhere a secret can live — `--set`
 * values (helm 3 and helm 4, Secret and ConfigMap storage), a chart's values.yaml and NOTES.txt, basic-auth
 * and bearer credentials from ChartRepository secretRefs, URL userinfo and query strings, an htpasswd OCI
 * registry behind a dockerconfigjson Secret — and some repositories are made to fail so that error paths
 * run too. Then everything chartorigin produces is collected (the controller's debug log, ChartOrigins,
 * ChartRepository status, events, /metrics, `scan` and `inspect` output) and must not contain any canary.
 * Each canary is also shown to have reached the place it was planted, so the test can fail.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { startChartRepoServer, type ChartRepoServer } from '../harness/chart-repo-server.ts';
import { pushChart, repoIndex, runHelm, scratchDir, writeChartSource } from '../harness/charts.ts';
import { runChartorigin, type CliRun } from '../harness/cli.ts';
import { ensureNamespace, kubectl } from '../harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess, type ControllerProcess } from '../harness/controller-process.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { helmInstall } from '../harness/helm.ts';
import { startRegistry, type Registry } from '../harness/registry.ts';

const env = testEnv();
const cluster = env.cluster;
const ns = uniqueNamespace('e2e-canary');
const prefix = ns.replace(/[^a-z0-9-]/g, '');
/** Shared by every canary: finding it anywhere, in any of them, is a leak. */
const ID = `cnry${randomBytes(12).toString('hex')}`;
const canary = (place: string): string => `CANARY-${place}-${ID}`;

let controller: ControllerProcess;
let basicServer: ChartRepoServer;
let downstream: ChartRepoServer;
let tokenServer: ChartRepoServer;
let userinfoServer: ChartRepoServer;
let registry: Registry;
const repoNames: string[] = [];

interface Status { conditions?: { type: string; status: string; reason?: string; message?: string }[] }
interface ChartOriginObject { status?: { origin?: { match: string; repository?: string; repoURL?: string } } }

/** A chart whose values.yaml and NOTES.txt hold canaries, packaged by the real helm into `dir`. */
async function canaryChart(name: string, dir: string): Promise<string> {
  const src = writeChartSource(scratchDir('canary-src'), { name, version: '0.1.0', appVersion: '0.1.0' });
  writeFileSync(join(src, 'values.yaml'), `${readFileSync(join(src, 'values.yaml'), 'utf8')}apiKey: ${canary(`values-${name}`)}\n`);
  writeFileSync(join(src, 'templates', 'NOTES.txt'), `Log in with ${canary(`notes-${name}`)} and {{ .Values.apiKey }}\n`);
  mkdirSync(dir, { recursive: true });
  await runHelm(['package', src, '--destination', dir]);
  return join(dir, `${name}-0.1.0.tgz`);
}

async function apply(doc: unknown): Promise<void> {
  await kubectl(cluster, ['apply', '-f', '-'], { input: JSON.stringify(doc) });
}

async function repository(name: string, spec: Record<string, unknown>): Promise<void> {
  repoNames.push(`${prefix}-${name}`);
  await apply({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name: `${prefix}-${name}` }, spec: { interval: '1h', ...spec } });
}

function secret(name: string, type: string, stringData: Record<string, string>): Promise<void> {
  return apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, type, stringData });
}

async function getJson<T>(args: string[]): Promise<T> {
  return JSON.parse(await kubectl(cluster, [...args, '-o', 'json'])) as T;
}

async function repoReady(name: string): Promise<{ type: string; status: string; reason?: string; message?: string } | undefined> {
  const r = await getJson<{ status?: Status }>(['get', 'chartrepository', `${prefix}-${name}`]).catch(() => undefined);
  return r?.status?.conditions?.find((c) => c.type === 'Ready');
}

async function origin(name: string): Promise<ChartOriginObject | undefined> {
  return getJson<ChartOriginObject>(['get', 'chartorigin', name, '-n', ns]).catch(() => undefined);
}

/** Runs the CLI asynchronously (the repository servers live in this process). */
function cli(args: string[], extraEnv: Record<string, string>): Promise<CliRun> {
  return runChartorigin(args, { env: { ...process.env, ...extraEnv }, timeoutMs: 120_000 });
}

/** The ID as it would look inside base64 text, at each of the three byte alignments. */
function base64Forms(s: string): string[] {
  const bytes = Buffer.from(s);
  return [0, 1, 2].map((pad) => {
    const enc = Buffer.concat([Buffer.alloc(pad), bytes]).toString('base64');
    const first = Math.ceil(pad / 3) * 4;
    const last = Math.floor((pad + bytes.length) / 3) * 4;
    return enc.slice(first, last);
  });
}

function assertNoCanary(what: string, text: string): void {
  assert.ok(text.length > 0, `${what}: nothing collected`);
  const at = text.indexOf(ID);
  assert.equal(at, -1, `${what} leaks a canary: …${text.slice(Math.max(0, at - 120), at + 60)}…`);
  for (const form of base64Forms(ID)) assert.ok(!text.includes(form), `${what} leaks a canary in base64`);
}

const CREDS = {
  basicUser: 'reader',
  basicPassword: canary('basic-password'),
  token: canary('bearer-token'),
  wrongToken: canary('wrong-token'),
  userinfoPassword: canary('userinfo'),
  query: canary('query'),
  ociUser: 'puller',
  ociPassword: canary('oci-password'),
};

before(async () => {
  await installCrds(cluster);
  await ensureNamespace(cluster, ns);
  const work = scratchDir('canary');

  // Repository A (basic auth; chart downloads redirect to another port, which must not get the credentials).
  const dirA = join(work, 'a');
  const tgzA = await canaryChart('canary-basic', dirA);
  await repoIndex(dirA);
  const dirDown = join(work, 'down');
  cpSync(dirA, dirDown, { recursive: true });
  downstream = await startChartRepoServer({ dir: dirDown });
  basicServer = await startChartRepoServer({ dir: dirA, auth: { kind: 'basic', username: CREDS.basicUser, password: CREDS.basicPassword }, redirectChartsTo: downstream.url });
  // Repository B (bearer token).
  const dirB = join(work, 'b');
  const tgzB = await canaryChart('canary-token', dirB);
  await repoIndex(dirB);
  tokenServer = await startChartRepoServer({ dir: dirB, auth: { kind: 'bearer', token: CREDS.token } });
  // Repository C (basic auth given only as URL userinfo, plus a secret in the query string).
  const dirC = join(work, 'c');
  const tgzC = await canaryChart('canary-userinfo', dirC);
  await repoIndex(dirC);
  userinfoServer = await startChartRepoServer({ dir: dirC, auth: { kind: 'basic', username: 'ui', password: CREDS.userinfoPassword } });
  // OCI registry with htpasswd.
  registry = await startRegistry({ htpasswd: [{ username: CREDS.ociUser, password: CREDS.ociPassword }] });
  const tgzO = await canaryChart('canary-oci', join(work, 'o'));
  await pushChart(tgzO, registry.url, { username: CREDS.ociUser, password: CREDS.ociPassword });

  await secret('basic-creds', 'kubernetes.io/basic-auth', { username: CREDS.basicUser, password: CREDS.basicPassword });
  await secret('token-creds', 'Opaque', { token: CREDS.token });
  await secret('wrong-token-creds', 'Opaque', { token: CREDS.wrongToken });
  const auth = Buffer.from(`${CREDS.ociUser}:${CREDS.ociPassword}`).toString('base64');
  await secret('oci-creds', 'kubernetes.io/dockerconfigjson', {
    '.dockerconfigjson': JSON.stringify({ auths: { [registry.host]: { username: CREDS.ociUser, password: CREDS.ociPassword, auth } } }),
  });
  const userinfoUrl = (path: string): string => `http://ui:${CREDS.userinfoPassword}@127.0.0.1:${userinfoServer.port}${path}?token=${CREDS.query}`;

  await repository('basic', { url: basicServer.url, secretRef: { name: 'basic-creds', namespace: ns } });
  await repository('token', { url: tokenServer.url, secretRef: { name: 'token-creds', namespace: ns } });
  await repository('userinfo', { url: userinfoUrl('/') });
  await repository('oci', { url: registry.url, plainHTTP: true, secretRef: { name: 'oci-creds', namespace: ns } });
  // Failing on purpose, so that error messages are produced with the same secrets in play.
  await repository('basic-wrong-path', { url: `${basicServer.url}/wrong`, secretRef: { name: 'basic-creds', namespace: ns } });
  await repository('wrong-token', { url: tokenServer.url, secretRef: { name: 'wrong-token-creds', namespace: ns } });
  await repository('userinfo-wrong-path', { url: userinfoUrl('/x') });
  await repository('oci-wrong-prefix', { url: `${registry.url}/nope`, plainHTTP: true, secretRef: { name: 'oci-creds', namespace: ns } });

  await helmInstall(cluster, 3, 'basic-h3', tgzA, { namespace: ns, set: { password: canary('set-h3') } });
  await helmInstall(cluster, 4, 'token-h4', tgzB, { namespace: ns, set: { password: canary('set-h4') } });
  await helmInstall(cluster, 4, 'userinfo-h4-cm', tgzC, { namespace: ns, driver: 'configmap', set: { password: canary('set-h4-cm') } });
  await helmInstall(cluster, 3, 'oci-h3', tgzO, { namespace: ns, set: { password: canary('set-oci-h3') } });

  controller = await startControllerProcess(cluster, ['--leader-elect=false', '--namespaces', ns, '--log-level', 'debug'], 'canary-controller');
  await eventually('controller ready', async () => ((await controller.ready()) ? true : undefined), 60_000);
});

after(async () => {
  await controller?.stop();
  for (const r of repoNames) await kubectl(cluster, ['delete', 'chartrepository', r, '--ignore-not-found']).catch(() => undefined);
  await Promise.all([basicServer?.close(), downstream?.close(), tokenServer?.close(), userinfoServer?.close(), registry?.close()]);
});

describe('secrets stay secret (canaries everywhere)', () => {
  it('the canaries reached their places: releases hold them, credentials were used, failures happened', async () => {
    // --set values, values.yaml and rendered NOTES.txt are in the stored release (helm 3 Secret here).
    const list = await getJson<{ items: { data: { release: string } }[] }>(['get', 'secret', '-n', ns, '-l', 'owner=helm,name=basic-h3']);
    const stored = list.items[0]?.data.release ?? '';
    const json = gunzipSync(Buffer.from(Buffer.from(stored, 'base64').toString('latin1'), 'base64')).toString('utf8');
    for (const c of [canary('set-h3'), canary('values-canary-basic'), canary('notes-canary-basic')]) assert.ok(json.includes(c), `release lacks ${c}`);
    const cm = await getJson<{ items: { data: { release: string } }[] }>(['get', 'configmap', '-n', ns, '-l', 'owner=helm,name=userinfo-h4-cm']);
    const cmJson = gunzipSync(Buffer.from(cm.items[0]?.data.release ?? '', 'base64')).toString('utf8');
    assert.ok(cmJson.includes(canary('set-h4-cm')));

    // Every release is Verified against the repository that needed the credentials: they were sent and accepted.
    const expected: Record<string, string> = { 'basic-h3': 'basic', 'token-h4': 'token', 'userinfo-h4-cm': 'userinfo', 'oci-h3': 'oci' };
    for (const [release, repo] of Object.entries(expected)) {
      const o = await eventually(`${release} Verified`, async () => {
        const x = await origin(release);
        return x?.status?.origin?.match === 'Verified' ? x : undefined;
      }, 60_000);
      assert.equal(o.status?.origin?.repository, `${prefix}-${repo}`, release);
    }
    assert.ok(basicServer.requestsFor('/index.yaml').some((r) => r.authorization && r.status === 200));
    assert.ok(tokenServer.requestsFor('/index.yaml').some((r) => r.authorization && r.status === 200));
    assert.ok(userinfoServer.requestsFor('/index.yaml').some((r) => r.authorization && r.status === 200));

    for (const [name, reason] of [['basic-wrong-path', /./], ['wrong-token', /./], ['userinfo-wrong-path', /./]] as const) {
      const ready = await eventually(`${name} not Ready`, async () => {
        const c = await repoReady(name);
        return c?.status === 'False' ? c : undefined;
      }, 60_000);
      assert.match(ready.message ?? '', reason);
    }
    assert.ok(tokenServer.requests.some((r) => r.status === 401), 'the wrong token was refused');
  });

  it('credentials from a secretRef are not sent to the host a chart download redirects to', () => {
    const tgz = '/canary-basic-0.1.0.tgz';
    assert.ok(basicServer.requestsFor(tgz).some((r) => r.status === 302 && r.authorization), 'the repository itself got credentials and redirected');
    const moved = downstream.requestsFor(tgz);
    assert.ok(moved.length > 0, 'the download followed the redirect');
    assert.ok(moved.every((r) => !r.authorization), 'credentials reached the redirect target');
  });

  it('no canary in the controller log, ChartOrigins, ChartRepository status, events or metrics', async () => {
    // Let a few more refreshes and errors happen after the results were written.
    await new Promise((r) => setTimeout(r, 1000));
    const metrics = await controller.metrics();
    assert.match(metrics, /chartorigin_repository_up\{/);
    assert.match(metrics, /chartorigin_repository_fetch_errors_total\{/);
    assertNoCanary('/metrics', metrics);

    const origins = await kubectl(cluster, ['get', 'chartorigins', '-A', '-o', 'yaml']);
    assert.match(origins, /basic-h3/);
    assertNoCanary('ChartOrigins', origins);

    // A ChartRepository's spec is what the user wrote (userinfo and query included); everything the
    // controller writes is status.
    const repos = await getJson<{ items: { metadata: { name: string }; status?: unknown }[] }>(['get', 'chartrepositories']);
    const statuses = repos.items.filter((r) => repoNames.includes(r.metadata.name)).map((r) => ({ name: r.metadata.name, status: r.status }));
    assert.equal(statuses.length, repoNames.length);
    assertNoCanary('ChartRepository status', JSON.stringify(statuses));
    const reposYaml = await kubectl(cluster, ['get', 'chartrepositories', '-o', 'yaml']);
    assert.ok(reposYaml.includes(ID), 'sanity: the specs do hold the userinfo/query canaries');

    const events = await kubectl(cluster, ['get', 'events', '-A', '-o', 'yaml']);
    assertNoCanary('events', events);

    const log = readFileSync(controller.proc.logFile, 'utf8');
    assert.match(log, /"level":20/, 'debug logging was on');
    assert.match(log, /basic-wrong-path|wrong-token/, 'the failing repositories were logged');
    assertNoCanary('controller log', log);
  });

  it('no canary in `scan -o json` or `inspect -o json` (stdout and stderr)', async () => {
    const work = scratchDir('canary-cli');
    const config = join(work, 'repos.yaml');
    const userinfoUrl = (path: string): string => `http://ui:${CREDS.userinfoPassword}@127.0.0.1:${userinfoServer.port}${path}?token=${CREDS.query}`;
    writeFileSync(config, JSON.stringify({
      repositories: [
        { name: 'basic', url: basicServer.url, username: CREDS.basicUser, passwordEnv: 'CANARY_BASIC_PASSWORD' },
        { name: 'token', url: tokenServer.url, tokenEnv: 'CANARY_TOKEN' },
        { name: 'userinfo', url: userinfoUrl('/') },
        { name: 'oci', url: registry.url, plainHTTP: true, username: CREDS.ociUser, passwordEnv: 'CANARY_OCI_PASSWORD' },
        { name: 'basic-wrong-path', url: `${basicServer.url}/wrong`, username: CREDS.basicUser, passwordEnv: 'CANARY_BASIC_PASSWORD' },
        { name: 'wrong-token', url: tokenServer.url, tokenEnv: 'CANARY_WRONG_TOKEN' },
        { name: 'userinfo-wrong-path', url: userinfoUrl('/x') },
        { name: 'oci-wrong-prefix', url: `${registry.url}/nope`, plainHTTP: true, username: CREDS.ociUser, passwordEnv: 'CANARY_OCI_PASSWORD' },
      ],
    }));
    const secrets = { CANARY_BASIC_PASSWORD: CREDS.basicPassword, CANARY_TOKEN: CREDS.token, CANARY_WRONG_TOKEN: CREDS.wrongToken, CANARY_OCI_PASSWORD: CREDS.ociPassword };

    const scan = await cli(['scan', '--kubeconfig', cluster.kubeconfig, '-n', ns, '--config', config, '-o', 'json'], secrets);
    const scanned = JSON.parse(scan.stdout) as { name: string; origin: { match: string; repository?: string } }[];
    assert.equal(scanned.length, 4, scan.stderr);
    for (const r of scanned) assert.equal(r.origin.match, 'Verified', `${r.name}: ${scan.stderr}`);
    assertNoCanary('scan stdout', scan.stdout);
    if (scan.stderr) assertNoCanary('scan stderr', scan.stderr);

    const input = join(work, 'releases.json');
    const secretsJson = await kubectl(cluster, ['get', 'secret', '-n', ns, '-l', 'owner=helm', '-o', 'json']);
    assert.ok(secretsJson.length > 0);
    writeFileSync(input, secretsJson);
    const inspected = await cli(['inspect', input, '--config', config, '-o', 'json'], secrets);
    const results = JSON.parse(inspected.stdout) as { name: string; origin: { match: string } }[];
    assert.deepEqual(results.map((r) => r.name).sort(), ['basic-h3', 'oci-h3', 'token-h4']);
    for (const r of results) assert.equal(r.origin.match, 'Verified', `${r.name}: ${inspected.stderr}`);
    assertNoCanary('inspect stdout', inspected.stdout);
    if (inspected.stderr) assertNoCanary('inspect stderr', inspected.stderr);
  });
});
