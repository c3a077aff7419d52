import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../../src/cli/config.ts';

describe('parseConfig', () => {
  it('reads repositories with defaults and credentials from the environment', () => {
    const cfg = parseConfig(
      `repositories:
  - name: main
    url: https://charts.example.com/stable/
  - name: oci
    url: oci://127.0.0.1:5000/charts
    plainHTTP: true
    priority: 5
    interval: 30m
    timeout: 15s
    username: bot
    passwordEnv: REG_PASS
`,
      'repos.yaml',
      '.',
      { REG_PASS: 's3cret' },
    );
    assert.equal(cfg.repositories.length, 2);
    assert.deepEqual(cfg.repositories[0], {
      name: 'main', url: 'https://charts.example.com/stable', priority: 0, intervalSeconds: 3600, timeoutSeconds: 60,
      credentials: undefined, caPem: undefined, insecureSkipTLSVerify: false, plainHTTP: false, keyring: undefined, requireSignature: false,
    });
    assert.deepEqual(cfg.repositories[1]?.credentials, { kind: 'basic', username: 'bot', password: 's3cret' });
    assert.equal(cfg.repositories[1]?.intervalSeconds, 1800);
    assert.equal(cfg.repositories[1]?.timeoutSeconds, 15);
  });

  it('names the file, the entry and the field for bad config', () => {
    const bad: [string, RegExp][] = [
      ['repositories: {}', /repos\.yaml: repositories must be a list/],
      ['repositories: [{name: main, url: ftp://x}]', /repos\.yaml: repositories\[0\]\.url: must start with/],
      ['repositories: [{name: Main!, url: https://x}]', /repositories\[0\]\.name/],
      ['repositories: [{name: a, url: https://x, interval: soon}]', /interval: "soon" is not a duration/],
      ['repositories: [{name: a, url: https://x, timeout: 2h}]', /repositories\[0\]\.timeout: "2h" must be between 1s and 10m/],
      ['repositories: [{name: a, url: https://x}, {name: a, url: https://y}]', /"a" is used twice/],
      ['repositories: [{name: a, url: https://x, tokenEnv: NOPE}]', /NOPE is not set/],
      ['repositories: [', /not valid YAML/],
    ];
    for (const [text, msg] of bad) {
      assert.throws(() => parseConfig(text, 'repos.yaml', '.', {}), (e: unknown) => e instanceof ConfigError && msg.test(e.message), text);
    }
  });
});
