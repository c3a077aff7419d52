/**
 * The pure parts of the registry token flow: the OAuth2 refresh-token grant's form, byte for byte as Helm 3.18+
 * and 4 (oras-go v2, Go's url.Values.Encode) write it, and reading a token service's answer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { challengeAuthorization, OAUTH2_CLIENT_ID, readTokenAnswer, refreshTokenForm } from '../../../../src/sources/oci/client.ts';
import { authEntryCredentials, helperAnswerCredentials } from '../../../../src/sources/oci/registry-host.ts';

describe('the refresh-token grant form', () => {
  it('fields sorted by name, scopes joined by a space, escaped as Go escapes a query component', () => {
    // The bytes Go writes for url.Values{grant_type, refresh_token, service, client_id, scope}.Encode(): `:`, `/`,
    // `+`, `=` and `*` escaped, `~` and `-_.` kept, a space as `+`.
    assert.equal(
      refreshTokenForm('ab~c*d+e/f=', 'registry.example.io', ['repository:team/app:pull', 'repository:team/lib:pull']),
      'client_id=oras-go&grant_type=refresh_token&refresh_token=ab~c%2Ad%2Be%2Ff%3D&scope=repository%3Ateam%2Fapp%3Apull+repository%3Ateam%2Flib%3Apull&service=registry.example.io',
    );
    assert.equal(OAUTH2_CLIENT_ID, 'oras-go');
  });

  it('service is always sent (empty when the challenge has none); scope only when there is one', () => {
    assert.equal(refreshTokenForm('t', undefined, []), 'client_id=oras-go&grant_type=refresh_token&refresh_token=t&service=');
    // Non-ASCII is percent-encoded as UTF-8, in upper-case hex, by both.
    assert.equal(refreshTokenForm('é', 's', []), 'client_id=oras-go&grant_type=refresh_token&refresh_token=%C3%A9&service=s');
  });
});

describe("a token service's answer", () => {
  const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

  it('the OAuth2 grant: access_token only, expires_in and issued_at kept', () => {
    const body = bytes('{"access_token":"eyJ0eXAiOiJKV1Qi.x.y","scope":"repository:team/app:pull","expires_in":900,"issued_at":"2026-03-01T10:00:00Z","refresh_token":"r"}');
    assert.deepEqual(readTokenAnswer(body, 'oauth2'), { token: 'eyJ0eXAiOiJKV1Qi.x.y', expiresIn: 900, issuedAt: Date.parse('2026-03-01T10:00:00Z') });
    assert.equal(readTokenAnswer(bytes('{"token":"t","expires_in":900}'), 'oauth2'), 'the token service answered the OAuth2 grant without an access_token');
    assert.equal(readTokenAnswer(bytes('{"access_token":""}'), 'oauth2'), 'the token service answered the OAuth2 grant without an access_token');
  });

  it('the GET protocol: access_token, else token (an empty access_token counts as none); expiry 60 s by default', () => {
    assert.deepEqual(readTokenAnswer(bytes('{"token":"t"}'), 'distribution'), { token: 't', expiresIn: 60, issuedAt: undefined });
    assert.deepEqual(readTokenAnswer(bytes('{"token":"t","access_token":"a","expires_in":-5}'), 'distribution'), { token: 'a', expiresIn: 60, issuedAt: undefined });
    assert.deepEqual(readTokenAnswer(bytes('{"token":"t","access_token":"","issued_at":"not a date"}'), 'distribution'), { token: 't', expiresIn: 60, issuedAt: undefined });
  });

  it('what is not a token answer says so without echoing the body', () => {
    assert.equal(readTokenAnswer(bytes('<html>secret-looking</html>'), 'oauth2'), 'the token service answered with something that is not JSON');
    assert.equal(readTokenAnswer(bytes('["access_token"]'), 'distribution'), 'the token service answered without a token');
  });
});

describe('which credential answers a challenge without the token service (oras-go v2 fetchBearerToken, fetchBasicAuth)', () => {
  const pair = { username: 'bot', password: 'pw' };
  const basicPw = `Basic ${Buffer.from('bot:pw').toString('base64')}`;

  it('Bearer: a registry token as it is, before a user and password; anything else goes to the token service', () => {
    assert.equal(challengeAuthorization('bearer', { kind: 'access', token: 'at.e30.sig' }), 'Bearer at.e30.sig');
    assert.equal(challengeAuthorization('bearer', { kind: 'access', token: 'at', basic: pair }), 'Bearer at');
    assert.equal(challengeAuthorization('bearer', { kind: 'refresh', token: 'rt', basic: pair }), undefined);
    assert.equal(challengeAuthorization('bearer', { kind: 'basic', ...pair }), undefined);
    assert.equal(challengeAuthorization('bearer', undefined), undefined);
  });

  it('Basic: only a non-empty user and password, never a token; a token-only login is refused, naming what it holds', () => {
    assert.equal(challengeAuthorization('basic', { kind: 'access', token: 'at', basic: pair }), basicPw);
    assert.equal(challengeAuthorization('basic', { kind: 'refresh', token: 'rt', basic: pair }), basicPw);
    assert.equal(challengeAuthorization('basic', { kind: 'basic', ...pair }), basicPw);
    for (const [c, has] of [
      [{ kind: 'access', token: 'at-value' }, 'a registry token (registrytoken)'],
      [{ kind: 'refresh', token: 'rt-value' }, 'an identity token (identitytoken)'],
    ] as const) {
      const r = challengeAuthorization('basic', c);
      assert.ok(typeof r === 'object', JSON.stringify(r));
      assert.ok(r.refused.includes(`the login has only ${has}`), r.refused);
      assert.match(r.refused, /missing username or password for basic auth/);
      assert.doesNotMatch(r.refused, /-value/);
    }
    assert.deepEqual(challengeAuthorization('basic', undefined), { refused: 'HTTP 401, the registry requires credentials' });
  });

  it("Basic: a Docker-config or helper login with an empty half is refused as oras-go refuses it; a Secret's user and password are sent as they are", () => {
    for (const login of [authEntryCredentials({ username: '00000000-0000-0000-0000-000000000000' }), authEntryCredentials({ auth: Buffer.from('user:').toString('base64') }), helperAnswerCredentials({ Username: 'u', Secret: '' })]) {
      const r = challengeAuthorization('basic', login);
      assert.ok(typeof r === 'object', JSON.stringify(r));
      assert.match(r.refused, /a username with an empty password, which Helm does not send to Basic either \("missing username or password for basic auth"\)/);
      // The token service (Bearer) still gets what there is, as oras-go's fetchDistributionToken sends it.
      assert.equal(challengeAuthorization('bearer', login), undefined);
    }
    // kubernetes.io/basic-auth and the config file: unchanged (`user:` is sent).
    assert.equal(challengeAuthorization('basic', { kind: 'basic', username: 'u', password: '' }), `Basic ${Buffer.from('u:').toString('base64')}`);
  });

  it("go-containerregistry's reading (a Flux OCIRepository's Secret): a registry token answers Basic too, as Bearer, before a user and password", () => {
    assert.equal(challengeAuthorization('basic', { kind: 'access', token: 'at', answersBasic: true }), 'Bearer at');
    assert.equal(challengeAuthorization('basic', { kind: 'access', token: 'at', basic: pair, answersBasic: true }), 'Bearer at');
    assert.equal(challengeAuthorization('bearer', { kind: 'access', token: 'at', answersBasic: true }), 'Bearer at');
  });
});
