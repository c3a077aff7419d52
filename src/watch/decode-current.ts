import { releaseKey, revisionRef, supersedes, type ReleaseRevisionRef } from './current.ts';
import { decodeStoredRelease, ReleaseDecodeError } from '../decode/decode.ts';
import type { ReleaseRecord, StoredReleaseObject } from '../model/release.ts';

export interface DecodedReleases {
  records: ReleaseRecord[];
  /** Current revisions that could not be decoded; a replaced revision's error is dropped with it. */
  errors: ReleaseDecodeError[];
}

type DecodeOutcome = ReleaseRecord | ReleaseDecodeError;

function decode(obj: StoredReleaseObject): DecodeOutcome {
  try {
    return decodeStoredRelease(obj);
  } catch (err) {
    if (err instanceof ReleaseDecodeError) return err;
    throw err;
  }
}

interface Entry {
  key: string;
  ref?: ReleaseRevisionRef;
  outcome?: DecodeOutcome;
}

/**
 * The current revision of every release in a stream of pages, decoded. Each page is decoded as it
 * arrives (while the lister fetches the next one), and no raw object outlives its page, so
 * memory stays at one decoded record per release. A later page may still bring a newer revision of a
 * release (a failed upgrade beside the deployed one, or the same release in the other storage driver):
 * that one then replaces it, by the rule in `current.ts`. Objects whose release
 * cannot be told from labels or name are decoded on their own. `onRecord` sees every record as it is
 * decoded, so analysis can start before the last page is in; a replaced one is simply not in the result.
 * With it comes the release's storage key (`releaseKey` of the storing object's namespace and release, the
 * controller's key for it), undefined for an object decoded on its own: the namespace Helm's JSON names is
 * not where the release is stored when helm-controller installs into a targetNamespace.
 */
export async function decodeCurrentReleases(pages: AsyncIterable<readonly StoredReleaseObject[]>, onRecord?: (record: ReleaseRecord, storageKey: string | undefined) => void): Promise<DecodedReleases> {
  const best = new Map<string, Entry>();
  const loose: DecodeOutcome[] = [];
  for await (const page of pages) {
    const fresh = new Map<Entry, StoredReleaseObject>();
    for (const obj of page) {
      const ref = revisionRef(obj);
      if (!ref) {
        fresh.set({ key: '' }, obj);
        continue;
      }
      const key = releaseKey(ref.namespace, ref.release);
      const prev = best.get(key);
      if (prev?.ref && !supersedes(ref, prev.ref)) continue;
      const entry: Entry = { key, ref };
      if (prev) fresh.delete(prev);
      best.set(key, entry);
      fresh.set(entry, obj);
    }
    for (const [e, obj] of fresh) {
      const outcome = decode(obj);
      if (e.key) e.outcome = outcome;
      else loose.push(outcome);
      if (!(outcome instanceof ReleaseDecodeError)) onRecord?.(outcome, e.key || undefined);
    }
  }
  const records: ReleaseRecord[] = [];
  const errors: ReleaseDecodeError[] = [];
  for (const o of [...[...best.values()].map((b) => b.outcome), ...loose]) {
    if (o === undefined) continue;
    if (o instanceof ReleaseDecodeError) errors.push(o);
    else records.push(o);
  }
  return { records, errors };
}
