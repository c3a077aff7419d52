/** Where the pinned binaries that `npm run tools` builds or unpacks live, with one clear error when absent. */
import { accessSync, constants, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TOOLS_BIN = join(REPO_ROOT, '.tools', 'bin');

export type ToolName = 'etcd' | 'kube-apiserver' | 'kubectl' | 'helm3' | 'helm4' | 'helm3-latest' | 'helm4-latest' | 'helm3-old' | 'docker-registry' | 'referrers-registry' | 'source-controller';

/** The current helm binaries: the pinned 3.17 / 4.1 and the newest 3.x / 4.x (scripts/tools.sh). */
export const HELM_BINARIES = ['helm3', 'helm3-latest', 'helm4', 'helm4-latest'] as const satisfies readonly ToolName[];
/**
 * Every helm the content proof is tested against: the current four and an older helm 3 (`helm3-old`, whose
 * processing differs from 3.17's: releases written years ago are still in clusters).
 */
export const HELM_PROOF_BINARIES = ['helm3-old', ...HELM_BINARIES] as const satisfies readonly ToolName[];
export type HelmBinaryName = (typeof HELM_PROOF_BINARIES)[number];
export const ALL_TOOLS: readonly ToolName[] = ['etcd', 'kube-apiserver', 'kubectl', 'helm3', 'helm4', 'docker-registry'];

export class ToolMissingError extends Error {
  readonly reason = 'tool_missing';
  readonly tool: ToolName;
  constructor(tool: ToolName, path: string) {
    super(`${tool} is not installed at ${path}: run \`npm run tools\` (builds or unpacks the pinned test tools into .tools/)`);
    this.name = 'ToolMissingError';
    this.tool = tool;
  }
}

/** Absolute path of an executable tool in .tools/bin; throws ToolMissingError if it is not there. */
export function toolPath(name: ToolName): string {
  const path = join(TOOLS_BIN, name);
  try {
    accessSync(path, constants.X_OK);
    realpathSync(path); // a dangling symlink (tool folder deleted) counts as missing
  } catch {
    throw new ToolMissingError(name, path);
  }
  return path;
}

/** Checks every tool at once so that a missing one fails fast, before anything starts. */
export function requireTools(names: readonly ToolName[] = ALL_TOOLS): Record<ToolName, string> {
  const missing: ToolName[] = [];
  const out: Partial<Record<ToolName, string>> = {};
  for (const name of names) {
    try {
      out[name] = toolPath(name);
    } catch {
      missing.push(name);
    }
  }
  if (missing.length) {
    throw new Error(`missing test tools: ${missing.join(', ')} in ${TOOLS_BIN}: run \`npm run tools\``);
  }
  return out as Record<ToolName, string>;
}

/** PATH with .tools/bin first, for child processes (helm finds nothing else it needs). */
export function toolsPathEnv(): string {
  return `${TOOLS_BIN}:${process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin'}`;
}

/** The helm versions whose own test charts `scripts/tools.sh helm-testdata` copies (HELM3/4_LATEST_VERSION there). */
export type HelmTestdataMajor = 'v3' | 'v4';

/**
 * Helm's own dependency-processing test charts (scripts/tools.sh helm-testdata): `pkg/chartutil/testdata` of
 * helm.sh/helm/v3 and `pkg/chart/v2/util/testdata` of helm.sh/helm/v4, at the newest helm 3 and 4 built there.
 * Returns the folder and the helm version it was copied from; throws with the command to run when absent.
 */
export function helmTestdata(major: HelmTestdataMajor): { dir: string; version: string } {
  const link = join(REPO_ROOT, '.tools', `helm-testdata-${major}`);
  let dir: string;
  try {
    dir = realpathSync(link);
    accessSync(join(dir, '.complete'), constants.R_OK);
  } catch {
    throw new Error(`helm ${major} test charts are not at ${link}: run \`npm run tools\` (or \`bash scripts/tools.sh helm-testdata\`)`);
  }
  // …/helm-testdata-<version>/testdata
  const version = /helm-testdata-(v[^/]+)\/testdata$/.exec(dir)?.[1];
  if (!version) throw new Error(`${link} → ${dir}: not a helm-testdata-<version> folder`);
  return { dir, version };
}

/** One real-world chart folder (scripts/tools.sh real-charts), as its project publishes it in its Go module. */
export interface RealChart {
  /** The chart folder's name (charts/<name> in the module). */
  name: string;
  dir: string;
  module: string;
  version: string;
}

/**
 * The real-world charts `scripts/tools.sh real-charts` copied out of their projects' Go modules (pinned
 * versions there), sorted by name; throws with the command to run when absent.
 */
export function realCharts(): RealChart[] {
  const root = join(REPO_ROOT, '.tools', 'real-charts');
  const out: RealChart[] = [];
  let modules: string[];
  try {
    modules = readdirSync(root);
  } catch {
    throw new Error(`real-world charts are not at ${root}: run \`npm run tools\` (or \`bash scripts/tools.sh real-charts\`)`);
  }
  for (const m of modules) {
    const dir = realpathSync(join(root, m));
    accessSync(join(dir, '.complete'), constants.R_OK);
    const [module = '', version = ''] = readFileSync(join(dir, '.module'), 'utf8').trim().split(' ');
    for (const name of readdirSync(dir)) {
      if (!name.startsWith('.')) out.push({ name, dir: join(dir, name), module, version });
    }
  }
  if (!out.length) throw new Error(`no real-world charts in ${root}: run \`bash scripts/tools.sh real-charts\``);
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}
