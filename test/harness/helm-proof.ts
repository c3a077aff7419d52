/**
 * Running any of the tested helm binaries against the harness control plane and turning what it
 * stored into the inputs of the content proof (src/resolve/proof.ts).
 */
import { execFile, execFileSync } from 'node:child_process';
import { fingerprintChart } from '../../src/chart/fingerprint.ts';
import { readChartTree } from '../../src/chart/chart-tree.ts';
import { treeJson } from '../../src/chart/helm-install.ts';
import { releaseFromJson } from '../../src/decode/decode.ts';
import type { ReleaseRecord } from '../../src/model/release.ts';
import type { PublishedForProof } from '../../src/resolve/proof.ts';
import type { ClusterInfo } from './controlplane.ts';
import { helmEnv } from './helm.ts';
import { toolPath, type HelmBinaryName } from './tools.ts';

export function majorOf(helm: HelmBinaryName): 3 | 4 {
  return helm.startsWith('helm3') ? 3 : 4;
}

const versions = new Map<HelmBinaryName, [number, number, number]>();

/** The binary's own version (`helm version --short`), as [major, minor, patch]. */
export function helmVersionOf(helm: HelmBinaryName): [number, number, number] {
  let v = versions.get(helm);
  if (!v) {
    const out = execFileSync(toolPath(helm), ['version', '--short'], { encoding: 'utf8' });
    const m = /v(\d+)\.(\d+)\.(\d+)/.exec(out);
    if (!m) throw new Error(`${helm} version printed no version: ${out}`);
    v = [Number(m[1]), Number(m[2]), Number(m[3])];
    versions.set(helm, v);
  }
  return v;
}

/** Whether the binary is at least major.minor (flags the older helm 3 lacks). */
export function helmAtLeast(helm: HelmBinaryName, major: number, minor: number): boolean {
  const [ma, mi] = helmVersionOf(helm);
  return ma > major || (ma === major && mi >= minor);
}

/** `helm <args>` with one of the tested binaries, against `cluster`. */
export function runHelmBinary(cluster: Pick<ClusterInfo, 'kubeconfig' | 'dir'>, helm: HelmBinaryName, args: readonly string[]): Promise<string> {
  const env = helmEnv(cluster, majorOf(helm));
  return new Promise((resolve, reject) => {
    execFile(toolPath(helm), [...args], { env, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${helm} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

function setArgs(set: Record<string, string>): string[] {
  return Object.entries(set).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
}

/**
 * What `helm install --dry-run=client -o json` would store for `chart` with `--set` values: the same
 * release struct Helm encodes into its Secret, here printed instead of stored.
 */
export async function dryRunInstall(cluster: Pick<ClusterInfo, 'kubeconfig' | 'dir'>, helm: HelmBinaryName, namespace: string, release: string, chart: string, set: Record<string, string> = {}): Promise<ReleaseRecord> {
  // Helm < 3.13 has a boolean --dry-run (client-side); 3.13 made it a string and Helm 4 needs the value.
  const dryRun = helmAtLeast(helm, 3, 13) ? '--dry-run=client' : '--dry-run';
  const out = await runHelmBinary(cluster, helm, ['install', release, chart, dryRun, '-o', 'json', '--namespace', namespace, ...setArgs(set)]);
  return releaseFromJson(out, `${helm} dry-run ${release}`, 'Secret', namespace);
}

export async function install(cluster: Pick<ClusterInfo, 'kubeconfig' | 'dir'>, helm: HelmBinaryName, namespace: string, release: string, chart: string, set: Record<string, string> = {}, extra: string[] = []): Promise<void> {
  await runHelmBinary(cluster, helm, ['install', release, chart, '--namespace', namespace, ...setArgs(set), ...extra]);
}

export async function upgrade(cluster: Pick<ClusterInfo, 'kubeconfig' | 'dir'>, helm: HelmBinaryName, namespace: string, release: string, chart: string, set: Record<string, string> = {}, extra: string[] = []): Promise<void> {
  await runHelmBinary(cluster, helm, ['upgrade', release, chart, '--namespace', namespace, ...setArgs(set), ...extra]);
}

/** The published side of the proof, from the tarball bytes (what analyze caches). */
export function publishedOf(bytes: Uint8Array): PublishedForProof & { rawValuesDigest: string } {
  const { content, tree } = readChartTree(bytes);
  const fingerprint = fingerprintChart(content);
  return { fingerprint, tree: treeJson(tree), rawValuesDigest: fingerprint.values };
}
