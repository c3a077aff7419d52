import { fork } from 'node:child_process';
import { isSea } from 'node:sea';
import { parseIndex, type IndexParseOptions } from './index-parse.ts';
import { RepoError, type ChartVersionEntry, type RepoErrorReason } from '../../model/repository.ts';

type ParsedIndex = Map<string, ChartVersionEntry[]>;

/** Indexes at least this big are parsed in a child process. */
export const ISOLATED_MIN_BYTES = 2 * 1024 * 1024;
/** Heap of the parsing process: a hostile index runs out of it instead of taking the controller down. */
const CHILD_HEAP_MB = 1024;

type Reply = { ok: true; index: ParsedIndex } | { ok: false; reason: RepoErrorReason; message: string };

// Next to this file, with its extension: .ts from source (type stripping), .js from dist/src/, .mjs from the
// bundle (scripts/bundle-cli.ts builds the child as an entry point of its own beside the bundle's chunks).
const childPath = (): string => new URL(`./index-parse-child${/\.[cm]?[jt]s$/.exec(import.meta.url)?.[0] ?? '.js'}`, import.meta.url).pathname;

/**
 * parseIndex for big indexes, in a short-lived child process. Parsing a 20 MB index.yaml touches a few
 * hundred MB; in the controller's own process that memory stays resident after the parse (V8 and the
 * allocator keep it: measured +100 MiB RSS with 20 MiB of heap in use, and a worker thread did not return it
 * either), while a child's memory goes back to the system when it exits. Only the parsed result (the
 * fields chartorigin uses) comes back over IPC. Costs one process start (~0.1 s) per changed big index.
 */
export async function parseIndexIsolated(bytes: Uint8Array, options: IndexParseOptions): Promise<ParsedIndex> {
  // The single-file executable has no child script to fork (its binary runs only the CLI); it is a one-shot
  // process, whose memory goes back to the system when it exits anyway.
  if (bytes.byteLength < ISOLATED_MIN_BYTES || isSea()) return parseIndex(bytes, options);
  const child = fork(childPath(), [], { serialization: 'advanced', execArgv: [`--max-old-space-size=${CHILD_HEAP_MB}`], stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  try {
    const reply = await new Promise<Reply>((resolve, reject) => {
      child.once('message', (m: Reply) => resolve(m));
      child.once('error', reject);
      child.once('exit', (code, signal) => reject(new Error(`the index parser process exited (${signal ?? `code ${code}`}) before answering`)));
      child.send({ bytes, options });
    });
    if (!reply.ok) throw new RepoError(options.repository, reply.reason, reply.message);
    return reply.index;
  } catch (err) {
    if (err instanceof RepoError) throw err;
    throw new RepoError(options.repository, 'too_large', `repository ${options.repository}: index could not be parsed within ${CHILD_HEAP_MB} MiB: ${(err as Error).message}`, { cause: err });
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
