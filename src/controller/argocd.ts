import type { Logger } from 'pino';
import type { KubeConfig } from '../kube/kubeconfig.ts';
import { KubeApiError, kubeRequest } from '../kube/raw-client.ts';
import { sleep } from '../util/sleep.ts';
import type { ChartSource } from '../model/repository.ts';
import type { ChartOriginMetrics } from '../publish/metrics.ts';
import { DECLARED_BY_LABEL, statusOf, type ChartOriginStore } from '../publish/chart-origins.ts';
import { carryTransitionTimes } from '../publish/status-policy.ts';
import { analyzeDeclared } from '../resolve/declared.ts';
import type { PublishedChartCache } from '../resolve/chart-cache.ts';
import { ARGOCD_GROUP, helmSourcesOf, isManifestDigest, uniqueOriginNames, type DeclaredHelmSource } from '../sources/discovery/argocd.ts';
import { createChartSource } from '../sources/source.ts';
import { OciChartSource } from '../sources/oci/oci-source.ts';
import { redactUrl } from '../sources/url.ts';
import { isObject } from '../util/guards.ts';
import type { RepositoryView } from './reconciler.ts';

export interface ArgoCdOptions {
  kubeConfig: KubeConfig;
  origins: ChartOriginStore;
  repositories: RepositoryView;
  metrics: ChartOriginMetrics;
  cache: PublishedChartCache;
  logger: Logger;
  /** Namespaced mode: only Applications (and their ChartOrigins) in these namespaces. */
  namespaces?: readonly string[] | undefined;
  /** Applications change status every few minutes (reconciledAt); listing them once a minute is enough. */
  periodMs?: number;
  now?: () => Date;
}

const normalize = (u: string): string => u.replace(/\/+$/, '');

/**
 * ChartOrigins for Argo CD Applications with Helm sources: same namespace and name as the Application
 * (`<app>-<index>` for a further Helm source of a multi-source app), labelled
 * chartorigin.io/declared-by=argocd so the Helm-release side never takes them for orphans. The chart is
 * looked up in the configured ChartRepository with the declared URL, else anonymously at that URL (Argo
 * CD's repository credentials are not read). Applications are listed, not watched: when the CRD is not
 * installed (404) or listing is forbidden (403) there is simply nothing to do.
 */
export async function runArgoCd(o: ArgoCdOptions, signal: AbortSignal): Promise<void> {
  const adhoc = new Map<string, ChartSource>();
  const memo = new Map<string, string>();
  let said404 = false;
  while (!signal.aborted) {
    try {
      const apps = await listApplications(o.kubeConfig, o.namespaces);
      if (apps === undefined) {
        if (!said404) o.logger.info('Argo CD Applications not readable (CRD not installed or not allowed); checking again later');
        said404 = true;
      } else {
        said404 = false;
        await syncApplications(o, apps, adhoc, memo, signal);
      }
    } catch (err) {
      o.logger.warn({ err: (err as Error).message }, 'Argo CD Applications: sync failed; will retry');
    }
    await sleep(o.periodMs ?? 60_000, signal);
  }
  for (const s of adhoc.values()) await s.close();
}

async function listApplications(kc: KubeConfig, namespaces: readonly string[] | undefined): Promise<unknown[] | undefined> {
  try {
    const items: unknown[] = [];
    const paths = namespaces?.length ? namespaces.map((ns) => `/apis/${ARGOCD_GROUP}/v1alpha1/namespaces/${encodeURIComponent(ns)}/applications`) : [`/apis/${ARGOCD_GROUP}/v1alpha1/applications`];
    for (const path of paths) {
      let cont: string | undefined;
      do {
        const page = await kubeRequest<{ metadata?: { continue?: string }; items?: unknown[] }>(kc, { path, query: { limit: 500, continue: cont } });
        items.push(...(page.items ?? []));
        cont = page.metadata?.continue || undefined;
      } while (cont);
    }
    return items;
  } catch (err) {
    if (err instanceof KubeApiError && (err.status === 404 || err.status === 403)) return undefined;
    throw err;
  }
}

function sourceFor(d: DeclaredHelmSource, configured: readonly ChartSource[], adhoc: Map<string, ChartSource>): ChartSource {
  const found = configured.find((s) => normalize(s.config.url) === normalize(d.repositoryURL));
  if (found) return found;
  let s = adhoc.get(d.repositoryURL);
  if (!s) {
    const name = `argocd-${d.repositoryURL.replace(/^[a-z]+:\/\//, '')}`.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').slice(0, 253);
    s = createChartSource({ name, url: d.repositoryURL, priority: 0, intervalSeconds: 3600, insecureSkipTLSVerify: false, plainHTTP: false });
    adhoc.set(d.repositoryURL, s);
  }
  return s;
}

/** Memo value of an Application source whose ChartOrigin name belongs to a Helm release. */
const TAKEN = 'taken by a Helm release';
/** Memo prefix of a source whose ChartOrigin name another source keeps (said once). */
const COLLIDES = 'name kept by another source ';
/** Memo prefix of a native OCI source whose artifact is not a chart (until its inputs change). */
const NOT_A_CHART = 'not a chart ';

export async function syncApplications(o: ArgoCdOptions, apps: unknown[], adhoc: Map<string, ChartSource>, memo: Map<string, string>, signal?: AbortSignal): Promise<void> {
  const { kept: declared, dropped } = uniqueOriginNames(apps.filter(isObject).flatMap(helmSourcesOf));
  // Said once per collision while it lasts; one that ends is forgotten, so a later one is said again.
  const colliding = new Set(dropped.map(({ source: d }) => `${d.namespace}/${d.originName}#${COLLIDES}${d.application}/${d.index}`));
  for (const k of memo.keys()) if (k.includes(`#${COLLIDES}`) && !colliding.has(k)) memo.delete(k);
  for (const { source: d, keptBy } of dropped) {
    const said = `${d.namespace}/${d.originName}#${COLLIDES}${d.application}/${d.index}`;
    if (memo.has(said)) continue;
    memo.set(said, COLLIDES);
    o.logger.warn({ namespace: d.namespace, release: d.originName, application: d.application, source: d.index, keptBy: keptBy.application }, 'two Argo CD Helm sources would share this ChartOrigin name; the Application of that name keeps it, this source gets none');
  }
  const wanted = new Set(declared.map((d) => `${d.namespace}/${d.originName}`));
  for (const d of declared) {
    const key = `${d.namespace}/${d.originName}`;
    const existing = o.origins.get(d.namespace, d.originName);
    if (existing && existing.declaredBy !== 'argocd') {
      // The name is a Helm release's ChartOrigin (an Application that took over a helm-installed release whose
      // Secret is still here): the release's reconciler writes it; writing it too would alternate the two.
      if (memo.get(key) !== TAKEN) o.logger.warn({ namespace: d.namespace, release: d.originName, application: d.application }, 'a Helm release has the ChartOrigin this Application would get; it describes the release');
      memo.set(key, TAKEN);
      continue;
    }
    const inputs = JSON.stringify([d, existing?.generation ?? -1, o.repositories.generation()]);
    if (existing && memo.get(key) === inputs) continue;
    const notChart = `${NOT_A_CHART}${inputs}`;
    if (memo.get(key) === notChart) {
      wanted.delete(key);
      continue;
    }
    const source = sourceFor(d, o.repositories.sources(), adhoc);
    if (d.native && source instanceof OciChartSource && (await source.artifactIsChart(d.chart, d.syncedRevision ?? d.targetRevision, signal)) === false) {
      // Plain manifests from an OCI registry (Argo CD 3.1+): no chart, so no ChartOrigin, and no alerts.
      o.logger.info({ namespace: d.namespace, application: d.application, repoURL: redactUrl(d.repositoryURL) }, 'Argo CD OCI source is not a Helm chart; no ChartOrigin');
      memo.set(key, notChart);
      wanted.delete(key);
      continue;
    }
    if (!existing) await o.origins.create(d.namespace, d.originName, { [DECLARED_BY_LABEL]: 'argocd' });
    const digest = isManifestDigest(d.syncedRevision) ? d.syncedRevision : undefined;
    const now = (o.now ?? (() => new Date()))();
    const { report, failures } = await analyzeDeclared(
      {
        namespace: d.namespace,
        name: d.originName,
        declaredBy: `Argo CD Application ${d.namespace}/${d.application}${d.index > 0 || d.originName !== d.application ? ` (source ${d.index})` : ''}`,
        chart: d.chart,
        version: digest ? d.targetRevision : (d.syncedRevision ?? d.targetRevision),
        syncedDigest: digest,
        revision: d.historyId ?? 0,
        status: d.syncStatus,
        firstDeployed: d.firstDeployedAt,
        lastDeployed: d.deployedAt,
      },
      source,
      { spec: existing?.spec, cache: o.cache, now: () => now, signal },
    );
    for (const f of failures) {
      o.metrics.countRepositoryError(f.repository, redactUrl(source.config.url), f.reason);
      o.logger.warn({ namespace: d.namespace, release: d.originName, chart: d.chart, repository: f.repository, reason: f.reason, err: f.message }, 'repository error during analysis');
    }
    const final = { ...report, conditions: carryTransitionTimes(report.conditions, existing?.conditions ?? []) };
    await o.origins.applyStatus(d.namespace, d.originName, statusOf(final, existing?.generation ?? 1));
    o.metrics.setRelease(final, { namespace: d.namespace, name: d.originName });
    memo.set(key, failures.length ? '' : inputs);
  }
  const existingKeys = o.namespaces?.length ? (await Promise.all(o.namespaces.map((n) => o.origins.listKeys(n, 'argocd')))).flat() : await o.origins.listKeys(undefined, 'argocd');
  for (const key of existingKeys) {
    if (wanted.has(key)) continue;
    const [namespace = '', name = ''] = key.split('/');
    await o.origins.delete(namespace, name);
    o.metrics.removeRelease(namespace, name);
    memo.delete(key);
    o.logger.info({ namespace, release: name }, 'Argo CD Application (or its Helm source) gone; ChartOrigin deleted');
  }
}
