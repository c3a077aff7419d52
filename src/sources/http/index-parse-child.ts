/** Child side of parseIndexInChild: parses one index sent over IPC, replies, exits (returning its memory). */
import { parseIndex, type IndexParseOptions } from './index-parse.ts';
import { RepoError } from '../../model/repository.ts';

process.once('message', (m: { bytes: Uint8Array; options: IndexParseOptions }) => {
  let reply: unknown;
  try {
    reply = { ok: true, index: parseIndex(m.bytes, m.options) };
  } catch (err) {
    reply =
      err instanceof RepoError
        ? { ok: false, reason: err.reason, message: err.message }
        : { ok: false, reason: 'invalid_index', message: `repository ${m.options.repository}: invalid index: ${err instanceof Error ? err.message : String(err)}` };
  }
  process.send?.(reply, () => process.exit(0));
});
