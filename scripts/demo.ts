/**
 * `npm run demo`: a whole chartorigin story on this machine, no cluster or internet needed.
 * Starts a real kube-apiserver + etcd, an OCI registry and a chart repository, publishes charts, installs
 * releases with real helm 3 and helm 4, then runs `chartorigin scan` over the cluster. Always tears down.
 *
 *   npm run demo               run and tear down
 *   npm run demo -- --keep     leave everything running until Ctrl-C (prints a KUBECONFIG to explore)
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageChart, scratchDir } from '../test/harness/charts.ts';
import { ensureNamespace, kubectl } from '../test/harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess } from '../test/harness/controller-process.ts';
import { startTestEnvironment, stopAllEnvironments, type RunningEnv } from '../test/harness/environment.ts';
import { helm, helmInstall, helmUpgrade, type HelmDriver, type HelmVersion } from '../test/harness/helm.ts';
import { fluxPostRenderer, installGitOpsCrds, withOciDigestVersion } from '../test/harness/gitops.ts';
import { onInterrupt } from '../test/harness/processes.ts';
import { REPO_ROOT } from '../test/harness/tools.ts';

const { values: flags } = parseArgs({ options: { keep: { type: 'boolean', default: false } } });

const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
let stepNo = 0;
function step(title: string, ...explain: string[]): void {
  stepNo++;
  process.stdout.write(`\n${bold(`${stepNo}. ${title}`)}\n`);
  for (const line of explain) process.stdout.write(`   ${line}\n`);
}
const say = (line: string): void => {
  process.stdout.write(`   ${line}\n`);
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

function run(cmd: string, args: readonly string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CHARTORIGIN_LOG_LEVEL: process.env['CHARTORIGIN_LOG_LEVEL'] ?? 'warn' } });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
}

function capture(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('exit', () => resolve(out));
  });
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
      { name: 'old', namespace: 'legacy', helm: 3, driver: 'configmap', chart: 'legacy', repo: main, version: '1.0.0', why: 'helm 3 with HELM_DRIVER=configmap: a deprecated chart' },
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
      'Tell chartorigin where charts may come from',
      'The same list a ChartRepository object holds in the cluster, as a file for the command line:',
    );
    const workDir = scratchDir('demo');
    const config = join(workDir, 'repos.yaml');
    const configText = `repositories:\n  - name: main\n    url: ${main}\n  - name: fork\n    url: ${fork}\n  - name: oci\n    url: ${env.registry.url}\n    plainHTTP: true\n`;
    writeFileSync(config, configText);
    for (const line of configText.trimEnd().split('\n')) say(line);

    const cli = ['src/cli/main.ts', 'scan', '--kubeconfig', env.cluster.kubeconfig, '-A', '--config', config];
    step(
      'chartorigin scan: decode every release, find and prove its chart, recommend upgrades',
      `$ node ${cli.join(' ')}`,
      'MATCH: Verified = the installed chart is byte-for-byte the content the repository serves under that',
      'digest; Mismatch = the version exists but the content differs (tampering or a fork); NotFound = no',
      'repository has it. shop-fork is Verified from "fork", not "main", although both serve webapp 1.1.0.',
    );
    const code = await run(process.execPath, [join(REPO_ROOT, cli[0] ?? ''), ...cli.slice(1)]);
    if (code !== 0) say(`(chartorigin scan exited with ${String(code)})`);

    step('The same report as JSON (-o json), shaped like ChartOrigin.status; here the release from the fork');
    const json = await capture(process.execPath, [join(REPO_ROOT, cli[0] ?? ''), ...cli.slice(1), '-o', 'json']);
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
    await installCrds(env.cluster);
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
    await controller.stop();

    say(`\nDemo took ${((performance.now() - t0) / 1000).toFixed(1)} s.`);
    if (flags.keep) {
      step(
        'Everything keeps running until Ctrl-C',
        `export KUBECONFIG=${env.cluster.kubeconfig}`,
        `.tools/bin/kubectl get secrets -A -l owner=helm`,
        `npm run chartorigin -- scan -A --config ${config}`,
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
  process.stderr.write(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
