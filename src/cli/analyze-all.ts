import { PublishedChartCache, type PublishedChartStore } from '../resolve/chart-cache.ts';
import { analyzeRelease, type RepositoryFailure } from '../resolve/analyze.ts';
import type { OriginReport } from '../model/report.ts';
import type { ReleaseRecord, StoredValues } from '../model/release.ts';
import type { ChartSource } from '../model/repository.ts';
import { byCodeUnits } from '../util/order.ts';
import type { FluxHint } from '../chart/flux-build.ts';
import type { FluxOwner } from '../sources/discovery/flux.ts';

export interface AnalyzeAllOptions {
  verify: boolean;
  /** Repository failures met while analysing one release (the report names them too). */
  onFailures?: ((record: ReleaseRecord, failures: readonly RepositoryFailure[]) => void) | undefined;
  /** Another stored revision of a release, for the --reuse-values proof (read only when needed). */
  revision?: ((record: ReleaseRecord, revision: number) => Promise<StoredValues | undefined>) | undefined;
  /** Published charts kept between runs (cli/chart-store.ts); none when undefined. */
  store?: PublishedChartStore | undefined;
  /** What a Flux release's HelmRelease says about its build (undefined: unreadable, the merge is inferred). */
  fluxHint?: ((owner: FluxOwner) => Promise<FluxHint | undefined>) | undefined;
}

/** One release → its report, sharing repository indexes and downloaded charts across calls. */
export function createAnalyzer(sources: readonly ChartSource[], options: AnalyzeAllOptions): (record: ReleaseRecord) => Promise<OriginReport> {
  const cache = new PublishedChartCache(undefined, undefined, options.store);
  return async (record) => {
    const revision = options.revision;
    // As the controller's reconciler: an unreadable HelmRelease leaves the merge to be inferred from the chart.
    const flux = record.flux && options.fluxHint ? await options.fluxHint(record.flux).catch(() => undefined) : undefined;
    const { report, failures } = await analyzeRelease(record, { sources, cache, flux, verify: options.verify, revision: revision ? (n) => revision(record, n) : undefined });
    if (failures.length) options.onFailures?.(record, failures);
    return report;
  };
}

export function sortReports(reports: OriginReport[]): OriginReport[] {
  return reports.sort((a, b) => byCodeUnits(a.release.namespace, b.release.namespace) || byCodeUnits(a.release.name, b.release.name));
}

/**
 * The CLI's one-shot pipeline: records + repositories → reports, sorted by namespace and name. Downloads
 * are bounded by each repository's connection pool and shared per chart, so all releases start at once.
 */
export async function analyzeAll(records: readonly ReleaseRecord[], sources: readonly ChartSource[], options: AnalyzeAllOptions): Promise<OriginReport[]> {
  const analyze = createAnalyzer(sources, options);
  return sortReports(await Promise.all(records.map(analyze)));
}
