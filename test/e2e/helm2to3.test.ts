/**
 * Releases Helm 2 installed and helm-2to3 converted (test/fixtures/helm2to3: Helm 2.17.0's real loader and
 * requirements processing, helm-2to3's mapping), stored in the real API server as the plugin stores them (Helm
 * 3's Secret driver: `sh.helm.release.v1.<name>.v<n>`, gzip and base64), with the tarballs they came from served
 * by a real HTTP chart repository. Before the Helm 2 rule (src/chart/helm2.ts) scan and the controller reported
 * each of them Mismatch; a converted release with an edited value still is one.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startChartRepoServer, type ChartRepoServer } from '../harness/chart-repo-server.ts';
import { scratchDir, sha256Digest } from '../harness/charts.ts';
import { runChartorigin } from '../harness/cli.ts';
import { applyChartRepository, chartOriginWhere } from '../harness/chart-origins.ts';
import { apiKubeConfigFor, ensureNamespace, kubectl } from '../harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess } from '../harness/controller-process.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { runHelmBinary } from '../harness/helm-proof.ts';
import { createReleaseSecret } from '../harness/release-secrets.ts';
import { REPO_ROOT } from '../harness/tools.ts';

const env = testEnv();
const cluster = env.cluster;
const namespace = uniqueNamespace('e2e-2to3').slice(0, 50);
const work = scratchDir('helm2to3');
const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'helm2to3');
const NOTE = "converted from a Helm 2 release by helm-2to3 (Helm 2's loading and requirements processing)";

/** Release name → fixture file, and the tarball it came from. */
const CONVERTED = {
  'legacy-umbrella': { file: 'legacy-umbrella.v1.json', tgz: 'legacy-umbrella-1.2.3.tgz' },
  'legacy-enabled': { file: 'legacy-umbrella-enabled.v1.json', tgz: 'legacy-umbrella-1.2.3.tgz' },
  plain: { file: 'plain.v1.json', tgz: 'plain-0.4.0.tgz' },
  'no-api': { file: 'no-api.v1.json', tgz: 'no-api-0.0.9.tgz' },
  'with-schema': { file: 'with-schema.v1.json', tgz: 'with-schema-3.0.0.tgz' },
} as const;
const TAMPERED = 'legacy-tampered';

let server: ChartRepoServer;
let repoUrl = '';

/** The fixture's release JSON under another name, in this test's namespace (what 2to3 would have written there). */
function releaseJson(file: string, name: string, edit?: (r: { chart: { values: Record<string, unknown> } }) => void): string {
  const r = JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as { name: string; namespace: string; chart: { values: Record<string, unknown> } };
  r.name = name;
  r.namespace = namespace;
  edit?.(r);
  return JSON.stringify(r);
}

before(async () => {
  const dir = join(work, 'repo', 'legacy');
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(join(FIXTURES, 'charts'))) copyFileSync(join(FIXTURES, 'charts', f), join(dir, f));
  server = await startChartRepoServer({ dir: join(work, 'repo') });
  repoUrl = `${server.url}/legacy`;
  const home = join(work, 'home');
  mkdirSync(home, { recursive: true });
  await runHelmBinary({ kubeconfig: cluster.kubeconfig, dir: home }, 'helm4-latest', ['repo', 'index', dir, '--url', repoUrl]);
  await ensureNamespace(cluster, namespace);
  const kc = apiKubeConfigFor(cluster);
  for (const [name, c] of Object.entries(CONVERTED)) await createReleaseSecret(kc, namespace, name, 1, 'deployed', releaseJson(c.file, name));
  await createReleaseSecret(kc, namespace, TAMPERED, 1, 'deployed', releaseJson('legacy-umbrella.v1.json', TAMPERED, (r) => void ((r.chart.values['image'] as Record<string, unknown>)['tag'] = 'tampered')));
});

after(async () => {
  await server?.close();
});

describe('releases converted from Helm 2 by helm-2to3', () => {
  it('scan and the controller: Verified against the served tarball, naming the conversion; an edited value stays Mismatch', async () => {
    const config = join(work, 'config.yaml');
    writeFileSync(config, `repositories:\n  - name: legacy\n    url: ${repoUrl}\n`);
    const scan = await runChartorigin(['scan', '-n', namespace, '--kubeconfig', cluster.kubeconfig, '--config', config, '--no-discover', '-o', 'json'], { env: { ...process.env, HOME: scratchDir('2to3-home'), CHARTORIGIN_CACHE_DIR: '' }, timeoutMs: 60_000 });
    type Row = { namespace: string; name: string; origin: { match: string; tarballDigest?: string; message?: string } };
    const rows = new Map((JSON.parse(scan.stdout) as Row[]).map((r) => [r.name, r.origin]));
    for (const [name, c] of Object.entries(CONVERTED)) {
      const o = rows.get(name);
      assert.equal(o?.match, 'Verified', `${name}: ${o?.message}`);
      assert.equal(o?.tarballDigest, sha256Digest(readFileSync(join(FIXTURES, 'charts', c.tgz))));
      assert.ok(o?.message?.includes(NOTE), `${name}: ${o?.message}`);
    }
    assert.match(rows.get('legacy-umbrella')?.message ?? '', /disabled disabled-dep dropped, import-values applied/);
    const t = rows.get(TAMPERED);
    assert.equal(t?.match, 'Mismatch', t?.message);
    assert.match(t?.message ?? '', /differs in values/);
    assert.ok(!(t?.message ?? '').includes('tampered'), 'no value in the message');

    await installCrds(cluster);
    const repo = `${namespace}-legacy`.slice(0, 60);
    await applyChartRepository(cluster, repo, { url: repoUrl, interval: '1h' });
    const controller = await startControllerProcess(cluster, ['--leader-elect=false', '--namespaces', namespace]);
    try {
      await eventually('controller ready', async () => ((await controller.ready()) ? true : undefined), 60_000);
      type Status = { status?: { origin?: { match: string; message?: string } } };
      const settled = (release: string, match: string) => chartOriginWhere<Status>(cluster, namespace, release, (o) => o.status?.origin?.match === match, `${release} ${match}`, 40_000);
      const [umbrella, noApi, schema, tampered] = await Promise.all([settled('legacy-umbrella', 'Verified'), settled('no-api', 'Verified'), settled('with-schema', 'Verified'), settled(TAMPERED, 'Mismatch')]);
      for (const o of [umbrella, noApi, schema]) assert.ok(o.status?.origin?.message?.includes(NOTE), o.status?.origin?.message);
      assert.match(tampered.status?.origin?.message ?? '', /values/);
    } finally {
      await controller.stop();
      await kubectl(cluster, ['delete', 'chartrepository', repo, '--ignore-not-found']).catch(() => undefined);
    }
  });
});
