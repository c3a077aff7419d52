#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import type { RepositoryFailure } from '../resolve/analyze.ts';
import type { OriginReport } from '../model/report.ts';
import type { ReleaseRecord, StoredReleaseObject, StoredValues } from '../model/release.ts';
import type { ChartSource } from '../model/repository.ts';
import type { CliConfig } from './config.ts';
import { neutralize } from '../util/terminal.ts';
import type { KubeConfig } from '../kube/kubeconfig.ts';
import type { SourceSet } from '../sources/discovery/index.ts';
import type { FluxOwner, FluxSourceObjects } from '../sources/discovery/flux.ts';
import { version } from './version.ts';

// Modules are imported by the command that needs them: `--help` loads none, and `scan` has its first
// request to the API server in flight while the analysis modules load.

/** Exit codes (README, product.md): a rule written once. */
export const EXIT = { ok: 0, badInput: 1, usage: 2, repositoryFailed: 3 } as const;

/** `kubectl chartorigin` when run as a kubectl plugin (an executable named kubectl-chartorigin on PATH). */
function programName(): string {
  const names = [process.argv[1], process.argv[0], process.execPath].map((p) => basename(p ?? ''));
  return names.some((n) => n.startsWith('kubectl-chartorigin')) ? 'kubectl chartorigin' : 'chartorigin';
}

interface Flag {
  name: string;
  short?: string;
  type: 'string' | 'boolean';
  arg?: string;
  default?: string;
  help: string;
}

const COMMON_TAIL: Flag[] = [
  { name: 'output', short: 'o', type: 'string', arg: 'table|json', default: 'table', help: 'table (kubectl-style columns) or json (one object per release, shaped like ChartOrigin.status)' },
  { name: 'help', short: 'h', type: 'boolean', help: 'show this help' },
  { name: 'version', type: 'boolean', help: 'print the version' },
];

const SOURCE_FLAGS: Flag[] = [
  { name: 'config', type: 'string', arg: 'FILE', help: 'repositories file (repositories: [{name, url, ...}], see README); used first, together with the discovered ones' },
  { name: 'no-discover', type: 'boolean', help: 'use only --config: do not read ChartRepositories from the cluster nor the Helm configuration' },
];

const SCAN_FLAGS: Flag[] = [
  { name: 'kubeconfig', type: 'string', arg: 'FILE', help: 'kubeconfig file (default: every file of $KUBECONFIG merged as kubectl does, else ~/.kube/config, else in cluster)' },
  { name: 'context', type: 'string', arg: 'NAME', help: 'kubeconfig context (default: its current-context)' },
  { name: 'namespace', short: 'n', type: 'string', arg: 'NS', help: "releases in this namespace (default: the context's namespace, else default)" },
  { name: 'all-namespaces', short: 'A', type: 'boolean', help: 'releases in every namespace' },
  ...SOURCE_FLAGS,
  { name: 'storage', type: 'string', arg: 'secrets,configmaps', default: 'secrets,configmaps', help: 'where Helm stores releases (HELM_DRIVER secret or configmap)' },
  ...COMMON_TAIL,
];

const INSPECT_FLAGS: Flag[] = [...SOURCE_FLAGS, ...COMMON_TAIL];

function options(flags: readonly Flag[]): Record<string, { type: 'string' | 'boolean'; short?: string; default?: string }> {
  const out: Record<string, { type: 'string' | 'boolean'; short?: string; default?: string }> = {};
  for (const f of flags) out[f.name] = { type: f.type, ...(f.short ? { short: f.short } : {}), ...(f.default !== undefined ? { default: f.default } : {}) };
  return out;
}

function flagHelp(flags: readonly Flag[]): string {
  const left = flags.map((f) => `  ${f.short ? `-${f.short}, ` : '    '}--${f.name}${f.arg ? ` ${f.arg}` : ''}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  return flags.map((f, i) => `${(left[i] ?? '').padEnd(width)}${f.help}${f.default !== undefined ? ` (default ${f.default})` : ''}`).join('\n');
}

const EXIT_HELP = 'Exit codes: 0 ok; 1 bad input or config; 2 usage; 3 a repository could not be read (the table names it).';

function usageText(): string {
  const p = programName();
  return `Usage:
  ${p} scan    [-n NS | -A] [--config FILE] [-o table|json] [flags]   report every Helm release in the cluster
  ${p} inspect [FILE|-] [--config FILE] [-o table|json]               report releases from kubectl output, no cluster
  ${p} controller [flags]                                               the in-cluster controller

Repositories: --config FILE first, then the cluster's ChartRepositories, then the Helm configuration
(helm repo add, its cached indexes, helm registry login); stderr says which were used.
Run "${p} <command> --help" for a command's flags. --version prints the version.
${EXIT_HELP}`;
}

const COMMAND_HELP: Record<'scan' | 'inspect', () => string> = {
  scan: () => `Usage: ${programName()} scan [flags]

Reports the current revision of every Helm release: where its chart came from (proven by content), the
newest version, and how far behind it is.

Flags:
${flagHelp(SCAN_FLAGS)}

${EXIT_HELP}`,
  inspect: () => `Usage: ${programName()} inspect [FILE|-] [flags]

Reads Helm release Secrets or ConfigMaps (YAML or JSON, one object or a List, e.g. from
"kubectl get secret -o json"; - or no FILE: stdin) and prints the same report as scan, without a cluster.

Flags:
${flagHelp(INSPECT_FLAGS)}

${EXIT_HELP}`,
};

class UsageError extends Error {}

function out(format: string): 'table' | 'json' {
  if (format !== 'table' && format !== 'json') throw new UsageError(`-o must be table or json, not "${format}"`);
  return format;
}

type Failed = { record: ReleaseRecord; failures: readonly RepositoryFailure[] };

/** One line per failing repository on stderr (not one per release: the table names it per release). */
function reportFailures(failed: readonly Failed[]): void {
  const seen = new Set<string>();
  for (const { failures } of failed) {
    for (const f of failures) {
      const key = `${f.repository}\n${f.reason}`;
      if (seen.has(key)) continue;
      seen.add(key);
      say(`${f.message} (${f.reason})`);
    }
  }
}

function str(v: string | boolean | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

async function inspect(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: options(INSPECT_FLAGS) });
  if (values['help']) return help('inspect');
  if (positionals.length > 1) throw new UsageError('inspect takes one FILE (or - for stdin)');
  const format = out(str(values['output']) ?? 'table');
  const [{ loadConfig }, { InputError, readObjects }, { selectCurrent }, { decodeStoredRelease, ReleaseDecodeError, storedValuesOf }, { revisionRef }] = await Promise.all([
    import('./config.ts'),
    import('./read-objects.ts'),
    import('../watch/select-current.ts'),
    import('../decode/decode.ts'),
    import('../watch/current.ts'),
  ]);
  const configFile = str(values['config']);
  const config = loadConfig(configFile);
  const file = positionals[0] ?? '-';
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch {
    throw new InputError(`${file === '-' ? 'stdin' : file}: cannot read`);
  }
  const records: ReleaseRecord[] = [];
  const errors: string[] = [];
  const objects = readObjects(text, file === '-' ? 'stdin' : file);
  // Earlier revisions in the same input serve the --reuse-values proof; decoded only if it asks.
  const byRevision = new Map<string, StoredReleaseObject>();
  for (const o of objects) {
    const ref = revisionRef(o);
    if (ref) byRevision.set(`${ref.namespace}/${ref.release}/${ref.revision}`, o);
  }
  const revision = async (record: ReleaseRecord, revision: number): Promise<StoredValues | undefined> => {
    const o = byRevision.get(`${record.release.namespace}/${record.release.name}/${revision}`);
    try {
      return o ? storedValuesOf(o) : undefined;
    } catch {
      return undefined;
    }
  };
  for (const o of selectCurrent(objects)) {
    try {
      records.push(decodeStoredRelease(o));
    } catch (err) {
      if (err instanceof ReleaseDecodeError) errors.push(err.message);
      else throw err;
    }
  }
  const sources = await openSources(config, configFile, undefined, values['no-discover'] !== true);
  const failed: Failed[] = [];
  try {
    const { analyzeAll } = await import('./analyze-all.ts');
    const reports = await analyzeAll(records, sources, { verify: config.verify, revision, onFailures: (record, failures) => failed.push({ record, failures }) });
    return await printReports(reports, errors, failed, format);
  } finally {
    await closeSources(sources);
  }
}

async function scan(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: options(SCAN_FLAGS) });
  if (values['help']) return help('scan');
  const namespaceFlag = str(values['namespace']);
  if (namespaceFlag && values['all-namespaces']) throw new UsageError('give -n NAMESPACE or -A, not both');
  const format = out(str(values['output']) ?? 'table');
  const storage = new Set((str(values['storage']) ?? '').split(',').map((s) => s.trim()));
  const [{ loadConfig }, { loadKubeConfig }, { listReleasePages }, { decodeCurrentReleases }] = await Promise.all([
    import('./config.ts'),
    import('../kube/kubeconfig.ts'),
    import('../watch/list-releases.ts'),
    import('../watch/decode-current.ts'),
  ]);
  const configFile = str(values['config']);
  const config = loadConfig(configFile);
  const kc = loadKubeConfig({ kubeconfig: str(values['kubeconfig']), context: str(values['context']), namespace: namespaceFlag });
  const namespace = values['all-namespaces'] ? undefined : (kc.namespace ?? 'default');
  // Listing starts now, each page is decoded as it arrives and each release analysed as soon as it is
  // decoded; discovery runs, the repository modules load and the indexes download meanwhile.
  // Flux sources read once for the run: each Flux release's source from discovery's list, or with one GET per
  // object where discovery listed nothing (--no-discover, HelmCharts) — never a cluster-wide list the scan did not
  // ask for (a `-n` scan reads no other namespace's objects than its releases name).
  const fluxObjects = import('../sources/discovery/flux.ts').then(({ fluxSourceObjects }) => fluxSourceObjects(kc, { listForGet: false }));
  const opened = fluxObjects.then((objects) => openSources(config, configFile, kc, values['no-discover'] !== true, objects));
  opened.catch(() => undefined);
  const failed: Failed[] = [];
  // --reuse-values proofs read another revision of a release: one GET each, only when asked.
  const revision = async (record: ReleaseRecord, n: number): Promise<StoredValues | undefined> => {
    const [{ getObject }, { storedValuesOf }] = await Promise.all([import('../kube/core-objects.ts'), import('../decode/decode.ts')]);
    const { namespace, name, storage } = record.release;
    if (storage === 'Application') return undefined;
    const o = await getObject(kc, storage, namespace, `sh.helm.release.v1.${name}.v${n}`);
    if (!o) return undefined;
    try {
      return storedValuesOf({ kind: storage, type: o.type, metadata: o.metadata, data: o.data });
    } catch {
      return undefined;
    }
  };
  // Releases Flux installed without an origin label on any rendered object are named by their HelmRelease,
  // by storage key and listed as the controller lists them (sources/discovery/flux.ts): a HelmRelease in
  // another namespace may store its release here. Listed while the releases are; never a reason to fail,
  // but said on stderr when it did not work (such releases are then judged by plain Helm's rules).
  // The HelmRelease then says which values files Flux merged (readFluxHint, as the controller reads it): the
  // listed object, else one GET (a HelmRelease named by origin labels outside what could be listed).
  //
  // The list runs beside the list of releases, and the API server may answer it from an earlier moment: a
  // release with no object in its manifest deployed in between would be Helm's although Flux applied its
  // HelmRelease first. A release the controller would wait for (fluxListNeeded: deployed within a minute of the
  // list, no origin label, no object) makes scan list them once more, once for all of them: that list starts
  // after the releases were listed, so after every release scan reports was deployed — no clock to compare.
  const fluxOwners = import('../sources/discovery/flux.ts').then(async ({ listOwningHelmReleases, fluxReleaseOwners, releaseFluxOwner, readFluxHint, helmReleasesByName, fluxListNeeded, fluxOwnershipCandidate }) => {
    const scope = namespace === undefined ? undefined : [namespace];
    const unlisted = (why: string): void => say(`Flux HelmReleases ${why}: releases without Flux origin labels are judged as Helm's`);
    interface Listed {
      owners: Map<string, FluxOwner>;
      byName: ReturnType<typeof helmReleasesByName>;
      seen: { startedAt: number; visible: boolean } | undefined;
    }
    const listOnce = async (again: boolean): Promise<Listed> => {
      const startedAt = Date.now();
      try {
        const { items, served, forbidden, listedOnlyIn } = await listOwningHelmReleases(kc, scope);
        if (!again && forbidden.length) unlisted(`not listed (forbidden in ${forbidden.join(', ')})`);
        // As the controller logs it (controller/flux-owners.ts): said, so a missing owner is not a surprise.
        if (!again && listedOnlyIn.length) say(`Flux HelmReleases listed in ${listedOnlyIn.join(', ')} only (not allowed in all namespaces): a HelmRelease in another namespace that stores its release there is not seen`);
        return { owners: fluxReleaseOwners(items, scope), byName: helmReleasesByName(items), seen: { startedAt, visible: served && (!forbidden.length || listedOnlyIn.length > 0) } };
      } catch (err) {
        unlisted(`not listed${again ? ' again' : ''} (${err instanceof Error ? err.message : String(err)})`);
        return { owners: new Map(), byName: new Map(), seen: undefined };
      }
    };
    const first = await listOnce(false);
    let again: Promise<Listed> | undefined;
    let latest = first;
    return {
      ownerOf: async (record: ReleaseRecord, storageKey: string | undefined): Promise<FluxOwner | undefined> => {
        let listed = first;
        if (!record.flux && storageKey !== undefined && fluxListNeeded(fluxOwnershipCandidate(record), first.seen, Date.now()) !== undefined) {
          again ??= listOnce(true).then((l) => (l.seen ? (latest = l) : first));
          listed = await again;
        }
        return releaseFluxOwner(record, storageKey, (k) => listed.owners.get(k));
      },
      hintOf: async (owner: FluxOwner) => readFluxHint(kc, owner, latest.byName.get(`${owner.namespace}/${owner.name}`), await fluxObjects),
    };
  });
  const analyzer = Promise.all([
    opened.then(async (sources) => {
      const [{ createAnalyzer }, { openChartStore }] = await Promise.all([import('./analyze-all.ts'), import('./chart-store.ts')]);
      return createAnalyzer(sources, { verify: config.verify, revision, store: openChartStore(), fluxHint: async (owner) => (await fluxOwners).hintOf(owner), onFailures: (record, failures) => failed.push({ record, failures }) });
    }),
    fluxOwners,
  ]).then(([analyze, { ownerOf }]) => async (record: ReleaseRecord, storageKey: string | undefined): Promise<OriginReport> => {
    // The record itself keeps its identity: failures are matched to the current records by it.
    record.flux = await ownerOf(record, storageKey);
    return analyze(record);
  });
  analyzer.catch(() => undefined);
  const analyses = new Map<ReleaseRecord, Promise<OriginReport>>();
  try {
    const { records, errors } = await decodeCurrentReleases(
      listReleasePages(kc, { namespace, storage: { secrets: storage.has('secrets'), configMaps: storage.has('configmaps') } }),
      (record, storageKey) => {
        const p = analyzer.then((analyze) => analyze(record, storageKey));
        p.catch(() => undefined);
        analyses.set(record, p);
      },
    );
    const { sortReports } = await import('./analyze-all.ts');
    const reports = sortReports(await Promise.all(records.map((r) => analyses.get(r) as Promise<OriginReport>)));
    const current = new Set(records);
    return await printReports(reports, errors.map((e) => e.message), failed.filter((f) => current.has(f.record)), format);
  } finally {
    await closeSources(await opened.catch(() => []));
  }
}

type Sources = readonly ChartSource[];

function configSourceSet(config: CliConfig, file: string | undefined): SourceSet | undefined {
  if (!file) return undefined;
  return { origin: `--config ${file}`, repositories: config.repositories.map((c) => ({ config: c })), notes: [] };
}

/** --config plus discovered repositories → clients; says on stderr which sources are used. */
async function openSources(config: CliConfig, configFile: string | undefined, kc: KubeConfig | undefined, discover: boolean, fluxObjects?: FluxSourceObjects): Promise<ChartSource[]> {
  const [{ createChartSource }, { FailedChartSource }, { findSources, describeSources }, { readCachedIndex }] = await Promise.all([
    import('../sources/source.ts'),
    import('../sources/failed-source.ts'),
    import('../sources/discovery/index.ts'),
    import('../sources/discovery/helm-config.ts'),
  ]);
  const ctx = { kubeConfig: kc, env: process.env, defaultNamespace: process.env['CHARTORIGIN_NAMESPACE'] || 'chartorigin', now: Date.now(), fluxObjects };
  const found = await findSources(configSourceSet(config, configFile), ctx, discover);
  // Names come from the user's Helm config and the cluster: neutralized like every other line.
  process.stderr.write(`${neutralize(describeSources(found, ctx, discover))}\n`);
  const sources: ChartSource[] = found.repositories.map((r) => {
    if (r.error) return new FailedChartSource(r.config, r.error);
    return createChartSource(r.config, { http: { cachedIndex: r.cachedIndex ? readCachedIndex(r.cachedIndex) : undefined, compactIndex: false } });
  });
  for (const s of sources) s.prefetch?.();
  return sources;
}

async function closeSources(sources: Sources): Promise<void> {
  await Promise.allSettled(sources.map((s) => s.close()));
}

/**
 * Reports on stdout; failing repositories, then one line per undecodable release on stderr. Exit 1 when a
 * release could not be decoded, else 3 when a repository could not be read, else 0.
 */
async function printReports(reports: readonly OriginReport[], errors: readonly string[], failed: readonly Failed[], format: 'table' | 'json'): Promise<number> {
  const { renderJson, renderTable } = await import('./output.ts');
  reportFailures(failed);
  const byRelease = new Map<string, RepositoryFailure[]>();
  for (const f of failed) {
    const key = `${f.record.release.namespace}/${f.record.release.name}`;
    byRelease.set(key, [...(byRelease.get(key) ?? []), ...f.failures]);
  }
  process.stdout.write(format === 'json' ? renderJson(reports) : renderTable(reports, (r) => byRelease.get(`${r.release.namespace}/${r.release.name}`)));
  for (const e of errors) say(e);
  // Flux sources anyone in the cluster may declare can make the CLI use the operator's cloud identity: said.
  const { cloudIdentityUses, describeCloudIdentityUse } = await import('../sources/oci/cloud-use.ts');
  const cloud = describeCloudIdentityUse(cloudIdentityUses());
  if (cloud) say(cloud);
  if (errors.length) return EXIT.badInput;
  return failed.length ? EXIT.repositoryFailed : EXIT.ok;
}

/**
 * One line on stderr. Error messages echo input (a file name, a config value, a release's chart name, a
 * repository's answer), so they are neutralized like the table.
 */
function say(message: string): void {
  process.stderr.write(`chartorigin: ${neutralize(message)}\n`);
}

function help(command?: 'scan' | 'inspect'): number {
  process.stdout.write(`${command ? COMMAND_HELP[command]() : usageText()}\n`);
  return EXIT.ok;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const beforeDashes = (args: string[]): string[] => (args.includes('--') ? args.slice(0, args.indexOf('--')) : args);
  try {
    if (command === '--version' || beforeDashes(rest).includes('--version')) {
      process.stdout.write(`chartorigin ${version()}\n`);
      return EXIT.ok;
    }
    switch (command) {
      case 'inspect':
        return await inspect(rest);
      case 'scan':
        return await scan(rest);
      case 'controller': {
        const { runController } = await import('./controller.ts');
        return await runController(rest);
      }
      case 'help':
      case '--help':
      case '-h':
        return rest[0] === 'scan' || rest[0] === 'inspect' ? help(rest[0]) : help();
      case undefined:
        process.stderr.write(`${usageText()}\n`);
        return EXIT.usage;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      say(err.message);
      process.stderr.write(`Run "${programName()} --help" for usage.\n`);
      return EXIT.usage;
    }
    // Bad input or config (ConfigError, InputError, ReleaseDecodeError) and everything else: one line, exit 1.
    say(err instanceof Error ? err.message : String(err));
    return EXIT.badInput;
  }
}

/** Runs the CLI on this process's arguments and sets its exit code. */
export function runCli(): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      say(err instanceof Error ? err.message : String(err));
      process.exitCode = EXIT.badInput;
    },
  );
}

const self = process.argv[1] ?? '';
if (self.endsWith('/cli/main.ts') || self.endsWith('/cli/main.js')) runCli();
