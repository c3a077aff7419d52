/**
 * The trusted root through TUF (src/signatures/sigstore-trust.ts PublicSigstoreTrust, the path the public
 * Sigstore instance takes), against a TUF repository written here and served on loopback: root, timestamp,
 * snapshot and targets metadata signed with ed25519 over canonical JSON, the target a private Sigstore's
 * trusted_root.json. Cached, refreshed after 12 hours, last good root kept when the mirror fails, a target
 * that does not match the signed targets metadata refused.
 */
import { strict as assert } from 'node:assert';
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { PublicSigstoreTrust } from '../../../src/signatures/sigstore-trust.ts';
import { scratchDir } from '../../harness/charts.ts';
import { startSigstore, type Sigstore } from '../../harness/sigstore.ts';

/** TUF's canonical JSON for the plain data used here: sorted keys, no whitespace. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

interface TufRepo {
  url: string;
  root: Buffer;
  files: Map<string, Buffer>;
  requests: string[];
  failing: boolean;
  close(): Promise<void>;
}

/** A one-key TUF repository (consistent_snapshot off) publishing `target` as trusted_root.json. */
async function startTufRepo(target: string): Promise<TufRepo> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('hex');
  const keyObj = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: raw } };
  const keyid = createHash('sha256').update(canonical(keyObj)).digest('hex');
  const expires = new Date(Date.now() + 7 * 24 * 3600 * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const signed = (body: object, key: KeyObject = privateKey): Buffer => Buffer.from(JSON.stringify({ signed: body, signatures: [{ keyid, sig: sign(null, Buffer.from(canonical(body)), key).toString('hex') }] }));
  const role = { keyids: [keyid], threshold: 1 };
  const root = signed({ _type: 'root', spec_version: '1.0.31', version: 1, expires, consistent_snapshot: false, keys: { [keyid]: keyObj }, roles: { root: role, timestamp: role, snapshot: role, targets: role } });
  const targetBytes = Buffer.from(target);
  const files = new Map<string, Buffer>([
    ['/targets.json', signed({ _type: 'targets', spec_version: '1.0.31', version: 1, expires, targets: { 'trusted_root.json': { length: targetBytes.length, hashes: { sha256: createHash('sha256').update(targetBytes).digest('hex') } } } })],
    ['/snapshot.json', signed({ _type: 'snapshot', spec_version: '1.0.31', version: 1, expires, meta: { 'targets.json': { version: 1 } } })],
    ['/timestamp.json', signed({ _type: 'timestamp', spec_version: '1.0.31', version: 1, expires, meta: { 'snapshot.json': { version: 1 } } })],
    ['/targets/trusted_root.json', targetBytes],
  ]);
  const repo: TufRepo = { url: '', root, files, requests: [], failing: false, close: () => Promise.resolve() };
  const server: Server = createServer((req, res) => {
    repo.requests.push(req.url ?? '');
    if (repo.failing) return void res.writeHead(503).end();
    const body = files.get(req.url ?? '');
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  repo.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  repo.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return repo;
}

let sigstore: Sigstore;
const repos: TufRepo[] = [];
before(async () => {
  sigstore = await startSigstore();
});
after(async () => {
  await Promise.all(repos.map((r) => r.close()));
  await sigstore?.close();
});

describe('trusted root through TUF', () => {
  it('fetches trusted_root.json through the TUF chain, caches it, refreshes after 12 hours and keeps the last good root when the mirror fails', async () => {
    const repo = await startTufRepo(sigstore.trustedRootJson);
    repos.push(repo);
    let now = Date.now();
    const trust = new PublicSigstoreTrust({ mirrorURL: repo.url, initialRoot: repo.root, cacheDir: scratchDir('tuf-cache'), now: () => now });
    const first = await trust.trust();
    assert.equal(first.certificateAuthorities.length, 1);
    assert.equal(first.tlogs.length, 1);
    assert.ok(repo.requests.includes('/timestamp.json') && repo.requests.includes('/targets/trusted_root.json'), repo.requests.join(' '));

    const before = repo.requests.length;
    assert.equal(await trust.trust(), first, 'cached: no request within 12 hours');
    assert.equal(repo.requests.length, before);

    now += 13 * 3600 * 1000;
    await trust.trust();
    assert.ok(repo.requests.length > before, 'refreshed after 12 hours');

    repo.failing = true;
    now += 13 * 3600 * 1000;
    assert.equal((await trust.trust()).certificateAuthorities.length, 1, 'the mirror failing keeps the last good root');
  });

  it('refuses a trusted_root.json that differs from the signed targets metadata, and a repository signed by another root', async () => {
    const repo = await startTufRepo(sigstore.trustedRootJson);
    repos.push(repo);
    repo.files.set('/targets/trusted_root.json', Buffer.from(sigstore.trustedRootJson.replace('sigstore.mock', 'sigstore.evil')));
    await assert.rejects(new PublicSigstoreTrust({ mirrorURL: repo.url, initialRoot: repo.root, cacheDir: scratchDir('tuf-cache') }).trust(), /Expected hash [0-9a-f]{64} but got/);

    const other = await startTufRepo(sigstore.trustedRootJson);
    repos.push(other);
    await assert.rejects(new PublicSigstoreTrust({ mirrorURL: other.url, initialRoot: repo.root, cacheDir: scratchDir('tuf-cache') }).trust(), /timestamp was signed by 0\/1 keys/);
  });
});
