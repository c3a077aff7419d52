/**
 * What the corpus tests (Helm's own test charts, real-world charts, YAML corner charts, the duplicated subchart)
 * share: which dependencies a chart directory still needs, a bounded pool for parallel installs, the short helm
 * names used in namespaces, a helm home per install, the chart repository they serve from and its index, the
 * one scan that proves every release, the verdict table, and the attacker's edit of a stored release.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { encodeHelmString, parseLossless } from '../../src/decode/encode.ts';
import { unwrapHelmString } from '../../src/decode/decode.ts';
import { startChartRepoServer, type ChartRepoServer } from './chart-repo-server.ts';
import { scratchDir, sha256Digest } from './charts.ts';
import { runChartorigin, type CliRun } from './cli.ts';
import { kubectl, type ClusterInfo } from './controlplane.ts';
import { runHelmBinary } from './helm-proof.ts';
import type { HelmBinaryName } from './tools.ts';

/** A short name per tested helm, for namespaces and release names. */
export const HELM_SHORT: Record<HelmBinaryName, string> = { 'helm3-old': 'h3old', helm3: 'h3', 'helm3-latest': 'h3new', helm4: 'h4', 'helm4-latest': 'h4new' };

/** The helm that packages and indexes every corpus chart (the published side); each tested helm then installs the tarball. */
export const PACKAGER: HelmBinaryName = 'helm4-latest';

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

/**
 * A helm home of its own per key under `work/homes` (repository cache included): parallel `--repo` installs of
 * different tarballs with the same name (eight testdata charts are `frobnitz-1.2.3.tgz`) never share a cached file.
 */
export function helmHomes(work: string, cluster: Pick<ClusterInfo, 'kubeconfig'>): (key: string) => { kubeconfig: string; dir: string } {
  return (key) => {
    const dir = join(work, 'homes', key);
    mkdirSync(dir, { recursive: true });
    return { kubeconfig: cluster.kubeconfig, dir };
  };
}

/** A real HTTP chart repository server over `dir` (`work/repo`): each chart gets a folder there, a repository of its own. */
export type CorpusRepo = ChartRepoServer & { dir: string };

export async function startCorpusRepo(work: string): Promise<CorpusRepo> {
  const dir = join(work, 'repo');
  mkdirSync(dir, { recursive: true });
  return Object.assign(await startChartRepoServer({ dir }), { dir });
}

/** A chart tarball served from a repository (and folder) of its own: its releases must be proven from `repo` with `digest`. */
export interface Served {
  repo: string;
  digest: string;
  url: string;
}

/**
 * `helm repo index` (by PACKAGER) of a repository folder that holds one chart tarball; asserts that the index
 * lists exactly that one chart and advertises the served bytes' digest.
 */
export async function indexOneChart(home: { kubeconfig: string; dir: string }, dir: string, url: string, id: string): Promise<{ name: string; version: string; digest: string }> {
  await runHelmBinary(home, PACKAGER, ['repo', 'index', dir, '--url', url]);
  const index = parse(readFileSync(join(dir, 'index.yaml'), 'utf8')) as { entries: Record<string, { version: string; digest: string }[]> };
  const [[name, entries] = ['', []]] = Object.entries(index.entries);
  const entry = entries[0];
  assert.ok(entry && entries.length === 1 && Object.keys(index.entries).length === 1, `${id}: one chart in its repository`);
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz')) ?? '';
  const digest = sha256Digest(readFileSync(join(dir, tgz)));
  assert.equal(`sha256:${entry.digest}`, digest, `${id}: the index advertises the served bytes`);
  return { name, version: entry.version, digest };
}

/** A release as `chartorigin scan -o json` reports it. */
export interface ScanRow {
  namespace: string;
  name: string;
  origin: { match: string; repository?: string; tarballDigest?: string; message?: string };
}

/**
 * One `chartorigin scan -A` of the cluster against the served repositories only (`--no-discover`, no cache, a
 * HOME of its own named `home`): its run, how long it took, and its rows in namespaces starting with `prefix`,
 * by `namespace/name`. The exit code is the caller's to assert.
 */
export async function scanCorpus(o: { cluster: Pick<ClusterInfo, 'kubeconfig'>; work: string; repositories: Pick<Served, 'repo' | 'url'>[]; prefix: string; home: string; timeoutMs: number }): Promise<{ scan: CliRun; ms: number; rows: Map<string, ScanRow> }> {
  const config = join(o.work, 'repositories.yaml');
  writeFileSync(config, `repositories:\n${o.repositories.map((r) => `  - name: ${r.repo}\n    url: ${r.url}\n`).join('')}`);
  const started = performance.now();
  const scan = await runChartorigin(['scan', '-A', '--kubeconfig', o.cluster.kubeconfig, '--config', config, '--no-discover', '-o', 'json'], { env: { ...process.env, HOME: scratchDir(o.home), CHARTORIGIN_CACHE_DIR: '' }, timeoutMs: o.timeoutMs });
  const ms = Math.round(performance.now() - started);
  // A scan that exits 3 (a repository it could not read) still prints its rows; one that printed nothing has none.
  const rows = scan.stdout.trim() ? (JSON.parse(scan.stdout) as ScanRow[]) : [];
  return { scan, ms, rows: new Map(rows.filter((r) => r.namespace.startsWith(o.prefix)).map((r) => [`${r.namespace}/${r.name}`, r])) };
}

/** An install that fails in helm itself, with why: the corpus tests assert these are exactly the failures that happened. */
export interface HelmFailure {
  chart: string;
  helms: readonly HelmBinaryName[];
  /** What helm says. */
  error: RegExp;
  why: string;
  /**
   * Whether helm stored the release before the API server refused an object (status failed): a stored chart
   * like any other, which must be proven too.
   */
  stored: boolean;
  /**
   * Flags with which helm gets as far as storing the release (the chart it stores is unchanged by them), and
   * what helm still says then, if it fails after storing.
   */
  retry?: { flags: string[]; error?: RegExp };
}

/**
 * A cell of the chart × helm table: `Verified` when the scan proved the release from `expected.repository` with
 * the served digest, else what it said; `helm failed` when helm failed, `stored` when it had stored the release.
 */
export function verdict(r: ScanRow | undefined, expected: { repository: string; digest: string }, helmError: string | undefined): string {
  if (!r) return helmError ? 'helm failed' : 'not scanned';
  const ok = r.origin.match === 'Verified' && r.origin.repository === expected.repository && r.origin.tarballDigest === expected.digest;
  // A release helm stored and then failed (objects refused) is still a stored chart: it must be proven too.
  return `${helmError ? 'helm failed, stored ' : ''}${ok ? 'Verified' : `${r.origin.match} (${r.origin.repository ?? '-'}: ${r.origin.message ?? ''})`}`;
}

/** The cell `verdict` must give for an install expected to fail so (none: Verified). */
export function expectedVerdict(f: HelmFailure | undefined): string {
  if (!f) return 'Verified';
  if (!f.retry) return f.stored ? 'helm failed, stored Verified' : 'helm failed';
  return `${f.retry.error ? 'helm failed, stored ' : ''}Verified (${f.retry.flags.join(' ')})`;
}

/** A tampering case: another install of a chart (by one helm, in a namespace of its own), edited once stored. */
export interface TamperCase {
  chart: string;
  helm: HelmBinaryName;
  what: string;
  edit: (chart: StoredChart) => void;
  /** What the Mismatch message must name. */
  differs: string[];
}

/** The edit of a template: a comment line appended to `name` (the chart must have it). */
export function appendToTemplate(name: string): (chart: StoredChart) => void {
  return (c) => {
    const t = c.templates.find((x) => x.name === name);
    assert.ok(t, `the stored chart has ${name}`);
    t.data = Buffer.from(`${Buffer.from(t.data, 'base64').toString('utf8')}\n# edited\n`).toString('base64');
  };
}

/** The tampering case that edits a template (appends a comment line to `name`): the Mismatch must name that template. */
export function templateTamper(chart: string, helm: HelmBinaryName, name: string): TamperCase {
  return { chart, helm, what: 'a template', edit: appendToTemplate(name), differs: [name] };
}

/** Applies each case's edit to its stored release; what failed, as `<chart> <helm>: <error>` (asserted empty after the diagnostics). */
export async function tamperAll(cluster: Pick<ClusterInfo, 'kubeconfig'>, edits: { c: TamperCase; namespace: string; release: string }[]): Promise<string[]> {
  const errors: string[] = [];
  for (const { c, namespace, release } of edits) {
    try {
      await tamperRelease(cluster, namespace, release, c.edit);
    } catch (err) {
      errors.push(`${c.chart} ${c.helm}: ${(err as Error).message}`);
    }
  }
  return errors;
}

/** Asserts that the scan called each tampered release a Mismatch naming what was edited. */
export function assertTampered(rows: Map<string, ScanRow>, edits: { c: TamperCase; namespace: string; release: string }[]): void {
  for (const { c, namespace, release } of edits) {
    const r = rows.get(`${namespace}/${release}`);
    assert.equal(r?.origin.match, 'Mismatch', `${c.chart} ${c.helm}: ${c.what} edited in the Secret`);
    assert.equal(r?.origin.message?.includes(c.differs.join(', ')), true, `${c.chart}: the message names ${c.differs.join(', ')}: ${r?.origin.message}`);
  }
}
