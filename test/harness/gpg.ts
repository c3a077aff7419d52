/**
 * Real OpenPGP keys from GnuPG and charts signed by the real `helm package --sign`, for provenance tests.
 * Helm reads the legacy secret keyring format, so the secret key is exported to a `secring.gpg` file.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runHelm, scratchDir, sha256Digest, writeChartSource, type ChartSpec, type HelmBinary, type PackagedChart } from './charts.ts';

export interface SigningKey {
  /** The GNUPGHOME holding it. */
  home: string;
  /** The user ID helm's --key selects the key by. */
  uid: string;
  /** Binary secret keyring for `helm package --sign --keyring`. */
  secring: string;
  /** Armored public key: what a keyring Secret holds. */
  publicKey: string;
  /** 16 hex digits (lower case) of the signing key. */
  keyID: string;
}

const gpgHomes: string[] = [];

function gpg(home: string, args: string[], input?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile('gpg', ['--homedir', home, '--batch', '--no-tty', '--quiet', ...args], { encoding: 'buffer', timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`gpg ${args[0] ?? ''} failed: ${stderr.toString().trim() || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** A fresh RSA signing key without passphrase in its own GNUPGHOME; `expire` in gpg's form (`seconds=5`). */
export async function createSigningKey(name: string, expire = 'never'): Promise<SigningKey> {
  const home = scratchDir('gnupg');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  gpgHomes.push(home);
  const uid = `${name} <${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}@charts.example.test>`;
  await gpg(home, ['--passphrase', '', '--pinentry-mode', 'loopback', '--quick-gen-key', uid, 'rsa2048', 'sign', expire]);
  const secring = join(home, 'secring.gpg');
  writeFileSync(secring, await gpg(home, ['--pinentry-mode', 'loopback', '--passphrase', '', '--export-secret-keys', uid]));
  const publicKey = (await gpg(home, ['--armor', '--export', uid])).toString('utf8');
  const colons = (await gpg(home, ['--with-colons', '--list-keys', uid])).toString('utf8');
  const keyID = /^pub:[^:]*:[^:]*:[^:]*:([0-9A-F]{16}):/m.exec(colons)?.[1]?.toLowerCase();
  if (!keyID) throw new Error(`no key ID in gpg output for ${uid}`);
  return { home, uid, secring, publicKey, keyID };
}

/** The public key as a binary keyring file, the form `helm verify --keyring` reads. */
export async function publicKeyring(key: SigningKey): Promise<string> {
  const path = join(key.home, 'pubring-export.gpg');
  writeFileSync(path, await gpg(key.home, ['--export', key.uid]));
  return path;
}

/** Stops the gpg-agents the keys started (they would outlive the test process). */
export async function stopGpgAgents(): Promise<void> {
  for (const home of gpgHomes.splice(0)) {
    await new Promise<void>((resolve) => execFile('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], () => resolve()));
  }
}

export interface SignedChart extends PackagedChart {
  provPath: string;
  provenance: Buffer;
}

/** `helm package --sign`: the .tgz and its .prov next to it in `outDir`. */
export async function packageSignedChart(spec: ChartSpec, outDir: string, key: SigningKey, helm: HelmBinary = 'helm4'): Promise<SignedChart> {
  const src = writeChartSource(scratchDir('src'), spec);
  mkdirSync(outDir, { recursive: true });
  await runHelm(['package', src, '--destination', outDir, '--sign', '--key', key.uid, '--keyring', key.secring], { helm });
  const path = join(outDir, `${spec.name}-${spec.version}.tgz`);
  const bytes = readFileSync(path);
  const provPath = `${path}.prov`;
  return { spec, path, digest: sha256Digest(bytes), bytes, provPath, provenance: readFileSync(provPath) };
}
