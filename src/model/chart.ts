/**
 * What is kept of a chart to prove where it came from: digests only, so a release's values and
 * templates can be dropped right after decoding and nothing secret is retained.
 */
export interface ChartFingerprint {
  metadata: string;
  values: string;
  schema: string;
  templates: Record<string, string>;
  files: Record<string, string>;
  /**
   * The metadata digest with build metadata removed from `version`, present only when the version has
   * some: Flux stores OCI charts as `1.2.3+<digest12>`, while the repository serves `1.2.3`.
   */
  metadataWithoutBuild?: string;
  /** Chart.lock as stored (`chart.lock`); '' when the chart has none. */
  lock: string;
  /**
   * Published charts only: for each template, file or the schema that began with a UTF-8 byte order mark
   * (trimmed, as Helm's loader does since 3.3), its digest with the mark, as Helm 3.0-3.2 stored it; keyed
   * by the part's name in fingerprintDifferences ('templates/x.tpl', 'files/README.md', 'schema').
   */
  withBom?: Record<string, string>;
}
