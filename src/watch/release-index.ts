import { releaseKey, revisionRef, supersedes, type ReleaseRevisionRef } from './current.ts';
import type { ReleaseStorage } from '../model/report.ts';
import type { ObjectMeta } from '../kube/reflector.ts';

/** Where the current revision of a release is stored. */
export interface CurrentRevision {
  namespace: string;
  release: string;
  revision: number;
  storage: ReleaseStorage;
  objectName: string;
  resourceVersion: string;
}

interface Revision {
  ref: ReleaseRevisionRef;
  storage: ReleaseStorage;
  resourceVersion: string;
}

/**
 * Every release's revisions, from object metadata alone, in both storage drivers. It tells the
 * reconciler which single object holds the current revision (the rule in `current.ts`) and calls
 * `changed(key)` whenever that answer may have changed: new revision, edited current object, deleted
 * revision, uninstall.
 */
export class ReleaseIndex {
  /** release key → `storage/objectName` → revision. */
  readonly #releases = new Map<string, Map<string, Revision>>();
  readonly #changed: (key: string) => void;

  constructor(changed: (key: string) => void) {
    this.#changed = changed;
  }

  get size(): number {
    return this.#releases.size;
  }

  keys(): IterableIterator<string> {
    return this.#releases.keys();
  }

  upsert(storage: ReleaseStorage, m: ObjectMeta): void {
    const ref = revisionRef({ kind: storage, metadata: m });
    if (!ref) return;
    const key = releaseKey(ref.namespace, ref.release);
    let revs = this.#releases.get(key);
    if (!revs) {
      revs = new Map();
      this.#releases.set(key, revs);
    }
    const before = this.#top(revs);
    const id = `${storage}/${m.name}`;
    const rev: Revision = { ref, storage, resourceVersion: m.resourceVersion };
    revs.set(id, rev);
    // `before` is the replaced object when this upsert edits the current revision: also a change.
    if (this.#top(revs) !== before) this.#changed(key);
  }

  remove(storage: ReleaseStorage, m: ObjectMeta): void {
    const ref = revisionRef({ kind: storage, metadata: m });
    if (!ref) return;
    const key = releaseKey(ref.namespace, ref.release);
    const revs = this.#releases.get(key);
    if (!revs) return;
    const id = `${storage}/${m.name}`;
    const rev = revs.get(id);
    if (!rev) return;
    const wasTop = this.#top(revs) === rev;
    revs.delete(id);
    if (revs.size === 0) this.#releases.delete(key);
    if (wasTop) this.#changed(key);
  }

  current(key: string): CurrentRevision | undefined {
    const revs = this.#releases.get(key);
    const top = revs ? this.#top(revs) : undefined;
    if (!top) return undefined;
    const slash = key.indexOf('/');
    return { namespace: key.slice(0, slash), release: key.slice(slash + 1), revision: top.ref.revision, storage: top.storage, objectName: top.ref.objectName, resourceVersion: top.resourceVersion };
  }

  #top(revs: Map<string, Revision>): Revision | undefined {
    let best: Revision | undefined;
    for (const r of revs.values()) if (!best || supersedes(r.ref, best.ref)) best = r;
    return best;
  }
}
