/**
 * Release churn as Helm writes it, with the ground truth kept alongside: the soak benchmark
 * (bench/soak.ts) and its short CI form (test/e2e/soak.test.ts) drive the controller with it and compare
 * the ChartOrigins with `expected()` at the end.
 *
 * The writes follow helm's pkg/action and pkg/storage (v3 and v4 alike):
 * - install / re-install: Create v1 `pending-install`, then Update it `deployed`;
 * - upgrade: Create vN+1 `pending-upgrade`, Update the deployed revision `superseded`, Update vN+1 `deployed`;
 * - failed upgrade: Create vN+1 `pending-upgrade`, Update it `failed` (the deployed revision stays deployed);
 * - rollback: Create vN+1 `pending-rollback` with an earlier revision's chart, then as an upgrade;
 * - uninstall: Update the last revision `uninstalling`, then Delete every revision;
 * - every Create first prunes the history to `historyMax` (helm's default --history-max 10), oldest first,
 *   never the last deployed revision.
 * The controller shows the highest revision, whatever its status, so that is what `expected()` holds.
 */
import pino from 'pino';
import type { KubeConfig } from '../../src/kube/kubeconfig.ts';
import type { ControlPlane } from './controlplane.ts';
import { KubeApiError, kubeRequest } from '../../src/kube/raw-client.ts';
import { MetadataReflector } from '../../src/kube/reflector.ts';
import { isObject } from '../../src/util/guards.ts';
import { seededRandom } from '../support/random.ts';
import { runHelm } from './charts.ts';
import { createReleaseSecret, deleteReleaseSecret, updateReleaseSecret } from './release-secrets.ts';

export const CHURN_OPS = ['upgrade', 'rollback', 'failed-upgrade', 'uninstall', 'install', 'reinstall'] as const;
export type ChurnOp = (typeof CHURN_OPS)[number];

/** Default mix: installs + re-installs balance uninstalls, so the number of releases stays about N. */
export const DEFAULT_MIX: Readonly<Record<ChurnOp, number>> = { upgrade: 0.45, rollback: 0.15, 'failed-upgrade': 0.1, uninstall: 0.15, install: 0.05, reinstall: 0.1 };

/** A chart version and the release JSON helm renders for it (`helm install --dry-run=client -o json`). */
export interface ChurnTemplate {
  version: string;
  release: Record<string, unknown>;
}

/** Release JSON templates rendered by the real helm from packaged charts (one per .tgz). */
export async function renderTemplates(charts: readonly { version: string; path: string }[]): Promise<ChurnTemplate[]> {
  const out: ChurnTemplate[] = [];
  for (const c of charts) {
    const { stdout } = await runHelm(['install', 'template', c.path, '--dry-run=client', '-o', 'json']);
    const release: unknown = JSON.parse(stdout);
    if (!isObject(release)) throw new Error(`helm printed no release object for ${c.path}`);
    out.push({ version: c.version, release });
  }
  return out;
}


interface Revision {
  status: string;
  template: ChurnTemplate;
}

interface Release {
  ns: string;
  name: string;
  revs: Map<number, Revision>;
}

/** One finished change: what the ChartOrigin must show afterwards (undefined: no ChartOrigin) and when the last write returned. */
export interface ChurnChange {
  op: ChurnOp;
  key: string;
  expect: string | undefined;
  at: number;
}

export interface ChurnOptions {
  /** The API to write to; a function because a fault may move it (another apiserver port). */
  kc: () => KubeConfig;
  namespaces: readonly string[];
  templates: readonly ChurnTemplate[];
  seed: number;
  historyMax?: number | undefined;
  mix?: Readonly<Record<ChurnOp, number>> | undefined;
  /** How long one write is retried while the API is unreachable (default 5 min). */
  retryMs?: number | undefined;
}

/** What a ChartOrigin shows of its release, in the form `expected()` uses: `<chart version>@<revision>/<status>`. */
export function shown(version: string | undefined, revision: number | undefined, status: string | undefined): string {
  return `${version ?? '?'}@${revision ?? '?'}/${status ?? '?'}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class HelmChurn {
  readonly #o: ChurnOptions;
  readonly #random: () => number;
  readonly #historyMax: number;
  readonly #live = new Map<string, Release>();
  /** The live keys again, for a uniform random pick in O(1). */
  #liveKeys: string[] = [];
  readonly #uninstalled: string[] = [];
  readonly #busy = new Set<string>();
  #fresh = 0;
  /** While seeding: changes only update the model, nothing is written. */
  #simulate = false;
  /** Secret writes (create, update, delete) so far. */
  writes = 0;
  readonly counts: Record<ChurnOp, number> = { upgrade: 0, rollback: 0, 'failed-upgrade': 0, uninstall: 0, install: 0, reinstall: 0 };

  constructor(options: ChurnOptions) {
    if (options.templates.length < 2) throw new Error('churn needs at least two chart versions');
    this.#o = options;
    this.#random = seededRandom(options.seed);
    this.#historyMax = options.historyMax ?? 10;
  }

  get releases(): number {
    return this.#live.size;
  }

  /**
   * The starting population: `n` releases, each with the revisions it would have after `warmup` × n changes
   * of this same churn (simulated in memory, nothing written), then every revision written. So the number of
   * revisions per release starts at its steady state (history-max pruning against uninstalls) instead of
   * growing for the first half hour of a soak, which would look like a leak. Not counted as churn.
   */
  async seed(n: number, options: { warmup?: number | undefined; concurrency?: number | undefined } = {}): Promise<void> {
    for (let i = 0; i < n; i++) {
      const rel = this.#newRelease();
      rel.revs.set(1, { status: 'deployed', template: this.#pick(this.#o.templates) });
      this.#addLive(rel);
    }
    this.#simulate = true;
    try {
      for (let i = 0; i < (options.warmup ?? 20) * n; i++) await this.change();
    } finally {
      this.#simulate = false;
    }
    for (const op of CHURN_OPS) this.counts[op] = 0;
    const work = [...this.#live.values()].flatMap((rel) => [...rel.revs].map(([rev, r]) => ({ rel, rev, r })));
    let i = 0;
    await Promise.all(
      Array.from({ length: options.concurrency ?? 16 }, async () => {
        while (i < work.length) {
          const { rel, rev, r } = work[i++] as (typeof work)[number];
          const json = this.#json(rel, rev, r.status, r.template);
          await this.#retry(() => createReleaseSecret(this.#o.kc(), rel.ns, rel.name, rev, r.status, json));
        }
      }),
    );
  }

  /** Every release uninstalled as `helm uninstall` does it (not counted as churn): the controller must then hold no release. */
  async uninstallAll(concurrency = 16): Promise<void> {
    const rels = [...this.#live.values()];
    let i = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (i < rels.length) await this.#apply('uninstall', rels[i++] as Release);
      }),
    );
  }

  /** Live revisions (release Secrets) now. */
  get secrets(): number {
    let n = 0;
    for (const rel of this.#live.values()) n += rel.revs.size;
    return n;
  }

  /** One random operation on a release no other change is writing; undefined when none is free. */
  async change(): Promise<ChurnChange | undefined> {
    let op = this.#pickOp();
    if (op === 'reinstall' && this.#uninstalled.length === 0) op = 'install';
    let rel: Release | undefined;
    if (op === 'install') rel = this.#newRelease();
    else if (op === 'reinstall') {
      const i = Math.floor(this.#random() * this.#uninstalled.length);
      const key = this.#uninstalled[i] as string;
      this.#uninstalled[i] = this.#uninstalled[this.#uninstalled.length - 1] as string;
      this.#uninstalled.pop();
      const slash = key.indexOf('/');
      rel = { ns: key.slice(0, slash), name: key.slice(slash + 1), revs: new Map() };
    } else {
      for (let tries = 0; tries < 20 && !rel; tries++) {
        const key = this.#liveKeys[Math.floor(this.#random() * this.#liveKeys.length)];
        if (key !== undefined && !this.#busy.has(key)) rel = this.#live.get(key);
      }
      if (!rel) return undefined;
      if (op === 'rollback' && rel.revs.size < 2) op = 'upgrade';
    }
    const key = `${rel.ns}/${rel.name}`;
    this.#busy.add(key);
    try {
      await this.#apply(op, rel);
    } finally {
      this.#busy.delete(key);
    }
    this.counts[op]++;
    const top = this.#top(rel);
    return { op, key, expect: top ? shown(top[1].template.version, top[0], top[1].status) : undefined, at: performance.now() };
  }

  /** namespace/name → what its ChartOrigin must show, for every release that exists. */
  expected(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [key, rel] of this.#live) {
      const top = this.#top(rel);
      if (top) out.set(key, shown(top[1].template.version, top[0], top[1].status));
    }
    return out;
  }

  async #apply(op: ChurnOp, rel: Release): Promise<void> {
    const top = this.#top(rel);
    const next = (top?.[0] ?? 0) + 1;
    switch (op) {
      case 'install':
      case 'reinstall': {
        const t = this.#pick(this.#o.templates);
        await this.#create(rel, 1, 'pending-install', t);
        await this.#update(rel, 1, 'deployed');
        this.#addLive(rel);
        return;
      }
      case 'upgrade':
      case 'rollback': {
        let t: ChurnTemplate;
        if (op === 'rollback') {
          const earlier = [...rel.revs.keys()].filter((r) => r !== top?.[0]);
          t = (rel.revs.get(this.#pick(earlier)) as Revision).template;
        } else t = this.#pick(this.#o.templates);
        await this.#prune(rel);
        await this.#create(rel, next, op === 'rollback' ? 'pending-rollback' : 'pending-upgrade', t);
        for (const [r, v] of [...rel.revs]) if (v.status === 'deployed') await this.#update(rel, r, 'superseded');
        await this.#update(rel, next, 'deployed');
        return;
      }
      case 'failed-upgrade':
        await this.#prune(rel);
        await this.#create(rel, next, 'pending-upgrade', this.#pick(this.#o.templates));
        await this.#update(rel, next, 'failed');
        return;
      case 'uninstall': {
        if (top) await this.#update(rel, top[0], 'uninstalling');
        for (const r of [...rel.revs.keys()].sort((a, b) => a - b)) await this.#delete(rel, r);
        this.#removeLive(rel);
        return;
      }
    }
  }

  /** helm's storage.removeLeastRecent before a Create: at most historyMax-1 revisions stay, the last deployed always. */
  async #prune(rel: Release): Promise<void> {
    const revs = [...rel.revs.keys()].sort((a, b) => a - b);
    const lastDeployed = revs.filter((r) => rel.revs.get(r)?.status === 'deployed').at(-1);
    let excess = revs.length - (this.#historyMax - 1);
    for (const r of revs) {
      if (excess <= 0) break;
      if (r === lastDeployed) continue;
      await this.#delete(rel, r);
      excess--;
    }
  }

  async #create(rel: Release, rev: number, status: string, template: ChurnTemplate): Promise<void> {
    if (!this.#simulate) {
      const json = this.#json(rel, rev, status, template);
      await this.#retry(async () => {
        try {
          await createReleaseSecret(this.#o.kc(), rel.ns, rel.name, rev, status, json);
        } catch (err) {
          // A retried Create whose first attempt reached etcd before the connection broke.
          if (!(err instanceof KubeApiError && err.status === 409)) throw err;
        }
      });
    }
    rel.revs.set(rev, { status, template });
  }

  async #update(rel: Release, rev: number, status: string): Promise<void> {
    const r = rel.revs.get(rev);
    if (!r) throw new Error(`no revision ${rev} of ${rel.ns}/${rel.name}`);
    if (!this.#simulate) {
      const json = this.#json(rel, rev, status, r.template);
      await this.#retry(() => updateReleaseSecret(this.#o.kc(), rel.ns, rel.name, rev, status, json));
    }
    r.status = status;
  }

  async #delete(rel: Release, rev: number): Promise<void> {
    if (!this.#simulate) {
      await this.#retry(async () => {
        try {
          await deleteReleaseSecret(this.#o.kc(), rel.ns, rel.name, rev);
        } catch (err) {
          if (!(err instanceof KubeApiError && err.status === 404)) throw err;
        }
      });
    }
    rel.revs.delete(rev);
  }

  #json(rel: Release, rev: number, status: string, t: ChurnTemplate): string {
    const info = isObject(t.release['info']) ? t.release['info'] : {};
    return JSON.stringify({ ...t.release, name: rel.name, namespace: rel.ns, version: rev, info: { ...info, status } });
  }

  /** Retries a write while the API is unreachable or unavailable (a fault); other answers fail the change. */
  async #retry(write: () => Promise<void>): Promise<void> {
    const deadline = Date.now() + (this.#o.retryMs ?? 300_000);
    for (;;) {
      try {
        await write();
        this.writes++;
        return;
      } catch (err) {
        const transient = !(err instanceof KubeApiError) || err.status >= 500 || err.status === 429;
        if (!transient || Date.now() > deadline) throw err;
        await sleep(250);
      }
    }
  }

  #top(rel: Release): [number, Revision] | undefined {
    let best: [number, Revision] | undefined;
    for (const e of rel.revs) if (!best || e[0] > best[0]) best = e;
    return best;
  }

  #newRelease(): Release {
    const i = this.#fresh++;
    return { ns: this.#o.namespaces[i % this.#o.namespaces.length] as string, name: `rel-${i}`, revs: new Map() };
  }

  #addLive(rel: Release): void {
    const key = `${rel.ns}/${rel.name}`;
    if (!this.#live.has(key)) this.#liveKeys.push(key);
    this.#live.set(key, rel);
  }

  #removeLive(rel: Release): void {
    const key = `${rel.ns}/${rel.name}`;
    this.#live.delete(key);
    const i = this.#liveKeys.indexOf(key);
    if (i >= 0) {
      this.#liveKeys[i] = this.#liveKeys[this.#liveKeys.length - 1] as string;
      this.#liveKeys.pop();
    }
    this.#uninstalled.push(key);
  }

  #pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.#random() * xs.length)] as T;
  }

  #pickOp(): ChurnOp {
    const mix = this.#o.mix ?? DEFAULT_MIX;
    const total = CHURN_OPS.reduce((s, op) => s + mix[op], 0);
    let x = this.#random() * total;
    for (const op of CHURN_OPS) {
      x -= mix[op];
      if (x < 0) return op;
    }
    return 'upgrade';
  }
}

/** What one ChartOrigin shows, as the watch delivers it. */
export interface OriginView {
  shown: string;
  ready: boolean;
}

/**
 * Every ChartOrigin through one list+watch (the product's own reflector: resumes after an apiserver
 * restart, relists after 410 Gone), so the benchmark sees each change as it lands without polling.
 */
export class OriginWatcher {
  readonly origins = new Map<string, OriginView>();
  readonly #reflector: MetadataReflector;
  #synced = false;

  constructor(kc: KubeConfig, onChange?: (key: string, view: OriginView | undefined) => void) {
    this.#reflector = new MetadataReflector({
      kubeConfig: kc,
      path: '/apis/chartorigin.io/v1alpha1/chartorigins',
      full: true,
      logger: pino({ level: 'silent' }),
      handler: {
        upsert: (m) => {
          const view = originView(m.object);
          this.origins.set(`${m.namespace}/${m.name}`, view);
          onChange?.(`${m.namespace}/${m.name}`, view);
        },
        remove: (m) => {
          this.origins.delete(`${m.namespace}/${m.name}`);
          onChange?.(`${m.namespace}/${m.name}`, undefined);
        },
        synced: () => {
          this.#synced = true;
        },
      },
    });
  }

  get synced(): boolean {
    return this.#synced;
  }

  run(signal: AbortSignal): Promise<void> {
    return this.#reflector.run(signal);
  }
}

function originView(o: unknown): OriginView {
  const status = isObject(o) && isObject(o['status']) ? o['status'] : {};
  const release = isObject(status['release']) ? status['release'] : {};
  const chart = isObject(status['chart']) ? status['chart'] : {};
  const conditions = Array.isArray(status['conditions']) ? status['conditions'] : [];
  return {
    shown: shown(
      typeof chart['version'] === 'string' ? chart['version'] : undefined,
      typeof release['revision'] === 'number' ? release['revision'] : undefined,
      typeof release['status'] === 'string' ? release['status'] : undefined,
    ),
    ready: conditions.some((c) => isObject(c) && c['type'] === 'Ready' && c['status'] === 'True'),
  };
}

export interface Convergence {
  releases: number;
  origins: number;
  /** Releases whose ChartOrigin is missing or shows another version, revision or status. */
  mismatches: string[];
  /** ChartOrigins without a release. */
  orphans: string[];
  /** ChartOrigins of releases that are not Ready. */
  notReady: string[];
}

/** The ChartOrigins (listed fresh from the API) against the ground truth. */
export async function convergence(kc: KubeConfig, expected: ReadonlyMap<string, string>): Promise<Convergence> {
  const views = new Map<string, OriginView>();
  let cont: string | undefined;
  do {
    const page = await kubeRequest<{ items?: unknown[]; metadata?: { continue?: string } }>(kc, { path: '/apis/chartorigin.io/v1alpha1/chartorigins', query: { limit: 500, continue: cont } });
    for (const item of page.items ?? []) {
      const md = isObject(item) && isObject(item['metadata']) ? item['metadata'] : {};
      views.set(`${String(md['namespace'])}/${String(md['name'])}`, originView(item));
    }
    cont = page.metadata?.continue || undefined;
  } while (cont);
  const mismatches: string[] = [];
  const notReady: string[] = [];
  for (const [key, want] of expected) {
    const v = views.get(key);
    if (!v || v.shown !== want) mismatches.push(`${key}: want ${want}, ChartOrigin ${v ? v.shown : 'missing'}`);
    else if (!v.ready) notReady.push(key);
  }
  const orphans = [...views.keys()].filter((k) => !expected.has(k));
  return { releases: expected.size, origins: views.size, mismatches, orphans, notReady };
}

/** Polls `convergence` until it is clean or the time is up; returns the last answer either way. */
export async function awaitConvergence(kc: KubeConfig, expected: ReadonlyMap<string, string>, timeoutMs: number): Promise<Convergence & { waitedMs: number }> {
  const t0 = performance.now();
  for (;;) {
    let c: Convergence | undefined;
    try {
      c = await convergence(kc, expected);
    } catch {
      // the API may still be coming back after a fault
    }
    const clean = c && c.mismatches.length === 0 && c.orphans.length === 0 && c.notReady.length === 0;
    if (c && (clean || performance.now() - t0 > timeoutMs)) return { ...c, waitedMs: performance.now() - t0 };
    if (!c && performance.now() - t0 > timeoutMs) throw new Error('the API did not answer while waiting for convergence');
    await sleep(1000);
  }
}

export interface DriveOptions {
  ratePerS: number;
  durationMs: number;
  /** Changes in flight at most (a fault stalls writes; the schedule then catches up at this width). */
  maxInFlight?: number | undefined;
  onChange?: ((c: ChurnChange) => void) | undefined;
}

/**
 * Starts a change every 1/rate s on an absolute schedule for `durationMs`, then waits for the ones in
 * flight. Resolves to the number of changes made and how far behind the schedule the driver fell at most.
 */
export async function driveChurn(churn: HelmChurn, o: DriveOptions): Promise<{ changes: number; maxBehindMs: number }> {
  const t0 = performance.now();
  const inFlight = new Set<Promise<void>>();
  let started = 0;
  let changes = 0;
  let maxBehindMs = 0;
  let failure: unknown;
  const max = o.maxInFlight ?? 64;
  for (;;) {
    if (failure) throw failure;
    const due = t0 + (started * 1000) / o.ratePerS;
    if (due - t0 >= o.durationMs) break;
    const now = performance.now();
    if (due > now) await sleep(due - now);
    else maxBehindMs = Math.max(maxBehindMs, now - due);
    while (inFlight.size >= max) await Promise.race(inFlight);
    started++;
    const p: Promise<void> = churn.change().then(
      (c) => {
        inFlight.delete(p);
        if (c) {
          changes++;
          o.onChange?.(c);
        }
      },
      (err: unknown) => {
        inFlight.delete(p);
        failure = err;
      },
    );
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  if (failure) throw failure;
  return { changes, maxBehindMs };
}

/** Each release's highest revision as the Secrets in the cluster say (`<revision>/<status>`): checks the ground truth itself. */
export async function secretsTruth(kc: KubeConfig): Promise<Map<string, string>> {
  const top = new Map<string, [number, string]>();
  let cont: string | undefined;
  do {
    const page = await kubeRequest<{ items?: unknown[]; metadata?: { continue?: string } }>(kc, {
      path: '/api/v1/secrets',
      query: { labelSelector: 'owner=helm', fieldSelector: 'type=helm.sh/release.v1', limit: 500, continue: cont },
      headers: { Accept: 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json' },
    });
    for (const item of page.items ?? []) {
      const md = isObject(item) && isObject(item['metadata']) ? item['metadata'] : {};
      const labels = isObject(md['labels']) ? md['labels'] : {};
      const key = `${String(md['namespace'])}/${String(labels['name'])}`;
      const rev = Number(labels['version']);
      const prev = top.get(key);
      if (!prev || rev > prev[0]) top.set(key, [rev, String(labels['status'])]);
    }
    cont = page.metadata?.continue || undefined;
  } while (cont);
  return new Map([...top].map(([k, [rev, status]]) => [k, `${rev}/${status}`]));
}

/** The ground truth without chart versions, in `secretsTruth`'s form. */
export function revisionsOf(expected: ReadonlyMap<string, string>): Map<string, string> {
  return new Map([...expected].map(([k, v]) => [k, v.slice(v.indexOf('@') + 1)]));
}

/**
 * The kube-apiserver started again (a fault's recovery). On a machine loaded by other work its start can
 * miss the harness's 90 s readiness deadline; a fault test must not fail for that, so up to `tries` starts.
 */
export async function restartApiServer(cp: Pick<ControlPlane, 'startApiServer'>, port?: number, tries = 5, log?: (line: string) => void): Promise<string> {
  for (let i = 1; ; i++) {
    try {
      return await cp.startApiServer(port);
    } catch (err) {
      if (i >= tries) throw err;
      log?.(`apiserver start attempt ${i} failed; retrying`);
    }
  }
}
