import { currentRevisions, revisionRef } from './current.ts';
import type { StoredReleaseObject } from '../model/release.ts';

/** Keeps the current revision of each release; objects whose release cannot be told are kept as they are. */
export function selectCurrent(objects: readonly StoredReleaseObject[]): StoredReleaseObject[] {
  const refs: { namespace: string; release: string; revision: number; storage: string; objectName: string; object: StoredReleaseObject }[] = [];
  const unnamed: StoredReleaseObject[] = [];
  for (const o of objects) {
    const ref = revisionRef(o);
    if (ref) refs.push({ ...ref, object: o });
    else unnamed.push(o);
  }
  return [...[...currentRevisions(refs).values()].map((r) => r.object), ...unnamed];
}
