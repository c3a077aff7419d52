/**
 * The user's Helm configuration as chartorigin reads it. Paths are compared with what the real helm 3 and
 * helm 4 print in `helm env` for the same environment (HOME only, XDG_*, HELM_*_HOME, the explicit file
 * variables); repositories and logins are read from files written by the real `helm repo add` and by
 * Docker's config.json format (auths with base64 `auth`, credHelpers with a docker-credential helper).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { discoverHelmRepositories, helmPaths, loadRegistryLogins } from '../../../src/sources/discovery/helm-config.ts';
import { assembleRepositories, describeSources, withRegistryLogins, type DiscoveryContext, type SourceSet } from '../../../src/sources/discovery/index.ts';
import { startChartRepoServer, type ChartRepoServer } from '../../harness/chart-repo-server.ts';
import { buildStandardRepos } from '../../harness/charts.ts';
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
      assert.deepEqual(await logins.lookup('reg.example:5000'), { kind: 'basic', username: 'helm-user', password: 'helm:pass' });
      assert.deepEqual(await logins.lookup('index.docker.io'), { kind: 'basic', username: 'hub', password: 'hubpw' });
      assert.deepEqual(await logins.lookup('helped.example'), { kind: 'basic', username: 'from-helper', password: 's-helped.example' });
      assert.deepEqual(await logins.lookup('vault.example'), { kind: 'basic', username: 'from-helper', password: 's-vault.example' });
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
      assert.deepEqual(repositories.map((r) => r.config.credentials), [{ kind: 'basic', username: 'helm-user', password: 'helm:pass' }, { kind: 'bearer', token: 't' }, undefined]);
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
