/**
 * Real helm 3 and helm 4 against a harness control plane. Each (cluster, helm version, process) gets its
 * own HELM_CONFIG_HOME / CACHE / DATA and registry config, so runs never touch ~/.config/helm and two
 * test files never share repository caches. Failures carry helm's stderr and the command line with
 * secret-bearing flags redacted.
 */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterInfo } from './controlplane.ts';
import { redactArgs } from './processes.ts';
import { toolPath, toolsPathEnv } from './tools.ts';

export type HelmVersion = 3 | 4;
export type HelmDriver = 'secret' | 'configmap';
export const HELM_VERSIONS: readonly HelmVersion[] = [3, 4];
export const HELM_DRIVERS: readonly HelmDriver[] = ['secret', 'configmap'];

export interface HelmRunOptions {
  /** HELM_DRIVER (default secret). */
  driver?: HelmDriver | undefined;
  namespace?: string | undefined;
  timeoutMs?: number | undefined;
  cwd?: string | undefined;
  input?: string | undefined;
  /** Another kubeconfig (e.g. a ServiceAccount's). */
  kubeconfig?: string | undefined;
}

export interface HelmResult {
  stdout: string;
  stderr: string;
}

export class HelmError extends Error {
  readonly reason = 'helm_failed';
  readonly stderr: string;
  constructor(message: string, stderr: string) {
    super(message);
    this.name = 'HelmError';
    this.stderr = stderr;
  }
}

/** The isolated helm environment for one cluster, helm version and process. */
export function helmEnv(info: Pick<ClusterInfo, 'kubeconfig' | 'dir'>, version: HelmVersion, driver: HelmDriver = 'secret'): NodeJS.ProcessEnv {
  const home = join(info.dir, `helm${version}-home-${process.pid}`);
  mkdirSync(join(home, 'config'), { recursive: true });
  return {
    PATH: toolsPathEnv(),
    HOME: home,
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_DATA_HOME: join(home, 'data'),
    HELM_REGISTRY_CONFIG: join(home, 'config', 'registry.json'),
    HELM_REPOSITORY_CONFIG: join(home, 'config', 'repositories.yaml'),
    HELM_REPOSITORY_CACHE: join(home, 'cache', 'repository'),
    KUBECONFIG: info.kubeconfig,
    HELM_DRIVER: driver,
    NO_COLOR: '1',
  };
}

/** `helm<version> <args>` against the cluster. */
export function helm(info: Pick<ClusterInfo, 'kubeconfig' | 'dir'>, version: HelmVersion, args: readonly string[], options: HelmRunOptions = {}): Promise<HelmResult> {
  const env = helmEnv(info, version, options.driver);
  if (options.kubeconfig) env['KUBECONFIG'] = options.kubeconfig;
  const full = [...args, ...(options.namespace ? ['--namespace', options.namespace] : [])];
  return new Promise((resolve, reject) => {
    const child = execFile(toolPath(version === 3 ? 'helm3' : 'helm4'), full, { env, cwd: options.cwd, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new HelmError(`helm${version} ${redactArgs(full)} (driver ${options.driver ?? 'secret'}) failed: ${stderr.trim() || err.message}`, stderr));
      else resolve({ stdout, stderr });
    });
    child.stdin?.end(options.input ?? '');
  });
}

export interface InstallOptions extends HelmRunOptions {
  version?: string | undefined;
  /** `--set` pairs. Use dummy values only: they are stored in the release. */
  set?: Record<string, string> | undefined;
  createNamespace?: boolean | undefined;
  /** `--repo URL` (classic repository) or `--plain-http` for oci:// charts, added when chart starts with oci://. */
  repo?: string | undefined;
  extraArgs?: readonly string[] | undefined;
}

function chartArgs(chart: string, o: InstallOptions): string[] {
  const args = [chart];
  if (o.version) args.push('--version', o.version);
  if (o.repo) args.push('--repo', o.repo);
  if (chart.startsWith('oci://')) args.push('--plain-http');
  for (const [k, v] of Object.entries(o.set ?? {})) args.push('--set', `${k}=${v}`);
  return args;
}

/** `helm install` without --wait (no kubelet: pods never become ready). */
export function helmInstall(info: Pick<ClusterInfo, 'kubeconfig' | 'dir'>, v: HelmVersion, release: string, chart: string, o: InstallOptions = {}): Promise<HelmResult> {
  return helm(info, v, ['install', release, ...chartArgs(chart, o), ...(o.createNamespace ? ['--create-namespace'] : []), ...(o.extraArgs ?? [])], o);
}

export function helmUpgrade(info: Pick<ClusterInfo, 'kubeconfig' | 'dir'>, v: HelmVersion, release: string, chart: string, o: InstallOptions = {}): Promise<HelmResult> {
  return helm(info, v, ['upgrade', release, ...chartArgs(chart, o), ...(o.extraArgs ?? [])], o);
}

export function helmRollback(info: Pick<ClusterInfo, 'kubeconfig' | 'dir'>, v: HelmVersion, release: string, revision: number, o: HelmRunOptions = {}): Promise<HelmResult> {
  return helm(info, v, ['rollback', release, String(revision)], o);
}

export function helmUninstall(info: Pick<ClusterInfo, 'kubeconfig' | 'dir'>, v: HelmVersion, release: string, o: HelmRunOptions & { keepHistory?: boolean } = {}): Promise<HelmResult> {
  return helm(info, v, ['uninstall', release, ...(o.keepHistory ? ['--keep-history'] : [])], o);
}

export interface HelmHistoryEntry {
  revision: number;
  status: string;
  chart: string;
  app_version: string;
  description: string;
}

export async function helmHistory(info: Pick<ClusterInfo, 'kubeconfig' | 'dir'>, v: HelmVersion, release: string, o: HelmRunOptions = {}): Promise<HelmHistoryEntry[]> {
  const { stdout } = await helm(info, v, ['history', release, '-o', 'json'], o);
  return JSON.parse(stdout) as HelmHistoryEntry[];
}
