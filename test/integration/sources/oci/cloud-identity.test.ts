/**
 * `provider: gcp | azure | aws` against real local servers shaped as the clouds' APIs are: the GKE metadata
 * server, Entra ID's token endpoint, ACR's /oauth2/exchange and /oauth2/token, Artifact Registry's token service,
 * ECR's GetAuthorizationToken (JSON 1.1), STS AssumeRoleWithWebIdentity (query/XML) and the EKS Pod Identity
 * agent. The registries keep their real names (`myreg.azurecr.io`, `europe-docker.pkg.dev`,
 * `123456789012.dkr.ecr.us-west-2.amazonaws.com`) on port 443, so the host patterns apply as in a cluster: a
 * loopback HTTPS_PROXY alone maps those names to one TLS server (a certificate for all of them from a test CA),
 * which answers as each registry does. Asserted: the exact requests each cloud endpoint receives and the
 * Authorization the registry finally gets; errors name the provider and never a token.
 *
 * The AWS part runs the real AWS SDK (a dependency: credential chain, SigV4, ECR's JSON protocol) against
 * the local STS, ECR and Pod Identity servers.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { RepositoryConfig } from '../../../../src/model/repository.ts';
import { OciChartSource } from '../../../../src/sources/oci/oci-source.ts';
import { CloudCredentials, clearCloudCredentialCache } from '../../../../src/sources/oci/cloud-identity.ts';
import { cloudIdentityUses, describeCloudIdentityUse } from '../../../../src/sources/oci/cloud-use.ts';
import { expectRepoError } from '../../../support/repo-errors.ts';

const ACR = 'myreg.azurecr.io';
const GAR = 'europe-docker.pkg.dev';
const ECR = '123456789012.dkr.ecr.us-west-2.amazonaws.com';
const LOGIN = 'login.test';
const AWS_API = 'aws.test';
/** The local AWS APIs' port (set by the aws tests) and the requests the proxy carried there. */
let awsPort = 0;
const proxied: string[] = [];
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT_ID = '5a0b5b1e-6f8a-4a3e-9f47-3f3e1c1f2b11';

interface Seen {
  host: string;
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let work = '';
let caPem = '';
let caFile = '';
let tlsPort = 0;
let proxyUrl = '';
const servers: Server[] = [];
const sockets = new Set<Socket>();

/** CONNECT tunnels of an HTTP proxy: `route` names the local port serving `host:port`, 0 for none (502). */
function tunnel(proxy: Server, route: (target: string) => number): void {
  proxy.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    sockets.add(client);
    const port = route(req.url ?? '');
    if (!port) return void client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
    const up = connect(port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    sockets.add(up);
    const close = (): void => {
      up.destroy();
      client.destroy();
    };
    up.once('error', close);
    client.once('error', close);
  });
}
let seen: Seen[] = [];
/** What each fake answers, changed per test. */
const behaviour = { metadataDelayMs: 0, metadataStatus: 200, entraStatus: 200, exchangeStatus: 200, gcpToken: 'ya29.gcp-access-token', refreshExpSeconds: 3 * 3600 };

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function jwt(claims: Record<string, unknown>): string {
  const part = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}.c2lnbmF0dXJl`;
}

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const TAGS = { name: 'x', tags: ['1.0.0'] };

/** The three registries, told apart by Host, each with its own challenge and token service. */
async function registry(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req);
  const host = (req.headers.host ?? '').replace(/:443$/, '');
  const url = new URL(req.url ?? '/', `https://${host}`);
  seen.push({ host, method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
  const auth = req.headers.authorization;
  if (host === ACR) {
    if (url.pathname === '/oauth2/exchange' && req.method === 'POST') {
      if (behaviour.exchangeStatus !== 200) return json(res, behaviour.exchangeStatus, { errors: [{ code: 'UNAUTHORIZED', message: 'denied' }] });
      const refresh = jwt({ exp: Math.floor(Date.now() / 1000) + behaviour.refreshExpSeconds, grant_type: 'refresh_token', tenant: TENANT });
      exchanges.push(refresh);
      return json(res, 200, { refresh_token: refresh });
    }
    if (url.pathname === '/oauth2/token') {
      // The token service takes back the refresh token the exchange issued, as the 0000… user's password.
      if (auth !== basic('00000000-0000-0000-0000-000000000000', exchanges.at(-1) ?? '')) return json(res, 401, { errors: [{ code: 'UNAUTHORIZED' }] });
      return json(res, 200, { access_token: 'acr-access-token' });
    }
    if (auth === 'Bearer acr-access-token') return json(res, 200, TAGS);
    return json(res, 401, { errors: [{ code: 'UNAUTHORIZED' }] }, { 'www-authenticate': `Bearer realm="https://${ACR}/oauth2/token",service="${ACR}",scope="repository:charts/app:pull"` });
  }
  if (host === GAR) {
    if (url.pathname === '/v2/token') {
      if (auth !== basic('oauth2accesstoken', behaviour.gcpToken)) return json(res, 401, { errors: [{ code: 'UNAUTHORIZED' }] });
      return json(res, 200, { token: 'gar-access-token', expires_in: 3600 });
    }
    if (auth === 'Bearer gar-access-token') return json(res, 200, TAGS);
    return json(res, 401, { errors: [{ code: 'UNAUTHORIZED' }] }, { 'www-authenticate': `Bearer realm="https://${GAR}/v2/token",service="${GAR}",scope="repository:proj/charts/app:pull"` });
  }
  if (host === ECR) {
    if (auth === basic('AWS', 'ecr-registry-password')) return json(res, 200, TAGS);
    return json(res, 401, { errors: [{ code: 'DENIED' }] }, { 'www-authenticate': `Basic realm="https://${ECR}/",service="ecr.amazonaws.com"` });
  }
  if (host === LOGIN) {
    // Entra ID v2.0 token endpoint (client credentials with a federated assertion).
    if (url.pathname !== `/${TENANT}/oauth2/v2.0/token` || req.method !== 'POST') return json(res, 404, {});
    if (behaviour.entraStatus !== 200) {
      return json(res, behaviour.entraStatus, { error: 'invalid_client', error_description: 'AADSTS700213: No matching federated identity record found for presented assertion subject', error_codes: [700213] });
    }
    return json(res, 200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: 'entra-access-token' });
  }
  json(res, 404, {});
}

/** The refresh tokens the ACR exchange issued, in order. */
const exchanges: string[] = [];

async function listen(server: Server): Promise<number> {
  server.on('connection', (s: Socket) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

let metadataPort = 0;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'cloud-identity-'));
  caFile = join(work, 'ca.crt');
  const caKey = join(work, 'ca.key');
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKey, '-out', caFile, '-subj', '/CN=cloud test CA', '-days', '2']);
  writeFileSync(join(work, 'ext'), `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:${ACR},DNS:${GAR},DNS:${ECR},DNS:${LOGIN},IP:127.0.0.1\n`);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(work, 'tls.key'), '-out', join(work, 'tls.csr'), '-subj', '/CN=registries']);
  openssl(['x509', '-req', '-in', join(work, 'tls.csr'), '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-days', '2', '-sha256', '-extfile', join(work, 'ext'), '-out', join(work, 'tls.crt')]);
  caPem = readFileSync(caFile, 'utf8');

  const tls = createHttpsServer({ cert: readFileSync(join(work, 'tls.crt')), key: readFileSync(join(work, 'tls.key')) }, (req, res) => void registry(req, res));
  tlsPort = await listen(tls);

  // A forward proxy that knows the cloud names: CONNECT <name>:443 reaches the TLS server.
  // Plain http requests for a cloud name (absolute-form, HTTP_PROXY) are answered by the same registries, so that
  // a plainHTTP repository reaches them as it would without the refusal under test.
  const proxy = createHttpServer((req, res) => {
    if ([ACR, GAR, ECR].some((h) => (req.url ?? '').startsWith(`http://${h}/`))) return void registry(req, res);
    // `aws.test`: the local AWS APIs (STS, ECR), reachable only through this proxy.
    if ((req.url ?? '').startsWith(`http://${AWS_API}/`) && awsPort) {
      proxied.push(req.url ?? '');
      const up = httpRequest({ host: '127.0.0.1', port: awsPort, method: req.method, path: new URL(req.url ?? '/').pathname + new URL(req.url ?? '/').search, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      req.pipe(up);
      return;
    }
    res.writeHead(405);
    res.end();
  });
  tunnel(proxy, (target) => {
    const [host = '', port = ''] = target.split(/:(?=\d+$)/);
    return [ACR, GAR, ECR, LOGIN].includes(host) && port === '443' ? tlsPort : 0;
  });
  proxyUrl = `http://127.0.0.1:${await listen(proxy)}`;

  // The GKE metadata server (plain http on the node; GCE_METADATA_HOST points at it).
  const metadata = createHttpServer((req, res) => {
    void readBody(req).then(async (body) => {
      if (behaviour.metadataDelayMs) await new Promise((resolve) => setTimeout(resolve, behaviour.metadataDelayMs));
      seen.push({ host: 'metadata', method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
      if (req.headers['metadata-flavor'] !== 'Google') return json(res, 403, {});
      if (!(req.url ?? '').startsWith('/computeMetadata/v1/instance/service-accounts/default/token')) return json(res, 404, {});
      if (behaviour.metadataStatus !== 200) {
        res.writeHead(behaviour.metadataStatus, { 'content-type': 'text/plain' });
        return res.end('Not Found\n');
      }
      json(res, 200, { access_token: behaviour.gcpToken, expires_in: 3599, token_type: 'Bearer' }, { 'metadata-flavor': 'Google' });
    });
  });
  metadataPort = await listen(metadata);
});

after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  rmSync(work, { recursive: true, force: true });
});

beforeEach(() => {
  seen = [];
  exchanges.length = 0;
  Object.assign(behaviour, { metadataDelayMs: 0, metadataStatus: 200, entraStatus: 200, exchangeStatus: 200, gcpToken: 'ya29.gcp-access-token', refreshExpSeconds: 3 * 3600 });
  clearCloudCredentialCache();
});

function repo(name: string, url: string, provider?: RepositoryConfig['provider']): RepositoryConfig {
  return { name, url, priority: 0, intervalSeconds: 3600, timeoutSeconds: 20, caPem, insecureSkipTLSVerify: false, plainHTTP: false, ...(provider ? { provider } : {}) };
}

function source(config: RepositoryConfig, env: NodeJS.ProcessEnv): OciChartSource {
  return new OciChartSource(config, { http: { proxyEnv: { HTTPS_PROXY: proxyUrl }, retry: { maxRetries: 0 } }, cloud: { env, caPem } });
}

const where = (host: string): Seen[] => seen.filter((s) => s.host === host);

describe('provider: gcp (GKE workload identity)', () => {
  const env = (): NodeJS.ProcessEnv => ({ GCE_METADATA_HOST: `127.0.0.1:${metadataPort}` });

  it("the metadata server's token is the registry's Basic oauth2accesstoken password; reused by every repository of the registry", async () => {
    const a = source(repo('gar', `oci://${GAR}/proj/charts`, 'gcp'), env());
    const versions = await a.versions('app');
    assert.deepEqual(versions.map((v) => v.version), ['1.0.0']);
    const md = where('metadata');
    assert.equal(md.length, 1);
    assert.equal(md[0]?.method, 'GET');
    // golang.org/x/oauth2/google's ComputeTokenSource: the default account, Flux's two scopes comma-joined.
    assert.equal(md[0]?.path, '/computeMetadata/v1/instance/service-accounts/default/token?scopes=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcloud-platform%2Chttps%3A%2F%2Fwww.googleapis.com%2Fauth%2Fuserinfo.email');
    assert.equal(md[0]?.headers['metadata-flavor'], 'Google');
    const token = where(GAR).find((s) => s.path.startsWith('/v2/token'));
    assert.equal(token?.headers.authorization, basic('oauth2accesstoken', 'ya29.gcp-access-token'));
    assert.equal(token?.path, `/v2/token?service=${GAR}&scope=repository%3Aproj%2Fcharts%2Fapp%3Apull`);
    assert.equal(where(GAR).at(-1)?.headers.authorization, 'Bearer gar-access-token');
    // Another repository of the same registry: the cached GCP token, no second metadata request.
    const b = source(repo('gar-2', `oci://${GAR}/proj/other`, 'gcp'), env());
    await b.versions('app');
    assert.equal(where('metadata').length, 1);
    // Both used the ambient identity (the second from the cache): the CLI's stderr line names them, no token.
    const notice = describeCloudIdentityUse(cloudIdentityUses());
    assert.equal(notice, 'your cloud identity was used for registry credentials of: gar (gcp), gar-2 (gcp)');
    await Promise.all([a.close(), b.close()]);
  });

  it('without provider the same registry is asked anonymously and refuses', async () => {
    const s = source(repo('gar-anon', `oci://${GAR}/proj/charts`), env());
    await expectRepoError(s.versions('app'), 'unauthorized', /HTTP 401/);
    assert.equal(where('metadata').length, 0);
    assert.deepEqual(cloudIdentityUses(), []);
    await s.close();
  });

  it("a metadata server that has no token for the pod fails the repository, naming the provider, never a token", async () => {
    behaviour.metadataStatus = 404;
    const s = source(repo('gar-fail', `oci://${GAR}/proj/charts`, 'gcp'), env());
    const err = await expectRepoError(s.versions('app'), 'unauthorized', /^repository gar-fail: provider gcp: the metadata server http:\/\/127\.0\.0\.1:\d+ answered HTTP 404/);
    assert.doesNotMatch(err.message, /ya29/);
    await s.close();
  });
});

describe('one credential request shared by every repository of a registry', () => {
  const env = (): NodeJS.ProcessEnv => ({ GCE_METADATA_HOST: `127.0.0.1:${metadataPort}` });

  it("a waiter that aborts leaves the request to the others; a failure names each caller's own repository", async () => {
    behaviour.metadataDelayMs = 400;
    const a = source(repo('gar-a', `oci://${GAR}/proj/charts`, 'gcp'), env());
    const b = source(repo('gar-b', `oci://${GAR}/proj/other`, 'gcp'), env());
    const [ra, rb] = await Promise.allSettled([a.versions('app', AbortSignal.timeout(100)), b.versions('app')]);
    assert.equal(ra.status, 'rejected');
    assert.deepEqual(rb.status === 'fulfilled' ? rb.value.map((v) => v.version) : rb.reason, ['1.0.0']);
    assert.equal(where('metadata').length, 1);

    clearCloudCredentialCache();
    behaviour.metadataStatus = 404;
    const c = source(repo('gar-c', `oci://${GAR}/proj/charts`, 'gcp'), env());
    const d = source(repo('gar-d', `oci://${GAR}/proj/other`, 'gcp'), env());
    const [ec, ed] = await Promise.all([expectRepoError(c.versions('app'), 'unauthorized', /^repository gar-c: provider gcp: the metadata server/), expectRepoError(d.versions('app'), 'unauthorized', /^repository gar-d: provider gcp: the metadata server/)]);
    assert.doesNotMatch(ed.message, /gar-c/);
    assert.doesNotMatch(ec.message, /gar-d/);
    assert.equal(where('metadata').length, 2);
    await Promise.all([a.close(), b.close(), c.close(), d.close()]);
  });

  it('a failure is remembered for 30 s: the next challenges do not ask the metadata server again', async () => {
    behaviour.metadataStatus = 503;
    const a = source(repo('gar-f1', `oci://${GAR}/proj/charts`, 'gcp'), env());
    await expectRepoError(a.versions('app'), 'unauthorized', /provider gcp: the metadata server .* answered HTTP 503/);
    const b = source(repo('gar-f2', `oci://${GAR}/proj/other`, 'gcp'), env());
    await expectRepoError(b.versions('app'), 'unauthorized', /^repository gar-f2: provider gcp: the metadata server .* answered HTTP 503/);
    assert.equal(where('metadata').length, 1);
    await Promise.all([a.close(), b.close()]);
  });
});

describe('provider: azure (AKS workload identity)', () => {
  let tokenFile = '';
  const assertion = jwt({ iss: 'https://oidc.prod-aks.azure.com/x/', sub: 'system:serviceaccount:chartorigin:chartorigin', aud: ['api://AzureADTokenExchange'] });
  const env = (): NodeJS.ProcessEnv => ({ AZURE_CLIENT_ID: CLIENT_ID, AZURE_TENANT_ID: TENANT, AZURE_FEDERATED_TOKEN_FILE: tokenFile, AZURE_AUTHORITY_HOST: `https://${LOGIN}/`, HTTPS_PROXY: proxyUrl });

  before(() => {
    tokenFile = join(work, 'azure-identity-token');
    writeFileSync(tokenFile, `${assertion}\n`);
  });

  it('projected token → Entra ID → ACR /oauth2/exchange → refresh token as the 0000… user at the token service', async () => {
    const s = source(repo('acr', `oci://${ACR}/charts`, 'azure'), env());
    assert.deepEqual((await s.versions('app')).map((v) => v.version), ['1.0.0']);
    const login = where(LOGIN);
    assert.equal(login.length, 1);
    assert.equal(login[0]?.method, 'POST');
    assert.equal(login[0]?.path, `/${TENANT}/oauth2/v2.0/token`);
    assert.equal(login[0]?.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.deepEqual([...new URLSearchParams(login[0]?.body)], [
      ['client_assertion', assertion],
      ['client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'],
      ['client_id', CLIENT_ID],
      ['grant_type', 'client_credentials'],
      ['scope', 'https://containerregistry.azure.net/.default'],
    ]);
    const ex = where(ACR).find((x) => x.path === '/oauth2/exchange');
    assert.equal(ex?.method, 'POST');
    assert.equal(ex?.body, `access_token=entra-access-token&grant_type=access_token&service=${ACR}`);
    const tokenReq = where(ACR).find((x) => x.path.startsWith('/oauth2/token'));
    assert.equal(exchanges.length, 1);
    assert.equal(tokenReq?.headers.authorization, basic('00000000-0000-0000-0000-000000000000', exchanges[0] ?? ''));
    assert.equal(tokenReq?.path, `/oauth2/token?service=${ACR}&scope=repository%3Acharts%2Fapp%3Apull`);
    assert.equal(where(ACR).at(-1)?.headers.authorization, 'Bearer acr-access-token');
    await s.close();
  });

  it('missing workload identity variables, a refused assertion, a refused exchange: errors on the repository, no token in them', async () => {
    const a = source(repo('acr-noenv', `oci://${ACR}/charts`, 'azure'), { HTTPS_PROXY: proxyUrl });
    await expectRepoError(a.versions('app'), 'unauthorized', /provider azure: workload identity needs AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST in the environment/);
    behaviour.entraStatus = 401;
    const b = source(repo('acr-refused', `oci://${ACR}/charts`, 'azure'), env());
    const e1 = await expectRepoError(b.versions('app'), 'unauthorized', /provider azure: Entra ID https:\/\/login\.test refused the workload identity token of client 5a0b5b1e-6f8a-4a3e-9f47-3f3e1c1f2b11: HTTP 401 invalid_client \(AADSTS700213\)/);
    assert.ok(!e1.message.includes(assertion));
    behaviour.entraStatus = 200;
    behaviour.exchangeStatus = 401;
    clearCloudCredentialCache();
    const c = source(repo('acr-noexchange', `oci://${ACR}/charts`, 'azure'), env());
    const e2 = await expectRepoError(c.versions('app'), 'unauthorized', /provider azure: the registry's token exchange https:\/\/myreg\.azurecr\.io\/oauth2\/exchange refused the Entra ID token: HTTP 401/);
    assert.ok(!e2.message.includes('entra-access-token'));
    await Promise.all([a.close(), b.close(), c.close()]);
  });
});

describe('provider: azure, a registry whose certificate only a repository\'s CA signs', () => {
  /**
   * ACR's token exchange behind its own CA (a registry with a private CA, given as the repository's
   * caSecretRef/certSecretRef), Entra ID behind the test CA: a proxy sends myreg.azurecr.io to a second TLS server
   * whose certificate only `registryCa` signs.
   */
  let registryCa = '';
  let otherCa = '';
  let proxy2 = '';
  const exchanged: string[] = [];

  before(async () => {
    const mkCa = (name: string): { pem: string; key: string; file: string } => {
      const file = join(work, `${name}.crt`);
      const key = join(work, `${name}.key`);
      openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', file, '-subj', `/CN=${name}`, '-days', '2']);
      return { pem: readFileSync(file, 'utf8'), key, file };
    };
    const reg = mkCa('acr-private-ca');
    registryCa = reg.pem;
    otherCa = mkCa('unrelated-ca').pem;
    writeFileSync(join(work, 'acr-ext'), `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:${ACR}\n`);
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(work, 'acr.key'), '-out', join(work, 'acr.csr'), '-subj', `/CN=${ACR}`]);
    openssl(['x509', '-req', '-in', join(work, 'acr.csr'), '-CA', reg.file, '-CAkey', reg.key, '-CAcreateserial', '-days', '2', '-sha256', '-extfile', join(work, 'acr-ext'), '-out', join(work, 'acr.crt')]);
    const acr = createHttpsServer({ cert: readFileSync(join(work, 'acr.crt')), key: readFileSync(join(work, 'acr.key')) }, (req, res) => {
      void readBody(req).then(() => {
        if (req.url !== '/oauth2/exchange' || req.method !== 'POST') return json(res, 404, {});
        const refresh = jwt({ exp: Math.floor(Date.now() / 1000) + 3 * 3600, n: exchanged.length });
        exchanged.push(refresh);
        json(res, 200, { refresh_token: refresh });
      });
    });
    const acrPort = await listen(acr);
    const proxy = createHttpServer((_req, res) => {
      res.writeHead(405);
      res.end();
    });
    tunnel(proxy, (target) => (target === `${ACR}:443` ? acrPort : target === `${LOGIN}:443` ? tlsPort : 0));
    proxy2 = `http://127.0.0.1:${await listen(proxy)}`;
  });

  beforeEach(() => {
    exchanged.length = 0;
  });

  const credentials = (name: string, repoCa: string | undefined): CloudCredentials => {
    const tokenFile = join(work, 'azure-identity-token-ca');
    writeFileSync(tokenFile, 'assertion');
    const env: NodeJS.ProcessEnv = { AZURE_CLIENT_ID: CLIENT_ID, AZURE_TENANT_ID: TENANT, AZURE_FEDERATED_TOKEN_FILE: tokenFile, AZURE_AUTHORITY_HOST: `https://${LOGIN}/`, HTTPS_PROXY: proxy2 };
    // The process's CA (options.caPem) is the test CA, which signs Entra ID's certificate only here.
    return new CloudCredentials(name, 'azure', `${ACR}/${name}`, { caPem: repoCa, plainHTTP: false, insecureSkipTLSVerify: false }, { env, caPem });
  };

  it("the exchange trusts the system roots (and the process's CA) only, as Flux's does: no repository's CA lends it trust, whichever repository asks", async () => {
    // The registry's certificate is signed by a CA only the repository declares: the Entra ID token — good for
    // every registry the identity may pull from — is never sent to it, with or without that CA.
    for (const [name, ca] of [['trusting', registryCa], ['roots-only', undefined], ['other-ca', otherCa]] as const) {
      await expectRepoError(credentials(name, ca).get(), 'unauthorized', new RegExp(`^repository ${name}: provider azure: cannot reach the registry's token exchange https://myreg\\.azurecr\\.io/oauth2/exchange`));
    }
    assert.equal(exchanged.length, 0, 'no exchange reached the server');
    // One registry, one remembered failure, whatever the repository's CA: the repository's settings are not part of the key.
    clearCloudCredentialCache();
    await expectRepoError(credentials('first', undefined).get(), 'unauthorized', /token exchange/);
    await expectRepoError(credentials('second', registryCa).get(), 'unauthorized', /token exchange/);
    assert.equal(exchanged.length, 0);
  });
});

describe('a repository transport that is not verified https never carries a cloud token', () => {
  it('plainHTTP or insecureSkipTLSVerify with a provider: refused before any cloud endpoint is asked', async () => {
    let tokenFile = join(work, 'azure-identity-token-2');
    writeFileSync(tokenFile, 'assertion');
    const env: NodeJS.ProcessEnv = { AZURE_CLIENT_ID: CLIENT_ID, AZURE_TENANT_ID: TENANT, AZURE_FEDERATED_TOKEN_FILE: tokenFile, AZURE_AUTHORITY_HOST: `https://${LOGIN}/`, HTTPS_PROXY: proxyUrl, GCE_METADATA_HOST: `127.0.0.1:${metadataPort}` };
    // A RepositoryConfig made without the declaration parser (which refuses these already).
    const plain = new OciChartSource({ ...repo('acr-plain', `oci://${ACR}/charts`, 'azure'), plainHTTP: true }, { http: { proxyEnv: { HTTPS_PROXY: proxyUrl, HTTP_PROXY: proxyUrl }, retry: { maxRetries: 0 } }, cloud: { env, caPem } });
    await expectRepoError(plain.versions('app'), 'unauthorized', /^repository acr-plain: provider azure: not with plainHTTP \(Flux: insecure\)/);
    const skip = source({ ...repo('gar-skip', `oci://${GAR}/proj/charts`, 'gcp'), insecureSkipTLSVerify: true }, env);
    await expectRepoError(skip.versions('app'), 'unauthorized', /^repository gar-skip: provider gcp: not with insecureSkipTLSVerify/);
    // The registry was reached in clear and challenged; no cloud endpoint was asked, nothing was exchanged.
    assert.ok(where(ACR).some((x) => x.path === `http://${ACR}/v2/charts/app/tags/list` && x.headers.authorization === undefined), JSON.stringify(where(ACR).map((x) => x.path)));
    assert.deepEqual([where(LOGIN).length, where('metadata').length, where(ACR).filter((x) => x.path.endsWith('/oauth2/exchange')).length], [0, 0, 0]);
    tokenFile = '';
    await Promise.all([plain.close(), skip.close()]);
  });
});

describe('provider: aws (EKS)', () => {
  const AWS_VARS = ['AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE', 'AWS_ENDPOINT_URL_ECR', 'AWS_ENDPOINT_URL_STS', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_EC2_METADATA_DISABLED'];
  const saved: Record<string, string | undefined> = {};
  let aws: { port: number; calls: Seen[] };

  before(async () => {
    for (const k of AWS_VARS) saved[k] = process.env[k];
    const calls: Seen[] = [];
    // One plain-http server for the Pod Identity agent, STS and ECR (told apart by path and headers).
    const server = createHttpServer((req, res) => {
      void readBody(req).then((body) => {
        calls.push({ host: 'aws', method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
        if (req.url === '/v1/credentials') {
          if (req.headers.authorization !== 'pod-identity-token') return json(res, 403, {});
          return json(res, 200, { AccessKeyId: 'ASIAPODIDENTITY', SecretAccessKey: 'pod-secret', Token: 'pod-session-token', AccountId: '123456789012', Expiration: new Date(Date.now() + 6 * 3600_000).toISOString() });
        }
        if (req.headers['x-amz-target'] === 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken') {
          res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
          return res.end(JSON.stringify({ authorizationData: [{ authorizationToken: Buffer.from('AWS:ecr-registry-password').toString('base64'), expiresAt: Date.now() / 1000 + 12 * 3600, proxyEndpoint: `https://${ECR}` }] }));
        }
        const form = new URLSearchParams(body);
        if (form.get('Action') === 'AssumeRoleWithWebIdentity') {
          res.writeHead(200, { 'content-type': 'text/xml' });
          return res.end(`<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAIRSA</AccessKeyId><SecretAccessKey>irsa-secret</SecretAccessKey><SessionToken>irsa-session-token</SessionToken><Expiration>${new Date(Date.now() + 3600_000).toISOString()}</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/chartorigin/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser></AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`);
        }
        json(res, 400, { __type: 'UnknownOperationException' });
      });
    });
    aws = { port: await listen(server), calls };
    awsPort = aws.port;
  });

  after(() => {
    for (const k of AWS_VARS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  beforeEach(() => {
    for (const k of AWS_VARS) delete process.env[k];
    // Nothing from the machine's own AWS setup (profiles, instance role).
    process.env['AWS_CONFIG_FILE'] = join(work, 'no-aws-config');
    process.env['AWS_SHARED_CREDENTIALS_FILE'] = join(work, 'no-aws-credentials');
    process.env['AWS_EC2_METADATA_DISABLED'] = 'true';
    process.env['AWS_ENDPOINT_URL_ECR'] = `http://127.0.0.1:${aws.port}`;
    aws.calls.length = 0;
  });

  const ecrCall = (): Seen | undefined => aws.calls.find((c) => c.headers['x-amz-target'] === 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken');

  it('EKS Pod Identity: the agent\'s credentials sign ECR GetAuthorizationToken in the registry\'s region; AWS:<password> to the registry', async () => {
    const tokenFile = join(work, 'eks-pod-identity-token');
    writeFileSync(tokenFile, 'pod-identity-token');
    process.env['AWS_CONTAINER_CREDENTIALS_FULL_URI'] = `http://127.0.0.1:${aws.port}/v1/credentials`;
    process.env['AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE'] = tokenFile;
    const s = source(repo('ecr', `oci://${ECR}/charts`, 'aws'), {});
    assert.deepEqual((await s.versions('app')).map((v) => v.version), ['1.0.0']);
    assert.equal(aws.calls[0]?.path, '/v1/credentials');
    const call = ecrCall();
    assert.equal(call?.method, 'POST');
    assert.equal(call?.body, '{}');
    assert.match(call?.headers.authorization ?? '', /^AWS4-HMAC-SHA256 Credential=ASIAPODIDENTITY\/\d{8}\/us-west-2\/ecr\/aws4_request, SignedHeaders=[^,]*x-amz-target[^,]*, Signature=[0-9a-f]{64}$/);
    assert.equal(call?.headers['x-amz-security-token'], 'pod-session-token');
    assert.equal(where(ECR).at(-1)?.headers.authorization, basic('AWS', 'ecr-registry-password'));
    await s.close();
  });

  it('IRSA: STS AssumeRoleWithWebIdentity with the projected token, then ECR with the role\'s credentials', async () => {
    const tokenFile = join(work, 'eks-irsa-token');
    writeFileSync(tokenFile, 'irsa-web-identity-token');
    process.env['AWS_ROLE_ARN'] = 'arn:aws:iam::123456789012:role/chartorigin';
    process.env['AWS_WEB_IDENTITY_TOKEN_FILE'] = tokenFile;
    process.env['AWS_ENDPOINT_URL_STS'] = `http://127.0.0.1:${aws.port}`;
    const s = source(repo('ecr-irsa', `oci://${ECR}/charts`, 'aws'), {});
    assert.deepEqual((await s.versions('app')).map((v) => v.version), ['1.0.0']);
    const sts = aws.calls.find((c) => new URLSearchParams(c.body).get('Action') === 'AssumeRoleWithWebIdentity');
    const form = new URLSearchParams(sts?.body);
    assert.equal(form.get('RoleArn'), 'arn:aws:iam::123456789012:role/chartorigin');
    assert.equal(form.get('WebIdentityToken'), 'irsa-web-identity-token');
    assert.equal(form.get('Version'), '2011-06-15');
    assert.match(ecrCall()?.headers.authorization ?? '', /Credential=ASIAIRSA\/\d{8}\/us-west-2\/ecr\/aws4_request/);
    assert.equal(ecrCall()?.headers['x-amz-security-token'], 'irsa-session-token');
    await s.close();
  });

  it('after the direct authorization\'s minute the credential is asked again before the request, not after an anonymous 401', async () => {
    const tokenFile = join(work, 'eks-pod-identity-token-2');
    writeFileSync(tokenFile, 'pod-identity-token');
    process.env['AWS_CONTAINER_CREDENTIALS_FULL_URI'] = `http://127.0.0.1:${aws.port}/v1/credentials`;
    process.env['AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE'] = tokenFile;
    let clock = Date.now();
    const s = new OciChartSource(repo('ecr-n4', `oci://${ECR}/charts`, 'aws'), { now: () => clock, http: { proxyEnv: { HTTPS_PROXY: proxyUrl }, retry: { maxRetries: 0 } }, cloud: { env: {}, caPem } });
    await s.client.tags('charts/app', { maxPages: 1 });
    clock += 120_000;
    await s.client.tags('charts/app', { maxPages: 1 });
    const tagRequests = where(ECR).filter((x) => x.path.startsWith('/v2/charts/app/tags/list'));
    assert.deepEqual(tagRequests.map((x) => x.headers.authorization ?? 'none'), ['none', basic('AWS', 'ecr-registry-password'), basic('AWS', 'ecr-registry-password')]);
    assert.equal(aws.calls.filter((c) => c.headers['x-amz-target'] !== undefined).length, 1, 'one ECR token, from the cache the second time');
    await s.close();
  });

  it('STS and ECR go through the proxy HTTPS_PROXY/HTTP_PROXY name, as Helm and Flux would send them', async () => {
    const tokenFile = join(work, 'eks-irsa-token-proxy');
    writeFileSync(tokenFile, 'irsa-web-identity-token');
    process.env['AWS_ROLE_ARN'] = 'arn:aws:iam::123456789012:role/chartorigin';
    process.env['AWS_WEB_IDENTITY_TOKEN_FILE'] = tokenFile;
    process.env['AWS_ENDPOINT_URL_STS'] = `http://${AWS_API}`;
    process.env['AWS_ENDPOINT_URL_ECR'] = `http://${AWS_API}`;
    proxied.length = 0;
    // aws.test resolves nowhere: only the proxy reaches it (the SDK's own handler would fail with ENOTFOUND).
    const s = source(repo('ecr-proxy', `oci://${ECR}/charts`, 'aws'), { HTTP_PROXY: proxyUrl });
    assert.deepEqual((await s.versions('app')).map((v) => v.version), ['1.0.0']);
    assert.equal(proxied.length, 2, JSON.stringify(proxied));
    assert.equal(where(ECR).at(-1)?.headers.authorization, basic('AWS', 'ecr-registry-password'));
    await s.close();
  });

  it('an ECR endpoint that accepts and never answers: the repository fails by the deadline, and the failure is remembered', async () => {
    const hung: Socket[] = [];
    const silent = createServer((sock) => hung.push(sock));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    process.env['AWS_ENDPOINT_URL_ECR'] = `http://127.0.0.1:${port}`;
    process.env['AWS_ACCESS_KEY_ID'] = 'AKIASTATIC';
    process.env['AWS_SECRET_ACCESS_KEY'] = 'static-secret';
    const s = new OciChartSource(repo('ecr-hung', `oci://${ECR}/hung`, 'aws'), { http: { proxyEnv: { HTTPS_PROXY: proxyUrl }, retry: { maxRetries: 0 } }, cloud: { env: {}, caPem, awsDeadlineMs: 1500 } });
    const started = Date.now();
    await expectRepoError(s.versions('app'), 'unauthorized', /provider aws: cannot get an ECR authorization token in us-west-2: /);
    assert.ok(Date.now() - started < 10_000, `settled by the deadline (${Date.now() - started} ms)`);
    const connections = hung.length;
    assert.ok(connections >= 1, 'ECR was asked');
    await expectRepoError(s.versions('app'), 'unauthorized', /provider aws: /);
    assert.equal(hung.length, connections, 'the remembered failure, not another request');
    for (const sock of hung) sock.destroy();
    silent.close();
    await s.close();
  });

  it('no AWS identity at all: the SDK\'s error on the repository', async () => {
    const s = source(repo('ecr-none', `oci://${ECR}/charts`, 'aws'), {});
    await expectRepoError(s.versions('app'), 'unauthorized', /^repository ecr-none: provider aws: cannot get an ECR authorization token in us-west-2: /);
    await s.close();
  });
});
