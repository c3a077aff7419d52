/**
 * A ChartRepository's Secrets are read once per resolution: the controller re-reads them before every probe
 * (rotation), so a repository naming one Secret as both its credentials and its TLS Secret cost two GETs each
 * time. A loopback server plays the API server and counts the requests.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { kubeConfigFromText } from '../../../src/kube/kubeconfig.ts';
import { resolveChartRepository } from '../../../src/sources/chart-repository.ts';
import { generateMutualTlsCerts } from '../../harness/certs.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const certDir = mkdtempSync(join(tmpdir(), 'repo-secrets-'));
after(() => rmSync(certDir, { recursive: true, force: true }));
const certs = generateMutualTlsCerts(certDir);
const CA = readFileSync(certs.ca.cert, 'utf8');

const secrets: Record<string, unknown> = {
  '/api/v1/namespaces/ops/secrets/all-in-one': { type: 'Opaque', data: { username: b64('reader'), password: b64('s3cret'), 'ca.crt': b64(CA) } },
  '/api/v1/namespaces/ops/secrets/auth': { type: 'kubernetes.io/basic-auth', data: { username: b64('reader'), password: b64('s3cret') } },
  '/api/v1/namespaces/ops/secrets/tls': { type: 'Opaque', data: { 'ca.crt': b64(CA) } },
};
const requested: string[] = [];
let server: Server;

before(async () => {
  server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    requested.push(path);
    const body = secrets[path];
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
after(() => server.close());
beforeEach(() => {
  requested.length = 0;
});

function kc(): ReturnType<typeof kubeConfigFromText> {
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return kubeConfigFromText(JSON.stringify({ clusters: [{ name: 'c', cluster: { server: url } }], users: [{ name: 'u', user: {} }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }), '/x/config');
}

describe('ChartRepository Secrets', () => {
  it('reads a Secret named as both secretRef and caSecretRef once, and uses it for both', async () => {
    const config = await resolveChartRepository(kc(), 'internal', { url: 'https://charts.internal.example', secretRef: { name: 'all-in-one' }, caSecretRef: { name: 'all-in-one' } }, 'ops');
    assert.deepEqual(requested, ['/api/v1/namespaces/ops/secrets/all-in-one']);
    assert.equal(config.credentials?.kind, 'basic');
    assert.ok(config.caPem?.includes('BEGIN CERTIFICATE'), 'the CA from the same Secret');
  });

  it('reads two different Secrets once each', async () => {
    const config = await resolveChartRepository(kc(), 'internal', { url: 'https://charts.internal.example', secretRef: { name: 'auth' }, caSecretRef: { name: 'tls' } }, 'ops');
    assert.deepEqual([...requested].sort(), ['/api/v1/namespaces/ops/secrets/auth', '/api/v1/namespaces/ops/secrets/tls']);
    assert.equal(config.credentials?.kind, 'basic');
    assert.ok(config.caPem?.includes('BEGIN CERTIFICATE'));
  });

  it('still names the missing Secret when one is absent', async () => {
    await assert.rejects(resolveChartRepository(kc(), 'internal', { url: 'https://charts.internal.example', secretRef: { name: 'auth' }, caSecretRef: { name: 'gone' } }, 'ops'), /Secret ops\/gone not found/);
  });
});
