/**
 * A chart depending on one subchart in two versions under two aliases (test/harness/dup-subchart.ts), packaged by
 * real `helm dependency build` + `helm package` (helm 4.3), which writes both versions under `charts/db/`, the same
 * paths twice, in the order Go's map iteration gave (both orders are served, from two repositories: this run's and
 * the other one as real helm wrote it when test/fixtures/dup-subchart was captured); and the same
 * chart tarred as built (`charts/db-1.0.0.tgz`, `charts/db-2.0.0.tgz`). Each is installed from a real HTTP
 * repository by every tested helm; one `chartorigin scan` must prove every release Verified from its own tarball,
 * and two releases edited in their Secret (a stored value, a template) Mismatch. Before src/chart/archive.ts
 * duplicableEntry, the packaged tarballs were refused (`appears twice`) and their releases never Verified.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { scratchDir, sha256Digest } from '../harness/charts.ts';
import { ensureNamespace } from '../harness/controlplane.ts';
import { dbVersionsInTarOrder, packageOnce, tarredAsBuilt } from '../harness/dup-subchart.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { helmEnv } from '../harness/helm.ts';
import { majorOf, runHelmBinary } from '../harness/helm-proof.ts';
import { appendToTemplate, HELM_SHORT, helmHomes, PACKAGER, scanCorpus, startCorpusRepo, tamperRelease, type CorpusRepo, type ScanRow, type Served, type StoredChart } from '../harness/chart-corpus.ts';
import { HELM_PROOF_BINARIES, toolPath, type HelmBinaryName } from '../harness/tools.ts';
import { tgz } from '../unit/chart/tar-writer.ts';

const env = testEnv();
const cluster = env.cluster;
const prefix = uniqueNamespace('e2e-dupsub').slice(0, 36);
const work = scratchDir('dup-subchart');
const home = helmHomes(work, cluster);
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'dup-subchart');

let server: CorpusRepo;
const served: Served[] = [];

before(async () => {
  server = await startCorpusRepo(work);
  const src = join(work, 'src');
  // This run's helm package gives one of the two orders (Go's map order, uneven: the rarer one may not come in
  // 20 runs); the other is served from the tarballs real helm package wrote when the fixtures were captured
  // (scripts/capture-dup-subchart-fixtures.ts), so both orders are proven every run.
  const fresh = readFileSync(await packageOnce(toolPath(PACKAGER), helmEnv(home('package'), majorOf(PACKAGER)), src, join(work, 'packaged')));
  const freshOrder = dbVersionsInTarOrder(fresh).join('-');
  assert.ok(freshOrder === '1.0.0-2.0.0' || freshOrder === '2.0.0-1.0.0', `helm package wrote charts/db/ twice (${freshOrder})`);
  const captured = (order: string): Uint8Array => (order === freshOrder ? fresh : readFileSync(join(FIXTURES, `packaged-${order}.tgz`)));
  const tarballs: Record<string, Uint8Array> = {
    'dup-v1-v2': captured('1.0.0-2.0.0'),
    'dup-v2-v1': captured('2.0.0-1.0.0'),
    'dup-built': tarredAsBuilt(src, tgz),
  };
  for (const [repo, bytes] of Object.entries(tarballs)) {
    const dir = join(server.dir, repo);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'dupsub-0.1.0.tgz'), bytes);
    await runHelmBinary(home(`index-${repo}`), PACKAGER, ['repo', 'index', dir, '--url', `${server.url}/${repo}`]);
    served.push({ repo, digest: sha256Digest(bytes), url: `${server.url}/${repo}` });
  }
  assert.deepEqual(dbVersionsInTarOrder(tarballs['dup-v1-v2'] ?? new Uint8Array()), ['1.0.0', '2.0.0']);
  assert.deepEqual(dbVersionsInTarOrder(tarballs['dup-v2-v1'] ?? new Uint8Array()), ['2.0.0', '1.0.0']);
});

after(async () => {
  await server?.close();
});

interface Install {
  s: Served;
  helm: HelmBinaryName;
  namespace: string;
  edit?: { what: string; change: (c: StoredChart) => void; differs: string };
}

describe('one subchart in two versions under two aliases, installed by every tested helm', () => {
  it('every release is Verified from its own tarball; a release edited in its Secret is a Mismatch', async (t) => {
    const installs: Install[] = served.flatMap((s) => HELM_PROOF_BINARIES.map((helm) => ({ s, helm, namespace: `${prefix}-${s.repo.slice(4)}-${HELM_SHORT[helm]}` })));
    const byRepo = (repo: string): Served => served.find((s) => s.repo === repo) as Served;
    installs.push(
      {
        s: byRepo('dup-v1-v2'),
        helm: 'helm3-old',
        namespace: `${prefix}-tv-h3old`,
        edit: { what: 'a value', change: (c) => void (c.values['top'] = 2), differs: 'values' },
      },
      {
        s: byRepo('dup-v2-v1'),
        helm: 'helm4-latest',
        namespace: `${prefix}-tt-h4new`,
        edit: { what: 'a template', change: appendToTemplate('templates/cm.yaml'), differs: 'templates/cm.yaml' },
      },
    );
    for (const x of installs) {
      await ensureNamespace(cluster, x.namespace);
      await runHelmBinary(home(x.namespace), x.helm, ['install', 'dupsub', 'dupsub', '--repo', x.s.url, '--version', '0.1.0', '--namespace', x.namespace]);
      if (x.edit) await tamperRelease(cluster, x.namespace, 'dupsub', x.edit.change);
    }

    const { rows } = await scanCorpus({ cluster, work, repositories: served, prefix, home: 'dupsub-home', timeoutMs: 180_000 });
    // Every release here is named dupsub.
    const rowOf = (x: Install): ScanRow | undefined => rows.get(`${x.namespace}/dupsub`);
    for (const x of installs) t.diagnostic(`${x.s.repo} ${x.helm}${x.edit ? ` (${x.edit.what} edited)` : ''}: ${rowOf(x)?.origin.match} ${rowOf(x)?.origin.message ?? ''}`);

    for (const x of installs) {
      const r = rowOf(x);
      if (x.edit) {
        assert.equal(r?.origin.match, 'Mismatch', `${x.s.repo} ${x.helm}: ${x.edit.what} edited: ${r?.origin.message}`);
        assert.match(r?.origin.message ?? '', new RegExp(x.edit.differs.replaceAll('.', '\\.')), `${x.s.repo} ${x.helm}`);
      } else {
        assert.deepEqual([r?.origin.match, r?.origin.repository, r?.origin.tarballDigest], ['Verified', x.s.repo, x.s.digest], `${x.s.repo} ${x.helm}: ${r?.origin.message}`);
        assert.match(r?.origin.message ?? '', /alias db→dbold, db→dbnew/, `${x.s.repo} ${x.helm}`);
      }
    }
  });
});
