/**
 * `npm run release:artifacts` with a throwaway GnuPG key: the chart is packaged and signed by the real
 * `helm package --sign`, chartorigin's own .prov check (src/signatures/prov.ts) and the real `helm verify`
 * accept it, and the SBOM is CycloneDX listing production dependencies only.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { verifyProvenance } from '../../../src/signatures/prov.ts';
import { ROOT, runHelm, scratchDir, sha256Digest } from '../../harness/charts.ts';
import { createSigningKey, publicKeyring, stopGpgAgents } from '../../harness/gpg.ts';

after(stopGpgAgents);

function releaseArtifacts(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [join(ROOT, 'scripts/release-artifacts.ts')], { env: { ...process.env, ...env }, timeout: 300_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (child.exitCode ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('release artifacts: signed chart and SBOM', () => {
  it('packages charts/chartorigin with a .prov that chartorigin and helm verify, and a production-only SBOM', async () => {
    const key = await createSigningKey('chartorigin release');
    const out = scratchDir('release');
    const r = await releaseArtifacts({ CHARTORIGIN_SIGNING_KEY: key.uid, CHARTORIGIN_SIGNING_KEYRING: key.secring, CHARTORIGIN_RELEASE_DIR: out });
    assert.equal(r.code, 0, r.stderr);
    const version = /^version:\s*(\S+)/m.exec(readFileSync(join(ROOT, 'charts/chartorigin/Chart.yaml'), 'utf8'))?.[1];
    const tgz = join(out, `chartorigin-${version}.tgz`);
    const bytes = readFileSync(tgz);
    const provenance = readFileSync(`${tgz}.prov`);

    const ours = await verifyProvenance({ provenance, tarballDigest: sha256Digest(bytes), fileName: `chartorigin-${version}.tgz`, keyring: [key.publicKey] });
    assert.deepEqual({ verified: ours.verified, reason: ours.reason, keyID: ours.keyID }, { verified: true, reason: 'Verified', keyID: key.keyID });
    const stranger = await createSigningKey('someone else');
    assert.equal((await verifyProvenance({ provenance, tarballDigest: sha256Digest(bytes), fileName: `chartorigin-${version}.tgz`, keyring: [stranger.publicKey] })).reason, 'UnknownKey');

    const helmVerify = await runHelm(['verify', tgz, '--keyring', await publicKeyring(key)]);
    assert.match(helmVerify.stdout + helmVerify.stderr, /Signed by: chartorigin release/);

    const sbom = JSON.parse(readFileSync(join(out, `chartorigin-${version}.cdx.json`), 'utf8')) as { bomFormat?: string; components?: { name: string; scope?: string }[] };
    assert.equal(sbom.bomFormat, 'CycloneDX');
    const names = new Set((sbom.components ?? []).map((c) => c.name));
    for (const dep of ['pino', 'openpgp', '@sigstore/verify']) assert.ok(names.has(dep), `SBOM lists ${dep}`);
    for (const dev of ['typescript', 'fast-check', '@sigstore/mock']) assert.ok(!names.has(dev), `SBOM leaves out the dev dependency ${dev}`);

    const sums = readFileSync(join(out, 'SHA256SUMS'), 'utf8');
    assert.ok(sums.includes(`${sha256Digest(bytes).slice(7)}  chartorigin-${version}.tgz`));
  });

  it('refuses to run without a signing key', async () => {
    const r = await releaseArtifacts({ CHARTORIGIN_SIGNING_KEY: '', CHARTORIGIN_RELEASE_DIR: scratchDir('release') });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /CHARTORIGIN_SIGNING_KEY is not set/);
  });
});
