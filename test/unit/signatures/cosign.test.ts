/** cosign signature checks (src/signatures/cosign.ts) on generated keys and payloads; keyless ones are in test/integration/signatures/keyless.test.ts. */
import { strict as assert } from 'node:assert';
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import { cosignKeys, identityMatcher, verifySimpleSigning } from '../../../src/signatures/cosign.ts';

describe('verifySimpleSigning (cosign sign --key)', () => {
  const subject = `sha256:${'c'.repeat(64)}`;
  const payload = (digest: string, type = 'cosign container image signature'): Buffer =>
    Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': 'r/x' }, image: { 'docker-manifest-digest': digest }, type }, optional: null }));
  const pair = (kind: 'ec' | 'rsa' | 'ed25519') =>
    kind === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');

  for (const kind of ['ec', 'rsa', 'ed25519'] as const) {
    it(`${kind}: a signature over the payload naming the subject verifies; a changed payload does not`, () => {
      const { privateKey, publicKey } = pair(kind);
      const p = payload(subject);
      const sig = sign(kind === 'ed25519' ? null : 'sha256', p, privateKey).toString('base64');
      const keys = cosignKeys([publicKey.export({ type: 'spki', format: 'pem' }).toString()]);
      assert.equal(verifySimpleSigning(p, sig, subject, keys), true);
      const tampered = Buffer.from(p.toString().replace('r/x', 'r/y'));
      assert.equal(verifySimpleSigning(tampered, sig, subject, keys), false);
    });
  }

  it('refuses another subject, another payload type, garbage and a foreign key', () => {
    const { privateKey, publicKey } = pair('ec');
    const keys = cosignKeys([publicKey.export({ type: 'spki', format: 'pem' }).toString()]);
    const other = `sha256:${'d'.repeat(64)}`;
    const signed = (p: Buffer): string => sign('sha256', p, privateKey).toString('base64');
    assert.equal(verifySimpleSigning(payload(other), signed(payload(other)), subject, keys), false);
    assert.equal(verifySimpleSigning(payload(subject, 'something else'), signed(payload(subject, 'something else')), subject, keys), false);
    assert.equal(verifySimpleSigning(Buffer.from('not json'), signed(Buffer.from('not json')), subject, keys), false);
    assert.equal(verifySimpleSigning(payload(subject), '', subject, keys), false);
    const foreign = cosignKeys([pair('ec').publicKey.export({ type: 'spki', format: 'pem' }).toString()]);
    assert.equal(verifySimpleSigning(payload(subject), signed(payload(subject)), subject, foreign), false);
    assert.throws(() => cosignKeys(['-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n']), /cosign public key 1 is not a PEM public key/);
  });
});

describe('identityMatcher (keyless identity policy)', () => {
  const gha = 'https://token.actions.githubusercontent.com';
  it('exact values match exactly; regular expressions are unanchored like cosign and Flux', () => {
    const m = identityMatcher([{ issuer: gha, subjectRegExp: '^https://github\\.com/acme/charts/' }]);
    assert.equal(m.matches(gha, 'https://github.com/acme/charts/.github/workflows/release.yaml@refs/heads/main'), true);
    assert.equal(m.matches(`${gha}/`, 'https://github.com/acme/charts/x'), false, 'issuer is exact');
    assert.equal(m.matches(gha, 'https://github.com/evil/charts/x'), false);
    assert.equal(m.matches(gha, undefined), false);
    const loose = identityMatcher([{ issuerRegExp: 'accounts\\.google\\.com', subject: 'ci@acme.example' }]);
    assert.equal(loose.matches('https://accounts.google.com', 'ci@acme.example'), true);
    assert.equal(loose.matches('https://accounts.google.com', 'ci@acme.example.evil'), false);
  });

  it('any identity of the list may match', () => {
    const m = identityMatcher([{ issuer: 'a', subject: 'x' }, { issuer: 'b', subject: 'y' }]);
    assert.equal(m.matches('b', 'y'), true);
    assert.equal(m.matches('a', 'y'), false);
    assert.match(m.describe(), /issuer "a" subject "x" or issuer "b" subject "y"/);
  });

  it('refuses an identity without issuer or subject, with both forms, or with a broken expression', () => {
    assert.throws(() => identityMatcher([{ subject: 'x' }]), /identity 1: give issuer or issuerRegExp/);
    assert.throws(() => identityMatcher([{ issuer: 'a', issuerRegExp: 'a', subject: 'x' }]), /give issuer or issuerRegExp/);
    assert.throws(() => identityMatcher([{ issuer: 'a' }]), /give subject or subjectRegExp/);
    assert.throws(() => identityMatcher([{ issuer: 'a', subjectRegExp: '(' }]), /subjectRegExp is not a regular expression/);
  });
});
