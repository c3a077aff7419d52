import { redactUrl } from './url.ts';
import { RepoError, type ChartSource, type ChartVersionEntry, type FetchedChart, type ProbeResult, type RepositoryConfig } from '../model/repository.ts';

/**
 * A declared repository that could not be set up (its Secret unreadable, its entry invalid). It stays in the
 * list so that every lookup fails with the reason: a release then shows the repository error instead of a
 * `NotFound` that would claim no repository has the chart.
 */
export class FailedChartSource implements ChartSource {
  readonly config: RepositoryConfig;
  readonly kind: 'http' | 'oci';
  readonly #error: RepoError;

  constructor(config: RepositoryConfig, error: RepoError) {
    this.config = config;
    this.kind = config.url.startsWith('oci:') ? 'oci' : 'http';
    this.#error = error;
  }

  async versions(): Promise<ChartVersionEntry[]> {
    throw this.#error;
  }

  async details(): Promise<ChartVersionEntry> {
    throw this.#error;
  }

  async fetchChart(): Promise<FetchedChart> {
    throw this.#error;
  }

  repoURL(chart: string): string {
    const url = redactUrl(this.config.url);
    return this.kind === 'oci' ? `${url}/${chart}` : url;
  }

  async probe(): Promise<ProbeResult> {
    throw this.#error;
  }

  async close(): Promise<void> {}
}
