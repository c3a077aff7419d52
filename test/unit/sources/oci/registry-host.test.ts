import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authEntryCredentials } from '../../../../src/sources/oci/registry-host.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('a Docker-format auths entry', () => {
  it('an identity token (az acr login) is no login: its auth holds only a placeholder user', () => {
    // What `az acr login` / `docker login` to ACR writes: the placeholder user with an empty password.
    assert.equal(authEntryCredentials({ auth: b64('00000000-0000-0000-0000-000000000000:'), identitytoken: 'eyJhbGciOi.refresh' }), undefined);
  });

  it('auth wins over username/password, as Docker reads the file', () => {
    assert.deepEqual(authEntryCredentials({ auth: b64('from-auth:p:w'), username: 'plain', password: 'x' }), { kind: 'basic', username: 'from-auth', password: 'p:w' });
    assert.deepEqual(authEntryCredentials({ username: 'plain', password: 'x' }), { kind: 'basic', username: 'plain', password: 'x' });
    // An auth without a user part is no credential of its own.
    assert.deepEqual(authEntryCredentials({ auth: b64(':nouser'), username: 'plain', password: 'x' }), { kind: 'basic', username: 'plain', password: 'x' });
    assert.equal(authEntryCredentials({}), undefined);
  });
});
