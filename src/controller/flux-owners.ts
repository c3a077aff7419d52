import type { Logger } from 'pino';
import type { KubeConfig } from '../kube/kubeconfig.ts';
import { sleep } from '../util/sleep.ts';
import { fluxListNeeded, fluxReleaseOwners, listOwningHelmReleases, type FluxOwner, type FluxOwnershipCandidate, type HelmReleasesListed } from '../sources/discovery/flux.ts';

type Owner = FluxOwner;

export interface FluxOwnersOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  namespaces?: readonly string[] | undefined;
  periodMs?: number | undefined;
  /** Keys whose owner changed after the first list (their releases are reconciled again). */
  changed: (keys: string[]) => void;
}

/**
 * Which HelmRelease names each release (`<storage namespace>/<release>` → HelmRelease), from a list of the
 * cluster's HelmReleases every `periodMs` (the same minute as Flux source discovery: HelmReleases are
 * created and renamed rarely, and a release's own origin labels already name its owner in the common case).
 * Only what a HelmRelease names is kept, not the object (its inline values can be large).
 */
export class FluxOwners {
  #owners = new Map<string, Owner>();
  #listed = false;
  /** When the last completed list started (performance.now()); a list sees what existed when it started. */
  #completedStart = -Infinity;
  /** The same as wall-clock time (Date.now()), to compare with times a release records. */
  #completedStartWall = -Infinity;
  /** Whether the last completed list could see HelmReleases (the API served, not forbidden everywhere). */
  #visible = true;
  #listing: Promise<void> | undefined;
  #listingStart = -Infinity;
  #listingStartWall = -Infinity;
  #forbiddenSaid = false;
  #narrowSaid = false;
  readonly #firstList: Promise<void>;
  #markListed: () => void = () => {};
  readonly #o: FluxOwnersOptions | undefined;

  /** Without options only `update` and `get` work (tests). */
  constructor(options?: FluxOwnersOptions) {
    this.#o = options;
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

  /**
   * Makes sure a list that started at or after `since` (a performance.now() time; with `wall`, a Date.now()
   * time) has completed: shares one in flight that started late enough, else waits for it and lists again.
   * Called before a Mismatch of a release no HelmRelease was known for is published, with the time its
   * reconcile began: Flux applies a HelmRelease before it installs the release, so such a list sees it if it
   * exists. Wall-clock times are compared with the wall-clock start of a list (Date.now() counts whole
   * milliseconds: converted to performance.now() they could land after a list begun in the same millisecond,
   * and each caller of that millisecond list again).
   */
  async refresh(since: number, clock: 'monotonic' | 'wall' = 'monotonic'): Promise<void> {
    const o = this.#o;
    if (!o) return;
    const wallClock = clock === 'wall';
    while ((wallClock ? this.#completedStartWall : this.#completedStart) < since) {
      if (this.#listing && (wallClock ? this.#listingStartWall : this.#listingStart) >= since) return this.#listing;
      if (this.#listing) {
        await this.#listing.catch(() => undefined);
        continue;
      }
      const start = performance.now();
      const wall = Date.now();
      this.#listingStart = start;
      this.#listingStartWall = wall;
      this.#listing = this.#list(o).then(
        () => {
          this.#completedStart = Math.max(this.#completedStart, start);
          this.#completedStartWall = Math.max(this.#completedStartWall, wall);
          this.#listing = undefined;
        },
        (err: unknown) => {
          this.#listing = undefined;
          throw err;
        },
      );
      return this.#listing;
    }
  }

  /** The last completed list (undefined: none yet), as fluxListNeeded reads it. */
  get lastList(): HelmReleasesListed | undefined {
    return this.#completedStartWall === -Infinity ? undefined : { startedAt: this.#completedStartWall, visible: this.#visible };
  }

  /**
   * The owner of `release` (stored at `key`) by a list recent enough for it (fluxListNeeded; `now`: a moment the
   * release was known to be deployed, Date.now()): the map as it is, else after the list in flight that began late enough,
   * else after a new one — shared by every caller that waits meanwhile, never one per release.
   */
  async ownerFor(key: string, release: FluxOwnershipCandidate, now: number, options: { everyLabelless?: boolean } = {}): Promise<Owner | undefined> {
    const after = fluxListNeeded(release, this.lastList, now, options);
    if (after !== undefined) await this.refresh(after, 'wall');
    return this.get(key);
  }

  async #list(o: FluxOwnersOptions): Promise<void> {
    // Which HelmReleases and where: the rule `scan` follows too (sources/discovery/flux.ts). Forbidden is said
    // once and read as "none visible": a missing RBAC rule must not hold every tamper alarm back for good
    // (other failures are transient and fail the caller, which retries).
    const { items, served, forbidden, listedOnlyIn } = await listOwningHelmReleases(o.kubeConfig, o.namespaces);
    this.#visible = served && (!forbidden.length || listedOnlyIn.length > 0);
    if (forbidden.length && !this.#forbiddenSaid) o.logger.warn({ namespaces: forbidden }, 'not allowed to list Flux HelmReleases: releases without Flux origin labels are treated as Helm\'s');
    this.#forbiddenSaid = forbidden.length > 0;
    // Not an error (RBAC of one's own, Roles only): the per-namespace lists stood in. Said once, as `scan` says it.
    if (listedOnlyIn.length && !this.#narrowSaid) o.logger.info({ namespaces: listedOnlyIn }, 'Flux HelmReleases listed in the watched namespaces only (not allowed in all namespaces): a HelmRelease in another namespace that stores its release in one of them is not seen');
    this.#narrowSaid = listedOnlyIn.length > 0;
    const changed = this.update(fluxReleaseOwners(items, o.namespaces));
    o.logger.debug({ helmReleases: items.length, releases: this.#owners.size, changed: changed.length }, 'Flux HelmReleases listed');
    if (changed.length && this.#listed) o.changed(changed);
  }

  async run(signal: AbortSignal): Promise<void> {
    const o = this.#o;
    if (!o) return;
    let warned = false;
    while (!signal.aborted) {
      try {
        await this.refresh(performance.now());
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
