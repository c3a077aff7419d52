/**
 * `npm run demo`: a whole chartorigin story on this machine, no cluster or internet needed.
 * Starts a real kube-apiserver + etcd, an OCI registry and a chart repository, publishes charts, installs
 * releases with real helm 3 and helm 4, then runs `chartorigin scan` over the cluster. Always tears down.
 *
 *   npm run demo               run and tear down
 *   npm run demo -- --keep     leave everything running until Ctrl-C (prints a KUBECONFIG to explore)
 *   npm run demo -- --help     this usage
 */
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageChart, scratchDir } from '../test/harness/charts.ts';
import { ensureNamespace, kubectl } from '../test/harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess } from '../test/harness/controller-process.ts';
import { startTestEnvironment, stopAllEnvironments, type RunningEnv } from '../test/harness/environment.ts';
import { helm, helmInstall, helmUpgrade, type HelmDriver, type HelmVersion } from '../test/harness/helm.ts';
import { fluxPostRenderer, installGitOpsCrds, withOciDigestVersion } from '../test/harness/gitops.ts';
import { onInterrupt } from '../test/harness/processes.ts';
import { REPO_ROOT, toolPath, toolsPathEnv } from '../test/harness/tools.ts';
import { neutralize } from '../src/util/terminal.ts';
import { chartPrometheusSetup, prometheusInstalled, startPrometheus } from '../test/harness/prometheus.ts';

const USAGE = `Usage: npm run demo [-- --keep]

Starts a private kube-apiserver + etcd, an OCI registry and chart repositories on 127.0.0.1, installs
releases with real helm 3 and helm 4, runs \`chartorigin scan -A\` (repositories found from the Helm
configuration and the cluster, no config file) and the controller, then tears everything down.

  --keep    leave everything running until Ctrl-C, and print the KUBECONFIG and Helm settings to explore it
  --help    show this help`;

function flagsOrExit(): { keep: boolean } {
  try {
    const { values } = parseArgs({ options: { keep: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } } });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    return { keep: values.keep };
  } catch (err) {
    process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    process.exit(2);
  }
}
const flags = flagsOrExit();

const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
let stepNo = 0;
function step(title: string, ...explain: string[]): void {
  stepNo++;
  process.stdout.write(`\n${bold(`${stepNo}. ${title}`)}\n`);
  for (const line of explain) process.stdout.write(`   ${line}\n`);
}
// Lines echo kubectl, the controller's metrics and chartorigin's JSON: neutralized like every other output.
const say = (line: string): void => {
  process.stdout.write(`   ${neutralize(line)}\n`);
};

interface DemoRelease {
  name: string;
  namespace: string;
  helm: HelmVersion;
  driver: HelmDriver;
  chart: string;
  version?: string;
  repo?: string;
  upgradeTo?: string;
  why: string;
}

function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
}

function capture(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'], env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('exit', () => resolve(out));
  });
}

/**
 * The shipped alerts in a real Prometheus (Debian's package), when it is installed: it scrapes the controller as
 * the chart's ServiceMonitor would and loads the chart's PrometheusRule with every `for:` at 1s, so that the
 * alerts fire within seconds instead of after hours.
 */
async function showAlerts(metricsUrl: string, workDir: string): Promise<void> {
  step(
    'The shipped alerts in a real Prometheus',
    'Prometheus scrapes the controller with the scrape configuration of the chart\'s ServiceMonitor (honorLabels:',
    'the release namespace survives) and evaluates the chart\'s PrometheusRule, every `for:` shortened to 1s.',
  );
  if (!prometheusInstalled()) {
    say('(prometheus is not installed: `apt-get install prometheus` shows the alerts here)');
    return;
  }
  const setup = chartPrometheusSetup(new URL(metricsUrl).host);
  const prom = await startPrometheus({ dir: join(workDir, 'prometheus'), scrapeConfigs: [setup.scrapeConfig], ruleFiles: { 'chartorigin.rules.yaml': setup.rules } });
  try {
    // Until the set of firing alerts stops growing: a few scrapes and evaluations.
    let last = -1;
    let stable = 0;
    await eventually('alerts to settle', async () => {
      const n = (await prom.alerts()).filter((a) => a.state === 'firing').length;
      stable = n > 0 && n === last ? stable + 1 : 0;
      last = n;
      return stable >= 5 ? true : undefined;
    }, 60_000, 1000);
    const alerts = (await prom.alerts()).filter((a) => a.state === 'firing');
    alerts.sort((a, b) => `${a.labels['alertname']}${a.labels['namespace']}${a.labels['release']}`.localeCompare(`${b.labels['alertname']}${b.labels['namespace']}${b.labels['release']}`));
    say(`$ curl -s ${prom.url}/api/v1/alerts   (firing, as a table)`);
    say(`${'ALERT'.padEnd(34)}${'SEVERITY'.padEnd(10)}SUMMARY`);
    for (const a of alerts) {
      const line = `${(a.labels['alertname'] ?? '').padEnd(34)}${(a.labels['severity'] ?? '').padEnd(10)}${a.annotations['summary'] ?? ''}`;
      say(line.length > 190 ? `${line.slice(0, 189)}…` : line);
    }
  } finally {
    await prom.stop();
  }
}

async function main(): Promise<void> {
  const t0 = performance.now();
  let running: RunningEnv | undefined;
  let stopped = false;
  const teardown = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await running?.stop();
    await stopAllEnvironments();
  };
  onInterrupt(teardown);
  try {
    step(
      'Start a private Kubernetes API, an OCI registry and a chart repository',
      'etcd + kube-apiserver on 127.0.0.1 with fresh certificates (no kubelet: nothing really runs, but Helm',
      'stores its releases exactly as in a real cluster); Debian\'s docker-registry; a static HTTP server.',
      'Then real `helm package`, `helm repo index` and `helm push` publish the demo charts.',
    );
    running = await startTestEnvironment({ log: say });
    const env = running.env;
    const s = env.startup;
    say(`API server ${env.cluster.server} ready in ${(s.totalMs / 1000).toFixed(1)} s (etcd ${s.etcdMs} ms, kube-apiserver ${s.apiserverMs} ms)`);
    say(`registry ${env.registry.url}, chart repositories ${env.chartRepo.repos.main.url} ("main") and ${env.chartRepo.repos.fork.url} ("fork")`);
    say('main:  webapp 1.0.0, 1.1.0, 1.2.0, 2.0.0, 3.0.0-rc.1 (a pre-release); legacy 0.9.0, 1.0.0 (deprecated)');
    say('fork:  webapp 1.1.0, same name and version as main\'s, but with a changed template');
    say(`oci:   ${Object.keys(env.oci).join(', ')}`);

    step(
      'Make two charts that no repository serves as-is',
      'A copy of webapp 1.2.0 whose template someone edited after download, and an in-house chart.',
    );
    const local = scratchDir('demo-local');
    const tampered = await packageChart({ name: 'webapp', version: '1.2.0', appVersion: '1.2.0', schema: true, templateVariant: 'hand-edited' }, join(local, 'tampered'));
    const inhouse = await packageChart({ name: 'inhouse', version: '0.3.0', appVersion: '0.3.0' }, join(local, 'inhouse'));
    say(`${tampered.path}`);
    say(`${inhouse.path}`);

    const main = env.chartRepo.repos.main.url;
    const fork = env.chartRepo.repos.fork.url;
    const releases: DemoRelease[] = [
      { name: 'shop', namespace: 'apps', helm: 3, driver: 'secret', chart: 'webapp', repo: main, version: '1.0.0', upgradeTo: '1.1.0', why: 'helm 3, from "main", upgraded 1.0.0 → 1.1.0: outdated (2.0.0 is out; 3.0.0-rc.1 is a pre-release and ignored)' },
      { name: 'blog', namespace: 'apps', helm: 4, driver: 'configmap', chart: 'webapp', repo: main, version: '2.0.0', why: 'helm 4 with HELM_DRIVER=configmap, from "main": up to date' },
      { name: 'shop-fork', namespace: 'apps', helm: 4, driver: 'secret', chart: 'webapp', repo: fork, version: '1.1.0', why: 'helm 4, from "fork": same name+version exists in "main" too; only content can tell' },
      { name: 'patched', namespace: 'apps', helm: 4, driver: 'secret', chart: tampered.path, why: 'helm 4, the hand-edited webapp 1.2.0: published version, different content' },
      { name: 'old', namespace: 'legacy', helm: 3, driver: 'configmap', chart: 'legacy', repo: main, version: '0.9.0', why: 'helm 3 with HELM_DRIVER=configmap: legacy 0.9.0, whose chart is deprecated upstream (its newest version, 1.0.0, says so)' },
      { name: 'api', namespace: 'oci', helm: 3, driver: 'secret', chart: `${env.registry.url}/ocichart`, version: '1.0.0', why: 'helm 3, from the OCI registry: 1.1.0 is out' },
      { name: 'tools', namespace: 'internal', helm: 4, driver: 'secret', chart: inhouse.path, why: 'helm 4, an in-house chart no configured repository has' },
    ];
    step('Install releases with real helm 3 and helm 4', 'No --wait: there is no kubelet, so pods never start; Helm still records every release.');
    for (const r of releases) {
      await ensureNamespace(env.cluster, r.namespace);
      const o = { namespace: r.namespace, driver: r.driver, repo: r.repo, version: r.version };
      await helmInstall(env.cluster, r.helm, r.name, r.chart, o);
      if (r.upgradeTo) await helmUpgrade(env.cluster, r.helm, r.name, r.chart, { ...o, version: r.upgradeTo });
      say(`${r.namespace}/${r.name}: ${r.why}`);
    }

    step('What Helm stored', 'One Secret or ConfigMap per revision; the chart is inside, gzipped, but not where it came from.');
    const stored = await kubectl(env.cluster, ['get', 'secrets,configmaps', '-A', '-l', 'owner=helm', '-L', 'status,version']);
    for (const line of stored.trimEnd().split('\n')) say(line);

    step(
      'Set up Helm as a user would: `helm repo add` for the two repositories',
      'chartorigin needs no config file: it reads the repositories Helm knows (and their cached indexes, so the',
      'scan downloads no index), `helm registry login` credentials, and ChartRepository objects in the cluster.',
      'The OCI registry is declared as a ChartRepository (Helm has no list of OCI repositories).',
    );
    const helmHome = scratchDir('demo-helm-home');
    const userEnv = { ...process.env, PATH: toolsPathEnv(), HELM_CONFIG_HOME: join(helmHome, 'config'), HELM_CACHE_HOME: join(helmHome, 'cache'), KUBECONFIG: env.cluster.kubeconfig };
    for (const [name, url] of [['main', main], ['fork', fork]] as const) {
      await new Promise<void>((resolve, reject) => execFile(toolPath('helm4'), ['repo', 'add', name, url], { env: userEnv }, (err, _o, stderr) => (err ? reject(new Error(stderr)) : resolve())));
      say(`$ helm repo add ${name} ${url}`);
    }
    await installCrds(env.cluster);
    await kubectl(env.cluster, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name: 'oci' }, spec: { url: env.registry.url, plainHTTP: true } }) });
    say(`$ kubectl apply -f - <<< '{"kind": "ChartRepository", "metadata": {"name": "oci"}, "spec": {"url": "${env.registry.url}", "plainHTTP": true}, ...}'`);

    const cli = ['src/cli/main.ts', 'scan', '-A'];
    step(
      'chartorigin scan -A: decode every release, find and prove its chart, recommend upgrades',
      `$ node ${cli.join(' ')}        (KUBECONFIG and the Helm home set as above; no --config)`,
      'MATCH: Verified = the installed chart is byte-for-byte the content the repository serves under that',
      'digest; Mismatch = the version exists but the content differs (tampering or a fork); NotFound = no',
      'repository has it (Unreachable instead when a repository could not be searched). shop-fork is Verified',
      'from "fork", not "main", although both serve webapp 1.1.0.',
    );
    const code = await run(process.execPath, [join(REPO_ROOT, cli[0] ?? ''), ...cli.slice(1)], userEnv);
    if (code !== 0) say(`(chartorigin scan exited with ${String(code)})`);

    step('The same report as JSON (-o json), shaped like ChartOrigin.status; here the release from the fork');
    const json = await capture(process.execPath, [join(REPO_ROOT, cli[0] ?? ''), ...cli.slice(1), '-o', 'json'], userEnv);
    const reports = JSON.parse(json) as { name?: string }[];
    const forkReport = reports.find((r) => r.name === 'shop-fork');
    for (const line of JSON.stringify(forkReport ?? reports[0] ?? {}, null, 2).split('\n')) say(line);

    step(
      'GitOps: a chart Flux installs and a chart Argo CD renders',
      'Flux: an OCIRepository for the registry in flux-system, and a release installed the way helm-controller',
      'does (its post-renderer labels every object with the HelmRelease). Argo CD: an Application with a Helm',
      'source and the status Argo CD writes after a sync; Argo CD renders with helm template, so no release exists.',
      'The CRDs are Flux source-controller v1.9\'s and Argo CD v3.2\'s own (scripts/tools.sh gitops-crds).',
    );
    await installGitOpsCrds(env.cluster);
    for (const n of ['flux-system', 'flux-apps', 'argocd']) await ensureNamespace(env.cluster, n);
    const ociChart = env.oci['ocichart-1.1.0'];
    const gitopsObjects = [
      { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'OCIRepository', metadata: { name: 'ocichart', namespace: 'flux-system' }, spec: { url: `${env.registry.url}/ocichart`, ref: { tag: '1.1.0' }, insecure: true, interval: '10m' } },
      { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name: 'catalog', namespace: 'flux-apps' }, spec: { interval: '10m', chartRef: { kind: 'OCIRepository', name: 'ocichart', namespace: 'flux-system' } } },
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: { name: 'storefront', namespace: 'argocd' },
        spec: { project: 'default', source: { repoURL: main, chart: 'webapp', targetRevision: '1.2.0' }, destination: { server: 'https://kubernetes.default.svc', namespace: 'shop' } },
        status: { sync: { status: 'Synced', revision: '1.2.0' }, history: [{ id: 1, revision: '1.2.0', deployedAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') }] },
      },
    ];
    await kubectl(env.cluster, ['apply', '--server-side', '-f', '-'], { input: gitopsObjects.map((o) => JSON.stringify(o)).join('\n') });
    if (!ociChart) throw new Error('ocichart 1.1.0 was not pushed');
    const fluxBuilt = await withOciDigestVersion(ociChart.path, ociChart.manifestDigest, scratchDir('demo-flux'));
    await helm(env.cluster, 3, ['install', 'catalog', fluxBuilt.path, '--post-renderer', fluxPostRenderer(scratchDir('demo-flux'), 'flux-apps', 'catalog')], { namespace: 'flux-apps' });
    say(`flux-apps/catalog: ocichart ${fluxBuilt.version} installed by "Flux" from the OCIRepository flux-system/ocichart`);
    say('  (helm-controller appends the first 12 hex of the OCI manifest digest to the version)');
    say('argocd/storefront: an Argo CD Application rendering webapp 1.2.0 from "main"');

    step(
      'The controller: the same pipeline, continuously, as Kubernetes objects and Prometheus metrics',
      'Installs the CRDs from charts/chartorigin/crds, declares "main" and "fork" as ChartRepository objects (the',
      'registry is discovered from the Flux OCIRepository: SOURCE column), and runs `chartorigin controller`',
      '(leader election on, as in the cluster). It watches release metadata, decodes only the current revision of',
      'each release, and writes one ChartOrigin per release and per Argo CD Application.',
    );
    const repoObjects = [
      { name: 'main', spec: { url: main, priority: 10 } },
      { name: 'fork', spec: { url: fork } },
    ].map((r) => JSON.stringify({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name: r.name }, spec: r.spec }));
    await kubectl(env.cluster, ['apply', '-f', '-'], { input: repoObjects.join('\n') });
    const controller = await startControllerProcess(env.cluster, ['--log-level', 'warn', '--gitops-interval=2s'], 'demo-controller');
    await eventually('the controller to finish its first sync', async () => ((await controller.ready()) ? true : undefined), 60_000);
    const count = releases.length + 2;
    await eventually('a ChartOrigin per release', async () => {
      const list = JSON.parse(await kubectl(env.cluster, ['get', 'chartorigins', '-A', '-o', 'json'])) as { items: { status?: { origin?: unknown } }[] };
      return list.items.filter((i) => i.status?.origin).length >= count ? true : undefined;
    }, 60_000);
    // The registry's ChartRepository is discovered from Flux a moment after the first sync.
    await eventually('the OCI releases proven from the discovered repository', async () => {
      const list = JSON.parse(await kubectl(env.cluster, ['get', 'chartorigins', '-A', '-o', 'json'])) as { items: { metadata: { name: string }; status?: { origin?: { match?: string } } }[] };
      return ['api', 'catalog'].every((n) => list.items.some((i) => i.metadata.name === n && i.status?.origin?.match === 'Verified')) ? true : undefined;
    }, 60_000);
    say('$ kubectl get chartrepositories');
    for (const line of (await kubectl(env.cluster, ['get', 'chartrepositories'])).trimEnd().split('\n')) say(line);
    say('');
    say('$ kubectl get chartorigins -A');
    for (const line of (await kubectl(env.cluster, ['get', 'chartorigins', '-A'])).trimEnd().split('\n')) say(line);
    say('');
    say('$ kubectl get chartorigins -A -o custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name,MANAGED-BY:.status.managedBy,MATCH:.status.origin.match,MESSAGE:.status.origin.message');
    for (const line of (await kubectl(env.cluster, ['get', 'chartorigins', '-A', '-o', 'custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name,MANAGED-BY:.status.managedBy,MATCH:.status.origin.match,MESSAGE:.status.origin.message'])).trimEnd().split('\n')) {
      say(line.length > 160 ? `${line.slice(0, 159)}…` : line);
    }
    say('');
    // Warnings for the tampered and the deprecated chart (Events are written right after each status).
    const warnings = async (): Promise<string> =>
      kubectl(env.cluster, ['get', 'events', '-A', '--field-selector', 'type=Warning,involvedObject.kind=ChartOrigin', '--sort-by=.metadata.name', '-o', 'custom-columns=NAMESPACE:.metadata.namespace,OBJECT:.involvedObject.name,REASON:.reason,MESSAGE:.message']);
    await eventually('Warning events', async () => ((await warnings()).includes('OriginMismatch') ? true : undefined), 30_000);
    say('$ kubectl get events -A --field-selector type=Warning,involvedObject.kind=ChartOrigin');
    for (const line of (await warnings()).trimEnd().split('\n')) say(line.length > 150 ? `${line.slice(0, 149)}…` : line);
    say('');
    say('$ curl -s localhost:8080/metrics | grep -E "release_(info|outdated)|repository_up"   (excerpt)');
    const metricsText = await controller.metrics();
    for (const line of metricsText.split('\n').filter((l) => /^chartorigin_(release_info|release_outdated|repository_up)\{/.test(l)).slice(0, 14)) say(line);
    await showAlerts(controller.metricsUrl, scratchDir('demo-prometheus'));
    await controller.stop();

    say('');
    say(`Demo took ${((performance.now() - t0) / 1000).toFixed(1)} s.`);
    if (flags.keep) {
      step(
        'Everything keeps running until Ctrl-C',
        `export KUBECONFIG=${env.cluster.kubeconfig} HELM_CONFIG_HOME=${userEnv.HELM_CONFIG_HOME} HELM_CACHE_HOME=${userEnv.HELM_CACHE_HOME}`,
        `.tools/bin/kubectl get secrets -A -l owner=helm`,
        `npm run chartorigin -- scan -A`,
      );
      await new Promise<void>(() => undefined);
    }
  } finally {
    step('Tear down', 'Stops kube-apiserver, etcd, the registry and the chart server, and deletes their files.');
    await teardown();
    say('done');
  }
}

try {
  await main();
} catch (err) {
  process.stderr.write(`\ndemo failed: ${neutralize(err instanceof Error ? err.message : String(err))}\n`);
  process.exitCode = 1;
}
