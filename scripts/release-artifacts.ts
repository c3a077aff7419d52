/**
 * `npm run release:artifacts`: what a chartorigin release ships besides the image, signed and described.
 *   dist/release/chartorigin-<version>.tgz        the Helm chart (charts/chartorigin)
 *   dist/release/chartorigin-<version>.tgz.prov   its provenance, `helm package --sign` (OpenPGP)
 *   dist/release/chartorigin-<version>.cdx.json   SBOM of the production dependencies (CycloneDX, `npm sbom`)
 *   dist/release/SHA256SUMS                       digests of the three
 *
 * The signing key comes from the environment, never from the repository:
 *   CHARTORIGIN_SIGNING_KEY       user ID (or part of it) of the key, as `helm package --key` selects it
 *   CHARTORIGIN_SIGNING_KEYRING   secret keyring file in the legacy format helm reads (`gpg --export-secret-keys`)
 *   CHARTORIGIN_SIGNING_PASSPHRASE_FILE  optional, for a key with a passphrase
 *   HELM                          helm binary (default: .tools/bin/helm4, else helm on PATH)
 *   CHARTORIGIN_RELEASE_DIR       output folder (default dist/release)
 * How users verify both: README.md, "Verifying chartorigin's own chart".
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((done, fail) => {
    execFile(cmd, args, { cwd: ROOT, maxBuffer: 64 * 1024 * 1024, timeout: 300_000 }, (err, stdout, stderr) => {
      if (err) fail(new Error(`${cmd} ${args[0] ?? ''} failed: ${(stderr || err.message).trim().split('\n').slice(-5).join(' | ')}`));
      else done(stdout);
    });
  });
}

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (see scripts/release-artifacts.ts)`);
  return v;
}

async function main(): Promise<void> {
  const key = need('CHARTORIGIN_SIGNING_KEY');
  const keyring = need('CHARTORIGIN_SIGNING_KEYRING');
  const passphraseFile = process.env['CHARTORIGIN_SIGNING_PASSPHRASE_FILE'];
  const local = join(ROOT, '.tools', 'bin', 'helm4');
  const helm = process.env['HELM'] || (existsSync(local) ? local : 'helm');
  const out = resolve(ROOT, process.env['CHARTORIGIN_RELEASE_DIR'] || join('dist', 'release'));
  mkdirSync(out, { recursive: true });

  const chart = parseYaml(readFileSync(join(ROOT, 'charts', 'chartorigin', 'Chart.yaml'), 'utf8')) as { name: string; version: string };
  const base = `${chart.name}-${chart.version}`;
  await run(helm, ['package', join(ROOT, 'charts', 'chartorigin'), '--destination', out, '--sign', '--key', key, '--keyring', keyring, ...(passphraseFile ? ['--passphrase-file', passphraseFile] : [])]);

  // Production dependencies only: what the image and the npm package carry.
  const sbom = await run('npm', ['sbom', '--omit', 'dev', '--sbom-format', 'cyclonedx', '--sbom-type', 'application']);
  JSON.parse(sbom); // a broken SBOM must fail the release, not ship
  writeFileSync(join(out, `${base}.cdx.json`), sbom);

  const files = [`${base}.tgz`, `${base}.tgz.prov`, `${base}.cdx.json`];
  const sums = files.map((f) => `${createHash('sha256').update(readFileSync(join(out, f))).digest('hex')}  ${f}`).join('\n');
  writeFileSync(join(out, 'SHA256SUMS'), `${sums}\n`);
  process.stdout.write(`${files.concat('SHA256SUMS').map((f) => join(out, f)).join('\n')}\n`);
}

try {
  await main();
} catch (err) {
  process.stderr.write(`release-artifacts: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
