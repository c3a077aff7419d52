/**
 * What the corpus tests (Helm's own test charts, real-world charts, YAML corner charts) share: which
 * dependencies a chart directory still needs, a bounded pool for parallel installs, the short helm names used
 * in namespaces, and the attacker's edit of a stored release.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { encodeHelmString, parseLossless } from '../../src/decode/encode.ts';
import { unwrapHelmString } from '../../src/decode/decode.ts';
import { kubectl, type ClusterInfo } from './controlplane.ts';
import type { HelmBinaryName } from './tools.ts';

/** A short name per tested helm, for namespaces and release names. */
export const HELM_SHORT: Record<HelmBinaryName, string> = { 'helm3-old': 'h3old', helm3: 'h3', 'helm3-latest': 'h3new', helm4: 'h4', 'helm4-latest': 'h4new' };

/** A dependency entry of Chart.yaml (requirements.yaml for apiVersion v1). */
interface DependencyEntry {
  name?: string;
  repository?: string;
}

/** Whether each dependency of a chart directory is vendored in charts/ (a folder or a .tgz), `file://`, or neither. */
export function dependencyNeeds(dir: string): { build: boolean; network: string[] } {
  const deps: DependencyEntry[] = [];
  for (const file of ['Chart.yaml', 'requirements.yaml']) {
    try {
      const doc = parse(readFileSync(join(dir, file), 'utf8')) as { dependencies?: DependencyEntry[] } | null;
      deps.push(...(doc?.dependencies ?? []));
    } catch {
      // no requirements.yaml
    }
  }
  const vendored = new Set<string>();
  try {
    for (const e of readdirSync(join(dir, 'charts'), { withFileTypes: true })) {
      if (e.isDirectory()) {
        const meta = parse(readFileSync(join(dir, 'charts', e.name, 'Chart.yaml'), 'utf8')) as { name?: string } | null;
        if (meta?.name) vendored.add(meta.name);
      } else if (e.name.endsWith('.tgz')) {
        vendored.add(e.name.replace(/-v?\d+\.\d+\.\d+.*\.tgz$/, ''));
      }
    }
  } catch {
    // no charts/
  }
  const missing = deps.filter((d) => !vendored.has(d.name ?? ''));
  return { build: missing.length > 0 && missing.every((d) => d.repository?.startsWith('file://')), network: missing.filter((d) => !d.repository?.startsWith('file://')).map((d) => `${d.name} from ${d.repository}`) };
}

/** Runs `jobs` with at most `limit` at a time. */
export async function pool<T>(limit: number, jobs: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await (jobs[i] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}

/** The parts of a stored chart the tampering cases edit. */
export type StoredChart = { values: Record<string, unknown>; templates: { name: string; data: string }[] };

interface StoredSecret {
  metadata: { name: string };
  data: { release: string };
}

/** What an attacker with write access to the release Secret does: decode revision 1, change `edit`, write it back in Helm's encoding. */
export async function tamperRelease(cluster: Pick<ClusterInfo, 'kubeconfig'>, namespace: string, release: string, edit: (chart: StoredChart) => void): Promise<void> {
  const name = `sh.helm.release.v1.${release}.v1`;
  const secret = JSON.parse(await kubectl(cluster, ['get', 'secret', '-n', namespace, name, '-o', 'json'])) as StoredSecret;
  const json = parseLossless(unwrapHelmString(Buffer.from(secret.data.release, 'base64').toString('latin1'), name).toString('utf8')) as { chart: StoredChart };
  edit(json.chart);
  secret.data.release = Buffer.from(encodeHelmString(JSON.stringify(json))).toString('base64');
  await kubectl(cluster, ['replace', '-f', '-'], { input: JSON.stringify(secret) });
}
