/**
 * What the fixture capture scripts (capture-*-fixtures.ts) share: a harness control plane for the run, real helm
 * binaries run against it, and each stored release read back as the API server returns it. A capture script
 * installs with each helm it covers, then reads back and writes what the unit tests need:
 *
 *   await withControlPlane(async (cp) => {
 *     const { version, tag } = helmVersion(helm);
 *     await runHelm(helm, ['install', 'web', chart, '--namespace', ns], helmEnv(cp, 4));
 *     const { release } = await readStoredRelease(cp, ns, 'web', 1);
 *     writeCapture(OUT, `${tag}-web.v1.json`, chartOnly(release));
 *   });
 */
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubectl, startControlPlane, type ControlPlane } from '../test/harness/controlplane.ts';
import type { HelmDriver } from '../test/harness/helm.ts';
import { onInterrupt, stopAll } from '../test/harness/processes.ts';
import { unwrapHelmString } from '../src/decode/decode.ts';
import { isObject } from '../src/util/guards.ts';

/** Starts the harness control plane, runs `body` with it and stops it, also when the run is interrupted. */
export async function withControlPlane(body: (cp: ControlPlane) => Promise<void>): Promise<void> {
  const cp = await startControlPlane();
  onInterrupt(async () => {
    await cp.stop();
    await stopAll();
  });
  try {
    await body(cp);
  } finally {
    await cp.stop();
  }
}

/** Runs a helm binary; rejects with the command and what helm said on stderr. */
export function runHelm(helm: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(helm, args, { env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => (err ? reject(new Error(`${helm} ${args.join(' ')}: ${stderr.trim() || err.message}`)) : resolve(stdout)));
  });
}

/** `helm version --short` of a binary (for the manifest) and its `vX.Y.Z` (for file and namespace names), if it says one. */
export function helmVersion(helm: string): { version: string; tag: string | undefined } {
  const version = execFileSync(helm, ['version', '--short'], { encoding: 'utf8' }).trim();
  return { version, tag: /^v\d+\.\d+\.\d+/.exec(version)?.[0] };
}

/**
 * Revision `revision` of a release as stored (`kubectl get -o json` of its Secret or ConfigMap) and the release
 * it holds, decoded as the proof decodes it (base64 of a Secret's data, then Helm's own base64 + gzip).
 */
export async function readStoredRelease(cp: ControlPlane, ns: string, release: string, revision: number, driver: HelmDriver = 'secret'): Promise<{ object: Record<string, unknown>; release: Record<string, unknown> }> {
  const name = `sh.helm.release.v1.${release}.v${revision}`;
  const object = JSON.parse(await kubectl(cp, ['get', driver, name, '-n', ns, '-o', 'json'])) as Record<string, unknown>;
  const data = object['data'];
  if (!isObject(data) || typeof data['release'] !== 'string') throw new Error(`${ns}/${name} has no data.release`);
  const helmString = driver === 'secret' ? Buffer.from(data['release'], 'base64').toString('latin1') : data['release'];
  const parsed: unknown = JSON.parse(unwrapHelmString(helmString, `${ns}/${name}`).toString('utf8'));
  if (!isObject(parsed)) throw new Error(`${ns}/${name}: the release is not an object`);
  return { object, release: parsed };
}

/** What the proof reads of a release: `chart` and `config` as Helm encoded them; the rendered manifest, hooks and notes are not part of the chart. */
export function chartOnly(release: Record<string, unknown>): Record<string, unknown> {
  delete release['manifest'];
  delete release['hooks'];
  if (isObject(release['info'])) delete release['info']['notes'];
  return release;
}

/** Writes one capture (JSON, one space indented as the committed fixtures are unless `indent` says otherwise) and says so. */
export function writeCapture(dir: string, file: string, value: unknown, indent = 1): void {
  writeFileSync(join(dir, file), `${JSON.stringify(value, null, indent)}\n`);
  process.stderr.write(`captured ${file}\n`);
}
