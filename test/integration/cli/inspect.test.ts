import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { runChartorigin } from '../../harness/cli.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startChartRepoServer, type ChartRepoServer } from '../../harness/chart-repo-server.ts';
import { buildStandardRepos, packageChart, pushChart, ROOT, runHelm, scratchDir, type StandardRepos } from '../../harness/charts.ts';
import { startRegistry, type Registry } from '../../harness/registry.ts';
import { releaseSecret } from '../../unit/helpers.ts';

interface InspectResult {
  name: string;
  namespace: string;
  chart: { name: string; version: string; deprecated: boolean };
  origin: { match: string; repository?: string; repoURL?: string; tarballDigest?: string; manifestDigest?: string; candidates?: { repository: string }[]; message?: string };
  latest?: { version: string; deprecated: boolean };
  sameMajor?: { version: string };
  upgrade?: string;
  versionsBehind?: number;
}

let registry: Registry;
let mainServer: ChartRepoServer;
let forkServer: ChartRepoServer;
let repos: StandardRepos;
let work: string;
let config: string;

/** The release JSON Helm would store, from the real `helm install --dry-run=client -o json`. */
async function releaseJson(name: string, chartPath: string): Promise<Record<string, unknown>> {
  const { stdout } = await runHelm(['install', name, chartPath, '--dry-run=client', '-o', 'json', '--namespace', 'apps']);
  return JSON.parse(stdout) as Record<string, unknown>;
}

/** Runs the CLI asynchronously: the repository servers live in this process and must keep answering. */
async function inspect(objects: unknown[], extraArgs: string[] = []): Promise<{ status: number | null; results: InspectResult[]; stderr: string }> {
  const file = join(work, `input-${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
  const { code: status, stdout, stderr } = await runChartorigin(['inspect', file, '--config', config, '--no-discover', '-o', 'json', ...extraArgs]);
  return { status, results: stdout ? (JSON.parse(stdout) as InspectResult[]) : [], stderr };
}

function byName(results: InspectResult[], name: string): InspectResult {
  const r = results.find((x) => x.name === name);
  assert.ok(r, `no result for ${name}`);
  return r;
}

before(async () => {
  registry = await startRegistry();
  work = scratchDir('inspect');
  repos = await buildStandardRepos({ registry: { url: registry.url } });
  mainServer = await startChartRepoServer({ dir: repos.main.dir });
  forkServer = await startChartRepoServer({ dir: repos.fork.dir });
  config = join(work, 'repos.yaml');
  writeFileSync(
    config,
    `repositories:
  - name: main
    url: ${mainServer.url}
    priority: 10
  - name: fork
    url: ${forkServer.url}
  - name: oci
    url: ${registry.url}
    plainHTTP: true
`,
  );
});

after(async () => {
  await Promise.allSettled([mainServer?.close(), forkServer?.close(), registry?.close()]);
});

describe('chartorigin inspect against real repositories', () => {
  it('proves origins: Verified from the right repository, forks told apart by content, recommendations', async () => {
    const main = repos.main.charts;
    const fork = repos.fork.charts;
    const oci = repos.oci ?? {};
    const items = [
      releaseSecret(JSON.stringify(await releaseJson('web-old', main['webapp-1.0.0']!.path)), 'web-old', 1),
      releaseSecret(JSON.stringify(await releaseJson('web-fork', fork['webapp-1.1.0']!.path)), 'web-fork', 1),
      releaseSecret(JSON.stringify(await releaseJson('web-main', main['webapp-1.1.0']!.path)), 'web-main', 1),
      releaseSecret(JSON.stringify(await releaseJson('legacy', main['legacy-1.0.0']!.path)), 'legacy', 2),
      releaseSecret(JSON.stringify(await releaseJson('from-oci', oci['ocichart-1.0.0']!.chart.path)), 'from-oci', 1),
      releaseSecret(JSON.stringify(await releaseJson('both', main['webapp-1.2.0']!.path)), 'both', 1),
      releaseSecret(JSON.stringify(await releaseJson('rc', main['webapp-3.0.0-rc.1']!.path)), 'rc', 1),
    ];
    const { status, results, stderr } = await inspect(items);
    assert.equal(status, 0, stderr);
    assert.equal(results.length, 7);

    const old = byName(results, 'web-old');
    assert.equal(old.origin.match, 'Verified');
    assert.equal(old.origin.repository, 'main');
    assert.equal(old.origin.repoURL, mainServer.url);
    assert.equal(old.origin.tarballDigest, main['webapp-1.0.0']!.digest);
    assert.match(old.origin.tarballDigest ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.equal(old.latest?.version, '2.0.0', 'the pre-release 3.0.0-rc.1 is never suggested');
    assert.equal(old.sameMajor?.version, '1.2.0');
    assert.equal(old.upgrade, 'Major');
    assert.equal(old.versionsBehind, 3);

    const forked = byName(results, 'web-fork');
    assert.equal(forked.origin.match, 'Verified');
    assert.equal(forked.origin.repository, 'fork', 'content beats the higher priority of main');
    assert.deepEqual(forked.origin.candidates?.map((c) => c.repository).sort(), ['fork', 'main']);
    assert.equal(byName(results, 'web-main').origin.repository, 'main');

    const legacy = byName(results, 'legacy');
    assert.equal(legacy.chart.deprecated, true);
    assert.equal(legacy.latest?.deprecated, true);

    const fromOci = byName(results, 'from-oci');
    assert.equal(fromOci.origin.match, 'Verified');
    assert.equal(fromOci.origin.repoURL, `${registry.url}/ocichart`);
    assert.equal(fromOci.origin.tarballDigest, oci['ocichart-1.0.0']!.chart.digest);
    assert.equal(fromOci.origin.manifestDigest, oci['ocichart-1.0.0']!.manifestDigest);
    assert.equal(fromOci.latest?.version, '1.1.0');
    assert.equal(fromOci.upgrade, 'Minor');

    const both = byName(results, 'both');
    assert.equal(both.origin.match, 'Verified', 'identical bytes in main and oci: priority breaks the tie');
    assert.equal(both.origin.repository, 'main');
    assert.equal(both.origin.candidates?.length, 2);

    const rc = byName(results, 'rc');
    assert.equal(rc.latest?.version, '3.0.0-rc.1', 'an installed pre-release opts into pre-releases');
    assert.equal(rc.upgrade, 'None');
  });

  it('reports a chart modified after download as Mismatch, and an unpublished version as NotFound', async () => {
    const doc = await releaseJson('tampered', repos.main.charts['webapp-1.0.0']!.path);
    const chart = doc['chart'] as { templates: { name: string; data: string }[] };
    const t = chart.templates.find((x) => x.name === 'templates/deployment.yaml');
    assert.ok(t);
    t.data = Buffer.from(Buffer.from(t.data, 'base64').toString() + '\n# injected\n').toString('base64');
    const missing = await releaseJson('missing', repos.main.charts['webapp-1.0.0']!.path);
    (missing['chart'] as { metadata: { version: string } }).metadata.version = '9.9.9';
    const { status, results } = await inspect([releaseSecret(JSON.stringify(doc), 'tampered', 1), releaseSecret(JSON.stringify(missing), 'missing', 1)]);
    assert.equal(status, 0);
    const tampered = byName(results, 'tampered');
    assert.equal(tampered.origin.match, 'Mismatch');
    assert.match(tampered.origin.message ?? '', /templates\/deployment\.yaml/);
    assert.equal(byName(results, 'missing').origin.match, 'NotFound');
  });

  it('resolves Flux-style versions with the OCI digest as build metadata', async () => {
    const pushed = repos.oci?.['ocichart-1.1.0'];
    assert.ok(pushed);
    const doc = await releaseJson('flux', pushed.chart.path);
    const hex12 = pushed.manifestDigest.slice('sha256:'.length, 'sha256:'.length + 12);
    (doc['chart'] as { metadata: { version: string } }).metadata.version = `1.1.0+${hex12}`;
    const { results } = await inspect([releaseSecret(JSON.stringify(doc), 'flux', 1)]);
    const r = byName(results, 'flux');
    assert.equal(r.origin.match, 'Verified');
    assert.equal(r.origin.repository, 'oci');
    assert.equal(r.upgrade, 'None');
  });

  it('detects an OCI tag re-pushed with other content after installation', async () => {
    const original = repos.oci?.['ocichart-1.0.0'];
    assert.ok(original);
    const doc = await releaseJson('retagged', original.chart.path);
    const changed = await packageChart({ name: 'ocichart', version: '1.0.0', appVersion: '1.0.0', templateVariant: 'retag' }, scratchDir('retag'));
    const repushed = await pushChart(changed.path, registry.url);
    assert.notEqual(repushed.manifestDigest, original.manifestDigest);
    const { results } = await inspect([releaseSecret(JSON.stringify(doc), 'retagged', 1)]);
    const r = byName(results, 'retagged');
    assert.equal(r.origin.match, 'Mismatch');
    assert.equal(r.origin.repository, 'oci');
  });

  it('exits 1 with one line naming the object for corrupt release data, still reporting the others', async () => {
    const good = releaseSecret(JSON.stringify(await releaseJson('good', repos.main.charts['webapp-2.0.0']!.path)), 'good', 1);
    const bad = { ...releaseSecret('{}', 'broken', 4), data: { release: 'bm90IGJhc2U2NCE=' } };
    const { status, results, stderr } = await inspect([good, bad]);
    assert.equal(status, 1);
    assert.equal(results.length, 1);
    assert.equal(byName(results, 'good').upgrade, 'None');
    // The line naming the sources used, then one line for the broken release.
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 2, stderr);
    assert.match(lines[0] ?? '', /^chartorigin: using --config .*repos\.yaml: 3 repositories$/);
    assert.match(lines[1] ?? '', /^chartorigin: Secret apps\/sh\.helm\.release\.v1\.broken\.v4: release data is not valid base64/);
  });

  it('exits 1 naming the file for a bad config and 2 for bad usage', () => {
    const badConfig = join(work, 'bad.yaml');
    writeFileSync(badConfig, 'repositories:\n  - name: x\n    url: ftp://nope\n');
    const r1 = spawnSync(process.execPath, [join(ROOT, 'src/cli/main.ts'), 'inspect', '-', '--config', badConfig], { input: '{}', encoding: 'utf8' });
    assert.equal(r1.status, 1);
    assert.match(r1.stderr, /bad\.yaml: repositories\[0\]\.url: must start with/);
    const r2 = spawnSync(process.execPath, [join(ROOT, 'src/cli/main.ts'), 'inspect', '-o', 'xml'], { input: '', encoding: 'utf8' });
    assert.equal(r2.status, 2);
  });

  it('prints one escaped table row for a release whose chart name carries a newline, an OSC title and a clear-screen', async () => {
    // Helm itself strips such names (Chart.yaml metadata is sanitised on load), so the attacker writes the
    // release Secret directly: a real release, its chart name replaced.
    const release = await releaseJson('hostile', repos.main.charts['webapp-1.0.0']!.path);
    const chart = release['chart'] as { metadata: { name: string } };
    chart.metadata.name = 'web"\n# HELP x\nevil{a="b"}\u001b]0;owned\u0007\u001b[2J';
    const file = join(work, 'hostile.json');
    writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [releaseSecret(JSON.stringify(release), 'hostile', 1)] }));
    const { code: status, stdout, stderr } = await runChartorigin(['inspect', file, '--config', config]);
    assert.equal(status, 0, stderr);
    const lines = stdout.trimEnd().split('\n');
    assert.equal(lines.length, 2, stdout);
    assert.match(lines[0] ?? '', /^NAMESPACE\s+NAME\s+CHART/);
    assert.match(lines[1] ?? '', /^apps\s+hostile\s+web"\\n# HELP x\\nevil\{a="b"\}\\x1b\]0;owned\\x07\\x1b\[2J\s+1\.0\.0\s/);
    assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/.test(stdout + stderr), 'no control character but the line ends');
  });
});
