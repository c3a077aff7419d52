#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { decodeStoredRelease, ReleaseDecodeError } from '../release/decode.ts';
import type { ReleaseRecord, StoredReleaseObject } from '../release/types.ts';
import { analyzeAll } from './analyze-all.ts';
import { ConfigError, loadConfig } from './config.ts';
import { InputError, readObjects } from './read-objects.ts';
import { renderJson, renderTable } from './output.ts';
import { selectCurrent } from './select-current.ts';

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

function cliLogger(): pino.Logger {
  return pino({ level: process.env['CHARTORIGIN_LOG_LEVEL'] ?? 'warn', base: undefined }, pino.destination(2));
}

/** Decodes each object; bad ones are reported on stderr (one line each) and make the exit code 1. */
function decodeAll(objects: readonly StoredReleaseObject[], errors: string[]): ReleaseRecord[] {
  const records: ReleaseRecord[] = [];
  for (const o of objects) {
    try {
      records.push(decodeStoredRelease(o));
    } catch (err) {
      if (err instanceof ReleaseDecodeError) errors.push(err.message);
      else throw err;
    }
  }
  return records;
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
  const config = loadConfig(values.config);
  const file = positionals[0] ?? '-';
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch {
    throw new InputError(`${file === '-' ? 'stdin' : file}: cannot read`);
  }
  const objects = selectCurrent(readObjects(text, file === '-' ? 'stdin' : file));
  return report(objects, config, format);
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
  const config = loadConfig(values.config);
  const storage = new Set(values.storage.split(',').map((s) => s.trim()));
  const { loadKubeConfig } = await import('../kube/kubeconfig.ts');
  const { listCurrentReleases } = await import('../kube/list-releases.ts');
  const kc = loadKubeConfig({ kubeconfig: values.kubeconfig, context: values.context });
  const namespace = values['all-namespaces'] ? undefined : (values.namespace ?? kc.namespace ?? 'default');
  const objects = await listCurrentReleases(kc, { namespace, storage: { secrets: storage.has('secrets'), configMaps: storage.has('configmaps') } });
  return report(objects, config, format);
}

async function report(objects: readonly StoredReleaseObject[], config: ReturnType<typeof loadConfig>, format: 'table' | 'json'): Promise<number> {
  const errors: string[] = [];
  const records = decodeAll(objects, errors);
  const reports = await analyzeAll(records, config.repositories, { verify: config.verify, logger: cliLogger() });
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
    if (err instanceof ConfigError || err instanceof InputError || err instanceof ReleaseDecodeError) {
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
