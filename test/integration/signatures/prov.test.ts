import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { scratchDir, sha256Digest, packageChart, runHelm } from '../../harness/charts.ts';
import { createSigningKey, packageSignedChart, publicKeyring, stopGpgAgents, type SignedChart, type SigningKey } from '../../harness/gpg.ts';
import { verifyProvenance, signedFiles, checkKeyring } from '../../../src/signatures/prov.ts';

// Real keys from GnuPG, real `helm package --sign` (helm 3 and helm 4): the bytes a repository serves.
let trusted: SigningKey;
let stranger: SigningKey;
let signed4: SignedChart;
let signed3: SignedChart;

before(async () => {
  [trusted, stranger] = await Promise.all([createSigningKey('Chart Publisher'), createSigningKey('Somebody Else')]);
  const out = scratchDir('signed');
  signed4 = await packageSignedChart({ name: 'signedapp', version: '1.0.0' }, `${out}/h4`, trusted, 'helm4');
  signed3 = await packageSignedChart({ name: 'signedapp', version: '1.0.0' }, `${out}/h3`, trusted, 'helm3');
});
after(stopGpgAgents);

const input = (c: SignedChart, keyring: readonly string[], overrides: Partial<Parameters<typeof verifyProvenance>[0]> = {}) => ({
  provenance: c.provenance,
  tarballDigest: c.digest,
  fileName: 'signedapp-1.0.0.tgz',
  keyring,
  ...overrides,
});

describe('Helm provenance verification (real gpg keys, real helm package --sign)', () => {
  it('verifies charts signed by helm 4 and helm 3 with a keyring key, naming key ID and signer', async () => {
    for (const c of [signed4, signed3]) {
      const r = await verifyProvenance(input(c, [trusted.publicKey]));
      assert.equal(r.reason, 'Verified', r.message);
      assert.equal(r.verified, true);
      assert.equal(r.type, 'helm-prov');
      assert.equal(r.keyID, trusted.keyID);
      assert.equal(r.signer, trusted.uid);
    }
  });

  it('finds the signer among several keys of a keyring, also in one armored block each', async () => {
    const r = await verifyProvenance(input(signed4, [stranger.publicKey, trusted.publicKey]));
    assert.equal(r.reason, 'Verified');
    const joined = await verifyProvenance(input(signed4, [`${stranger.publicKey}\n${trusted.publicKey}`]));
    assert.equal(joined.reason, 'Verified', joined.message);
  });

  it('unsigned: no .prov', async () => {
    const r = await verifyProvenance(input(signed4, [trusted.publicKey], { provenance: undefined }));
    assert.equal(r.reason, 'Unsigned');
    assert.equal(r.verified, false);
  });

  it('wrong key: signed by a key that is not in the keyring, or no keyring at all', async () => {
    const r = await verifyProvenance(input(signed4, [stranger.publicKey]));
    assert.equal(r.reason, 'UnknownKey');
    assert.equal(r.verified, false);
    assert.equal(r.keyID, trusted.keyID);
    assert.match(r.message, new RegExp(`signed by key ${trusted.keyID}, which is not in the repository keyring`));
    const none = await verifyProvenance(input(signed4, []));
    assert.equal(none.reason, 'UnknownKey');
    assert.match(none.message, /no keyring is configured/);
  });

  it('tampered tarball: good signature, but it signs another digest', async () => {
    const other = await packageChart({ name: 'signedapp', version: '1.0.0', templateVariant: 'evil' }, scratchDir('tampered'));
    assert.notEqual(other.digest, signed4.digest);
    const r = await verifyProvenance(input(signed4, [trusted.publicKey], { tarballDigest: other.digest }));
    assert.equal(r.reason, 'DigestMismatch');
    assert.equal(r.verified, false);
    assert.match(r.message, new RegExp(`signed digest of signedapp-1.0.0.tgz is ${signed4.digest}, the repository served ${other.digest}`));
  });

  it('tampered .prov: the signed text or the signature altered', async () => {
    const text = signed4.provenance.toString('utf8');
    const fakeDigest = sha256Digest(Buffer.from('evil'));
    const editedText = Buffer.from(text.replace(signed4.digest, fakeDigest));
    const r = await verifyProvenance(input(signed4, [trusted.publicKey], { provenance: editedText, tarballDigest: fakeDigest }));
    assert.equal(r.reason, 'BadSignature', r.message);
    assert.equal(r.verified, false);
    const editedChart = Buffer.from(text.replace('version: 1.0.0', 'version: 1.0.1'));
    assert.equal((await verifyProvenance(input(signed4, [trusted.publicKey], { provenance: editedChart }))).reason, 'BadSignature');
  });

  it('garbage and oversized .prov files are Malformed, never a crash', async () => {
    for (const junk of [Buffer.from('not a signature'), Buffer.from('-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nx\n-----BEGIN PGP SIGNATURE-----\n\n!!!\n-----END PGP SIGNATURE-----\n'), Buffer.alloc(1024 * 1024 + 1, 0x41)]) {
      const r = await verifyProvenance(input(signed4, [trusted.publicKey], { provenance: junk }));
      assert.equal(r.reason, 'Malformed', r.message);
      assert.equal(r.verified, false);
    }
  });

  it('a .prov that signs no entry for this file name does not verify', async () => {
    const r = await verifyProvenance(input(signed4, [trusted.publicKey], { fileName: 'other-1.0.0.tgz' }));
    assert.equal(r.reason, 'DigestMismatch');
    assert.match(r.message, /signs no digest for other-1\.0\.0\.tgz/);
  });

  it('reads the files map after the ... separator; a keyring without keys is refused', async () => {
    assert.deepEqual([...signedFiles('name: x\n...\nfiles:\n  x-1.tgz: sha256:ab\n')], [['x-1.tgz', 'sha256:ab']]);
    await assert.rejects(checkKeyring(['not a key']), /holds no OpenPGP public key/);
    assert.equal(await checkKeyring([trusted.publicKey, stranger.publicKey]), 2);
  });
  it('a .prov with several signatures verifies by the keyring key\'s one, even when a stranger signed first', async () => {
    const openpgp = await import('openpgp');
    const { readFileSync } = await import('node:fs');
    const text = (await openpgp.readCleartextMessage({ cleartextMessage: signed4.provenance.toString('utf8') })).getText();
    const secret = (k: SigningKey) => openpgp.readPrivateKey({ binaryKey: readFileSync(k.secring) });
    const both = await openpgp.sign({ message: await openpgp.createCleartextMessage({ text }), signingKeys: [await secret(stranger), await secret(trusted)] });
    const r = await verifyProvenance(input(signed4, [trusted.publicKey], { provenance: Buffer.from(both) }));
    assert.equal(r.reason, 'Verified', r.message);
    assert.equal(r.keyID, trusted.keyID);
    assert.equal(r.signer, trusted.uid);
    const onlyStranger = await verifyProvenance(input(signed4, [stranger.publicKey], { provenance: Buffer.from(both) }));
    assert.equal(onlyStranger.reason, 'Verified', onlyStranger.message);
    assert.equal(onlyStranger.keyID, stranger.keyID);
  });

  it('a key that expired after signing: Verified as gpg and helm 3 say (helm 4 refuses), and the message says it expired', async () => {
    // Long enough to sign under load, short enough to wait for.
    const created = Date.now();
    const expiring = await createSigningKey('Short Lived', 'seconds=8');
    const chart = await packageSignedChart({ name: 'signedapp', version: '1.0.0' }, `${scratchDir('expiring')}/h4`, expiring, 'helm4');
    const before = await verifyProvenance(input(chart, [expiring.publicKey]));
    assert.equal(before.reason, 'Verified', before.message);
    assert.doesNotMatch(before.message, /expired/);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, created + 9000 - Date.now())));
    const after = await verifyProvenance(input(chart, [expiring.publicKey]));
    assert.equal(after.reason, 'Verified', after.message);
    assert.equal(after.keyID, expiring.keyID);
    assert.match(after.message, /^signed by [0-9a-f]{16} \(Short Lived <[^>]+>\); digest matches; the key expired at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, after signing$/);
    // The real helm on the same files: helm 3 accepts, helm 4 refuses an expired key.
    const keyring = await publicKeyring(expiring);
    await runHelm(['verify', chart.path, '--keyring', keyring], { helm: 'helm3' });
    await assert.rejects(runHelm(['verify', chart.path, '--keyring', keyring], { helm: 'helm4' }), /key expired/);
  });
});
