/**
 * A real Prometheus (Debian's `prometheus` package, installed by .ci/run) on loopback with its data in a
 * temporary directory, for tests that evaluate the shipped alerts and dashboard queries against the controller.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse, stringify } from 'yaml';
import { helmTemplate, parseObjects, prometheusRuleFile, RELEASE_NAMESPACE, type KubeObject } from '../../scripts/render-manifests.ts';
import { freePort } from './free-port.ts';
import { startProcess, type ManagedProcess } from './processes.ts';
import { isObject } from '../../src/util/guards.ts';

export interface PrometheusOptions {
  /** Working directory (config, rules, TSDB). */
  dir: string;
  scrapeConfigs: readonly Record<string, unknown>[];
  /** Rule file contents, by file name. */
  ruleFiles: Readonly<Record<string, string>>;
  /** Scrape and rule evaluation interval (default 1s, so that a test sees results within seconds). */
  interval?: string | undefined;
  /** The binary (default `prometheus` on PATH). */
  binary?: string | undefined;
}

export interface PromSample {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

export interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
}

export interface RunningPrometheus {
  url: string;
  proc: ManagedProcess;
  /** Instant query; throws on an API error (bad expression, evaluation error). */
  query(expr: string): Promise<PromSample[]>;
  queryRange(expr: string, start: number, end: number, step: number): Promise<PromSample[]>;
  alerts(): Promise<PromAlert[]>;
  /** Values of a label over the series `match` selects (what Grafana's label_values() offers). */
  labelValues(label: string, match: string): Promise<string[]>;
  stop(): Promise<void>;
}

async function api(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body: unknown = await res.json();
  if (!isObject(body) || body['status'] !== 'success') {
    const error = isObject(body) ? `${String(body['errorType'])}: ${String(body['error'])}` : res.statusText;
    throw new Error(`Prometheus API ${new URL(url).pathname}: ${error}`);
  }
  return body['data'];
}

export async function startPrometheus(o: PrometheusOptions): Promise<RunningPrometheus> {
  const interval = o.interval ?? '1s';
  mkdirSync(join(o.dir, 'data'), { recursive: true });
  for (const [f, text] of Object.entries(o.ruleFiles)) writeFileSync(join(o.dir, f), text);
  const config = {
    global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
    rule_files: Object.keys(o.ruleFiles).map((f) => join(o.dir, f)),
    scrape_configs: o.scrapeConfigs,
  };
  writeFileSync(join(o.dir, 'prometheus.yml'), stringify(config));
  const port = await freePort();
  const proc = startProcess(
    'prometheus',
    o.binary ?? 'prometheus',
    [`--config.file=${join(o.dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(o.dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { logFile: join(o.dir, 'prometheus.log') },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (!proc.running()) throw new Error(`prometheus exited: ${proc.logTail()}`);
    try {
      if ((await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) })).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`prometheus not ready after 60 s: ${proc.logTail()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const samples = (data: unknown): PromSample[] => (isObject(data) && Array.isArray(data['result']) ? (data['result'] as PromSample[]) : []);
  return {
    url,
    proc,
    query: async (expr) => samples(await api(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`)),
    queryRange: async (expr, start, end, step) => samples(await api(`${url}/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${start}&end=${end}&step=${step}`)),
    alerts: async () => {
      const data = await api(`${url}/api/v1/alerts`);
      return isObject(data) && Array.isArray(data['alerts']) ? (data['alerts'] as PromAlert[]) : [];
    },
    labelValues: async (label, match) => {
      const data = await api(`${url}/api/v1/label/${encodeURIComponent(label)}/values?match[]=${encodeURIComponent(match)}`);
      return Array.isArray(data) ? data.filter((v): v is string => typeof v === 'string') : [];
    },
    stop: () => proc.stop(10_000),
  };
}

interface ServiceMonitorSpec {
  jobLabel?: string;
  endpoints: { port: string; path?: string; scheme?: string; honorLabels?: boolean; relabelings?: unknown[]; metricRelabelings?: unknown[] }[];
}

/**
 * The scrape configuration the Prometheus operator generates for a ServiceMonitor endpoint, for a target that
 * is not discovered through Kubernetes (the test control plane has no kubelet, so no pods or endpoints): the
 * same job name, path, scheme and honor_labels, and as static labels the target labels the operator's
 * relabelling attaches (namespace, service, endpoint, pod, container, job = the Service name unless jobLabel).
 */
export function serviceMonitorScrapeConfig(sm: { metadata: { name: string; namespace?: string }; spec: unknown }, service: { name: string; namespace: string }, target: string, pod = `${service.name}-0`): Record<string, unknown> {
  const spec = sm.spec as ServiceMonitorSpec;
  const ep = spec.endpoints[0];
  if (!ep) throw new Error('ServiceMonitor has no endpoint');
  if (spec.jobLabel) throw new Error('jobLabel is not emulated');
  if ((ep.relabelings ?? []).length || (ep.metricRelabelings ?? []).length) throw new Error('relabelings are not emulated');
  return {
    job_name: `serviceMonitor/${sm.metadata.namespace ?? service.namespace}/${sm.metadata.name}/0`,
    honor_labels: ep.honorLabels === true,
    metrics_path: ep.path ?? '/metrics',
    scheme: ep.scheme ?? 'http',
    static_configs: [
      {
        targets: [target],
        labels: { job: service.name, namespace: service.namespace, service: service.name, endpoint: ep.port, pod, container: 'controller' },
      },
    ],
  };
}

/**
 * What the chart gives a Prometheus when installed with serviceMonitor.enabled and prometheusRule.enabled into
 * namespace chartorigin: the ServiceMonitor's scrape configuration for `target` (host:port of a controller) and
 * the PrometheusRule's groups, every alert enabled, with each `for:` replaced by `forOverride` (the shipped
 * durations, 5m to 24h, are for clusters, not for a test or a demo that lasts a minute).
 */
export function chartPrometheusSetup(target: string, forOverride = '1s'): { scrapeConfig: Record<string, unknown>; rules: string } {
  const objs = parseObjects(helmTemplate(['--set', 'serviceMonitor.enabled=true', '--set', 'prometheusRule.enabled=true']));
  const sm = objs.find((o) => o.kind === 'ServiceMonitor') as (KubeObject & { spec: unknown }) | undefined;
  const svc = objs.find((o) => o.kind === 'Service');
  if (!sm || !svc) throw new Error('the chart rendered no ServiceMonitor or Service');
  const rules = parse(prometheusRuleFile(['--set', 'prometheusRule.alerts.HelmChartUpstreamStale.enabled=true'])) as { groups: { rules: { for?: string }[] }[] };
  for (const g of rules.groups) for (const r of g.rules) r.for = forOverride;
  return { scrapeConfig: serviceMonitorScrapeConfig(sm, { name: svc.metadata.name, namespace: RELEASE_NAMESPACE }, target), rules: stringify(rules) };
}

/** Whether Debian's prometheus package (or another prometheus binary) is on PATH. */
export function prometheusInstalled(): boolean {
  return spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).status === 0;
}
