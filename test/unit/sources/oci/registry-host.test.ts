import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authEntryCredentials, helperAnswerCredentials } from '../../../../src/sources/oci/registry-host.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('a Docker-format auths entry', () => {
  it('an identity token (az acr login) is a refresh token; the placeholder user beside it is never the login', () => {
    // What `az acr login` / `docker login` to ACR writes: the placeholder user with an empty password.
    assert.deepEqual(authEntryCredentials({ auth: b64('00000000-0000-0000-0000-000000000000:'), identitytoken: 'eyJhbGciOi.refresh' }), { kind: 'refresh', token: 'eyJhbGciOi.refresh' });
    // It wins over a full user and password for Bearer, as oras-go v2 uses the refresh token for every Bearer
    // challenge; the pair is kept for a Basic challenge, which oras-go answers with it (fetchBasicAuth).
    assert.deepEqual(authEntryCredentials({ auth: b64('u:p'), username: 'u', password: 'p', identitytoken: 'rt' }), { kind: 'refresh', token: 'rt', basic: { username: 'u', password: 'p' } });
    assert.deepEqual(authEntryCredentials({ identitytoken: 'rt' }), { kind: 'refresh', token: 'rt' });
    // An empty one is no identity token.
    assert.deepEqual(authEntryCredentials({ auth: b64('u:p'), identitytoken: '' }), { kind: 'basic', username: 'u', password: 'p', basicNeedsBoth: true });
  });

  it('a registry token is an access token for the registry; it wins over an identity token and a user and password', () => {
    // The entry Docker's and oras-go's AuthConfig spell `registrytoken`, as a real config.json holds it.
    const file = JSON.parse('{"auths":{"reg.example.io":{"registrytoken":"eyJhbGciOiJFUzI1NiJ9.eyJhY2Nlc3MiOltdfQ.c2ln"}}}') as { auths: Record<string, Record<string, unknown>> };
    assert.deepEqual(authEntryCredentials(file.auths['reg.example.io'] ?? {}), { kind: 'access', token: 'eyJhbGciOiJFUzI1NiJ9.eyJhY2Nlc3MiOltdfQ.c2ln' });
    // oras-go's fetchBearerToken sends AccessToken before it looks at RefreshToken or the user; the user and
    // password (auth over username/password) stay for a Basic challenge, only as a non-empty pair.
    assert.deepEqual(authEntryCredentials({ auth: b64('bot:pw'), username: 'plain', password: 'x', identitytoken: 'rt', registrytoken: 'at' }), { kind: 'access', token: 'at', basic: { username: 'bot', password: 'pw' } });
    assert.deepEqual(authEntryCredentials({ username: 'plain', password: 'x', registrytoken: 'at' }), { kind: 'access', token: 'at', basic: { username: 'plain', password: 'x' } });
    assert.deepEqual(authEntryCredentials({ auth: b64('00000000-0000-0000-0000-000000000000:'), registrytoken: 'at' }), { kind: 'access', token: 'at' });
    assert.deepEqual(authEntryCredentials({ username: 'only-user', registrytoken: 'at', identitytoken: 'rt' }), { kind: 'access', token: 'at' });
    assert.deepEqual(authEntryCredentials({ identitytoken: 'rt', registrytoken: '' }), { kind: 'refresh', token: 'rt' });
    assert.deepEqual(authEntryCredentials({ auth: b64('u:p'), registrytoken: '' }), { kind: 'basic', username: 'u', password: 'p', basicNeedsBoth: true });
  });

  it('auth wins over username/password, as Docker reads the file', () => {
    assert.deepEqual(authEntryCredentials({ auth: b64('from-auth:p:w'), username: 'plain', password: 'x' }), { kind: 'basic', username: 'from-auth', password: 'p:w', basicNeedsBoth: true });
    assert.deepEqual(authEntryCredentials({ username: 'plain', password: 'x' }), { kind: 'basic', username: 'plain', password: 'x', basicNeedsBoth: true });
    // An auth without a user part is no credential of its own.
    assert.deepEqual(authEntryCredentials({ auth: b64(':nouser'), username: 'plain', password: 'x' }), { kind: 'basic', username: 'plain', password: 'x', basicNeedsBoth: true });
    assert.equal(authEntryCredentials({}), undefined);
  });
});

describe("a credential helper's answer", () => {
  it('`Username: <token>` marks an identity token (oras-go nativeStore); any other user is basic', () => {
    assert.deepEqual(helperAnswerCredentials(JSON.parse('{"ServerURL":"r.example","Username":"<token>","Secret":"rt"}')), { kind: 'refresh', token: 'rt' });
    assert.deepEqual(helperAnswerCredentials(JSON.parse('{"ServerURL":"r.example","Username":"u","Secret":""}')), { kind: 'basic', username: 'u', password: '', basicNeedsBoth: true });
    assert.equal(helperAnswerCredentials(JSON.parse('{"ServerURL":"r.example","Username":"<token>","Secret":""}')), undefined);
    assert.equal(helperAnswerCredentials(JSON.parse('{"ServerURL":"r.example","Username":"","Secret":"s"}')), undefined);
    assert.equal(helperAnswerCredentials(JSON.parse('"credentials not found"')), undefined);
  });
});
