import type { Logger } from 'pino';
import { PublishedChartCache } from '../engine/chart-cache.ts';
import { analyzeRelease } from '../engine/analyze.ts';
import type { OriginReport } from '../engine/report.ts';
import type { ReleaseRecord } from '../release/types.ts';
import { createChartSource } from '../repo/source.ts';
import type { RepositoryConfig } from '../repo/types.ts';

/** The CLI's one-shot pipeline: records + repositories → reports, sorted by namespace and name. */
export async function analyzeAll(
  records: readonly ReleaseRecord[],
  repositories: readonly RepositoryConfig[],
  options: { verify: boolean; logger?: Logger | undefined; concurrency?: number },
): Promise<OriginReport[]> {
  const sources = repositories.map((r) => createChartSource(r));
  const cache = new PublishedChartCache();
  const reports: OriginReport[] = new Array<OriginReport>(records.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < records.length; i = next++) {
      const record = records[i];
      if (!record) continue;
      const { report, failures } = await analyzeRelease(record, { sources, cache, verify: options.verify });
      for (const f of failures) {
        options.logger?.warn({ namespace: record.release.namespace, release: record.release.name, repository: f.repository, reason: f.reason, err: f.message }, 'repository error');
      }
      reports[i] = report;
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 8) }, worker));
  } finally {
    await Promise.allSettled(sources.map((s) => s.close()));
  }
  return reports.sort((a, b) => a.release.namespace.localeCompare(b.release.namespace) || a.release.name.localeCompare(b.release.name));
}
