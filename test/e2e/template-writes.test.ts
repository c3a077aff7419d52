/**
 * Charts whose templates write into `.Values` (sprig set/unset/mergeOverwrite), installed by real helm from a
 * real HTTP chart repository and scanned: helm 3.12.3 stores such writes in the release's chart values
 * (Helm before 3.13 shared the chart's values tables into the render values), helm 3.22.0 and 4.3.2 do not.
 * Before the proof of template writes (src/resolve/proof.ts proveTemplateWrites), each helm 3.12.3 release
 * here was reported Mismatch ("values differ"): among them cilium 1.15.6 with eni.iamRole set, whose
 * operator ServiceAccount template sets `.Values.serviceAccounts.operator.annotations`.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { startChartRepoServer, type ChartRepoServer } from '../harness/chart-repo-server.ts';
import { scratchDir, sha256Digest } from '../harness/charts.ts';
import { runChartorigin } from '../harness/cli.ts';
import { applyChartRepository, chartOriginWhere } from '../harness/chart-origins.ts';
import { ensureNamespace, kubectl } from '../harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess } from '../harness/controller-process.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { runHelmBinary } from '../harness/helm-proof.ts';
import { realCharts, REPO_ROOT, type HelmBinaryName } from '../harness/tools.ts';

const env = testEnv();
const cluster = env.cluster;
const prefix = uniqueNamespace('e2e-tplw').slice(0, 40);
const work = scratchDir('template-writes');
const home = (key: string) => {
  const dir = join(work, 'homes', key);
  mkdirSync(dir, { recursive: true });
  return { kubeconfig: cluster.kubeconfig, dir };
};

interface Served {
  id: string;
  name: string;
  version: string;
  digest: string;
  url: string;
}
let server: ChartRepoServer;
const served: Record<string, Served> = {};
const installed: { namespace: string; release: string; helm: HelmBinaryName }[] = [];

async function serve(id: string, src: string): Promise<void> {
  const dir = join(work, 'repo', id);
  mkdirSync(dir, { recursive: true });
  await runHelmBinary(home(`pkg-${id}`), 'helm4-latest', ['package', src, '--destination', dir]);
  await runHelmBinary(home(`idx-${id}`), 'helm4-latest', ['repo', 'index', dir, '--url', `${server.url}/${id}`]);
  const index = parse(readFileSync(join(dir, 'index.yaml'), 'utf8')) as { entries: Record<string, { version: string }[]> };
  const [[name, entries] = ['', []]] = Object.entries(index.entries);
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz')) ?? '';
  served[id] = { id, name, version: entries[0]?.version ?? '', digest: sha256Digest(readFileSync(join(dir, tgz))), url: `${server.url}/${id}` };
}

async function install(id: string, helm: HelmBinaryName, release: string, flags: string[]): Promise<void> {
  const s = served[id] as Served;
  const namespace = `${prefix}-${release}`;
  await ensureNamespace(cluster, namespace);
  await runHelmBinary(home(namespace), helm, ['install', release, s.name, '--repo', s.url, '--version', s.version, '--namespace', namespace, ...flags]);
  installed.push({ namespace, release, helm });
}

before(async () => {
  mkdirSync(join(work, 'repo'), { recursive: true });
  server = await startChartRepoServer({ dir: join(work, 'repo') });
  await serve('writes', join(REPO_ROOT, 'test', 'fixtures', 'template-writes', 'src', 'writes'));
  const cilium = realCharts().find((c) => c.name === 'cilium');
  assert.ok(cilium, 'cilium is among the real charts (scripts/tools.sh real-charts)');
  const src = join(work, 'src', 'cilium');
  cpSync(cilium.dir, src, { recursive: true });
  await serve('cilium', src);
});

after(async () => {
  // cilium's ClusterRoles are not named after the release: leave none behind for other tests.
  for (const i of installed.filter((x) => x.release.startsWith('cilium'))) await runHelmBinary(home(i.namespace), i.helm, ['uninstall', i.release, '--namespace', i.namespace]).catch(() => undefined);
  await server?.close();
});

describe('template writes into values (Helm before 3.13 stored them)', () => {
  it('scan and the controller: Verified with the written places named (helm 3.12.3), Unverified for a merge into a range element, unchanged for 3.22.0 and 4.3.2', async () => {
    const eni = ['--set', 'eni.enabled=true', '--set', 'eni.iamRole=fixture-dummy-role'];
    const keyed = [...eni, '--set', 'toggles.touch=true'];
    const unknown = [...eni, '--set', 'toggles.merge=true'];
    await Promise.all([
      install('writes', 'helm3-old', 'static-312', eni),
      install('writes', 'helm3-old', 'keyed-312', keyed),
      install('writes', 'helm3-old', 'unknown-312', unknown),
      install('writes', 'helm3-latest', 'static-322', eni),
      install('writes', 'helm4-latest', 'unknown-432', unknown),
    ]);
    // cilium on a bare API server: no agent runs, hooks are not waited for; its CRDs are made by the agent.
    await install('cilium', 'helm3-old', 'cilium-312', ['--no-hooks', '--skip-crds', '--set', 'eni.enabled=true', '--set', 'eni.iamRole=arn:aws:iam::123456789012:role/x']);

    const config = join(work, 'config.yaml');
    writeFileSync(config, `repositories:\n${Object.values(served).map((s) => `  - name: ${s.id}\n    url: ${s.url}\n`).join('')}`);
    const scan = await runChartorigin(['scan', '-A', '--kubeconfig', cluster.kubeconfig, '--config', config, '--no-discover', '-o', 'json'], { env: { ...process.env, HOME: scratchDir('tplw-home'), CHARTORIGIN_CACHE_DIR: '' }, timeoutMs: 60_000 });
    type Row = { namespace: string; name: string; origin: { match: string; repository?: string; tarballDigest?: string; message?: string } };
    const rows = new Map((JSON.parse(scan.stdout) as Row[]).filter((r) => r.namespace.startsWith(prefix)).map((r) => [r.name, r]));
    const origin = (release: string) => rows.get(release)?.origin;

    const s312 = origin('static-312');
    assert.equal(s312?.match, 'Verified', s312?.message);
    assert.equal(s312?.tarballDigest, served['writes']?.digest);
    assert.match(s312?.message ?? '', /values at podSecurityContext\.appArmorProfile, serviceAccounts\.operator\.annotations\.eks\.amazonaws\.com\/role-arn, sub\.written, sub\.conf written by the chart's own templates \(unset, set, mergeOverwrite; Helm before 3\.13 stored such writes\)/);
    assert.ok(!(s312?.message ?? '').includes('fixture-dummy'), 'no value in the message');

    const k312 = origin('keyed-312');
    assert.equal(k312?.match, 'Verified', k312?.message);
    assert.match(k312?.message ?? '', /cfg\.touched, sub\.written, sub\.conf written by the chart's own templates/);

    const u312 = origin('unknown-312');
    assert.equal(u312?.match, 'Unverified', u312?.message);
    assert.match(u312?.message ?? '', /templates\/configmap\.yaml: mergeOverwrite on a range variable/);

    for (const r of ['static-322', 'unknown-432']) {
      assert.equal(origin(r)?.match, 'Verified', `${r}: ${origin(r)?.message}`);
      assert.ok(!(origin(r)?.message ?? '').includes('templates'), `${r}: nothing written to leave out`);
    }

    // The controller proves the same releases from its watch (it reads the release's own values with one GET).
    await installCrds(cluster);
    const repos = Object.values(served).map((x) => ({ name: `${prefix}-${x.id}`.slice(0, 60), url: x.url }));
    for (const r of repos) await applyChartRepository(cluster, r.name, { url: r.url, interval: '1h' });
    const watched = ['static-312', 'unknown-312', 'cilium-312'];
    const controller = await startControllerProcess(cluster, ['--leader-elect=false', '--namespaces', watched.map((r) => `${prefix}-${r}`).join(',')]);
    try {
      await eventually('controller ready', async () => ((await controller.ready()) ? true : undefined), 60_000);
      type Status = { status?: { origin?: { match: string; message?: string } } };
      const settled = (release: string, match: string) =>
        chartOriginWhere<Status>(cluster, `${prefix}-${release}`, release, (o) => o.status?.origin?.match === match, `${release} ${match}`, 40_000);
      const [st, un, ci] = await Promise.all([settled('static-312', 'Verified'), settled('unknown-312', 'Unverified'), settled('cilium-312', 'Verified')]);
      assert.match(st.status?.origin?.message ?? '', /sub\.written, sub\.conf written by the chart's own templates/);
      assert.match(un.status?.origin?.message ?? '', /mergeOverwrite on a range variable/);
      assert.match(ci.status?.origin?.message ?? '', /serviceAccounts\.operator\.annotations\.eks\.amazonaws\.com\/role-arn written by the chart's own templates/);
    } finally {
      await controller.stop();
      for (const r of repos) await kubectl(cluster, ['delete', 'chartrepository', r.name, '--ignore-not-found']).catch(() => undefined);
    }

    const c = origin('cilium-312');
    assert.equal(c?.match, 'Verified', c?.message);
    assert.equal(c?.tarballDigest, served['cilium']?.digest);
    assert.match(c?.message ?? '', /values at serviceAccounts\.operator\.annotations\.eks\.amazonaws\.com\/role-arn written by the chart's own templates/);
    assert.ok(!(c?.message ?? '').includes('123456789012'), 'no value in the message');
  });
});
