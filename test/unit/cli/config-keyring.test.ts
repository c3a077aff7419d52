import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../../src/cli/config.ts';

// The CLI's --config accepts `keyring: <file>` and `requireSignature` like a ChartRepository's
// keyringSecretRef/requireSignature; these are the file-level rules.
describe('parseConfig keyring and requireSignature', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-keyring-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const armored = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxjMEZ\n-----END PGP PUBLIC KEY BLOCK-----\n';
  writeFileSync(join(dir, 'pub.asc'), armored);

  it('reads the keyring file relative to the config file directory, or absolute', () => {
    const rel = parseConfig('repositories:\n  - name: r\n    url: https://c.example\n    keyring: pub.asc\n    requireSignature: true\n', 'repos.yaml', dir, {});
    assert.deepEqual(rel.repositories[0]?.keyring, [armored]);
    assert.equal(rel.repositories[0]?.requireSignature, true);
    const abs = parseConfig(`repositories:\n  - name: r\n    url: https://c.example\n    keyring: ${join(dir, 'pub.asc')}\n`, 'repos.yaml', '/nonexistent', {});
    assert.deepEqual(abs.repositories[0]?.keyring, [armored]);
    assert.equal(abs.repositories[0]?.requireSignature, false);
  });

  it('refuses requireSignature without a keyring, a non-boolean flag and an unreadable keyring file', () => {
    const bad: Array<[string, RegExp]> = [
      ['repositories:\n  - name: r\n    url: https://c.example\n    requireSignature: true\n', /requireSignature: needs keyring/],
      ['repositories:\n  - name: r\n    url: https://c.example\n    keyring: pub.asc\n    requireSignature: "yes"\n', /requireSignature: must be true or false/],
      ['repositories:\n  - name: r\n    url: https://c.example\n    keyring: missing.asc\n', /keyring: cannot read missing\.asc/],
    ];
    for (const [text, msg] of bad) {
      assert.throws(() => parseConfig(text, 'repos.yaml', dir, {}), (e: unknown) => e instanceof ConfigError && msg.test(e.message), text);
    }
  });
});
