/**
 * Chart fixtures made by the real helm binaries: chart source directories from a small spec, `helm package`,
 * `helm repo index`, `helm push`. One helm home (cache/config/data dirs) per test process, created lazily.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TOOLS_BIN = join(ROOT, '.tools', 'bin');

export type HelmBinary = 'helm3' | 'helm4';

export interface ChartSpec {
  name: string;
  version: string;
  appVersion?: string;
  deprecated?: boolean;
  description?: string;
  /** Changes one template's content: same name+version, different chart (a fork or a tampered copy). */
  templateVariant?: string;
  /** Adds a values.schema.json. */
  schema?: boolean;
  /** Adds a README.md (default true). */
  readme?: boolean;
  /** Chart.yaml `home`. */
  home?: string;
  /** Chart.yaml `annotations` (e.g. artifacthub.io/changes); values are written as YAML literal blocks. */
  annotations?: Record<string, string>;
}

export interface PackagedChart {
  spec: ChartSpec;
  /** Absolute path of the .tgz. */
  path: string;
  /** `sha256:<hex>` of the .tgz bytes (what index.yaml advertises and the OCI layer digest). */
  digest: string;
  bytes: Buffer;
}

export interface HelmHome {
  helm: HelmBinary;
  env: NodeJS.ProcessEnv;
  dir: string;
}

const homes = new Map<HelmBinary, HelmHome>();
let scratch: string | undefined;

/** A temp dir removed when the process exits. */
export function scratchDir(prefix = 'fixture'): string {
  if (!scratch) {
    scratch = mkdtempSync(join(tmpdir(), 'chartorigin-charts-'));
    const dir = scratch;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return mkdtempSync(join(scratch, `${prefix}-`));
}

export function helmHome(helm: HelmBinary = 'helm4'): HelmHome {
  let home = homes.get(helm);
  if (!home) {
    const dir = scratchDir(`${helm}-home`);
    const env: NodeJS.ProcessEnv = {
      PATH: `${TOOLS_BIN}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
      HOME: dir,
      HELM_CACHE_HOME: join(dir, 'cache'),
      HELM_CONFIG_HOME: join(dir, 'config'),
      HELM_DATA_HOME: join(dir, 'data'),
      HELM_REGISTRY_CONFIG: join(dir, 'config', 'registry.json'),
      NO_COLOR: '1',
    };
    home = { helm, env, dir };
    homes.set(helm, home);
  }
  return home;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a helm binary from .tools/bin with the per-process helm home; rejects with its stderr on failure. */
export function runHelm(args: string[], options: { helm?: HelmBinary; cwd?: string } = {}): Promise<RunResult> {
  const home = helmHome(options.helm ?? 'helm4');
  return new Promise((resolvePromise, reject) => {
    execFile(join(TOOLS_BIN, home.helm), args, { env: home.env, cwd: options.cwd, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${home.helm} ${args[0] ?? ''} failed: ${stderr.trim() || err.message}`));
      else resolvePromise({ stdout, stderr });
    });
  });
}

function chartYaml(spec: ChartSpec): string {
  const lines = [
    'apiVersion: v2',
    `name: ${spec.name}`,
    `description: ${spec.description ?? `The ${spec.name} test chart`}`,
    'type: application',
    `version: ${spec.version}`,
  ];
  if (spec.appVersion !== undefined) lines.push(`appVersion: "${spec.appVersion}"`);
  if (spec.deprecated) lines.push('deprecated: true');
  if (spec.home) lines.push(`home: ${spec.home}`);
  if (spec.annotations) {
    lines.push('annotations:');
    for (const [k, v] of Object.entries(spec.annotations)) lines.push(`  ${k}: |-`, ...v.split('\n').map((l) => `    ${l}`));
  }
  lines.push('keywords:', '  - test', 'maintainers:', '  - name: chartorigin tests', '    email: tests@example.com');
  return `${lines.join('\n')}\n`;
}

const VALUES = `replicaCount: 1
image:
  repository: registry.example.com/app
  tag: ""
  pullPolicy: IfNotPresent
service:
  type: ClusterIP
  port: 80
enabled: yes
resources: {}
`;

const HELPERS = `{{- define "chart.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
`;

function deployment(variant: string | undefined): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "chart.fullname" . }}
  labels:
    app.kubernetes.io/name: {{ .Chart.Name }}
    app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ .Chart.Name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ .Chart.Name }}
    spec:
      containers:
        - name: app
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
          imagePullPolicy: {{ .Values.image.pullPolicy }}
${variant ? `          # variant: ${variant}\n          args: ["--variant={{ "${variant}" }}"]\n` : ''}`;
}

const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: {{ include "chart.fullname" . }}
spec:
  type: {{ .Values.service.type }}
  ports:
    - port: {{ .Values.service.port }}
      targetPort: 8080
  selector:
    app.kubernetes.io/name: {{ .Chart.Name }}
`;

const SCHEMA = `{
  "$schema": "https://json-schema.org/draft-07/schema#",
  "type": "object",
  "properties": { "replicaCount": { "type": "integer", "minimum": 0 } }
}
`;

/** Writes a chart source directory `<parent>/<name>` and returns its path. */
export function writeChartSource(parent: string, spec: ChartSpec): string {
  const dir = join(parent, spec.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'templates'), { recursive: true });
  writeFileSync(join(dir, 'Chart.yaml'), chartYaml(spec));
  writeFileSync(join(dir, 'values.yaml'), VALUES);
  writeFileSync(join(dir, 'templates', '_helpers.tpl'), HELPERS);
  writeFileSync(join(dir, 'templates', 'deployment.yaml'), deployment(spec.templateVariant));
  writeFileSync(join(dir, 'templates', 'service.yaml'), SERVICE);
  writeFileSync(join(dir, 'templates', 'NOTES.txt'), `{{ .Chart.Name }} {{ .Chart.Version }} installed as {{ .Release.Name }}.\n`);
  if (spec.schema) writeFileSync(join(dir, 'values.schema.json'), SCHEMA);
  if (spec.readme !== false) writeFileSync(join(dir, 'README.md'), `# ${spec.name}\n\nA chart made by the chartorigin test harness.\n`);
  writeFileSync(join(dir, '.helmignore'), '.git/\n*.swp\n');
  return dir;
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Writes the chart source and runs the real `helm package` into `outDir`. */
export async function packageChart(spec: ChartSpec, outDir: string, helm: HelmBinary = 'helm4'): Promise<PackagedChart> {
  const srcParent = scratchDir('src');
  const src = writeChartSource(srcParent, spec);
  mkdirSync(outDir, { recursive: true });
  await runHelm(['package', src, '--destination', outDir], { helm });
  const path = join(outDir, `${spec.name}-${spec.version}.tgz`);
  const bytes = readFileSync(path);
  rmSync(srcParent, { recursive: true, force: true });
  return { spec, path, digest: sha256Digest(bytes), bytes };
}

/** `helm repo index <dir> [--url <url>]`: absolute chart URLs with a url, relative ones without. */
export async function repoIndex(dir: string, url?: string, helm: HelmBinary = 'helm4'): Promise<string> {
  await runHelm(['repo', 'index', dir, ...(url ? ['--url', url] : [])], { helm });
  return join(dir, 'index.yaml');
}

export interface PushOptions {
  plainHTTP?: boolean;
  /** HTTPS: the CA that signs the registry's certificate, and a client certificate and key to present. */
  tls?: { caFile: string; certFile?: string; keyFile?: string };
  username?: string;
  password?: string;
  helm?: HelmBinary;
}

/** `helm push <tgz> oci://…`; returns the manifest digest helm printed. */
export async function pushChart(tgz: string, ociUrl: string, options: PushOptions = {}): Promise<{ manifestDigest: string; ref: string }> {
  const args = ['push', tgz, ociUrl];
  if (options.tls) {
    args.push('--ca-file', options.tls.caFile);
    if (options.tls.certFile && options.tls.keyFile) args.push('--cert-file', options.tls.certFile, '--key-file', options.tls.keyFile);
  } else if (options.plainHTTP !== false) args.push('--plain-http');
  if (options.username !== undefined) args.push('--username', options.username, '--password', options.password ?? '');
  const { stdout, stderr } = await runHelm(args, { helm: options.helm ?? 'helm4' });
  const out = `${stdout}\n${stderr}`;
  const digest = /Digest:\s*(sha256:[0-9a-f]{64})/.exec(out)?.[1];
  const ref = /Pushed:\s*(\S+)/.exec(out)?.[1];
  if (!digest || !ref) throw new Error(`helm push printed no digest: ${out.trim()}`);
  return { manifestDigest: digest, ref };
}

export interface HttpRepoFixture {
  dir: string;
  /** Keyed `<name>-<version>`. */
  charts: Record<string, PackagedChart>;
  indexPath: string;
}

export interface OciPushed {
  chart: PackagedChart;
  manifestDigest: string;
  ref: string;
}

export interface StandardRepos {
  main: HttpRepoFixture;
  fork: HttpRepoFixture;
  /** Keyed `<name>-<version>`; present when a registry was given. */
  oci?: Record<string, OciPushed>;
}

export interface StandardReposOptions {
  /** Where the "main" repository's files go (default: a new temp dir). Serve it after building. */
  mainDir?: string;
  forkDir?: string;
  /** Passed to `helm repo index --url`; relative chart URLs when absent. */
  mainUrl?: string;
  forkUrl?: string;
  /** `oci://host[/prefix]` to push the OCI charts to (plain HTTP). */
  registry?: { url: string; username?: string; password?: string };
  helm?: HelmBinary;
}

export const STANDARD_MAIN: readonly ChartSpec[] = [
  { name: 'webapp', version: '1.0.0', appVersion: '1.0.0' },
  { name: 'webapp', version: '1.1.0', appVersion: '1.1.0' },
  { name: 'webapp', version: '1.2.0', appVersion: '1.2.0', schema: true },
  { name: 'webapp', version: '2.0.0', appVersion: '2.0.0' },
  { name: 'webapp', version: '3.0.0-rc.1', appVersion: '3.0.0-rc.1' },
  { name: 'legacy', version: '0.9.0', appVersion: '0.9' },
  { name: 'legacy', version: '1.0.0', appVersion: '1.0', deprecated: true },
];
export const STANDARD_FORK: readonly ChartSpec[] = [{ name: 'webapp', version: '1.1.0', appVersion: '1.1.0', templateVariant: 'fork' }];
export const STANDARD_OCI: readonly ChartSpec[] = [
  { name: 'ocichart', version: '1.0.0', appVersion: '1.0.0' },
  { name: 'ocichart', version: '1.1.0', appVersion: '1.1.0' },
  { name: 'webapp', version: '1.2.0', appVersion: '1.2.0', schema: true },
];

async function buildHttpRepo(specs: readonly ChartSpec[], dir: string, url: string | undefined, helm: HelmBinary): Promise<HttpRepoFixture> {
  const charts: Record<string, PackagedChart> = {};
  for (const spec of specs) charts[`${spec.name}-${spec.version}`] = await packageChart(spec, dir, helm);
  const indexPath = await repoIndex(dir, url, helm);
  return { dir, charts, indexPath };
}

/**
 * The shared scenario: "main" (webapp 1.0.0, 1.1.0, 1.2.0, 2.0.0, 3.0.0-rc.1; legacy 0.9.0, 1.0.0 deprecated),
 * "fork" (webapp 1.1.0 with a different template), and optionally an OCI registry with ocichart 1.0.0, 1.1.0
 * and webapp 1.2.0.
 */
export async function buildStandardRepos(options: StandardReposOptions = {}): Promise<StandardRepos> {
  const helm = options.helm ?? 'helm4';
  const main = await buildHttpRepo(STANDARD_MAIN, options.mainDir ?? scratchDir('main'), options.mainUrl, helm);
  const fork = await buildHttpRepo(STANDARD_FORK, options.forkDir ?? scratchDir('fork'), options.forkUrl, helm);
  const result: StandardRepos = { main, fork };
  if (options.registry) {
    const ociDir = scratchDir('oci');
    const oci: Record<string, OciPushed> = {};
    for (const spec of STANDARD_OCI) {
      const key = `${spec.name}-${spec.version}`;
      // webapp 1.2.0 in OCI is the same package as in "main": packaging is reproducible only per run, so reuse the bytes.
      const chart = spec.name === 'webapp' && main.charts[key] ? main.charts[key] : await packageChart(spec, ociDir, helm);
      const pushed = await pushChart(chart.path, options.registry.url, { ...options.registry, helm });
      oci[key] = { chart, ...pushed };
    }
    result.oci = oci;
  }
  return result;
}

/**
 * A Helm-shaped index.yaml of about `targetBytes` (40 versions per chart, the fields big publishers write),
 * for size and speed tests of the index parser.
 */
export function syntheticIndexYaml(targetBytes: number): string {
  const parts: string[] = ['apiVersion: v1\nentries:\n'];
  let size = parts[0]?.length ?? 0;
  let chart = 0;
  while (size < targetBytes) {
    const name = `chart-${chart++}`;
    let s = `  ${name}:\n`;
    for (let i = 0; i < 40; i++) {
      const v = `${Math.floor(i / 10)}.${i % 10}.${chart % 7}`;
      const hex = (chart * 1000 + i).toString(16).padStart(64, '0');
      s +=
        `  - annotations:\n      artifacthub.io/changes: |\n        - kind: changed\n          description: Update dependency ${i}\n      category: Database\n` +
        `    apiVersion: v2\n    appVersion: ${i}.2.${chart}\n    created: "2024-0${(i % 9) + 1}-1${i % 10}T10:20:30.123456789Z"\n` +
        `    dependencies:\n    - name: common\n      repository: oci://registry-1.docker.io/bitnamicharts\n      tags:\n      - bitnami-common\n      version: 2.x.x\n` +
        `    description: A synthetic chart used to measure how fast a large index.yaml parses, padded with text.\n` +
        `    digest: ${hex}\n    home: https://example.com/${name}\n    icon: https://example.com/${name}/icon.svg\n` +
        `    keywords:\n    - database\n    - synthetic\n    maintainers:\n    - name: Someone\n      url: https://example.com/someone\n` +
        `    name: ${name}\n    sources:\n    - https://github.com/example/${name}\n    urls:\n    - ${name}-${v}.tgz\n    version: ${v}\n`;
    }
    parts.push(s);
    size += s.length;
  }
  parts.push('generated: "2024-01-01T00:00:00Z"\n');
  return parts.join('');
}
