import { currentRevisions, revisionRef, type ReleaseRevisionRef } from './current.ts';
import type { StoredReleaseObject } from '../model/release.ts';

/** Keeps the current revision of each release; objects whose release cannot be told are kept as they are. */
export function selectCurrent(objects: readonly StoredReleaseObject[]): StoredReleaseObject[] {
  const refs: ReleaseRevisionRef[] = [];
  const unnamed: StoredReleaseObject[] = [];
  const byName = new Map<string, StoredReleaseObject>();
  for (const o of objects) {
    const ref = revisionRef(o);
    if (!ref) {
      unnamed.push(o);
      continue;
    }
    refs.push(ref);
    byName.set(`${ref.namespace}/${ref.objectName}`, o);
  }
  const current = [...currentRevisions(refs).values()].map((r) => byName.get(`${r.namespace}/${r.objectName}`));
  return [...current.filter((o): o is StoredReleaseObject => o !== undefined), ...unnamed];
}
