/**
 * `chartorigin scan` with no --config on a machine where Helm is set up: the Helm home is prepared by the
 * real `helm repo add` (helm 3) and `helm registry login` (helm 4, against a registry with htpasswd), the
 * cluster holds a ChartRepository for that registry without a secretRef, and the scan must prove both
 * releases from those sources alone — from Helm's cached index without downloading index.yaml while it is
 * fresh, and with the registry login's credentials for the OCI repository.
 *
 * Then identity tokens: a private chart behind a registry with token auth, the login being only an
 * `identitytoken` (a refresh token the real token service issued, the entry `az acr login` / `docker login`
 * writes), in Helm's registry config and in a dockerconfigjson Secret a ChartRepository references; real
 * helm 4.3.2 and 3.17.2 pull the same chart with the same registry config, and the token service shows they
 * sent the OAuth2 refresh-token grant as the scan does.
 *
 * Then registry tokens: a login that holds only a `registrytoken` (an access token the real token service
 * issued) proves the private chart without one request to the token service, from Helm's registry config and
 * from a dockerconfigjson Secret; real helm 4.3.2 and 3.22.0 pull it with the same config, the same way, and
 * helm 3.17.2 (which ignores registrytoken) cannot. Against a Basic (htpasswd) registry, token-only logins
 * fail in helm 4.3.2 and 3.22.0 with "missing username or password for basic auth", and in the scan with
 * that said on the repository.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { kubectl, ensureNamespace } from '../harness/controlplane.ts';
import { applyChartRepository } from '../harness/chart-origins.ts';
import { installCrds } from '../harness/controller-process.ts';
import { packageChart, pushChart, repoIndex, scratchDir, type PackagedChart } from '../harness/charts.ts';
import { generateMutualTlsCerts, type MutualTlsCerts } from '../harness/certs.ts';
import { startChartRepoServer, type ChartRepoServer } from '../harness/chart-repo-server.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { helm } from '../harness/helm.ts';
import { issueRefreshToken, issueRegistryToken, startRegistry, type Registry, type TokenRequest } from '../harness/registry.ts';
import { REPO_ROOT, toolPath, type ToolName } from '../harness/tools.ts';

const env = testEnv();
const cluster = env.cluster;
const USER = { username: 'zc-user', password: 'zc-pass-5138' };

let ns: string;
let home: string;
let server: ChartRepoServer;
let registry: Registry;
const repoName = `zc-oci-${process.pid}`;

/** The user's environment: only the prepared Helm home, no --config, a KUBECONFIG like kubectl users have. */
function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'],
    HOME: home,
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_CACHE_HOME: join(home, 'cache'),
    KUBECONFIG: cluster.kubeconfig,
    ...extra,
  };
}

function run(cmd: string, args: string[], e: NodeJS.ProcessEnv, input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { env: e, maxBuffer: 16 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as NodeJS.ErrnoException & { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    child.stdin?.end(input ?? '');
  });
}

const cli = (args: string[], extra: NodeJS.ProcessEnv = {}): ReturnType<typeof run> => run(process.execPath, [join(REPO_ROOT, 'src/cli/entry.ts'), ...args], userEnv(extra));

type Result = { name: string; origin: { match: string; repository?: string; repoURL?: string; tarballDigest?: string } };

before(async () => {
  ns = uniqueNamespace('e2e-zero-config');
  await ensureNamespace(cluster, ns);
  await installCrds(cluster);
  home = join(cluster.dir, `zero-config-home-${process.pid}`);
  mkdirSync(home, { recursive: true });
  // Our own server over the standard main repository, to see which requests the scan makes.
  server = await startChartRepoServer({ dir: env.chartRepo.repos.main.dir });
  registry = await startRegistry({ htpasswd: [USER] });
  const oci = env.oci['ocichart-1.0.0'];
  assert.ok(oci);
  await pushChart(oci.path, registry.url, USER);

  // The Helm home a user has after `helm repo add` and `helm registry login`.
  const helmHome = { ...userEnv(), NO_COLOR: '1' };
  const add = await run(toolPath('helm3'), ['repo', 'add', 'main', server.url], helmHome);
  assert.equal(add.code, 0, add.stderr);
  const login = await run(toolPath('helm4'), ['registry', 'login', registry.host, '--username', USER.username, '--password-stdin', '--plain-http'], helmHome, USER.password);
  assert.equal(login.code, 0, login.stderr);

  // Releases: webapp from the HTTP repository, ocichart from the registry (installed from its package).
  const web = env.chartRepo.repos.main.charts['webapp-1.1.0'];
  assert.ok(web);
  await helm(cluster, 3, ['install', 'web', web.path], { namespace: ns });
  await helm(cluster, 4, ['install', 'api', oci.path], { namespace: ns });
  // The cluster declares the registry (no secretRef: the user's login supplies the credentials).
  await applyChartRepository(cluster, repoName, { url: registry.url, plainHTTP: true, interval: '1h' });
});

after(async () => {
  await kubectl(cluster, ['delete', 'chartrepository', repoName, '--ignore-not-found']).catch(() => undefined);
  await kubectl(cluster, ['delete', 'secrets', '-n', ns, '-l', 'owner=helm', '--ignore-not-found']).catch(() => undefined);
  await server?.close();
  await registry?.close();
});

describe('zero-config scan: Helm repositories, cached indexes, registry logins and ChartRepositories', () => {
  it('proves both releases with no --config and says on stderr which sources it used', async () => {
    server.requests.length = 0;
    const r = await cli(['scan', '-n', ns, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const results = JSON.parse(r.stdout) as Result[];
    const web = results.find((x) => x.name === 'web');
    const api = results.find((x) => x.name === 'api');
    assert.deepEqual([web?.origin.match, web?.origin.repository], ['Verified', 'main']);
    assert.equal(web?.origin.repoURL, server.url);
    assert.deepEqual([api?.origin.match, api?.origin.repository], ['Verified', repoName]);
    const line = r.stderr.split('\n').find((l) => l.startsWith('chartorigin: using '));
    assert.ok(line, r.stderr);
    assert.match(line, /ChartRepositories in the cluster: \d+ repositor(y|ies)/);
    // Paths under HOME are shown with ~ (HOME is the prepared home here).
    assert.match(line, /Helm \(~\/config\/repositories\.yaml\): 1 repository \(1 cached index\)/);
    assert.match(line, new RegExp(`registry logins for ${registry.host.replace(/\./g, '\\.')}`));
    // Helm's index from `helm repo add` is fresh: only the chart itself was downloaded.
    const paths = server.requests.map((q) => q.path);
    assert.ok(!paths.some((p) => p.endsWith('index.yaml')), `index.yaml downloaded although cached: ${paths.join(', ')}`);
    assert.ok(paths.some((p) => p.endsWith('webapp-1.1.0.tgz')), paths.join(', '));
  });

  it('downloads the index once Helm\'s cache is older than an hour', async () => {
    const cache = join(home, 'cache', 'repository', 'main-index.yaml');
    const old = new Date(Date.now() - 2 * 3600_000);
    utimesSync(cache, old, old);
    server.requests.length = 0;
    const r = await cli(['scan', '-n', ns, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Helm \([^)]*\): 1 repository(;|$)/m);
    assert.equal(server.requests.filter((q) => q.path.endsWith('index.yaml')).length, 1);
    assert.equal((JSON.parse(r.stdout) as Result[]).find((x) => x.name === 'web')?.origin.match, 'Verified');
  });

  it('without the registry login the OCI repository fails: shown as the repository error, exit 3, never NotFound', async () => {
    const r = await cli(['scan', '-n', ns], { HELM_REGISTRY_CONFIG: join(home, 'no-such-registry.json'), DOCKER_CONFIG: join(home, 'no-docker') });
    assert.equal(r.code, 3, r.stderr);
    const api = r.stdout.split('\n').find((l) => /\sapi\s/.test(l));
    assert.ok(api, r.stdout);
    assert.match(api, new RegExp(`Unreachable\\s+${repoName}: unauthorized$`));
    assert.doesNotMatch(api, /NotFound/);
    assert.match(r.stderr, new RegExp(`chartorigin: repository ${repoName}: .*401.*\\(unauthorized\\)`));
  });

  it('inspect uses the Helm configuration too, without a cluster', async () => {
    const secret = await kubectl(cluster, ['get', 'secret', '-n', ns, '-l', 'owner=helm,name=web', '-o', 'json']);
    const r = await run(process.execPath, [join(REPO_ROOT, 'src/cli/entry.ts'), 'inspect', '-', '-o', 'json'], userEnv({ KUBECONFIG: join(home, 'absent') }), secret);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as Result[]).map((x) => [x.name, x.origin.match, x.origin.repository]), [['web', 'Verified', 'main']]);
    assert.match(r.stderr, /^chartorigin: using Helm \(/m);
    assert.doesNotMatch(r.stderr, /ChartRepositories in the cluster/);
  });

  it('with no source anywhere says so instead of a silent NotFound', async () => {
    const empty = join(home, 'empty');
    const r = await cli(['scan', '-n', ns, '--no-discover']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /chartorigin: no chart repositories to compare with .*helm repo add NAME URL.*--config repos\.yaml/);
    const i = await run(process.execPath, [join(REPO_ROOT, 'src/cli/entry.ts'), 'inspect', '-'], userEnv({ HELM_CONFIG_HOME: empty, HELM_CACHE_HOME: empty }), await kubectl(cluster, ['get', 'secret', '-n', ns, '-l', 'owner=helm,name=web', '-o', 'json']));
    assert.match(i.stderr, /no chart repositories to compare with \(looked in Helm's ~\/empty\/repositories\.yaml and --config\)/);
    assert.match(i.stdout, /\sweb\s.*NotFound/);
  });
});

/**
 * Mutual TLS everywhere a repository is declared: a chart repository that requires a client certificate of
 * its CA, reached from `helm repo add --cert-file --key-file` (the real helm 4 writes the Helm home) and from
 * a ChartRepository whose caSecretRef Secret holds only tls.crt and tls.key (the server trusted as a public
 * one would be, through NODE_EXTRA_CA_CERTS), while a ChartRepository with tls.crt and no tls.key is the
 * error Flux makes of it — on that repository only.
 */
describe('zero-config scan: repositories behind mutual TLS', () => {
  let mns: string;
  let mhome: string;
  let mserver: ChartRepoServer;
  let certs: MutualTlsCerts;
  const goodRepo = `zc-mtls-${process.pid}`;
  const halfRepo = `zc-mtls-half-${process.pid}`;
  const mtlsEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ ...userEnv(), HOME: mhome, HELM_CONFIG_HOME: join(mhome, 'config'), HELM_CACHE_HOME: join(mhome, 'cache'), ...extra });

  before(async () => {
    mns = uniqueNamespace('e2e-zero-config-mtls');
    await ensureNamespace(cluster, mns);
    mhome = join(cluster.dir, `zero-config-mtls-home-${process.pid}`);
    mkdirSync(mhome, { recursive: true });
    certs = generateMutualTlsCerts(join(mhome, 'certs'));
    const dir = join(mhome, 'repo');
    const chart = await packageChart({ name: 'vault', version: '1.4.0', appVersion: '1.4.0' }, dir);
    await repoIndex(dir);
    const pem = (p: string): string => readFileSync(p, 'utf8');
    mserver = await startChartRepoServer({ dir, tls: { cert: pem(certs.server.cert), key: pem(certs.server.key), clientCa: pem(certs.ca.cert) } });
    const add = await run(toolPath('helm4'), ['repo', 'add', 'secure', mserver.url, '--ca-file', certs.ca.cert, '--cert-file', certs.client.cert, '--key-file', certs.client.key], { ...mtlsEnv(), NO_COLOR: '1' });
    assert.equal(add.code, 0, add.stderr);
    await helm(cluster, 4, ['install', 'sec', chart.path], { namespace: mns });
    await kubectl(cluster, ['create', 'secret', 'tls', 'client-tls', '-n', mns, `--cert=${certs.client.cert}`, `--key=${certs.client.key}`]);
    await kubectl(cluster, ['create', 'secret', 'generic', 'half-tls', '-n', mns, `--from-file=tls.crt=${certs.client.cert}`]);
  });

  after(async () => {
    await kubectl(cluster, ['delete', 'chartrepository', goodRepo, halfRepo, '--ignore-not-found']).catch(() => undefined);
    await kubectl(cluster, ['delete', 'secrets', '-n', mns, '-l', 'owner=helm', '--ignore-not-found']).catch(() => undefined);
    await mserver?.close();
  });

  it('helm repo add --cert-file: the scan presents that certificate and proves the release', async () => {
    mserver.requests.length = 0;
    const r = await run(process.execPath, [join(REPO_ROOT, 'src/cli/entry.ts'), 'scan', '-n', mns, '-o', 'json'], mtlsEnv());
    const results = JSON.parse(r.stdout || '[]') as Result[];
    const sec = results.find((x) => x.name === 'sec');
    assert.deepEqual([sec?.origin.match, sec?.origin.repository], ['Verified', 'secure'], r.stderr);
    assert.match(r.stderr, /Helm \(~\/config\/repositories\.yaml\): 1 repository/);
    assert.ok(mserver.requests.some((q) => q.path === '/vault-1.4.0.tgz'), JSON.stringify(mserver.requests));
    assert.ok(mserver.requests.every((q) => q.clientCertificate === 'chart-reader'), JSON.stringify(mserver.requests));
  });

  it('a ChartRepository whose caSecretRef holds only tls.crt and tls.key works; one with tls.crt and no tls.key is an error on that repository only', async () => {
    await applyChartRepository(cluster, goodRepo, { url: mserver.url, interval: '1h', caSecretRef: { name: 'client-tls', namespace: mns } });
    await applyChartRepository(cluster, halfRepo, { url: `${mserver.url}/half`, interval: '1h', caSecretRef: { name: 'half-tls', namespace: mns } });
    mserver.requests.length = 0;
    // No Helm repositories here: the cluster's ChartRepositories only, the test CA trusted like a public one.
    const empty = join(mhome, 'empty');
    const r = await run(process.execPath, [join(REPO_ROOT, 'src/cli/entry.ts'), 'scan', '-n', mns, '-o', 'json'], mtlsEnv({ HELM_CONFIG_HOME: empty, HELM_CACHE_HOME: empty, NODE_EXTRA_CA_CERTS: certs.ca.cert }));
    const sec = (JSON.parse(r.stdout || '[]') as Result[]).find((x) => x.name === 'sec');
    assert.deepEqual([sec?.origin.match, sec?.origin.repository], ['Verified', goodRepo], r.stderr);
    assert.ok(mserver.requests.some((q) => q.path === '/index.yaml' && q.status === 200 && q.clientCertificate === 'chart-reader'), JSON.stringify(mserver.requests));
    assert.match(r.stderr, new RegExp(`ChartRepository ${halfRepo}: Secret ${mns}/half-tls has tls\\.crt but no private key \\(tls\\.key\\)`));
    assert.doesNotMatch(r.stderr + r.stdout, /BEGIN|PRIVATE KEY/);
  });
});

describe('identity tokens: a login that holds only a refresh token, in Helm\'s registry config and in a dockerconfigjson Secret', () => {
  const ID_USER = { username: 'id-user', password: 'id-pass-7741' };
  const ACR_PLACEHOLDER = '00000000-0000-0000-0000-000000000000';
  const repo = `zc-id-${process.pid}`;
  const secretName = 'zc-id-pull';
  let idNs: string;
  let idRegistry: Registry;
  let chart: PackagedChart;
  let refresh: string;
  let identityConfig: string;
  let chartUrl: string;
  /** The grants our scan sent, for the comparison with helm's. */
  let ours: TokenRequest[] = [];

  /** The auths entry `az acr login` (through `docker login`) writes: the placeholder user, no password, the identity token. */
  const identityEntry = (token: string): object => ({ auth: Buffer.from(`${ACR_PLACEHOLDER}:`).toString('base64'), identitytoken: token });
  const grants = (): TokenRequest[] => idRegistry.tokenRequests.filter((t) => t.method === 'POST');

  before(async () => {
    idNs = uniqueNamespace('e2e-identity-token');
    await ensureNamespace(cluster, idNs);
    idRegistry = await startRegistry({ token: { users: [ID_USER], anonymousPull: false } });
    chart = await packageChart({ name: 'idchart', version: '1.0.0', appVersion: '7' }, scratchDir('identity'));
    await pushChart(chart.path, `${idRegistry.url}/id`, ID_USER);
    chartUrl = `${idRegistry.url}/id/idchart`;
    await helm(cluster, 4, ['install', 'idrel', chart.path], { namespace: idNs });
    refresh = await issueRefreshToken(idRegistry, ID_USER);
    // Helm's registry config after `helm registry login` (the htpasswd registry above) plus the identity login.
    const helmLogins = JSON.parse(readFileSync(join(home, 'config', 'registry', 'config.json'), 'utf8')) as { auths: Record<string, object> };
    identityConfig = join(home, 'identity-registry.json');
    writeFileSync(identityConfig, JSON.stringify({ auths: { ...helmLogins.auths, [idRegistry.host]: identityEntry(refresh) } }));
    // The same entry as a pull Secret (`kubectl create secret generic --type=kubernetes.io/dockerconfigjson`).
    const dockerconfigjson = Buffer.from(JSON.stringify({ auths: { [idRegistry.host]: identityEntry(refresh) } })).toString('base64');
    await kubectl(cluster, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/dockerconfigjson', metadata: { name: secretName, namespace: idNs }, data: { '.dockerconfigjson': dockerconfigjson } }) });
  });

  after(async () => {
    await kubectl(cluster, ['delete', 'chartrepository', repo, '--ignore-not-found']).catch(() => undefined);
    await kubectl(cluster, ['delete', 'secrets', '-n', idNs, '-l', 'owner=helm', '--ignore-not-found']).catch(() => undefined);
    await idRegistry?.close();
  });

  const scan = async (extra: NodeJS.ProcessEnv): Promise<{ code: number; idrel: Result | undefined; stderr: string }> => {
    const r = await cli(['scan', '-n', idNs, '-o', 'json'], { DOCKER_CONFIG: join(home, 'no-docker'), ...extra });
    return { code: r.code, idrel: r.code === 0 || r.code === 3 ? (JSON.parse(r.stdout) as Result[]).find((x) => x.name === 'idrel') : undefined, stderr: r.stderr };
  };

  it("Helm's registry config: the identity token proves the private chart; the placeholder user is never sent", async () => {
    await applyChartRepository(cluster, repo, { url: `${idRegistry.url}/id`, plainHTTP: true, interval: '1h' });
    idRegistry.tokenRequests.length = 0;
    const r = await scan({ HELM_REGISTRY_CONFIG: identityConfig });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([r.idrel?.origin.match, r.idrel?.origin.repository, r.idrel?.origin.tarballDigest], ['Verified', repo, chart.digest]);
    assert.match(r.stderr, new RegExp(`registry logins for [^\\n]*${idRegistry.host.replace(/\./g, '\\.')}`));
    ours = grants();
    assert.ok(ours.length > 0, 'the scan used the OAuth2 grant');
    assert.equal(idRegistry.tokenRequests.length, ours.length, 'no GET to the token service: no anonymous or Basic fallback');
    for (const t of ours) {
      assert.deepEqual([t.granted, t.account, t.form?.['grant_type'], t.form?.['refresh_token'], t.form?.['client_id']], [true, ID_USER.username, 'refresh_token', refresh, 'oras-go']);
      assert.equal(t.basicUser, undefined);
      assert.ok(!Object.values(t.form ?? {}).includes(ACR_PLACEHOLDER));
    }
    assert.ok(ours.some((t) => t.form?.['scope'] === 'repository:id/idchart:pull'), JSON.stringify(ours.map((t) => t.form?.['scope'])));
    assert.doesNotMatch(r.stderr, new RegExp(refresh));

    // The same scan before identity tokens were read: no login, an unreachable repository, never a proof.
    const without = await scan({ HELM_REGISTRY_CONFIG: join(home, 'config', 'registry', 'config.json') });
    assert.equal(without.code, 3, without.stderr);
    assert.match(without.stderr, new RegExp(`repository ${repo}: .*401.*\\(unauthorized\\)`));
  });

  it('a ChartRepository whose dockerconfigjson Secret holds only the identity token (read by the CLI\'s cluster discovery)', async () => {
    await applyChartRepository(cluster, repo, { url: `${idRegistry.url}/id`, plainHTTP: true, interval: '1h', secretRef: { name: secretName, namespace: idNs } });
    idRegistry.tokenRequests.length = 0;
    // Helm's registry config without the identity login: the Secret is the only credential.
    const r = await scan({ HELM_REGISTRY_CONFIG: join(home, 'config', 'registry', 'config.json') });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([r.idrel?.origin.match, r.idrel?.origin.repository, r.idrel?.origin.tarballDigest], ['Verified', repo, chart.digest]);
    assert.ok(grants().length > 0 && grants().every((t) => t.granted && t.form?.['refresh_token'] === refresh));
    assert.equal(idRegistry.tokenRequests.length, grants().length);
    assert.doesNotMatch(r.stderr, new RegExp(refresh));
  });

  for (const [tool, version] of [['helm4-latest', '4.3.2'], ['helm3', '3.17.2']] as const satisfies readonly (readonly [ToolName, string])[]) {
    it(`differential: helm ${version} pulls the same chart with the same registry config, by the same OAuth2 grant`, async () => {
      assert.ok(ours.length, 'runs after the scan above');
      const dest = join(home, `pull-${tool}`);
      mkdirSync(dest, { recursive: true });
      idRegistry.tokenRequests.length = 0;
      const helmHome = { ...userEnv({ HELM_REGISTRY_CONFIG: identityConfig, DOCKER_CONFIG: join(home, 'no-docker') }), NO_COLOR: '1' };
      const pull = await run(toolPath(tool), ['pull', chartUrl, '--version', '1.0.0', '--plain-http', '--destination', dest], helmHome);
      assert.equal(pull.code, 0, pull.stderr);
      const v = await run(toolPath(tool), ['version', '--short'], helmHome);
      assert.match(v.stdout, new RegExp(`^v${version.replace(/\./g, '\\.')}\\b`), 'the pinned helm');
      const files = readdirSync(dest);
      assert.deepEqual(files, ['idchart-1.0.0.tgz']);
      assert.equal(`sha256:${createHash('sha256').update(readFileSync(join(dest, files[0] ?? ''))).digest('hex')}`, chart.digest, 'the tarball the scan proved');

      const theirs = grants();
      assert.ok(theirs.length > 0, `helm ${version} used the OAuth2 POST: ${JSON.stringify(idRegistry.tokenRequests.map((t) => t.method))}`);
      assert.equal(idRegistry.tokenRequests.length, theirs.length, 'helm made no GET to the token service either');
      const ourGrant = ours.find((t) => t.form?.['scope'] === 'repository:id/idchart:pull');
      assert.ok(ourGrant?.form);
      for (const t of theirs) {
        assert.ok(t.granted && t.form);
        assert.deepEqual(Object.keys(t.form).sort(), Object.keys(ourGrant.form).sort(), 'the same fields');
        for (const k of ['grant_type', 'refresh_token', 'service', 'scope']) assert.equal(t.form[k], ourGrant.form[k], k);
        assert.equal(t.basicUser, undefined);
      }
      const clientIds = [...new Set(theirs.map((t) => t.form?.['client_id']))].sort();
      if (version.startsWith('4.')) {
        // oras-go v2: our bytes are helm's bytes.
        assert.deepEqual(clientIds, ['oras-go']);
        assert.ok(theirs.every((t) => t.rawForm === ourGrant.rawForm && t.contentType === ourGrant.contentType), JSON.stringify(theirs.map((t) => t.rawForm === ourGrant.rawForm)));
      } else {
        // 3.17 pulls an exact version through containerd's authorizer, whose client_id is its own (it lists tags,
        // for a range, through oras-go v1: `oras-go`).
        assert.deepEqual(clientIds, ['containerd-client']);
      }
    });
  }

  it('a realm without the OAuth2 POST: helm 4.3.2 fails and so does the scan (no fallback); helm 3.17.2 alone falls back to GET', async () => {
    // A token service that answers POST with 404 (GCR's answer, in containerd's notes) but takes the refresh
    // token as a Basic password on GET, which is what containerd's fallback sends.
    const noPost = await startRegistry({ token: { users: [ID_USER], anonymousPull: false, oauth2Status: 404, refreshTokens: { [refresh]: ID_USER.username }, basicRefreshToken: true } });
    const name = `zc-id-nopost-${process.pid}`;
    try {
      await pushChart(chart.path, `${noPost.url}/id`, ID_USER);
      const config = join(home, 'identity-nopost.json');
      writeFileSync(config, JSON.stringify({ auths: { [noPost.host]: identityEntry(refresh) } }));
      const helmHome = { ...userEnv({ HELM_REGISTRY_CONFIG: config, DOCKER_CONFIG: join(home, 'no-docker') }), NO_COLOR: '1' };
      const pull = async (tool: ToolName): Promise<number> => {
        const dest = join(home, `nopost-${tool}`);
        mkdirSync(dest, { recursive: true });
        return (await run(toolPath(tool), ['pull', `${noPost.url}/id/idchart`, '--version', '1.0.0', '--plain-http', '--destination', dest], helmHome)).code;
      };
      noPost.tokenRequests.length = 0;
      assert.notEqual(await pull('helm4-latest'), 0, 'helm 4 does not fall back');
      assert.deepEqual(noPost.tokenRequests.map((t) => t.method), ['POST']);
      noPost.tokenRequests.length = 0;
      assert.equal(await pull('helm3'), 0, 'helm 3.17 falls back to GET');
      assert.deepEqual(noPost.tokenRequests.map((t) => [t.method, t.granted, t.basicUser]), [['POST', false, undefined], ['GET', true, '']]);

      await applyChartRepository(cluster, name, { url: `${noPost.url}/id`, plainHTTP: true, interval: '1h' });
      noPost.tokenRequests.length = 0;
      const r = await cli(['scan', '-n', idNs, '-o', 'json'], { HELM_REGISTRY_CONFIG: config, DOCKER_CONFIG: join(home, 'no-docker') });
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, new RegExp(`repository ${name}: .*does not take the OAuth2 POST an identity token needs \\(HTTP 404\\) \\(unauthorized\\)`));
      assert.doesNotMatch(r.stderr, new RegExp(refresh));
      assert.ok(noPost.tokenRequests.length > 0 && noPost.tokenRequests.every((t) => t.method === 'POST'), 'the scan never sent the token by GET');
    } finally {
      await kubectl(cluster, ['delete', 'chartrepository', name, '--ignore-not-found']).catch(() => undefined);
      await noPost.close();
    }
  });
});

describe('registry tokens: a login that holds only a registrytoken; token-only logins against a Basic registry', () => {
  const RT_USER = { username: 'rt-user', password: 'rt-pass-2291' };
  const ACR_PLACEHOLDER = '00000000-0000-0000-0000-000000000000';
  const repo = `zc-rt-${process.pid}`;
  const secretName = 'zc-rt-pull';
  let rtNs: string;
  let rtRegistry: Registry;
  let basicRegistry: Registry;
  let chart: PackagedChart;
  let token: string;
  let tokenConfig: string;
  /** The tarball digest the scan proved with the registry token, for the comparison with helm's pull. */
  let proven: string | undefined;

  /** Helm's registry config after `helm registry login` (the first describe's htpasswd registry) plus `auths`. */
  const writeConfig = (file: string, auths: Record<string, object>): string => {
    const helmLogins = JSON.parse(readFileSync(join(home, 'config', 'registry', 'config.json'), 'utf8')) as { auths: Record<string, object> };
    const path = join(home, file);
    writeFileSync(path, JSON.stringify({ auths: { ...helmLogins.auths, ...auths } }));
    return path;
  };
  const helmHome = (config: string): NodeJS.ProcessEnv => ({ ...userEnv({ HELM_REGISTRY_CONFIG: config, DOCKER_CONFIG: join(home, 'no-docker') }), NO_COLOR: '1' });
  const pull = async (tool: ToolName, url: string, config: string, dir: string): Promise<{ code: number; stderr: string; files: string[] }> => {
    const dest = join(home, dir);
    mkdirSync(dest, { recursive: true });
    const r = await run(toolPath(tool), ['pull', url, '--version', '1.0.0', '--plain-http', '--destination', dest], helmHome(config));
    return { code: r.code, stderr: r.stderr, files: readdirSync(dest) };
  };
  const scan = async (config: string): Promise<{ code: number; rtrel: Result | undefined; stderr: string }> => {
    const r = await cli(['scan', '-n', rtNs, '-o', 'json'], { HELM_REGISTRY_CONFIG: config, DOCKER_CONFIG: join(home, 'no-docker') });
    return { code: r.code, rtrel: r.code === 0 || r.code === 3 ? (JSON.parse(r.stdout) as Result[]).find((x) => x.name === 'rtrel') : undefined, stderr: r.stderr };
  };

  before(async () => {
    rtNs = uniqueNamespace('e2e-registry-token');
    await ensureNamespace(cluster, rtNs);
    // Tokens live an hour: the registry token in the config must outlast the whole describe.
    rtRegistry = await startRegistry({ token: { users: [RT_USER], anonymousPull: false, expiresInSeconds: 3600 } });
    basicRegistry = await startRegistry({ htpasswd: [RT_USER] });
    chart = await packageChart({ name: 'rtchart', version: '1.0.0', appVersion: '5' }, scratchDir('registry-token'));
    await pushChart(chart.path, `${rtRegistry.url}/rt`, RT_USER);
    await pushChart(chart.path, `${basicRegistry.url}/rt`, RT_USER);
    await helm(cluster, 4, ['install', 'rtrel', chart.path], { namespace: rtNs });
    token = await issueRegistryToken(rtRegistry, RT_USER, ['repository:rt/rtchart:pull']);
    tokenConfig = writeConfig('registry-token.json', { [rtRegistry.host]: { registrytoken: token } });
    const dockerconfigjson = Buffer.from(JSON.stringify({ auths: { [rtRegistry.host]: { registrytoken: token } } })).toString('base64');
    await kubectl(cluster, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/dockerconfigjson', metadata: { name: secretName, namespace: rtNs }, data: { '.dockerconfigjson': dockerconfigjson } }) });
  });

  after(async () => {
    await kubectl(cluster, ['delete', 'chartrepository', repo, '--ignore-not-found']).catch(() => undefined);
    await kubectl(cluster, ['delete', 'secrets', '-n', rtNs, '-l', 'owner=helm', '--ignore-not-found']).catch(() => undefined);
    await rtRegistry?.close();
    await basicRegistry?.close();
  });

  it("Helm's registry config: the registry token alone proves the private chart; the token service is never asked", async () => {
    await applyChartRepository(cluster, repo, { url: `${rtRegistry.url}/rt`, plainHTTP: true, interval: '1h' });
    rtRegistry.tokenRequests.length = 0;
    const r = await scan(tokenConfig);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([r.rtrel?.origin.match, r.rtrel?.origin.repository, r.rtrel?.origin.tarballDigest], ['Verified', repo, chart.digest]);
    proven = r.rtrel?.origin.tarballDigest;
    // The registry checks the token's signature, so it got the token unchanged; no exchange was made for it.
    assert.deepEqual(rtRegistry.tokenRequests, [], 'no request to the token service');
    assert.doesNotMatch(r.stderr, new RegExp(token.slice(-16)));

    // Without reading registrytoken the entry is no login: unauthorized, never a proof.
    const without = await scan(writeConfig('registry-token-none.json', {}));
    assert.equal(without.code, 3, without.stderr);
    assert.match(without.stderr, new RegExp(`repository ${repo}: .*401.*\\(unauthorized\\)`));
  });

  it("a ChartRepository whose dockerconfigjson Secret holds only the registry token (read by the CLI's cluster discovery)", async () => {
    await applyChartRepository(cluster, repo, { url: `${rtRegistry.url}/rt`, plainHTTP: true, interval: '1h', secretRef: { name: secretName, namespace: rtNs } });
    rtRegistry.tokenRequests.length = 0;
    const r = await scan(writeConfig('registry-token-none.json', {}));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([r.rtrel?.origin.match, r.rtrel?.origin.tarballDigest], ['Verified', chart.digest]);
    assert.deepEqual(rtRegistry.tokenRequests, []);
    assert.doesNotMatch(r.stderr, new RegExp(token.slice(-16)));
  });

  for (const [tool, version] of [['helm4-latest', '4.3.2'], ['helm3-latest', '3.22.0']] as const satisfies readonly (readonly [ToolName, string])[]) {
    it(`differential: helm ${version} pulls the same chart with the same registry config, without the token service either`, async () => {
      const v = await run(toolPath(tool), ['version', '--short'], helmHome(tokenConfig));
      assert.match(v.stdout, new RegExp(`^v${version.replace(/\./g, '\\.')}\\b`), 'the pinned helm');
      rtRegistry.tokenRequests.length = 0;
      const p = await pull(tool, `${rtRegistry.url}/rt/rtchart`, tokenConfig, `rt-pull-${tool}`);
      assert.equal(p.code, 0, p.stderr);
      assert.deepEqual(p.files, ['rtchart-1.0.0.tgz']);
      assert.ok(proven, 'runs after the scan above, which proved the chart with the registry token');
      assert.equal(`sha256:${createHash('sha256').update(readFileSync(join(home, `rt-pull-${tool}`, 'rtchart-1.0.0.tgz'))).digest('hex')}`, proven, 'the tarball the scan proved');
      assert.deepEqual(rtRegistry.tokenRequests, [], `helm ${version} sent the registry token as it is`);
    });
  }

  it('helm 3.17.2 (oras-go v1 and containerd, before Helm read registrytoken) pulls anonymously with the same config and is refused', async () => {
    rtRegistry.tokenRequests.length = 0;
    const p = await pull('helm3', `${rtRegistry.url}/rt/rtchart`, tokenConfig, 'rt-pull-helm3');
    assert.notEqual(p.code, 0, 'helm 3.17.2 cannot use a registry token');
    assert.ok(rtRegistry.tokenRequests.length > 0 && rtRegistry.tokenRequests.every((t) => t.method === 'GET' && t.account === undefined && t.basicUser === undefined && !t.granted), JSON.stringify(rtRegistry.tokenRequests));
  });

  it('a Basic (htpasswd) registry: a registrytoken-only or identity-token-only login fails in helm 4.3.2 and 3.22.0 and in the scan, said on the repository', async () => {
    const logins = {
      registrytoken: { registrytoken: token },
      identitytoken: { auth: Buffer.from(`${ACR_PLACEHOLDER}:`).toString('base64'), identitytoken: 'rt-identity-9931' },
    };
    await applyChartRepository(cluster, repo, { url: `${basicRegistry.url}/rt`, plainHTTP: true, interval: '1h' });
    for (const [field, entry] of Object.entries(logins)) {
      const config = writeConfig(`basic-${field}.json`, { [basicRegistry.host]: entry });
      for (const tool of ['helm4-latest', 'helm3-latest'] as const) {
        const p = await pull(tool, `${basicRegistry.url}/rt/rtchart`, config, `basic-${field}-${tool}`);
        assert.notEqual(p.code, 0, `${tool} ${field}`);
        assert.match(p.stderr, /missing username or password for basic auth/, `${tool} ${field}`);
        assert.deepEqual(p.files, []);
      }
      const r = await scan(config);
      assert.equal(r.code, 3, r.stderr);
      assert.notEqual(r.rtrel?.origin.match, 'Verified');
      assert.match(r.stderr, new RegExp(`repository ${repo}: .*the registry asks for a username and password \\(Basic\\) and the login has only an? (registry|identity) token \\(${field}\\).*missing username or password for basic auth.*\\(unauthorized\\)`));
      assert.doesNotMatch(r.stderr, new RegExp(`${token.slice(-16)}|rt-identity-9931`));
    }
    // The same login with its user and password beside the token is answered with them, by helm and the scan.
    const withPair = writeConfig('basic-pair.json', { [basicRegistry.host]: { auth: Buffer.from(`${RT_USER.username}:${RT_USER.password}`).toString('base64'), registrytoken: token } });
    assert.equal((await pull('helm4-latest', `${basicRegistry.url}/rt/rtchart`, withPair, 'basic-pair')).code, 0);
    const r = await scan(withPair);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([r.rtrel?.origin.match, r.rtrel?.origin.tarballDigest], ['Verified', chart.digest]);
  });
});
