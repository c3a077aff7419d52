/**
 * Which Flux HelmRelease owns a release — decided alike by `chartorigin scan` and the controller, against the
 * real control plane and real helm 3 (sources/discovery/flux.ts: by the release's storage key, HelmReleases
 * listed in all namespaces, else in each namespace served).
 *
 * Owned means "proven with Flux's rules" (values merged from values files, version `+<generation>`), so a
 * HelmRelease must own only what helm-controller really stores: a HelmRelease in team-a whose spec says
 * `targetNamespace: prod, releaseName: payments` must not turn prod's plain-Helm `payments` into Flux's (its
 * spec is team-a's to write; helm-controller stores that release in team-a), while one in namespace A whose
 * status (written by helm-controller) says `storageNamespace: B` owns its release stored in B even when only
 * B is scanned or watched. A status.storageNamespace alone claims nothing there: helm-controller copies it from
 * the spec before any Helm action and writes it even when the action is refused (multi-tenancy lockdown), so
 * only a release its status history recorded (a Snapshot, written once it wrote the release into that storage)
 * is the HelmRelease's; and a HelmRelease in the storage namespace itself wins a release over one elsewhere.
 * HelmRelease is a schemaless CRD here (test/harness/gitops.ts); the objects and the
 * status follow helm-controller v1.6's api/v2 types. The charts are fluxapp and what source-controller builds
 * of it (harness buildFluxAppCharts): `built` installed by plain helm is a chart whose values were edited —
 * a Mismatch by Helm's rules, Verified by Flux's. hookapp stores no object in its manifest (a hook and a disabled
 * template): only a HelmRelease can name its release, and one installed after the HelmReleases were last listed must
 * be decided by a list begun after it — the controller's (watched: never published as Helm's) and scan's (a front
 * of the API server that answers scan's HelmRelease list from before its list of releases).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Watch } from '@kubernetes/client-node';
import { after, before, describe, it } from 'node:test';
import { ensureNamespace, kubeConfigFor, kubectl, serviceAccountKubeconfig } from '../harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess } from '../harness/controller-process.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { helm, helmInstall } from '../harness/helm.ts';
import { runHelm, scratchDir } from '../harness/charts.ts';
import { startChartRepoServer, type ChartRepoServer } from '../harness/chart-repo-server.ts';
import { runChartorigin } from '../harness/cli.ts';
import { buildFluxAppCharts, installGitOpsCrds, type FluxAppCharts } from '../harness/gitops.ts';

const env = testEnv();
const cluster = env.cluster;
const prod = uniqueNamespace('e2e-own-prod');
const teamA = uniqueNamespace('e2e-own-team');
/** Namespace A: a HelmRelease that stores its release in B. */
const hrHome = uniqueNamespace('e2e-own-hr');
/** Namespace B. */
const store = uniqueNamespace('e2e-own-store');

let server: ChartRepoServer;
let charts: FluxAppCharts;
let config: string;
/** hookapp 1.0.0: a pre-install hook and a template its default values disable — a manifest with no object. */
let hookapp: string;

/** A chart whose install stores no object in the release manifest (hooks only, nothing enabled), packaged by the real helm into `repoDir`. */
async function packageHookApp(repoDir: string): Promise<string> {
  const dir = join(scratchDir('hookapp'), 'hookapp');
  mkdirSync(join(dir, 'templates'), { recursive: true });
  writeFileSync(join(dir, 'Chart.yaml'), 'apiVersion: v2\nname: hookapp\nversion: 1.0.0\nappVersion: "1.0"\n');
  writeFileSync(join(dir, 'values.yaml'), 'enabled: false\n');
  writeFileSync(join(dir, 'templates', 'hook.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-migrate\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n    helm.sh/hook-delete-policy: before-hook-creation\ndata:\n  step: migrate\n');
  writeFileSync(join(dir, 'templates', 'app.yaml'), '{{- if .Values.enabled }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-app\n{{- end }}\n');
  await runHelm(['package', dir, '-d', repoDir]);
  const made = readdirSync(repoDir).find((f) => f === 'hookapp-1.0.0.tgz');
  if (!made) throw new Error('helm package wrote no hookapp-1.0.0.tgz');
  return join(repoDir, made);
}

async function apply(obj: unknown, subresource?: 'status'): Promise<void> {
  await kubectl(cluster, ['apply', '--server-side', '--force-conflicts', ...(subresource ? [`--subresource=${subresource}`] : []), '-f', '-'], { input: JSON.stringify(obj) });
}

const CHART = { chart: 'fluxapp', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'charts' }, valuesFiles: ['values.yaml', 'values-prod.yaml'] };

/** A HelmRelease (api/v2) in `namespace`, and the status helm-controller writes once it installed `release` stored in `storageNamespace`. */
async function helmRelease(namespace: string, name: string, spec: Record<string, unknown>, installed?: { release: string; releaseNamespace: string; storageNamespace: string }): Promise<void> {
  const meta = { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name, namespace } };
  await apply({ ...meta, spec: { interval: '10m', chart: { spec: CHART }, ...spec } });
  if (!installed) return;
  const message = `Helm install succeeded for release ${installed.releaseNamespace}/${installed.release}.v1 with chart fluxapp@1.0.0+1`;
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  await apply(
    {
      ...meta,
      status: {
        observedGeneration: 1,
        conditions: [
          { type: 'Ready', status: 'True', reason: 'InstallSucceeded', message, lastTransitionTime: now, observedGeneration: 1 },
          { type: 'Released', status: 'True', reason: 'InstallSucceeded', message, lastTransitionTime: now, observedGeneration: 1 },
        ],
        helmChart: `${namespace}-${name}`,
        storageNamespace: installed.storageNamespace,
        history: [{ apiVersion: 'v2', appVersion: '1.0', chartName: 'fluxapp', chartVersion: '1.0.0+1', configDigest: `sha256:${'1'.repeat(64)}`, digest: `sha256:${'2'.repeat(64)}`, firstDeployed: now, lastDeployed: now, name: installed.release, namespace: installed.releaseNamespace, status: 'deployed', action: 'install', version: 1 }],
        lastAttemptedGeneration: 1,
        lastAttemptedConfigDigest: `sha256:${'1'.repeat(64)}`,
        lastAttemptedReleaseAction: 'install',
        lastAttemptedRevision: '1.0.0',
      },
    },
    'status',
  );
}

/**
 * The status helm-controller (v1.6) writes when its attempt to release into another storage namespace was
 * refused before any release was written: reconcileRelease copied spec.storageNamespace into the status and set
 * the lastAttempted fields, DetermineReleaseState failed impersonating a ServiceAccount that may not read that
 * storage (atomic_release.go: Ready False, StateError), and the deferred patch wrote it — no history.
 */
async function refusedStatus(namespace: string, name: string, storageNamespace: string): Promise<void> {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const message = `Could not determine release state: failed to retrieve last release from storage: query: failed to query with labels: secrets is forbidden: User "system:serviceaccount:${namespace}:default" cannot list resource "secrets" in API group "" in the namespace "${storageNamespace}"`;
  await apply(
    {
      apiVersion: 'helm.toolkit.fluxcd.io/v2',
      kind: 'HelmRelease',
      metadata: { name, namespace },
      status: {
        observedGeneration: -1,
        conditions: [
          { type: 'Reconciling', status: 'True', reason: 'ProgressingWithRetry', message, lastTransitionTime: now, observedGeneration: 1 },
          { type: 'Ready', status: 'False', reason: 'StateError', message, lastTransitionTime: now, observedGeneration: 1 },
        ],
        helmChart: `${namespace}-${name}`,
        storageNamespace,
        lastAttemptedGeneration: 1,
        lastAttemptedConfigDigest: `sha256:${'1'.repeat(64)}`,
        lastAttemptedRevision: '1.0.0',
      },
    },
    'status',
  );
}

interface Report {
  name: string;
  namespace: string;
  managedBy?: string;
  origin: { match: string; message?: string };
}

async function scan(args: readonly string[], kubeconfig = cluster.kubeconfig): Promise<{ code: number | null; stderr: string; reports: Map<string, Report> }> {
  const r = await runChartorigin(['scan', ...args, '--kubeconfig', kubeconfig, '--config', config, '--no-discover', '-o', 'json'], { env: { ...process.env, HOME: scratchDir('owners-home'), CHARTORIGIN_CACHE_DIR: '' } });
  assert.ok(r.stdout.startsWith('['), r.stderr);
  const reports = new Map((JSON.parse(r.stdout) as Report[]).map((x) => [`${x.namespace}/${x.name}`, x]));
  return { code: r.code, stderr: r.stderr, reports };
}

const verdict = (r: Report | undefined): [string | undefined, string | undefined] => [r?.managedBy, r?.origin.match];

before(async () => {
  await installCrds(cluster);
  await installGitOpsCrds(cluster);
  for (const n of [prod, teamA, hrHome, store]) await ensureNamespace(cluster, n);
  charts = await buildFluxAppCharts();
  hookapp = await packageHookApp(charts.repoDir);
  server = await startChartRepoServer({ dir: charts.repoDir });
  await runHelm(['repo', 'index', charts.repoDir, '--url', server.url]);
  config = join(scratchDir('owners-config'), 'repos.yaml');
  writeFileSync(config, `repositories:\n  - name: charts\n    url: ${server.url}\n`);

  // prod: two releases installed by plain helm — the published chart, and the Flux build (its values edited,
  // as far as Helm is concerned) — and, in team-a, HelmReleases whose spec names them.
  await helmInstall(cluster, 3, 'payments', charts.published, { namespace: prod });
  await helmInstall(cluster, 3, 'billing', charts.built, { namespace: prod });
  for (const name of ['payments', 'billing']) await helmRelease(teamA, name, { targetNamespace: prod, releaseName: name });

  // B: the release of a HelmRelease in A that helm-controller stores in B (spec and status storageNamespace),
  // installed without origin labels (a chart whose rendered objects carry none); and one of B's own.
  await helmRelease(hrHome, 'web', { targetNamespace: store, storageNamespace: store, releaseName: 'web' }, { release: 'web', releaseNamespace: store, storageNamespace: store });
  await helmInstall(cluster, 3, 'web', charts.built, { namespace: store });
  await helmRelease(store, 'local', {}, { release: 'local', releaseNamespace: store, storageNamespace: store });
  await helmInstall(cluster, 3, 'local', charts.built, { namespace: store });

  // prod, plain helm, the Flux build (a Mismatch by Helm's rules): `ledger`, which a HelmRelease in team-a
  // with storageNamespace prod tried and failed to take over (its status says prod, no history); `orders`,
  // which one in team-a did release into prod (its history records it); `invoices`, recorded in the history
  // of a HelmRelease in A (whose namespace sorts before prod's) and named by prod's own HelmRelease.
  for (const name of ['ledger', 'orders', 'invoices']) await helmInstall(cluster, 3, name, charts.built, { namespace: prod });
  await helmRelease(teamA, 'ledger-takeover', { storageNamespace: prod, targetNamespace: prod, releaseName: 'ledger' });
  await refusedStatus(teamA, 'ledger-takeover', prod);
  await helmRelease(teamA, 'orders', { storageNamespace: prod, targetNamespace: prod, releaseName: 'orders' }, { release: 'orders', releaseNamespace: prod, storageNamespace: prod });
  assert.ok(hrHome < prod, 'A sorts before prod: first by namespace/name would pick it');
  await helmRelease(hrHome, 'invoices-old', { storageNamespace: prod, targetNamespace: prod, releaseName: 'invoices' }, { release: 'invoices', releaseNamespace: prod, storageNamespace: prod });
  await helmRelease(prod, 'invoices', {}, { release: 'invoices', releaseNamespace: prod, storageNamespace: prod });
});

/** Flux sources this file made that point at `server`: gone with it, so later files' discovery never meets a dead repository. */
const sourcesMade: { namespace: string; name: string }[] = [];

after(async () => {
  for (const { namespace, name } of sourcesMade) await kubectl(cluster, ['delete', 'helmrepository.source.toolkit.fluxcd.io', name, '-n', namespace, '--ignore-not-found', '--wait=false']).catch(() => undefined);
  await server?.close();
});

describe('scan: which HelmRelease owns a release, as the controller decides it', () => {
  it('a HelmRelease in another namespace whose spec names a plain-Helm release (targetNamespace, releaseName) does not make it Flux\'s: managedBy Helm, and the edited one stays Mismatch', async () => {
    for (const args of [['-n', prod], ['-A']]) {
      const { code, stderr, reports } = await scan(args);
      assert.equal(code, 0, stderr);
      assert.deepEqual(verdict(reports.get(`${prod}/payments`)), ['Helm', 'Verified'], `${args.join(' ')}: ${stderr}`);
      assert.deepEqual(verdict(reports.get(`${prod}/billing`)), ['Helm', 'Mismatch'], `${args.join(' ')}: the tamper alarm stays on`);
      assert.match(reports.get(`${prod}/billing`)?.origin.message ?? '', /values/);
    }
  });

  it('a HelmRelease in namespace A whose status.storageNamespace is B owns its release in `scan -n B` (managedBy Flux, proven as Flux built it); a user who may list HelmReleases only in B still gets B\'s own', async () => {
    const { code, stderr, reports } = await scan(['-n', store]);
    assert.equal(code, 0, stderr);
    const web = reports.get(`${store}/web`);
    assert.deepEqual(verdict(web), ['Flux', 'Verified'], stderr);
    assert.match(web?.origin.message ?? '', new RegExp(`values merged from values.yaml, values-prod.yaml by Flux .*HelmRelease ${hrHome}/web`));
    assert.deepEqual(verdict(reports.get(`${store}/local`)), ['Flux', 'Verified']);

    // A namespaced user (a Role in B only): the list of all namespaces is forbidden, B's is listed instead.
    await apply({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'scanner', namespace: store }, rules: [{ apiGroups: [''], resources: ['secrets', 'configmaps'], verbs: ['get', 'list'] }, { apiGroups: ['helm.toolkit.fluxcd.io'], resources: ['helmreleases'], verbs: ['get', 'list'] }] });
    await apply({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'scanner', namespace: store }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'scanner' }, subjects: [{ kind: 'ServiceAccount', name: 'scanner', namespace: store }] });
    const user = await serviceAccountKubeconfig(cluster, store, 'scanner');
    const narrow = await eventually('the RoleBinding in effect', async () => {
      const r = await scan(['-n', store], user);
      return r.reports.has(`${store}/local`) ? r : undefined;
    }, 30_000, 500);
    assert.equal(narrow.code, 0, narrow.stderr);
    assert.deepEqual(verdict(narrow.reports.get(`${store}/local`)), ['Flux', 'Verified'], narrow.stderr);
    assert.doesNotMatch(narrow.stderr, /HelmReleases not listed/, 'the namespace\'s own list stood in for the forbidden one');
    assert.match(narrow.stderr, new RegExp(`Flux HelmReleases listed in ${store} only \\(not allowed in all namespaces\\): a HelmRelease in another namespace that stores its release there is not seen`));
  });

  it('status.storageNamespace without a history naming the release (helm-controller writes it before a refused install) claims nothing: prod\'s plain-Helm release stays Helm\'s and Mismatch; one the history records is Flux\'s; prod\'s own HelmRelease wins over one elsewhere', async () => {
    for (const args of [['-n', prod], ['-A']]) {
      const { code, stderr, reports } = await scan(args);
      assert.equal(code, 0, stderr);
      const ledger = reports.get(`${prod}/ledger`);
      assert.deepEqual(verdict(ledger), ['Helm', 'Mismatch'], `${args.join(' ')}: the tamper alarm stays on (${stderr})`);
      assert.match(ledger?.origin.message ?? '', /values/);
      const orders = reports.get(`${prod}/orders`);
      assert.deepEqual(verdict(orders), ['Flux', 'Verified'], `${args.join(' ')}: ${stderr}`);
      assert.match(orders?.origin.message ?? '', new RegExp(`by Flux .*HelmRelease ${teamA}/orders`));
      const invoices = reports.get(`${prod}/invoices`);
      assert.deepEqual(verdict(invoices), ['Flux', 'Verified'], `${args.join(' ')}: ${stderr}`);
      assert.match(invoices?.origin.message ?? '', new RegExp(`by Flux .*HelmRelease ${prod}/invoices`), 'prod\'s own HelmRelease, not A\'s');
    }
  });
});

describe('the controller decides the same', () => {
  it('--namespaces=prod,B: prod\'s plain-Helm releases stay Helm\'s (the edited ones Mismatch, also the one a HelmRelease\'s status.storageNamespace alone names), B\'s release of the HelmRelease in A is Flux\'s, and so is the one a history records', async () => {
    const controller = await startControllerProcess(cluster, ['--leader-elect=false', '--namespaces', `${prod},${store}`, '--argocd=false', '--discover-flux-sources=false', '--watch-chart-repositories=false', '--config', config, '--gitops-interval=2s'], 'flux-owners', { namespace: prod });
    try {
      const status = (namespace: string, name: string, match: string): Promise<Report> =>
        eventually(`ChartOrigin ${namespace}/${name} ${match}`, async () => {
          const o = JSON.parse(await kubectl(cluster, ['get', 'chartorigin', name, '-n', namespace, '-o', 'json'])) as { status?: { managedBy?: string; origin?: { match: string; message?: string } } };
          return o.status?.origin?.match === match ? { name, namespace, managedBy: o.status.managedBy, origin: o.status.origin } : undefined;
        }, 90_000, 500);
      assert.equal((await status(store, 'web', 'Verified')).managedBy, 'Flux');
      assert.equal((await status(prod, 'payments', 'Verified')).managedBy, 'Helm');
      assert.equal((await status(prod, 'billing', 'Mismatch')).managedBy, 'Helm');
      assert.equal((await status(prod, 'ledger', 'Mismatch')).managedBy, 'Helm');
      const orders = await status(prod, 'orders', 'Verified');
      assert.equal(orders.managedBy, 'Flux');
      assert.match(orders.origin.message ?? '', new RegExp(`HelmRelease ${teamA}/orders`));
      const invoices = await status(prod, 'invoices', 'Verified');
      assert.equal(invoices.managedBy, 'Flux');
      assert.match(invoices.origin.message ?? '', new RegExp(`HelmRelease ${prod}/invoices`));
    } finally {
      await controller.stop();
    }
  });
});

describe('a release only a HelmRelease can name, installed after the controller last listed HelmReleases', () => {
  it('--gitops-interval=10m, a HelmRelease applied and its hooks-only release installed after the first list: managedBy Flux from the first publication on; a hooks-only release no HelmRelease names is Helm\'s; scan says the same', async () => {
    const late = uniqueNamespace('e2e-own-late');
    await ensureNamespace(cluster, late);
    // Every status the ChartOrigins of `late` ever had, in order, from a watch started before anything is installed.
    const seen: { name: string; managedBy?: string; match?: string }[] = [];
    const watcher = new Watch(kubeConfigFor(cluster));
    Reflect.set(watcher, 'requestTimeoutMs', 15 * 60_000); // client-node (2.0) ends a watch silent for 30 s
    let ended: string | undefined;
    // A fresh API server may answer 429 while its priority-and-fairness configuration settles: again until it streams.
    const watch = await eventually('a watch of the ChartOrigins', async () => {
      ended = undefined;
      const w = await watcher.watch(
        `/apis/chartorigin.io/v1alpha1/namespaces/${late}/chartorigins`,
        {},
        (_phase: string, o: { metadata?: { name?: string }; status?: { managedBy?: string; origin?: { match?: string } } }) => {
          if (o.status?.managedBy || o.status?.origin) seen.push({ name: o.metadata?.name ?? '', managedBy: o.status.managedBy, match: o.status.origin?.match });
        },
        (err: unknown) => {
          ended = `the watch ended (${String(err)}): later statuses were not seen`;
        },
      );
      return ended === undefined ? w : undefined;
    }, 30_000, 500);
    // Lists HelmReleases once at start, then every 10 minutes: only a list the new release waits for can know its HelmRelease.
    const controller = await startControllerProcess(cluster, ['--leader-elect=false', '--namespaces', late, '--argocd=false', '--discover-flux-sources=false', '--watch-chart-repositories=false', '--config', config, '--gitops-interval=10m', '--log-level=debug'], 'flux-owners-late', { namespace: late });
    try {
      await eventually('the controller is ready (its first list of HelmReleases is done)', async () => ((await controller.ready()) ? true : undefined), 60_000, 250);
      // As Flux does it: the HelmRelease first, then helm-controller installs (with Helm 4's SDK since helm-controller v1.5).
      await helmRelease(late, 'hooks', { chart: { spec: { chart: 'hookapp', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'charts' } } } });
      await helmInstall(cluster, 4, 'hooks', hookapp, { namespace: late });
      // The same chart by plain helm, no HelmRelease naming it.
      await helmInstall(cluster, 3, 'plain-hooks', hookapp, { namespace: late });
      const manifest = await helm(cluster, 4, ['get', 'manifest', 'hooks'], { namespace: late });
      assert.doesNotMatch(manifest.stdout, /^kind:/m, 'no object in the stored manifest: no origin label could name the HelmRelease');

      const published = (name: string): Promise<{ managedBy?: string; match?: string }> =>
        eventually(`ChartOrigin ${late}/${name} published`, async () => seen.find((s) => s.name === name && s.match), 90_000, 250).catch(async (err: unknown) => {
          const now = await kubectl(cluster, ['get', 'chartorigins', '-n', late, '-o', 'jsonpath={range .items[*]}{.metadata.name} {.status.managedBy} {.status.origin.match}{"\\n"}{end}']).catch((e: unknown) => String(e));
          throw new Error(`${(err as Error).message}; watched ${JSON.stringify(seen)} ${ended ?? ''}; now ${now}; controller log: ${controller.proc.logTail(3000)}`);
        });
      assert.deepEqual(await published('hooks'), { name: 'hooks', managedBy: 'Flux', match: 'Verified' });
      assert.deepEqual(await published('plain-hooks'), { name: 'plain-hooks', managedBy: 'Helm', match: 'Verified' });
      // Every status the watch saw: never Helm for the Flux release (it would have been, for up to 10 minutes).
      const said = (name: string): string[] => [...new Set(seen.filter((s) => s.name === name).map((s) => s.managedBy ?? '(none)'))];
      assert.deepEqual(said('hooks'), ['Flux'], JSON.stringify(seen));
      assert.deepEqual(said('plain-hooks'), ['Helm'], JSON.stringify(seen));
      assert.equal(ended, undefined, 'every status was watched');
      // The first list, then one for each release installed after it — not one per reconcile (each install is
      // reconciled at pending-install and again at deployed, within the minute a list must begin after).
      const lists = (controller.proc.logTail(1_000_000).match(/"msg":"Flux HelmReleases listed"/g) ?? []).length;
      assert.ok(lists >= 2 && lists <= 3, `${lists} lists of HelmReleases`);

      const { code, stderr, reports } = await scan(['-n', late]);
      assert.equal(code, 0, stderr);
      assert.deepEqual(verdict(reports.get(`${late}/hooks`)), ['Flux', 'Verified'], stderr);
      assert.deepEqual(verdict(reports.get(`${late}/plain-hooks`)), ['Helm', 'Verified'], stderr);
    } finally {
      watch.abort();
      await controller.stop();
    }
  });
});

type Forward = (req: IncomingMessage, res: ServerResponse, hold?: Promise<void>) => void;

/**
 * A plain-HTTP front of the real API server with the admin's credentials: `route` sees every request and either
 * answers it itself (true) or leaves it to be sent on as it came (false). `forward` sends one on, its answer held
 * back until `hold` settles when given.
 */
async function apiFront(route: (req: IncomingMessage, res: ServerResponse, forward: Forward) => boolean): Promise<{ kubeconfig: string; close(): Promise<void> }> {
  const admin = JSON.parse(readFileSync(cluster.kubeconfig, 'utf8')) as { clusters: { cluster: { server: string; 'certificate-authority-data': string } }[]; users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[] };
  const upstream = new URL(admin.clusters[0]?.cluster.server ?? '');
  const b64 = (v: string | undefined): Buffer => Buffer.from(v ?? '', 'base64');
  const tls = { ca: b64(admin.clusters[0]?.cluster['certificate-authority-data']), cert: b64(admin.users[0]?.user['client-certificate-data']), key: b64(admin.users[0]?.user['client-key-data']) };
  const forward: Forward = (req, res, hold) => {
    const up = httpsRequest({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host }, ...tls }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        const send = (): void => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.end(Buffer.concat(chunks));
        };
        if (hold) void hold.then(send);
        else send();
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  };
  const server = createServer((req, res) => {
    if (!route(req, res, forward)) forward(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kubeconfig = join(scratchDir('api-front'), 'kubeconfig.json');
  writeFileSync(kubeconfig, JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'front', cluster: { server: `http://127.0.0.1:${(server.address() as AddressInfo).port}` } }], users: [{ name: 'admin', user: {} }], contexts: [{ name: 'front', context: { cluster: 'front', user: 'admin' } }], 'current-context': 'front' }));
  return { kubeconfig, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/**
 * An apiFront for one `scan`: holds the first list of release Secrets until `releases()` is called (so it sees
 * what is installed meanwhile), and the answer of the first list of HelmReleases — taken from the API server at
 * once — until `helmReleases()` is called.
 */
async function racingFront(): Promise<{ kubeconfig: string; heldBoth: Promise<void>; releases(): void; helmReleases(): void; close(): Promise<void> }> {
  const gate = (): { open: () => void; opened: Promise<void> } => {
    let open = (): void => {};
    const opened = new Promise<void>((r) => (open = r));
    return { open, opened };
  };
  const [releaseGate, hrGate, releaseHeld, hrTaken] = [gate(), gate(), gate(), gate()];
  let releaseListSeen = false;
  let hrListSeen = false;
  const front = await apiFront((req, res, forward) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (!releaseListSeen && /^\/api\/v1\/namespaces\/[^/]+\/secrets$/.test(path)) {
      releaseListSeen = true;
      releaseHeld.open();
      void releaseGate.opened.then(() => forward(req, res));
      return true;
    }
    if (!hrListSeen && /^\/apis\/helm\.toolkit\.fluxcd\.io\/v2\/(namespaces\/[^/]+\/)?helmreleases$/.test(path)) {
      hrListSeen = true;
      hrTaken.open(); // sent on at once: the API server answers from now
      forward(req, res, hrGate.opened);
      return true;
    }
    return false;
  });
  return {
    kubeconfig: front.kubeconfig,
    heldBoth: Promise.all([releaseHeld.opened, hrTaken.opened]).then(() => undefined),
    releases: releaseGate.open,
    helmReleases: hrGate.open,
    close: front.close,
  };
}

describe('scan: its list of HelmReleases answered from before its list of releases', () => {
  it('a HelmRelease applied and its hooks-only release installed between the two: Flux\'s all the same (one more list of HelmReleases); a plain hooks-only release stays Helm\'s', async () => {
    const race = uniqueNamespace('e2e-own-race');
    await ensureNamespace(cluster, race);
    await helmInstall(cluster, 3, 'plain-hooks', hookapp, { namespace: race });
    const front = await racingFront();
    try {
      const scanned = runChartorigin(['scan', '-n', race, '--kubeconfig', front.kubeconfig, '--config', config, '--no-discover', '-o', 'json'], { env: { ...process.env, HOME: scratchDir('race-home'), CHARTORIGIN_CACHE_DIR: '' }, timeoutMs: 120_000 });
      await front.heldBoth;
      // The HelmReleases were listed (none named `hooks`); now Flux applies one and installs its release.
      await helmRelease(race, 'hooks', { chart: { spec: { chart: 'hookapp', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'charts' } } } });
      await helmInstall(cluster, 4, 'hooks', hookapp, { namespace: race });
      front.releases();
      // Whatever the releases' list brings, that list of HelmReleases answers as of before it.
      await new Promise((r) => setTimeout(r, 500));
      front.helmReleases();
      const r = await scanned;
      assert.ok(r.stdout.startsWith('['), r.stderr);
      const reports = new Map((JSON.parse(r.stdout) as Report[]).map((x) => [x.name, x]));
      assert.deepEqual(verdict(reports.get('hooks')), ['Flux', 'Verified'], r.stderr);
      assert.deepEqual(verdict(reports.get('plain-hooks')), ['Helm', 'Verified'], r.stderr);
    } finally {
      await front.close();
    }
  });
});

describe('scan: the Flux sources of many releases', () => {
  it('reads each HelmRepository from the list discovery made (or with one GET per source without discovery), not with a GET per Flux release: the requests to the source API stay the same from 1 to 3 releases, and so do the answers', async () => {
    const ns = uniqueNamespace('e2e-own-many');
    await ensureNamespace(cluster, ns);
    await apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmRepository', metadata: { name: 'charts', namespace: ns }, spec: { url: server.url, interval: '10m' } });
    sourcesMade.push({ namespace: ns, name: 'charts' });
    const requests: string[] = [];
    const front = await apiFront((req) => {
      requests.push(`${req.method ?? ''} ${(req.url ?? '').split('?')[0] ?? ''}`);
      return false;
    });
    // Each release: plain helm installs the Flux build (no origin labels); the HelmRelease of its name in its
    // namespace claims it, and its sourceRef names the HelmRepository.
    const install = async (name: string): Promise<void> => {
      await helmRelease(ns, name, {});
      await helmInstall(cluster, 3, name, charts.built, { namespace: ns });
    };
    const sourceRequests = async (count: number, discover: boolean): Promise<string[]> => {
      requests.length = 0;
      const r = await runChartorigin(['scan', '-n', ns, '--kubeconfig', front.kubeconfig, ...(discover ? [] : ['--config', config, '--no-discover']), '-o', 'json'], { env: { ...process.env, HOME: scratchDir('many-home'), CHARTORIGIN_CACHE_DIR: '' } });
      assert.ok(r.stdout.startsWith('['), r.stderr);
      const reports = JSON.parse(r.stdout) as (Report & { origin: { repoURL?: string } })[];
      assert.equal(reports.length, count, r.stderr);
      for (const x of reports) {
        assert.deepEqual(verdict(x), ['Flux', 'Verified'], `${x.name}: ${r.stderr}`);
        assert.match(x.origin.message ?? '', new RegExp(`values merged from values.yaml, values-prod.yaml by Flux .*HelmRelease ${ns}/${x.name}`));
        assert.equal(x.origin.repoURL, server.url, 'the HelmRepository\'s URL picked the repository');
      }
      return requests.filter((q) => q.includes('/apis/source.toolkit.fluxcd.io')).sort();
    };
    try {
      await install('one');
      const few = { discover: await sourceRequests(1, true), listed: await sourceRequests(1, false) };
      await install('two');
      await install('three');
      const many = { discover: await sourceRequests(3, true), listed: await sourceRequests(3, false) };
      assert.deepEqual(many, few, 'no request per Flux release');
      assert.ok(!many.discover.some((q) => /\/helmrepositories\/charts$/.test(q)), `with discovery, the HelmRepository comes from its list: ${many.discover.join(', ')}`);
      // Without discovery: one GET of the one source the releases name, and no cluster-wide list the scan did not ask for.
      assert.equal(many.listed.filter((q) => q === `GET /apis/source.toolkit.fluxcd.io/v1/namespaces/${ns}/helmrepositories/charts`).length, 1, many.listed.join(', '));
      assert.ok(!many.listed.includes('GET /apis/source.toolkit.fluxcd.io/v1/helmrepositories'), `without discovery, no list: ${many.listed.join(', ')}`);
    } finally {
      await front.close();
    }
  });
});
