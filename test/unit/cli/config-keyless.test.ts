/** The keyless identity policy in both config parsers: the CLI's --config file and ChartRepository spec.keyless. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../src/cli/config.ts';
import { parseRepositorySpec } from '../../../src/sources/chart-repository.ts';

const GHA = 'https://token.actions.githubusercontent.com';
/** A minimal trusted_root.json that @sigstore/verify accepts (no authorities: verifies nothing, parses). */
const EMPTY_ROOT = JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] });

describe('CLI config: keyless', () => {
  it('reads matchOIDCIdentity and a trustedRoot file; requireSignature is satisfied by keyless', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chartorigin-keyless-'));
    writeFileSync(join(dir, 'root.json'), EMPTY_ROOT);
    const cfg = parseConfig(
      `repositories:
  - name: oci
    url: oci://ghcr.io/acme/charts
    requireSignature: true
    keyless:
      matchOIDCIdentity:
        - issuer: ${GHA}
          subjectRegExp: ^https://github\\.com/acme/
      trustedRoot: root.json
`,
      'repos.yaml',
      dir,
    );
    const r = cfg.repositories[0];
    assert.equal(r?.requireSignature, true);
    assert.deepEqual(r?.keyless, { identities: [{ issuer: GHA, subjectRegExp: '^https://github\\.com/acme/' }], trustedRootJson: EMPTY_ROOT });
  });

  it('refuses incomplete identities, broken expressions, unreadable or unusable roots, naming the field', () => {
    const bad = (keyless: string, dir = '.'): RegExp | string => {
      try {
        parseConfig(`repositories:\n  - name: oci\n    url: oci://r/c\n    keyless:\n${keyless}`, 'repos.yaml', dir);
        return 'accepted';
      } catch (err) {
        return (err as Error).message;
      }
    };
    assert.match(String(bad('      matchOIDCIdentity: []\n')), /repositories\[0\]\.keyless\.matchOIDCIdentity: must be a non-empty list/);
    assert.match(String(bad('      matchOIDCIdentity:\n        - subject: x\n')), /matchOIDCIdentity\[0\]: give issuer or issuerRegExp/);
    assert.match(String(bad(`      matchOIDCIdentity:\n        - issuer: a\n          subjectRegExp: "("\n`)), /subjectRegExp is not a regular expression/);
    assert.match(String(bad(`      matchOIDCIdentity:\n        - issuer: a\n          subject: b\n      trustedRoot: nope.json\n`)), /keyless\.trustedRoot: cannot read nope\.json/);
    const dir = mkdtempSync(join(tmpdir(), 'chartorigin-keyless-'));
    writeFileSync(join(dir, 'root.json'), '{"hello":1}');
    assert.match(String(bad(`      matchOIDCIdentity:\n        - issuer: a\n          subject: b\n      trustedRoot: root.json\n`, dir)), /trustedRoot: trusted_root\.json has no certificateAuthorities/);
    assert.throws(() => parseConfig('repositories:\n  - name: oci\n    url: oci://r/c\n    requireSignature: true\n', 'repos.yaml'), /requireSignature: needs keyring .* or keyless/);
  });
});

describe('ChartRepository spec.keyless', () => {
  it('parses identities and the trusted-root Secret (key defaults to trusted_root.json)', () => {
    const spec = parseRepositorySpec({ url: 'oci://ghcr.io/acme', keyless: { matchOIDCIdentity: [{ issuerRegExp: '^https://', subject: 'me@acme.example' }], trustedRootSecretRef: { name: 'sigstore' } } }, 'ns');
    assert.deepEqual(spec.keyless, { identities: [{ issuerRegExp: '^https://', subject: 'me@acme.example' }], trustedRootSecretRef: { name: 'sigstore', namespace: 'ns', key: 'trusted_root.json' } });
    assert.equal(parseRepositorySpec({ url: 'oci://ghcr.io/acme', keyless: { matchOIDCIdentity: [{ issuer: GHA, subject: 'x' }] } }, 'ns').keyless?.trustedRootSecretRef, undefined);
    assert.throws(() => parseRepositorySpec({ url: 'oci://x', keyless: { matchOIDCIdentity: [{ issuer: GHA, subject: 'x', subjectRegExp: 'y' }] } }, 'ns'), /spec\.keyless\.matchOIDCIdentity\[0\]: give subject or subjectRegExp/);
    assert.throws(() => parseRepositorySpec({ url: 'oci://x', keyless: {} }, 'ns'), /spec\.keyless\.matchOIDCIdentity: must be a non-empty list/);
  });
});
