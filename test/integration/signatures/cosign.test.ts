/**
 * cosign key signatures (`cosign sign --key`, the `sha256-<hex>.sig` tag) of charts pushed by real helm to
 * a registry with the referrers API, read back by OciChartSource and checked by src/signatures/cosign.ts
 * against the repository's PEM keys. Keyless signatures: keyless.test.ts.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { OciChartSource } from '../../../src/sources/oci/oci-source.ts';
import { cosignKeys, ociSignatureOf } from '../../../src/signatures/cosign.ts';
import type { Referrer } from '../../../src/model/repository.ts';
import { packageChart, pushChart, scratchDir } from '../../harness/charts.ts';
import { cosignKey, manifestDescriptor, pushCosignSignature, pushReferrer, type Descriptor } from '../../harness/oci-artifacts.ts';
import { startReferrersRegistry } from '../../harness/referrers-registry.ts';
import type { Registry } from '../../harness/registry.ts';

let reg: Registry;
const sources: OciChartSource[] = [];
before(async () => {
  reg = await startReferrersRegistry();
});
after(async () => {
  await Promise.all(sources.map((s) => s.close()));
  await reg?.close();
});

async function chart(name: string): Promise<Descriptor> {
  const pkg = await packageChart({ name, version: '1.0.0' }, scratchDir('cosign'));
  await pushChart(pkg.path, `${reg.url}/charts`);
  return manifestDescriptor(reg.host, `charts/${name}`, '1.0.0');
}

async function check(name: string, subject: Descriptor, pems: string[]) {
  const source = new OciChartSource({ name: 'oci', url: `${reg.url}/charts`, priority: 0, intervalSeconds: 3600, insecureSkipTLSVerify: false, plainHTTP: true });
  sources.push(source);
  const referrers: Referrer[] = (await source.referrers(name, subject.digest)).referrers.map((r) => ({ ...r }));
  const status = await ociSignatureOf(source.artifacts(name), subject.digest, referrers, { keys: cosignKeys(pems), required: false });
  return { status, sig: referrers.find((r) => r.source === 'cosign-tag' && r.kind === 'signature') };
}

describe('cosign key signatures', () => {
  it('verified with the signing key, not with another key, not when the payload names another manifest', async () => {
    const key = cosignKey();
    const subject = await chart('keyed');
    const sig = await pushCosignSignature(reg.host, 'charts/keyed', subject, key);

    const none = await check('keyed', subject, []);
    assert.equal(none.status?.reason, 'NotVerifiable', 'no key configured: presence only');
    assert.equal(none.sig?.verified, undefined);

    const good = await check('keyed', subject, [key.publicKeyPem]);
    assert.deepEqual({ type: good.status?.type, verified: good.status?.verified, reason: good.status?.reason }, { type: 'cosign', verified: true, reason: 'Verified' });
    assert.equal(good.sig?.digest, sig.digest);
    assert.equal(good.sig?.verified, true);

    const wrong = await check('keyed', subject, [cosignKey().publicKeyPem]);
    assert.equal(wrong.status?.reason, 'UnknownKey');
    assert.equal(wrong.sig?.verified, false);
    assert.equal((await check('keyed', subject, [cosignKey().publicKeyPem, key.publicKeyPem])).status?.verified, true, 'any configured key may match');

    // A valid signature by the right key over a payload naming another chart's manifest, copied to this
    // chart's .sig tag: refused.
    const other = await chart('other');
    await pushCosignSignature(reg.host, 'charts/keyed', other, key, subject);
    const copied = await check('keyed', subject, [key.publicKeyPem]);
    assert.equal(copied.status?.verified, false);
    assert.equal(copied.status?.reason, 'DigestMismatch');
    assert.throws(() => cosignKeys(['not a key']), /cosign public key 1 is not a PEM public key/);
  });

  it('a Notation signature is detected and reported as not verifiable', async () => {
    const subject = await chart('notary');
    await pushReferrer(reg.host, 'charts/notary', subject, 'application/vnd.cncf.notary.signature', 'application/jose+json', Buffer.from('{"payload":"e30","protected":"e30","signature":"AA"}'));
    const { status } = await check('notary', subject, []);
    assert.deepEqual({ type: status?.type, verified: status?.verified, reason: status?.reason }, { type: 'notation', verified: false, reason: 'NotVerifiable' });
  });
});
