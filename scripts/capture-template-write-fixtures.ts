/**
 * Captures what Helm stores for a chart whose templates write into `.Values` (sprig set/unset/merge…), for
 * the unit tests of the content proof (test/unit/resolve/template-writes-proof.test.ts): starts the harness
 * control plane, packages test/fixtures/template-writes/src/writes (a parent and a subchart with static
 * writes, a set through `.` inside `with .Values.cfg`, and a merge into a range element) with helm 4, installs it with helm 3.12.3 (helm3-old; its first release upgraded with --reuse-values too),
 * 3.17.2, 3.22.0 and 4.3.2, and writes each stored release (`chart` and `config`; manifest, hooks and
 * notes dropped) to test/fixtures/template-writes/, with the tarball and an index (manifest.json). Only
 * dummy values go in (`fixture-dummy-…`), checked as in capture-release-fixtures.ts. It also prints, per
 * helm, which written paths the stored values hold: the observation recorded in src/chart/template-writes.ts.
 *
 *   node scripts/capture-template-write-fixtures.ts
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureNamespace } from '../test/harness/controlplane.ts';
import { helmEnv } from '../test/harness/helm.ts';
import { scratchDir } from '../test/harness/charts.ts';
import { REPO_ROOT, toolPath, type HelmBinaryName } from '../test/harness/tools.ts';
import { packageDir } from '../test/harness/umbrella.ts';
import { checkConfig } from './fixture-values.ts';
import { chartOnly, helmVersion, readStoredRelease, runHelm, withControlPlane, writeCapture } from './helm-capture.ts';

const OUT = join(REPO_ROOT, 'test', 'fixtures', 'template-writes');

/** One entry of test/fixtures/template-writes/manifest.json. */
export interface TemplateWriteCapture {
  file: string;
  /** `helm version --short`. */
  helm: string;
  chart: string;
  set: Record<string, string>;
  /** Revision 2 only: made by `helm upgrade --reuse-values` from this capture of revision 1. */
  previous?: string;
}

const HELMS: HelmBinaryName[] = ['helm3-old', 'helm3', 'helm3-latest', 'helm4-latest'];
/** static: the eni write on; keyed: the `set . "touched"` inside `with` on too; unknown: the merge into `.` instead. */
const INSTALLS: { name: string; set: Record<string, string> }[] = [
  { name: 'static', set: { 'eni.enabled': 'true', 'eni.iamRole': 'fixture-dummy-role' } },
  { name: 'keyed', set: { 'eni.enabled': 'true', 'eni.iamRole': 'fixture-dummy-role', 'toggles.touch': 'true' } },
  { name: 'unknown', set: { 'eni.enabled': 'true', 'eni.iamRole': 'fixture-dummy-role', 'toggles.merge': 'true' } },
];

function at(v: unknown, path: string[]): unknown {
  for (const k of path) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

await withControlPlane(async (cp) => {
  mkdirSync(OUT, { recursive: true });
  const pkg = await packageDir(join(OUT, 'src', 'writes'), scratchDir('template-writes'));
  const chart = 'writes-1.0.0.tgz';
  copyFileSync(pkg.path, join(OUT, chart));
  const captures: TemplateWriteCapture[] = [];
  let n = 0;
  for (const h of HELMS) {
    const helm = toolPath(h);
    const { version, tag: versionTag } = helmVersion(helm);
    const tag = versionTag ?? h;
    const ns = `writes-${tag.replaceAll('.', '-')}`;
    await ensureNamespace(cp, ns);
    const env = helmEnv(cp, h.startsWith('helm4') ? 4 : 3);
    const sets = (set: Record<string, string>): string[] => Object.entries(set).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
    const capture = async (release: string, revision: number, name: string, set: Record<string, string>, previous?: string): Promise<string> => {
      const rel = chartOnly((await readStoredRelease(cp, ns, release, revision)).release);
      checkConfig(rel['config'] ?? {}, release);
      const values = at(rel, ['chart', 'values']);
      const seen = {
        'podSecurityContext.appArmorProfile': at(values, ['podSecurityContext', 'appArmorProfile']) !== undefined ? 'kept' : 'removed',
        'serviceAccounts.operator.annotations.eks.amazonaws.com/role-arn': at(values, ['serviceAccounts', 'operator', 'annotations', 'eks.amazonaws.com/role-arn']) !== undefined ? 'stored' : 'absent',
        renderedAt: at(values, ['renderedAt']) !== undefined ? 'stored' : 'absent',
        'sub.written': at(values, ['sub', 'written']) !== undefined ? 'stored' : 'absent',
        'sub.conf.level': at(values, ['sub', 'conf', 'level']),
        'cfg.touched': at(values, ['cfg', 'touched']) !== undefined ? 'stored' : 'absent',
        'cfgs.a.merged': at(values, ['cfgs', 'a', 'merged']) !== undefined ? 'stored' : 'absent',
      };
      process.stderr.write(`${version} ${name}: ${JSON.stringify(seen)}\n`);
      const file = `${tag}-${name}.json`;
      writeCapture(OUT, file, rel, 2);
      captures.push({ file, helm: version, chart, set, ...(previous ? { previous } : {}) });
      return file;
    };
    for (const i of INSTALLS) {
      const release = `w${++n}`;
      await runHelm(helm, ['install', release, join(OUT, chart), '--namespace', ns, ...sets(i.set)], env);
      const first = await capture(release, 1, i.name, i.set);
      if (h === 'helm3-old' && i.name === 'static') {
        // --reuse-values: revision 2 starts from revision 1's stored values, writes included, and writes anew.
        const set = { 'eni.iamRole': 'fixture-dummy-role-2' };
        await runHelm(helm, ['upgrade', release, join(OUT, chart), '--namespace', ns, '--reuse-values', ...sets(set)], env);
        await capture(release, 2, `${i.name}-reuse`, set, first);
      }
    }
  }
  writeFileSync(join(OUT, 'manifest.json'), `${JSON.stringify({ generatedBy: 'scripts/capture-template-write-fixtures.ts', captures }, null, 2)}\n`);
});
