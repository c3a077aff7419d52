/**
 * The user's Helm configuration as chartorigin reads it. Paths are compared with what the real helm 3 and
 * helm 4 print in `helm env` for the same environment (HOME only, XDG_*, HELM_*_HOME, the explicit file
 * variables); repositories and logins are read from files written by the real `helm repo add` and by
 * Docker's config.json format (auths with base64 `auth`, credHelpers with a docker-credential helper).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { discoverHelmRepositories, helmPaths, loadRegistryLogins } from '../../../src/sources/discovery/helm-config.ts';
import { assembleRepositories, describeSources, withRegistryLogins, type DiscoveryContext, type SourceSet } from '../../../src/sources/discovery/index.ts';
import { startChartRepoServer, type ChartRepoServer } from '../../harness/chart-repo-server.ts';
import { buildStandardRepos, sha256Digest, type StandardRepos } from '../../harness/charts.ts';
import { generateMutualTlsCerts, type MutualTlsCerts } from '../../harness/certs.ts';
import { HttpChartSource } from '../../../src/sources/http/index-source.ts';
import { expectRepoError } from '../../support/repo-errors.ts';
import { toolPath } from '../../harness/tools.ts';

const root = mkdtempSync(join(tmpdir(), 'helm-config-'));
after(() => rmSync(root, { recursive: true, force: true }));

function helmEnv(version: 3 | 4, e: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    execFile(toolPath(version === 3 ? 'helm3' : 'helm4'), ['env'], { env: { PATH: '/usr/bin:/bin', ...e } }, (err, stdout) => {
      if (err) return reject(err);
      const out: Record<string, string> = {};
      for (const line of stdout.split('\n')) {
        const m = /^([A-Z_]+)="(.*)"$/.exec(line);
        if (m?.[1]) out[m[1]] = m[2] ?? '';
      }
      resolve(out);
    });
  });
}

describe('Helm paths: the same as helm 3 and helm 4 compute them', () => {
  const home = join(root, 'h');
  const cases: [string, NodeJS.ProcessEnv][] = [
    ['HOME only', { HOME: home }],
    ['XDG homes', { HOME: home, XDG_CONFIG_HOME: join(root, 'xdg-config'), XDG_CACHE_HOME: join(root, 'xdg-cache') }],
    ['HELM_*_HOME over XDG', { HOME: home, XDG_CONFIG_HOME: join(root, 'xdg-config'), HELM_CONFIG_HOME: join(root, 'hc'), HELM_CACHE_HOME: join(root, 'hk') }],
    ['explicit files over everything', { HOME: home, HELM_CONFIG_HOME: join(root, 'hc'), HELM_REPOSITORY_CONFIG: join(root, 'r.yaml'), HELM_REPOSITORY_CACHE: join(root, 'rc'), HELM_REGISTRY_CONFIG: join(root, 'reg.json') }],
  ];
  for (const [name, e] of cases) {
    it(name, async () => {
      const ours = helmPaths(e, 'linux');
      for (const v of [3, 4] as const) {
        const theirs = await helmEnv(v, e);
        assert.deepEqual(
          { repositoryConfig: theirs['HELM_REPOSITORY_CONFIG'], repositoryCache: theirs['HELM_REPOSITORY_CACHE'], registryConfig: theirs['HELM_REGISTRY_CONFIG'] },
          ours,
          `helm${v} env with ${JSON.stringify(e)}`,
        );
      }
    });
  }
});

describe('Helm repositories, cached indexes and registry logins', () => {
  let server: ChartRepoServer;
  let helmHome: string;
  const ctx = (env: NodeJS.ProcessEnv, now = Date.now()): DiscoveryContext => ({ env, defaultNamespace: 'chartorigin', now });

  before(async () => {
    const repos = await buildStandardRepos({});
    server = await startChartRepoServer({ dir: repos.main.dir });
    helmHome = join(root, 'helm-home');
    await new Promise<void>((resolve, reject) => {
      execFile(toolPath('helm4'), ['repo', 'add', 'main', server.url, '--username', 'u1', '--password', 'p1'], { env: { PATH: '/usr/bin:/bin', HOME: helmHome } }, (err, _o, stderr) => (err ? reject(new Error(stderr)) : resolve()));
    });
  });
  after(() => server?.close());

  it('reads `helm repo add` entries with their credentials and the fresh cached index; a stale one is not used', async () => {
    const set = await discoverHelmRepositories(ctx({ HOME: helmHome }));
    assert.ok(set);
    assert.equal(set.origin, 'Helm (~/.config/helm/repositories.yaml)');
    assert.deepEqual(set.repositories.map((r) => [r.config.name, r.config.url, r.config.credentials, r.cachedIndex?.path]), [
      ['main', server.url, { kind: 'basic', username: 'u1', password: 'p1' }, join(helmHome, '.cache', 'helm', 'repository', 'main-index.yaml')],
    ]);
    assert.deepEqual(set.notes, ['1 cached index']);
    const later = await discoverHelmRepositories(ctx({ HOME: helmHome }, Date.now() + 3601_000));
    assert.equal(later?.repositories[0]?.cachedIndex, undefined);
    assert.deepEqual(later?.notes, []);
    assert.equal(await discoverHelmRepositories(ctx({ HOME: join(root, 'nobody') })), undefined);
  });

  it('a username without a password is no credential (Helm\'s HTTP getter sends basic auth only with both)', async () => {
    const home = join(root, 'username-only');
    mkdirSync(join(home, '.config', 'helm'), { recursive: true });
    writeFileSync(join(home, '.config', 'helm', 'repositories.yaml'), `apiVersion: ""\nrepositories:\n- name: half\n  url: ${server.url}\n  username: u1\n  password: ""\n`);
    const set = await discoverHelmRepositories(ctx({ HOME: home }));
    assert.deepEqual(set?.repositories.map((r) => [r.config.name, r.config.credentials]), [['half', undefined]]);
  });

  it('helm repo add --pass-credentials: credentials go to chart URLs on other hosts too', async () => {
    const home = join(root, 'pass-home');
    await new Promise<void>((resolve, reject) => {
      execFile(toolPath('helm4'), ['repo', 'add', 'passing', server.url, '--username', 'u1', '--password', 'p1', '--pass-credentials'], { env: { PATH: '/usr/bin:/bin', HOME: home } }, (err, _o, stderr) => (err ? reject(new Error(stderr)) : resolve()));
    });
    const set = await discoverHelmRepositories(ctx({ HOME: home }));
    assert.deepEqual(set?.repositories.map((r) => [r.config.name, r.config.passCredentials]), [['passing', true]]);
    const plain = await discoverHelmRepositories(ctx({ HOME: helmHome }));
    assert.deepEqual(plain?.repositories.map((r) => [r.config.name, r.config.passCredentials]), [['main', false]]);
  });

  it('logins: Helm registry config first, then Docker config.json (auths `auth` and username/password, credHelpers)', async () => {
    const home = join(root, 'login-home');
    mkdirSync(join(home, '.config', 'helm', 'registry'), { recursive: true });
    mkdirSync(join(home, '.docker'), { recursive: true });
    mkdirSync(join(home, 'bin'), { recursive: true });
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    writeFileSync(join(home, '.config', 'helm', 'registry', 'config.json'), JSON.stringify({ auths: { 'reg.example:5000': { auth: b64('helm-user:helm:pass') } } }));
    writeFileSync(join(home, '.docker', 'config.json'), JSON.stringify({
      auths: { 'reg.example:5000': { auth: b64('docker-user:x') }, 'https://index.docker.io/v1/': { username: 'hub', password: 'hubpw' }, 'vault.example': {} },
      credHelpers: { 'helped.example': 'fake' },
      credsStore: 'fake',
    }));
    // A docker-credential helper speaking the real protocol: host on stdin, JSON on stdout.
    writeFileSync(join(home, 'bin', 'docker-credential-fake'), '#!/bin/sh\n[ "$1" = get ] || exit 1\nread host\nprintf \'{"ServerURL":"%s","Username":"from-helper","Secret":"s-%s"}\' "$host" "$host"\n');
    chmodSync(join(home, 'bin', 'docker-credential-fake'), 0o755);
    const env = { HOME: home };
    const saved = process.env['PATH'];
    process.env['PATH'] = `${join(home, 'bin')}:${saved ?? ''}`;
    try {
      const logins = loadRegistryLogins(env);
      assert.deepEqual(logins.files, [join(home, '.config', 'helm', 'registry', 'config.json'), join(home, '.docker', 'config.json')]);
      assert.deepEqual(await logins.lookup('reg.example:5000'), { kind: 'basic', username: 'helm-user', password: 'helm:pass', basicNeedsBoth: true });
      assert.deepEqual(await logins.lookup('index.docker.io'), { kind: 'basic', username: 'hub', password: 'hubpw', basicNeedsBoth: true });
      assert.deepEqual(await logins.lookup('helped.example'), { kind: 'basic', username: 'from-helper', password: 's-helped.example', basicNeedsBoth: true });
      assert.deepEqual(await logins.lookup('vault.example'), { kind: 'basic', username: 'from-helper', password: 's-vault.example', basicNeedsBoth: true });
      assert.equal(await logins.lookup('other.example'), undefined);

      // Applied to OCI repositories without credentials of their own, only.
      const sets: SourceSet[] = [{
        origin: '--config r.yaml',
        notes: [],
        repositories: [
          { config: { name: 'a', url: 'oci://reg.example:5000/charts', priority: 0, intervalSeconds: 3600, insecureSkipTLSVerify: false, plainHTTP: false } },
          { config: { name: 'b', url: 'oci://reg.example:5000/other', priority: 0, intervalSeconds: 3600, insecureSkipTLSVerify: false, plainHTTP: false, credentials: { kind: 'bearer', token: 't' } } },
          { config: { name: 'c', url: 'https://reg.example:5000/charts', priority: 0, intervalSeconds: 3600, insecureSkipTLSVerify: false, plainHTTP: false } },
        ],
      }];
      const { repositories, used } = await withRegistryLogins(assembleRepositories(sets), logins);
      assert.deepEqual(repositories.map((r) => r.config.credentials), [{ kind: 'basic', username: 'helm-user', password: 'helm:pass', basicNeedsBoth: true }, { kind: 'bearer', token: 't' }, undefined]);
      assert.deepEqual(used, ['reg.example:5000']);
    } finally {
      process.env['PATH'] = saved;
    }
  });

  it('one URL declared in several places is one repository (the first wins); a name taken by another URL gets a suffix', () => {
    const repo = (name: string, url: string): SourceSet['repositories'][number] => ({ config: { name, url, priority: 0, intervalSeconds: 3600, insecureSkipTLSVerify: false, plainHTTP: false } });
    const sets: SourceSet[] = [
      { origin: '--config r.yaml', notes: [], repositories: [repo('main', 'https://charts.example/stable/')] },
      { origin: 'ChartRepositories in the cluster', notes: [], repositories: [repo('stable', 'https://charts.example/stable'), repo('main', 'https://other.example')] },
      { origin: 'Helm (~/.config/helm/repositories.yaml)', notes: [], repositories: [repo('main', 'https://third.example'), repo('x', 'https://user:pw@CHARTS.example/stable')] },
    ];
    assert.deepEqual(assembleRepositories(sets).map((r) => [r.config.name, r.config.url]), [
      ['main', 'https://charts.example/stable/'],
      ['main@cluster', 'https://other.example'],
      ['main@helm', 'https://third.example'],
    ]);
    const used: number[] = [];
    const repositories = assembleRepositories(sets, used);
    const line = describeSources({ sets, used, repositories, registryLogins: ['r.example'] }, ctx({}), true);
    assert.equal(line, 'chartorigin: using --config r.yaml: 1 repository; ChartRepositories in the cluster: 1 repository (1 more declared earlier under the same URL); Helm (~/.config/helm/repositories.yaml): 1 repository (1 more declared earlier under the same URL); registry logins for r.example');
  });
});

describe('helm repo add --cert-file --key-file: a repository behind mutual TLS, read from repositories.yaml', () => {
  let server: ChartRepoServer;
  let certs: MutualTlsCerts;
  let repos: StandardRepos;
  const ctx = (env: NodeJS.ProcessEnv): DiscoveryContext => ({ env, defaultNamespace: 'chartorigin', now: Date.now() });
  const helmRun = (helm: 'helm3' | 'helm4', args: string[], home: string): Promise<{ code: number; stderr: string }> =>
    new Promise((resolve) => {
      execFile(toolPath(helm), args, { env: { PATH: '/usr/bin:/bin', HOME: home } }, (err, _o, stderr) => resolve({ code: err ? 1 : 0, stderr }));
    });

  before(async () => {
    repos = await buildStandardRepos({});
    certs = generateMutualTlsCerts(join(root, 'mtls-certs'));
    const pem = (p: string): string => readFileSync(p, 'utf8');
    server = await startChartRepoServer({ dir: repos.main.dir, tls: { cert: pem(certs.server.cert), key: pem(certs.server.key), clientCa: pem(certs.ca.cert) } });
  });
  after(() => server?.close());

  for (const helm of ['helm3', 'helm4'] as const) {
    it(`${helm} writes it, fetches the index and pulls with it; so do we, presenting the same certificate`, async () => {
      const home = join(root, `mtls-${helm}`);
      const add = await helmRun(helm, ['repo', 'add', 'secure', server.url, '--ca-file', certs.ca.cert, '--cert-file', certs.client.cert, '--key-file', certs.client.key], home);
      assert.equal(add.code, 0, add.stderr);
      const out = join(home, 'pulled');
      mkdirSync(out, { recursive: true });
      const pull = await helmRun(helm, ['pull', 'secure/webapp', '--version', '1.2.0', '--destination', out], home);
      assert.equal(pull.code, 0, pull.stderr);

      const set = await discoverHelmRepositories(ctx({ HOME: home }));
      const found = set?.repositories[0];
      assert.equal(found?.error, undefined);
      assert.deepEqual(found?.config.clientCertificate, { certPem: readFileSync(certs.client.cert, 'utf8'), keyPem: readFileSync(certs.client.key, 'utf8') });
      server.requests.length = 0;
      const src = new HttpChartSource({ ...(found?.config ?? assert.fail()) });
      try {
        assert.equal((await src.probe()).charts, 2);
        const entry = (await src.versions('webapp')).find((e) => e.version === '1.2.0') ?? assert.fail();
        const fetched = await src.fetchChart(entry);
        assert.equal(fetched.tarballDigest, sha256Digest(readFileSync(join(out, 'webapp-1.2.0.tgz'))));
      } finally {
        await src.close();
      }
      assert.ok(server.requests.length > 0 && server.requests.every((r) => r.clientCertificate === 'chart-reader'), JSON.stringify(server.requests));
    });
  }

  it('without --cert-file helm repo add is refused, and so is the same entry here', async () => {
    const home = join(root, 'mtls-none');
    const add = await helmRun('helm4', ['repo', 'add', 'secure', server.url, '--ca-file', certs.ca.cert], home);
    assert.notEqual(add.code, 0);
    assert.match(add.stderr, /certificate required|bad certificate/i);
    // helm refused to write it: the entry it would have written.
    mkdirSync(join(home, '.config', 'helm'), { recursive: true });
    writeFileSync(join(home, '.config', 'helm', 'repositories.yaml'), `apiVersion: ""\nrepositories:\n- name: secure\n  url: ${server.url}\n  caFile: ${certs.ca.cert}\n`);
    const config = (await discoverHelmRepositories(ctx({ HOME: home })))?.repositories[0]?.config ?? assert.fail();
    const src = new HttpChartSource(config);
    try {
      await expectRepoError(src.probe(), 'tls', /the server requires a TLS client certificate and none is configured/);
    } finally {
      await src.close();
    }
  });

  it('an entry whose files cannot be used is a failed repository naming the file, never the key; the others stay', async () => {
    const home = join(root, 'mtls-broken');
    mkdirSync(join(home, '.config', 'helm'), { recursive: true });
    const entry = (name: string, cert: string, key: string): string => `- name: ${name}\n  url: ${server.url}/${name}\n  caFile: ${certs.ca.cert}\n  certFile: ${cert}\n  keyFile: ${key}\n`;
    writeFileSync(
      join(home, '.config', 'helm', 'repositories.yaml'),
      `apiVersion: ""\nrepositories:\n${entry('missing', join(root, 'nope.crt'), certs.client.key)}${entry('mismatch', certs.client.cert, certs.stranger.key)}${entry('good', certs.client.cert, certs.client.key)}- name: halfpair\n  url: ${server.url}/halfpair\n  certFile: ${certs.client.cert}\n`,
    );
    const set = await discoverHelmRepositories(ctx({ HOME: home }));
    const byName = new Map(set?.repositories.map((r) => [r.config.name, r]));
    assert.equal(byName.get('missing')?.error?.message, `repository missing: Helm's certFile ${join(root, 'nope.crt')} cannot be read`);
    assert.equal(byName.get('mismatch')?.error?.message, `repository mismatch: Helm's certFile ${certs.client.cert} and keyFile ${certs.stranger.key}: the private key does not belong to the certificate`);
    assert.equal(byName.get('mismatch')?.error?.reason, 'invalid_config');
    assert.equal(byName.get('good')?.error, undefined);
    assert.ok(byName.get('good')?.config.clientCertificate);
    // Helm uses the pair only with both halves: a certFile alone is no client certificate.
    assert.equal(byName.get('halfpair')?.error, undefined);
    assert.equal(byName.get('halfpair')?.config.clientCertificate, undefined);
  });

  it('a caFile with no certificate in it: helm refuses it, and the entry here is a failed repository naming the file', async () => {
    const home = join(root, 'bad-ca');
    const add = await helmRun('helm4', ['repo', 'add', 'badca', server.url, '--ca-file', certs.client.key, '--cert-file', certs.client.cert, '--key-file', certs.client.key], home);
    assert.notEqual(add.code, 0);
    assert.match(add.stderr, /append certificates/i);
    mkdirSync(join(home, '.config', 'helm'), { recursive: true });
    writeFileSync(join(home, '.config', 'helm', 'repositories.yaml'), `apiVersion: ""\nrepositories:\n- name: badca\n  url: ${server.url}\n  caFile: ${certs.client.key}\n- name: goodca\n  url: ${server.url}\n  caFile: ${certs.ca.cert}\n`);
    const set = await discoverHelmRepositories(ctx({ HOME: home }));
    const byName = new Map(set?.repositories.map((r) => [r.config.name, r]));
    assert.equal(byName.get('badca')?.error?.message, `repository badca: Helm's caFile ${certs.client.key}: it holds no PEM certificate that can be read`);
    assert.equal(byName.get('goodca')?.error, undefined);
  });
});
