/**
 * The OCI client's auth handling against scripted registries on loopback: the WWW-Authenticate bytes are
 * what Docker Hub and distribution send, repeated headers go over the wire as two header lines.
 */
import { strict as assert } from 'node:assert';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { parseChallenge } from '../../../../src/sources/oci/client.ts';
import { OciChartSource, parseOciUrl } from '../../../../src/sources/oci/oci-source.ts';
import type { RepositoryConfig } from '../../../../src/model/repository.ts';
import { expectRepoError } from '../../../support/repo-errors.ts';

const servers: Server[] = [];
const sources: OciChartSource[] = [];

after(async () => {
  await Promise.all(sources.map((s) => s.close()));
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

interface Seen {
  path: string;
  authorization: string | undefined;
}

/** A loopback server; `handle` answers, every request is recorded. */
async function serve(handle: (req: IncomingMessage, url: URL) => { status: number; headers?: OutgoingHttpHeaders; body?: string }): Promise<{ origin: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push({ path: url.pathname + url.search, authorization: req.headers.authorization });
    const out = handle(req, url);
    res.writeHead(out.status, { 'content-type': 'application/json', ...out.headers });
    res.end(out.body ?? '');
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function source(url: string, cfg: Partial<RepositoryConfig> = {}): OciChartSource {
  const s = new OciChartSource({ name: 'hub', url, priority: 0, intervalSeconds: 3600, insecureSkipTLSVerify: false, plainHTTP: true, ...cfg }, { http: { retry: { maxRetries: 0 } } });
  sources.push(s);
  return s;
}

/** A token service: issues `token-<n>` unless the Basic credentials are wrong (401, as auth.docker.io). */
async function tokenService(password?: string): Promise<{ origin: string; seen: Seen[] }> {
  let n = 0;
  return serve((req) => {
    const auth = req.headers.authorization;
    if (auth && password !== undefined && auth !== `Basic ${Buffer.from(`bot:${password}`).toString('base64')}`) {
      return { status: 401, body: '{"details":"incorrect username or password"}' };
    }
    return { status: 200, body: JSON.stringify({ token: `token-${++n}`, expires_in: 300, issued_at: new Date().toISOString() }) };
  });
}

describe('parseChallenge: the first challenge only', () => {
  it('reads Docker Hub and distribution challenges', () => {
    assert.deepEqual(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:bitnamicharts/nginx:pull",error="insufficient_scope"'), {
      scheme: 'bearer',
      params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:bitnamicharts/nginx:pull', error: 'insufficient_scope' },
    });
    assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), { scheme: 'basic', params: { realm: 'Registry Realm' } });
    assert.deepEqual(parseChallenge('bearer  realm = "a\\"b" , service=tok'), { scheme: 'bearer', params: { realm: 'a"b', service: 'tok' } });
    assert.equal(parseChallenge('Negotiate abc=='), undefined);
    assert.equal(parseChallenge(''), undefined);
  });

  it('stops where the second header (joined with ", " by Node) or a second challenge begins', () => {
    const joined = 'Bearer realm="https://good/token",service="good", Bearer realm="https://evil/token",service="evil",scope="x"';
    assert.deepEqual(parseChallenge(joined), { scheme: 'bearer', params: { realm: 'https://good/token', service: 'good' } });
    assert.deepEqual(parseChallenge('Basic realm="r", Bearer realm="https://evil/token"'), { scheme: 'basic', params: { realm: 'r' } });
    assert.deepEqual(parseChallenge('Bearer realm="https://good/token", realm="https://evil/token"')?.params, { realm: 'https://good/token' });
    assert.equal(parseChallenge('Negotiate, Bearer realm="https://evil/token"'), undefined, 'the first challenge decides, as the first header does for oras-go');
  });
});

describe('OCI client: two WWW-Authenticate headers', () => {
  it('asks the realm of the first header, never the second', async () => {
    const good = await tokenService();
    const evil = await tokenService();
    const reg = await serve((req) => {
      if (req.headers.authorization === 'Bearer token-1') return { status: 200, body: '{"name":"charts/app","tags":["1.0.0"]}' };
      return { status: 401, headers: { 'www-authenticate': [`Bearer realm="${good.origin}/token",service="good"`, `Bearer realm="${evil.origin}/token",service="evil"`] } };
    });
    const src = source(`${reg.origin.replace('http:', 'oci:')}/charts`, { credentials: { kind: 'basic', username: 'bot', password: 'hub-secret' } });
    assert.deepEqual((await src.versions('app')).map((e) => e.version), ['1.0.0']);
    assert.deepEqual(evil.seen, [], 'the second header named a realm that must never see the credentials');
    assert.deepEqual(good.seen.map((s) => s.path), ['/token?service=good&scope=repository%3Acharts%2Fapp%3Apull']);
  });
});

describe('OCI client: a 401 from another origin after a redirect', () => {
  it('is not answered: no token request, no credentials to the realm it names', async () => {
    const realm = await tokenService();
    const elsewhere = await serve(() => ({ status: 401, headers: { 'www-authenticate': `Bearer realm="${realm.origin}/token",service="elsewhere"` } }));
    const reg = await serve((_req, url) => ({ status: 307, headers: { location: `${elsewhere.origin}${url.pathname}` } }));
    const src = source(`${reg.origin.replace('http:', 'oci:')}/charts`, { credentials: { kind: 'basic', username: 'bot', password: 'hub-secret' } });
    const err = await expectRepoError(src.versions('app'), 'unauthorized');
    assert.deepEqual(realm.seen, [], 'the realm named by the foreign 401 got nothing');
    assert.match(err.message, /another origin than the registry's/);
    assert.doesNotMatch(err.message, /hub-secret|bot/);
    assert.ok(elsewhere.seen.length >= 1);
    assert.ok(elsewhere.seen.every((s) => s.authorization === undefined));
  });

  it('a challenge from the registry itself is still answered after a same-origin redirect', async () => {
    const realm = await tokenService();
    const reg = await serve((req, url) => {
      if (url.pathname.startsWith('/v2/charts/app/')) return { status: 307, headers: { location: `/v2/moved/app/${url.pathname.split('/').slice(4).join('/')}` } };
      if (req.headers.authorization === 'Bearer token-1') return { status: 200, body: '{"name":"moved/app","tags":["2.0.0"]}' };
      return { status: 401, headers: { 'www-authenticate': `Bearer realm="${realm.origin}/token",service="reg"` } };
    });
    const src = source(`${reg.origin.replace('http:', 'oci:')}/charts`);
    assert.deepEqual((await src.versions('app')).map((e) => e.version), ['2.0.0']);
    assert.equal(realm.seen.length, 1);
  });
});

describe('OCI client: Docker Hub answers 401 insufficient_scope for a repository it does not show', () => {
  const hubError = (name: string): string => JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: [{ Type: 'repository', Class: '', Name: name, Action: 'pull' }] }] });

  /** Registry-1.docker.io as it behaves: `bitnamicharts/nginx` exists, anything else gets insufficient_scope even with a token. */
  async function hub(realm: string): Promise<{ origin: string; seen: Seen[] }> {
    return serve((req, url) => {
      const m = /^\/v2\/(.+)\/(tags\/list|manifests\/[^/]+)$/.exec(url.pathname);
      const name = m?.[1] ?? '';
      const challenge = (error: boolean): string => `Bearer realm="${realm}/token",service="registry.docker.io",scope="repository:${name}:pull"${error ? ',error="insufficient_scope"' : ''}`;
      if (url.pathname === '/v2/') return req.headers.authorization ? { status: 200, body: '{}' } : { status: 401, headers: { 'www-authenticate': `Bearer realm="${realm}/token",service="registry.docker.io"` }, body: hubError('') };
      if (!req.headers.authorization?.startsWith('Bearer ')) return { status: 401, headers: { 'www-authenticate': challenge(false) }, body: hubError(name) };
      if (name !== 'bitnamicharts/nginx') return { status: 401, headers: { 'www-authenticate': challenge(true) }, body: hubError(name) };
      if (m?.[2] === 'tags/list') return { status: 200, body: JSON.stringify({ name, tags: ['15.0.0'] }) };
      return { status: 404, body: '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}' };
    });
  }

  it('the chart is not in this repository: no tags, the manifest is NotFound, a tag check finds it gone', async () => {
    const realm = await tokenService();
    const reg = await hub(realm.origin);
    const src = source(`${reg.origin.replace('http:', 'oci:')}/bitnamicharts`);
    assert.deepEqual((await src.versions('nginx')).map((e) => e.version), ['15.0.0']);
    assert.deepEqual(await src.versions('doesnotexist'), [], 'a missing chart is no repository failure');
    await expectRepoError(src.details({ name: 'doesnotexist', version: '1.0.0', deprecated: false, urls: [] }), 'not_found', /insufficient_scope.*bitnamicharts\/doesnotexist does not exist or is not visible without credentials/);
    assert.equal(await src.client.tagDigest('bitnamicharts/doesnotexist', '1.0.0', { maxBytes: 1 << 20 }), undefined);
    assert.deepEqual(await src.probe(), { charts: 2, changed: true });
  });

  it('a failed token exchange (wrong password) stays an error', async () => {
    const realm = await tokenService('right');
    const reg = await hub(realm.origin);
    const src = source(`${reg.origin.replace('http:', 'oci:')}/bitnamicharts`, { credentials: { kind: 'basic', username: 'bot', password: 'wrong' } });
    await expectRepoError(src.versions('doesnotexist'), 'unauthorized', /token/);
    await expectRepoError(src.versions('nginx'), 'unauthorized');
  });

  it('insufficient_scope without a token exchange (a configured bearer token) stays an error', async () => {
    const realm = await tokenService();
    const reg = await hub(realm.origin);
    const src = source(`${reg.origin.replace('http:', 'oci:')}/bitnamicharts`, { credentials: { kind: 'bearer', token: 'static' } });
    await expectRepoError(src.versions('doesnotexist'), 'unauthorized', /credentials refused/);
    assert.deepEqual(realm.seen, []);
  });
});

describe('OCI URLs: docker.io is requested from registry-1.docker.io', () => {
  it('rewrites the request host only; the URL as written stays the identity', () => {
    assert.deepEqual(parseOciUrl('oci://docker.io/bitnamicharts', false), { base: 'https://registry-1.docker.io', prefix: 'bitnamicharts', host: 'docker.io', credentials: undefined });
    assert.equal(parseOciUrl('oci://DOCKER.IO/bitnamicharts', false).base, 'https://registry-1.docker.io');
    assert.equal(parseOciUrl('oci://registry-1.docker.io/bitnamicharts', false).base, 'https://registry-1.docker.io');
    assert.equal(parseOciUrl('oci://index.docker.io/x', false).base, 'https://index.docker.io', 'oras-go rewrites docker.io only');
    assert.equal(parseOciUrl('oci://docker.io:5000/x', true).base, 'http://docker.io:5000');
    assert.equal(parseOciUrl('oci://ghcr.io/org/charts', false).base, 'https://ghcr.io');
    const src = source('oci://docker.io/bitnamicharts', { plainHTTP: false });
    assert.equal(src.client.base, 'https://registry-1.docker.io');
    assert.equal(src.repoURL('nginx'), 'oci://docker.io/bitnamicharts/nginx');
    assert.equal(src.host, 'docker.io');
  });
});
