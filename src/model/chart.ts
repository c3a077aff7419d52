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
}
