import type { Logger } from 'pino';
import type { KubeConfig } from '../kube/kubeconfig.ts';
import { sleep } from '../util/sleep.ts';
import { fluxReleaseOwners, listHelmReleases } from '../sources/discovery/flux.ts';

type Owner = { namespace: string; name: string };

/**
 * Which HelmRelease names each release (`<storage namespace>/<release>` → HelmRelease), from a list of the
 * cluster's HelmReleases every `periodMs` (the same minute as Flux source discovery: HelmReleases are
 * created and renamed rarely, and a release's own origin labels already name its owner in the common case).
 * Only what a HelmRelease names is kept, not the object (its inline values can be large).
 */
export class FluxOwners {
  #owners = new Map<string, Owner>();
  #listed = false;
  readonly #firstList: Promise<void>;
  #markListed: () => void = () => {};

  constructor() {
    this.#firstList = new Promise((resolve) => {
      this.#markListed = resolve;
    });
  }

  get(key: string): Owner | undefined {
    return this.#owners.get(key);
  }

  /** Settles after the first list, whether it worked or not (reconciles wait for it, never forever). */
  get firstList(): Promise<void> {
    return this.#firstList;
  }

  /** Replaces the map; returns the keys whose owner changed. */
  update(next: Map<string, Owner>): string[] {
    const changed: string[] = [];
    const same = (a: Owner | undefined, b: Owner | undefined): boolean => a?.namespace === b?.namespace && a?.name === b?.name;
    for (const [k, v] of next) if (!same(this.#owners.get(k), v)) changed.push(k);
    for (const k of this.#owners.keys()) if (!next.has(k)) changed.push(k);
    this.#owners = next;
    return changed;
  }

  async run(o: { kubeConfig: KubeConfig; logger: Logger; namespaces?: readonly string[] | undefined; periodMs?: number | undefined; changed: (keys: string[]) => void }, signal: AbortSignal): Promise<void> {
    let warned = false;
    while (!signal.aborted) {
      try {
        const lists = o.namespaces?.length ? await Promise.all(o.namespaces.map((ns) => listHelmReleases(o.kubeConfig, ns))) : [await listHelmReleases(o.kubeConfig)];
        const changed = this.update(fluxReleaseOwners(lists.flat()).byStorage);
        if (changed.length && this.#listed) o.changed(changed);
        warned = false;
      } catch (err) {
        if (!warned) o.logger.warn({ err: (err as Error).message }, 'Flux HelmReleases: list failed; will retry');
        warned = true;
      }
      this.#listed = true;
      this.#markListed();
      await sleep(o.periodMs ?? 60_000, signal);
    }
    this.#markListed();
  }
}
