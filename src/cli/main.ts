#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { RepositoryFailure } from '../resolve/analyze.ts';
import type { OriginReport } from '../model/report.ts';
import type { ReleaseRecord } from '../model/release.ts';
import type { ChartSource } from '../model/repository.ts';
import type { CliConfig } from './config.ts';
import { neutralize } from '../util/terminal.ts';

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
  const [{ loadConfig }, { InputError, readObjects }, { selectCurrent }, { decodeStoredRelease, ReleaseDecodeError }] = await Promise.all([
    import('./config.ts'),
    import('./read-objects.ts'),
    import('../watch/select-current.ts'),
    import('../decode/decode.ts'),
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
  for (const o of selectCurrent(readObjects(text, file === '-' ? 'stdin' : file))) {
    try {
      records.push(decodeStoredRelease(o));
    } catch (err) {
      if (err instanceof ReleaseDecodeError) errors.push(err.message);
      else throw err;
    }
  }
  return report(records, errors, config, format);
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
  const analyzer = opened.then(async (sources) => (await import('./analyze-all.ts')).createAnalyzer(sources, { verify: config.verify, onFailures: (record, failures) => failed.push({ record, failures }) }));
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

async function report(records: readonly ReleaseRecord[], errors: readonly string[], config: CliConfig, format: 'table' | 'json'): Promise<number> {
  const { analyzeAll } = await import('./analyze-all.ts');
  const sources = await openSources(config);
  const failed: Failed[] = [];
  try {
    const reports = await analyzeAll(records, sources, { verify: config.verify, onFailures: (record, failures) => failed.push({ record, failures }) });
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
  for (const e of errors) say(e);
  return errors.length ? 1 : 0;
}

/**
 * One line on stderr. Error messages echo input (a file name, a config value, a release's chart name, a
 * repository's answer), so they are neutralized like the table.
 */
function say(message: string): void {
  process.stderr.write(`chartorigin: ${neutralize(message)}\n`);
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
      say(err.message);
      process.stderr.write(`${USAGE}\n`);
      return 2;
    }
    // Bad input or config (ConfigError, InputError, ReleaseDecodeError) and everything else: one line, exit 1.
    say(err instanceof Error ? err.message : String(err));
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
      say(err instanceof Error ? err.message : String(err));
      process.exitCode = 1;
    },
  );
}

const self = process.argv[1] ?? '';
if (self.endsWith('/cli/main.ts') || self.endsWith('/cli/main.js')) runCli();
