/**
 * Docker Hub as the real tools see it, without the network: `helm registry login docker.io` (helm 3.22,
 * 4.1, 4.3) runs through an HTTPS_PROXY whose CONNECT tunnels lead to a loopback TLS stand-in, so the
 * request host helm uses and the config key it writes are helm's own; `kubectl create secret
 * docker-registry` writes the Secret. chartorigin must request the host helm requested and find the login
 * helm and kubectl filed, for every name of Docker Hub.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { credentialsFromSecret } from '../../../../src/sources/chart-repository.ts';
import { loadRegistryLogins } from '../../../../src/sources/discovery/helm-config.ts';
import { OciChartSource } from '../../../../src/sources/oci/oci-source.ts';
import { toolPath, type ToolName } from '../../../harness/tools.ts';

const root = mkdtempSync(join(tmpdir(), 'docker-hub-'));
const HUB_NAMES = ['docker.io', 'registry-1.docker.io', 'index.docker.io'];
after(() => rmSync(root, { recursive: true, force: true }));

function run(tool: ToolName, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(toolPath(tool), args, { env: { PATH: '/usr/bin:/bin', ...env }, timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${tool} ${args.join(' ')}: ${stderr}`)) : resolve(stdout)));
  });
}

describe('helm registry login docker.io, as chartorigin reads it', () => {
  const servers: Server[] = [];
  const tunnels: string[] = [];
  const requests: { host: string | undefined; path: string | undefined; authorization: string | undefined }[] = [];
  let proxy = '';

  before(async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=registry-1.docker.io', '-keyout', join(root, 'key.pem'), '-out', join(root, 'cert.pem')], { stdio: 'ignore' });
    // The stand-in for Docker Hub's registry: /v2/ asks for Basic credentials and accepts hubuser's.
    const hub = createHttpsServer({ key: readFileSync(join(root, 'key.pem')), cert: readFileSync(join(root, 'cert.pem')) }, (req, res) => {
      requests.push({ host: req.headers.host, path: req.url, authorization: req.headers.authorization });
      const ok = req.headers.authorization === `Basic ${Buffer.from('hubuser:hub-secret').toString('base64')}`;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json', ...(ok ? {} : { 'www-authenticate': 'Basic realm="stand-in"' }) });
      res.end('{}');
    });
    await new Promise<void>((r) => hub.listen(0, '127.0.0.1', r));
    servers.push(hub);
    const hubPort = (hub.address() as AddressInfo).port;
    const p = createHttpServer();
    p.on('connect', (req, socket, head) => {
      tunnels.push(req.url ?? '');
      if (req.url !== 'registry-1.docker.io:443') {
        socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
        return;
      }
      const up = connect(hubPort, '127.0.0.1', () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        up.write(head);
        up.pipe(socket);
        socket.pipe(up);
      });
      up.on('error', () => socket.destroy());
      socket.on('error', () => up.destroy());
    });
    await new Promise<void>((r) => p.listen(0, '127.0.0.1', r));
    servers.push(p);
    proxy = `http://127.0.0.1:${(p.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  });

  // helm 3.17 (oras-go v1) refuses `--insecure` for docker.io, so it cannot reach the stand-in.
  for (const helm of ['helm3-latest', 'helm4', 'helm4-latest'] as const) {
    it(`${helm}: requests go to registry-1.docker.io, the login is filed under https://index.docker.io/v1/ and found for every Hub name`, async () => {
      const home = mkdtempSync(join(root, `${helm}-`));
      tunnels.length = 0;
      requests.length = 0;
      await run(helm, ['registry', 'login', 'docker.io', '--username', 'hubuser', '--password', 'hub-secret', '--insecure'], { HOME: home, HTTPS_PROXY: proxy });
      assert.deepEqual([...new Set(tunnels)], ['registry-1.docker.io:443']);
      assert.ok(requests.some((r) => r.host === 'registry-1.docker.io' && r.path === '/v2/' && r.authorization !== undefined), JSON.stringify(requests));
      const written = JSON.parse(readFileSync(join(home, '.config', 'helm', 'registry', 'config.json'), 'utf8')) as { auths: Record<string, unknown> };
      assert.deepEqual(Object.keys(written.auths), ['https://index.docker.io/v1/']);

      // The host helm requested is the host chartorigin requests for oci://docker.io.
      const src = new OciChartSource({ name: 'hub', url: 'oci://docker.io/bitnamicharts', priority: 0, intervalSeconds: 3600, insecureSkipTLSVerify: false, plainHTTP: false });
      try {
        assert.equal(new URL(src.client.base).host, 'registry-1.docker.io');
        assert.equal(src.repoURL('nginx'), 'oci://docker.io/bitnamicharts/nginx');
      } finally {
        await src.close();
      }
      const logins = loadRegistryLogins({ HOME: home });
      for (const host of HUB_NAMES) assert.deepEqual(await logins.lookup(host), { kind: 'basic', username: 'hubuser', password: 'hub-secret', basicNeedsBoth: true }, host);
    });
  }
});

describe('kubectl create secret docker-registry, as chartorigin reads it', () => {
  it('the default --docker-server (https://index.docker.io/v1/) and --docker-server=docker.io serve every Hub name', async () => {
    for (const server of [undefined, 'docker.io', 'registry-1.docker.io']) {
      const out = await run('kubectl', ['create', 'secret', 'docker-registry', 'hub', '--docker-username=bot', '--docker-password=pw:1', ...(server ? [`--docker-server=${server}`] : []), '--dry-run=client', '-o', 'json'], { HOME: root });
      const secret = JSON.parse(out) as { type: string; data: Record<string, string> };
      for (const host of HUB_NAMES) {
        assert.deepEqual(credentialsFromSecret(secret.type, secret.data, `oci://${host}/bitnamicharts`), { kind: 'basic', username: 'bot', password: 'pw:1', basicNeedsBoth: true }, `${server ?? 'default'} for ${host}`);
      }
      assert.equal(credentialsFromSecret(secret.type, secret.data, 'oci://ghcr.io/org'), undefined);
    }
  });
});
