#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { RepositoryFailure } from '../resolve/analyze.ts';
import type { OriginReport } from '../model/report.ts';
import type { ReleaseRecord, StoredReleaseObject, StoredValues } from '../model/release.ts';
import type { ChartSource } from '../model/repository.ts';
import type { CliConfig } from './config.ts';

// Modules are imported by the command that needs them: `--help` loads none, and `scan` has its first
// request to the API server in flight while the analysis modules load.

const USAGE = `Usage:
  chartorigin inspect [FILE|-] [--config repos.yaml] [-o table|json]
  chartorigin scan [--kubeconfig F] [--context C] [-n NS | -A] [--config repos.yaml] [-o table|json]
  chartorigin controller [flags]   (chartorigin controller --help)

Exit codes: 0 ok; 1 the input or config was bad; 2 usage.`;

class UsageError extends Error {}

function out(format: string): 'table' | 'json' {
  if (format !== 'table' && format !== 'json') throw new UsageError(`-o must be table or json, not "${format}"`);
  return format;
}

type Failed = { record: ReleaseRecord; failures: readonly RepositoryFailure[] };

/** Repository failures as structured warnings on stderr; pino is loaded only when there is one. */
async function logFailures(failed: readonly Failed[]): Promise<void> {
  if (!failed.length) return;
  const { default: pino } = await import('pino');
  const log = pino({ level: process.env['CHARTORIGIN_LOG_LEVEL'] ?? 'warn', base: undefined }, pino.destination({ fd: 2, sync: true }));
  for (const { record, failures } of failed) {
    for (const f of failures) log.warn({ namespace: record.release.namespace, release: record.release.name, repository: f.repository, reason: f.reason, err: f.message }, 'repository error');
  }
}

async function inspect(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { config: { type: 'string' }, output: { type: 'string', short: 'o', default: 'table' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return usage(0);
  if (positionals.length > 1) throw new UsageError('inspect takes one FILE (or - for stdin)');
  const format = out(values.output);
  const [{ loadConfig }, { InputError, readObjects }, { selectCurrent }, { decodeStoredRelease, ReleaseDecodeError, storedValuesOf }, { revisionRef }] = await Promise.all([
    import('./config.ts'),
    import('./read-objects.ts'),
    import('../watch/select-current.ts'),
    import('../decode/decode.ts'),
    import('../watch/current.ts'),
  ]);
  const config = loadConfig(values.config);
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
  return report(records, errors, config, format, revision);
}

async function scan(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      'all-namespaces': { type: 'boolean', short: 'A' },
      config: { type: 'string' },
      output: { type: 'string', short: 'o', default: 'table' },
      storage: { type: 'string', default: 'secrets,configmaps' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return usage(0);
  if (values.namespace && values['all-namespaces']) throw new UsageError('give -n NAMESPACE or -A, not both');
  const format = out(values.output);
  const storage = new Set(values.storage.split(',').map((s) => s.trim()));
  const [{ loadConfig }, { loadKubeConfig }, { listReleasePages }, { decodeCurrentReleases }] = await Promise.all([
    import('./config.ts'),
    import('../kube/kubeconfig.ts'),
    import('../watch/list-releases.ts'),
    import('../watch/decode-current.ts'),
  ]);
  const config = loadConfig(values.config);
  const kc = loadKubeConfig({ kubeconfig: values.kubeconfig, context: values.context });
  const namespace = values['all-namespaces'] ? undefined : (values.namespace ?? kc.namespace ?? 'default');
  // Listing starts now, each page is decoded as it arrives and each release analysed as soon as it is
  // decoded; the repository modules load and the indexes download meanwhile.
  const opened = openSources(config);
  opened.catch(() => undefined);
  const failed: Failed[] = [];
  // --reuse-values proofs read another revision of a release: one GET each, only when asked.
  const revision = async (record: ReleaseRecord, n: number): Promise<StoredValues | undefined> => {
    const [{ getObject }, { storedValuesOf }] = await Promise.all([import('../kube/core-objects.ts'), import('../decode/decode.ts')]);
    const { namespace, name, storage } = record.release;
    const o = await getObject(kc, storage, namespace, `sh.helm.release.v1.${name}.v${n}`);
    if (!o) return undefined;
    try {
      return storedValuesOf({ kind: storage, type: o.type, metadata: o.metadata, data: o.data });
    } catch {
      return undefined;
    }
  };
  const analyzer = opened.then(async (sources) => (await import('./analyze-all.ts')).createAnalyzer(sources, { verify: config.verify, revision, onFailures: (record, failures) => failed.push({ record, failures }) }));
  analyzer.catch(() => undefined);
  const analyses = new Map<ReleaseRecord, Promise<OriginReport>>();
  try {
    const { records, errors } = await decodeCurrentReleases(
      listReleasePages(kc, { namespace, storage: { secrets: storage.has('secrets'), configMaps: storage.has('configmaps') } }),
      (record) => {
        const p = analyzer.then((analyze) => analyze(record));
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

async function openSources(config: CliConfig): Promise<ChartSource[]> {
  const { createChartSource } = await import('../sources/source.ts');
  const sources: ChartSource[] = config.repositories.map((r) => createChartSource(r));
  for (const s of sources) s.prefetch?.();
  return sources;
}

async function closeSources(sources: Sources): Promise<void> {
  await Promise.allSettled(sources.map((s) => s.close()));
}

async function report(
  records: readonly ReleaseRecord[],
  errors: readonly string[],
  config: CliConfig,
  format: 'table' | 'json',
  revision?: (record: ReleaseRecord, revision: number) => Promise<StoredValues | undefined>,
): Promise<number> {
  const { analyzeAll } = await import('./analyze-all.ts');
  const sources = await openSources(config);
  const failed: Failed[] = [];
  try {
    const reports = await analyzeAll(records, sources, { verify: config.verify, revision, onFailures: (record, failures) => failed.push({ record, failures }) });
    return await printReports(reports, errors, failed, format);
  } finally {
    await closeSources(sources);
  }
}

/** Reports on stdout; repository warnings, then one line per undecodable release on stderr (exit 1). */
async function printReports(reports: readonly OriginReport[], errors: readonly string[], failed: readonly Failed[], format: 'table' | 'json'): Promise<number> {
  const { renderJson, renderTable } = await import('./output.ts');
  await logFailures(failed);
  process.stdout.write(format === 'json' ? renderJson(reports) : renderTable(reports));
  for (const e of errors) process.stderr.write(`chartorigin: ${e}\n`);
  return errors.length ? 1 : 0;
}

function usage(code: number): number {
  (code === 0 ? process.stdout : process.stderr).write(`${USAGE}\n`);
  return code;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'inspect':
        return await inspect(rest);
      case 'scan':
        return await scan(rest);
      case 'controller': {
        const { runController } = await import('./controller.ts');
        return await runController(rest);
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        return usage(command === undefined ? 2 : 0);
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`chartorigin: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    if (err instanceof Error && (err.name === 'ConfigError' || err.name === 'InputError' || err.name === 'ReleaseDecodeError')) {
      process.stderr.write(`chartorigin: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`chartorigin: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

/** Runs the CLI on this process's arguments and sets its exit code. */
export function runCli(): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`chartorigin: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

const self = process.argv[1] ?? '';
if (self.endsWith('/cli/main.ts') || self.endsWith('/cli/main.js')) runCli();
