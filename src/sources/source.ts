import { HttpChartSource, type HttpSourceOptions } from './http/index-source.ts';
import { OciChartSource, type OciSourceOptions } from './oci/oci-source.ts';
import { RepoError, type RepositoryConfig } from '../model/repository.ts';
import { redactUrl } from './url.ts';

export interface ChartSourceOptions {
  http?: HttpSourceOptions | undefined;
  oci?: OciSourceOptions | undefined;
}

export type AnyChartSource = HttpChartSource | OciChartSource;

/** The client for a configured repository: `oci://` → OCI registry, `http(s)://` → classic index.yaml. */
export function createChartSource(config: RepositoryConfig, options: ChartSourceOptions = {}): AnyChartSource {
  let scheme: string;
  try {
    scheme = new URL(config.url).protocol;
  } catch {
    throw new RepoError(config.name, 'http_error', `repository ${config.name}: invalid URL ${redactUrl(config.url)}`);
  }
  if (scheme === 'oci:') return new OciChartSource(config, options.oci);
  if (scheme === 'https:' || scheme === 'http:') return new HttpChartSource(config, options.http);
  throw new RepoError(config.name, 'http_error', `repository ${config.name}: unsupported URL scheme ${scheme} (use https://, http:// or oci://)`);
}
