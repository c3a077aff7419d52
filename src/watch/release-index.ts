import { releaseKey, revisionRef } from './current.ts';
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
  objectName: string;
  resourceVersion: string;
  storage: ReleaseStorage;
}

/**
 * Every release's revisions, from object metadata alone. It tells the reconciler which single object
 * holds the current revision (the highest `version` label) and calls `changed(key)` whenever that
 * answer may have changed: new revision, edited current object, deleted revision, uninstall.
 */
export class ReleaseIndex {
  readonly #releases = new Map<string, Map<number, Revision>>();
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
    const ref = revisionRef({ metadata: m });
    if (!ref) return;
    const key = releaseKey(ref.namespace, ref.release);
    let revs = this.#releases.get(key);
    if (!revs) {
      revs = new Map();
      this.#releases.set(key, revs);
    }
    const before = this.#top(revs);
    revs.set(ref.revision, { objectName: m.name, resourceVersion: m.resourceVersion, storage });
    const after = this.#top(revs);
    if (before?.[0] !== after?.[0] || after?.[0] === ref.revision) this.#changed(key);
  }

  remove(storage: ReleaseStorage, m: ObjectMeta): void {
    const ref = revisionRef({ metadata: m });
    if (!ref) return;
    const key = releaseKey(ref.namespace, ref.release);
    const revs = this.#releases.get(key);
    if (!revs) return;
    const rev = revs.get(ref.revision);
    if (!rev || rev.storage !== storage || rev.objectName !== m.name) return;
    const wasTop = this.#top(revs)?.[0] === ref.revision;
    revs.delete(ref.revision);
    if (revs.size === 0) this.#releases.delete(key);
    if (wasTop) this.#changed(key);
  }

  current(key: string): CurrentRevision | undefined {
    const revs = this.#releases.get(key);
    const top = revs ? this.#top(revs) : undefined;
    if (!top) return undefined;
    const slash = key.indexOf('/');
    return { namespace: key.slice(0, slash), release: key.slice(slash + 1), revision: top[0], ...top[1] };
  }

  #top(revs: Map<number, Revision>): [number, Revision] | undefined {
    let best: [number, Revision] | undefined;
    for (const e of revs) if (!best || e[0] > best[0]) best = e;
    return best;
  }
}
