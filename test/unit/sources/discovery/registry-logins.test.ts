/**
 * Docker Hub logins: `docker login`, `helm registry login docker.io` (helm 3.18.2+, 4.x) and
 * `kubectl create secret docker-registry` file them under `https://index.docker.io/v1/`; a repository
 * names the registry docker.io, registry-1.docker.io or index.docker.io. All of them are one registry.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadRegistryLogins } from '../../../../src/sources/discovery/helm-config.ts';
import { withRegistryLogins, type DiscoveredRepository } from '../../../../src/sources/discovery/index.ts';
import { helperServerAddress, loginEntries, loginKey } from '../../../../src/sources/oci/registry-host.ts';

const root = mkdtempSync(join(tmpdir(), 'registry-logins-'));
after(() => rmSync(root, { recursive: true, force: true }));

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** A home with Helm's registry config and Docker's config.json as given (undefined: no such file). */
function home(name: string, helm: object | undefined, docker: object | undefined): string {
  const h = join(root, name);
  mkdirSync(join(h, '.config', 'helm', 'registry'), { recursive: true });
  mkdirSync(join(h, '.docker'), { recursive: true });
  if (helm) writeFileSync(join(h, '.config', 'helm', 'registry', 'config.json'), JSON.stringify(helm));
  if (docker) writeFileSync(join(h, '.docker', 'config.json'), JSON.stringify(docker));
  return h;
}

const HUB_NAMES = ['docker.io', 'registry-1.docker.io', 'index.docker.io'];

describe('registry login keys', () => {
  it('Docker Hub names share the key Docker writes; other hosts keep theirs', () => {
    for (const n of [...HUB_NAMES, 'https://index.docker.io/v1/', 'https://registry-1.docker.io', 'Docker.IO']) assert.equal(loginKey(n), 'https://index.docker.io/v1/', n);
    assert.equal(loginKey('https://ghcr.io'), 'ghcr.io');
    assert.equal(loginKey('reg.example:5000'), 'reg.example:5000');
    assert.equal(loginKey('docker.io:5000'), 'docker.io:5000');
    assert.equal(helperServerAddress('registry-1.docker.io'), 'https://index.docker.io/v1/');
    assert.equal(helperServerAddress('ghcr.io'), 'ghcr.io');
  });

  it('the canonical key wins over another spelling of the same registry, in any order', () => {
    assert.equal(loginEntries([['docker.io', 'a'], ['https://index.docker.io/v1/', 'b'], ['registry-1.docker.io', 'c']]).get('https://index.docker.io/v1/'), 'b');
    assert.equal(loginEntries([['https://reg.example/', 'a'], ['reg.example', 'b']]).get('reg.example'), 'b');
    assert.equal(loginEntries([['https://reg.example/', 'a'], ['http://reg.example', 'b']]).get('reg.example'), 'a', 'else the first');
  });
});

describe('Docker Hub logins are found for docker.io, registry-1.docker.io and index.docker.io', () => {
  it('from Docker config.json (`docker login` writes https://index.docker.io/v1/)', async () => {
    const logins = loadRegistryLogins({ HOME: home('docker', undefined, { auths: { 'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pw') } } }) });
    for (const host of HUB_NAMES) assert.deepEqual(await logins.lookup(host), { kind: 'basic', username: 'hubuser', password: 'hub:pw', basicNeedsBoth: true }, host);
    assert.equal(await logins.lookup('ghcr.io'), undefined);
  });

  it("from Helm's registry config, whichever key a helm version wrote; Helm's file first", async () => {
    for (const key of ['https://index.docker.io/v1/', 'docker.io', 'registry-1.docker.io']) {
      const logins = loadRegistryLogins({
        HOME: home(`helm-${key.replace(/\W/g, '_')}`, { auths: { [key]: { auth: b64('helmuser:pw') } } }, { auths: { 'https://index.docker.io/v1/': { auth: b64('dockeruser:pw') } } }),
      });
      for (const host of HUB_NAMES) assert.deepEqual(await logins.lookup(host), { kind: 'basic', username: 'helmuser', password: 'pw', basicNeedsBoth: true }, `${key} for ${host}`);
    }
  });

  it('applied to oci://docker.io repositories', async () => {
    const logins = loadRegistryLogins({ HOME: home('apply', { auths: { 'https://index.docker.io/v1/': { auth: b64('hubuser:pw') } } }, undefined) });
    const repo = (name: string, url: string): DiscoveredRepository => ({ config: { name, url, priority: 0, intervalSeconds: 3600, insecureSkipTLSVerify: false, plainHTTP: false } });
    const { repositories, used } = await withRegistryLogins([repo('bitnami', 'oci://docker.io/bitnamicharts'), repo('r1', 'oci://registry-1.docker.io/other'), repo('ghcr', 'oci://ghcr.io/x')], logins);
    assert.deepEqual(repositories.map((r) => r.config.credentials), [{ kind: 'basic', username: 'hubuser', password: 'pw', basicNeedsBoth: true }, { kind: 'basic', username: 'hubuser', password: 'pw', basicNeedsBoth: true }, undefined]);
    assert.deepEqual(used, ['docker.io', 'registry-1.docker.io']);
  });

  it('a credential helper (credsStore or credHelpers) is asked for https://index.docker.io/v1/, as Docker and oras-go ask it', async () => {
    const h = home('helper', undefined, { auths: { 'https://index.docker.io/v1/': {} }, credsStore: 'hubtest', credHelpers: { 'helped.example': 'hubtest' } });
    mkdirSync(join(h, 'bin'), { recursive: true });
    const asked = join(h, 'asked');
    // The real helper protocol: `get`, the server address on stdin, JSON on stdout; it knows Hub's key only.
    writeFileSync(
      join(h, 'bin', 'docker-credential-hubtest'),
      `#!/bin/sh\n[ "$1" = get ] || exit 1\nread server\necho "$server" >> '${asked}'\ncase "$server" in\n  https://index.docker.io/v1/) printf '{"ServerURL":"%s","Username":"desk","Secret":"tok"}' "$server" ;;\n  helped.example) printf '{"ServerURL":"%s","Username":"h","Secret":"s"}' "$server" ;;\n  *) echo "credentials not found in native keychain"; exit 1 ;;\nesac\n`,
    );
    chmodSync(join(h, 'bin', 'docker-credential-hubtest'), 0o755);
    const saved = process.env['PATH'];
    process.env['PATH'] = `${join(h, 'bin')}:${saved ?? ''}`;
    try {
      const logins = loadRegistryLogins({ HOME: h });
      assert.deepEqual(await logins.lookup('docker.io'), { kind: 'basic', username: 'desk', password: 'tok', basicNeedsBoth: true });
      assert.deepEqual(await logins.lookup('registry-1.docker.io'), { kind: 'basic', username: 'desk', password: 'tok', basicNeedsBoth: true });
      assert.deepEqual(await logins.lookup('helped.example'), { kind: 'basic', username: 'h', password: 's', basicNeedsBoth: true });
      assert.deepEqual(readFileSync(asked, 'utf8').trim().split('\n'), ['https://index.docker.io/v1/', 'helped.example'], 'one helper call per registry (cached across its names)');
    } finally {
      process.env['PATH'] = saved;
    }
  });

  it('identity tokens: an `identitytoken` entry and a helper answering `Username: <token>` are refresh tokens', async () => {
    const h = home('identity', { auths: { 'acr.example.io': { auth: b64('00000000-0000-0000-0000-000000000000:'), identitytoken: 'rt-file' } } }, { auths: { 'https://index.docker.io/v1/': {} }, credsStore: 'idtest' });
    mkdirSync(join(h, 'bin'), { recursive: true });
    writeFileSync(join(h, 'bin', 'docker-credential-idtest'), `#!/bin/sh\n[ "$1" = get ] || exit 1\nread server\nprintf '{"ServerURL":"%s","Username":"<token>","Secret":"rt-helper"}' "$server"\n`);
    chmodSync(join(h, 'bin', 'docker-credential-idtest'), 0o755);
    const saved = process.env['PATH'];
    process.env['PATH'] = `${join(h, 'bin')}:${saved ?? ''}`;
    try {
      const logins = loadRegistryLogins({ HOME: h });
      assert.deepEqual(await logins.lookup('acr.example.io'), { kind: 'refresh', token: 'rt-file' });
      assert.deepEqual(await logins.lookup('docker.io'), { kind: 'refresh', token: 'rt-helper' });
    } finally {
      process.env['PATH'] = saved;
    }
  });
});
