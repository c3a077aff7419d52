import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseRepositorySpec } from '../../../src/sources/chart-repository.ts';
import { closestKey, ConfigError, CONFIG_FILE_KEYS, parseConfigFile } from '../../../src/sources/repository-config.ts';
import { generateMutualTlsCerts } from '../../harness/certs.ts';

describe('one repository-config parser for the --config file and ChartRepository specs', () => {
  it('refuses a URL that has the right prefix but does not parse (it used to reach the clients and throw there), without quoting it', () => {
    for (const url of ['https://host:8443x/charts', 'https://a b/x', 'oci://host:99999/x', 'https://exa[mple.com', 'https://user:s3cret@host:70000/']) {
      assert.throws(() => parseRepositorySpec({ url }, 'ns'), (e: unknown) => e instanceof ConfigError && e.message === 'spec.url: not a valid URL (its host, port or characters)', url);
    }
    for (const url of ['https://charts.example/x/', 'oci://registry.example:5000/charts', 'http://127.0.0.1:8080']) assert.equal(parseRepositorySpec({ url }, 'ns').url, url.replace(/\/+$/, ''));
  });

  it('names an unknown key and the valid one it most likely meant, in the file and in a spec', () => {
    const cases: [string, RegExp][] = [
      ['repositorys: []', /repos\.yaml: unknown key "repositorys" \(did you mean "repositories"\?\)/],
      ['repositories: [{name: a, url: "https://x", plainHttp: true}]', /repos\.yaml: repositories\[0\]: unknown key "plainHttp" \(did you mean "plainHTTP"\?\)/],
      ['repositories: [{name: a, url: "https://x", priorty: 1}]', /unknown key "priorty" \(did you mean "priority"\?\)/],
      ['repositories: [{name: a, url: "https://x", intervall: 1h}]', /unknown key "intervall" \(did you mean "interval"\?\)/],
      ['repositories: [{name: a, url: "https://x", secretRef: {name: s}}]', /unknown key "secretRef" \(valid keys: /],
    ];
    for (const [text, msg] of cases) assert.throws(() => parseConfigFile(text, 'repos.yaml', '.', {}), (e: unknown) => e instanceof ConfigError && msg.test(e.message), text);
    assert.throws(() => parseRepositorySpec({ url: 'https://x', plainHttp: true }, 'ns'), /^ConfigError: spec: unknown key "plainHttp" \(did you mean "plainHTTP"\?\)$/);
    assert.throws(() => parseRepositorySpec({ url: 'https://x', caFile: 'ca.pem' }, 'ns'), /spec: unknown key "caFile"/);
  });

  it('applies the same rules to the shared fields in both places', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ priority: 1.5 }, /priority: must be an integer/],
      [{ priority: '1' }, /priority: must be an integer/],
      [{ interval: 'weekly' }, /interval: "weekly" is not a duration/],
      [{ timeout: '2h' }, /timeout: "2h" must be between 1s and 10m/],
      [{ plainHTTP: 'yes' }, /plainHTTP: must be true or false/],
    ];
    for (const [fields, msg] of bad) {
      assert.throws(() => parseRepositorySpec({ url: 'https://x', ...fields }, 'ns'), msg, `spec ${JSON.stringify(fields)}`);
      const file = JSON.stringify({ repositories: [{ name: 'a', url: 'https://x', ...fields }] });
      assert.throws(() => parseConfigFile(file, 'f.yaml', '.', {}), msg, `file ${JSON.stringify(fields)}`);
    }
    const spec = parseRepositorySpec({ url: 'oci://r.example/c/', interval: '30m', timeout: '15s', priority: 3, plainHTTP: true }, 'ns');
    const file = parseConfigFile('repositories: [{name: a, url: "oci://r.example/c/", interval: 30m, timeout: 15s, priority: 3, plainHTTP: true}]', 'f', '.', {}).repositories[0];
    for (const k of ['url', 'intervalSeconds', 'timeoutSeconds', 'priority', 'plainHTTP', 'insecureSkipTLSVerify', 'requireSignature'] as const) assert.equal(file?.[k], spec[k], k);
  });

  it('certFile + keyFile: a TLS client certificate, both or neither, files relative to the config, checked as a pair', () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-mtls-'));
    try {
      const certs = generateMutualTlsCerts(dir);
      const cert = readFileSync(certs.client.cert, 'utf8');
      const key = readFileSync(certs.client.key, 'utf8');
      const repo = (fields: string): string => `repositories: [{name: a, url: "https://x", ${fields}}]`;
      const ok = parseConfigFile(repo('certFile: client.crt, keyFile: client.key'), 'f.yaml', dir, {}).repositories[0];
      assert.deepEqual(ok?.clientCertificate, { certPem: cert, keyPem: key });
      assert.equal(parseConfigFile(repo('caFile: ca.crt'), 'f.yaml', dir, {}).repositories[0]?.clientCertificate, undefined);
      const bad: [string, RegExp][] = [
        ['certFile: client.crt', /^f\.yaml: repositories\[0\]: give certFile and keyFile together/],
        ['keyFile: client.key', /give certFile and keyFile together/],
        ['certFile: client.crt, keyFile: missing.key', /^f\.yaml: repositories\[0\]\.keyFile: cannot read missing\.key$/],
        ['certFile: client.crt, keyFile: stranger.key', /^f\.yaml: repositories\[0\]: certFile client\.crt and keyFile stranger\.key: the private key does not belong to the certificate$/],
        ['certFile: client.key, keyFile: client.key', /the certificate is not a PEM certificate$/],
        ['certfile: client.crt', /unknown key "certfile" \(did you mean "certFile"\?\)/],
        // Helm's CertPoolFromFile refuses a CA file with no certificate; so does the file here.
        ['caFile: client.key', /^f\.yaml: repositories\[0\]\.caFile: it holds no PEM certificate that can be read$/],
      ];
      for (const [fields, msg] of bad) assert.throws(() => parseConfigFile(repo(fields), 'f.yaml', dir, {}), (e: unknown) => e instanceof ConfigError && msg.test(e.message), fields);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('suggests only near keys', () => {
    assert.equal(closestKey('PLAINHTTP', CONFIG_FILE_KEYS), 'plainHTTP');
    assert.equal(closestKey('passwordEnvv', CONFIG_FILE_KEYS), 'passwordEnv');
    assert.equal(closestKey('description', CONFIG_FILE_KEYS), undefined);
  });
});
