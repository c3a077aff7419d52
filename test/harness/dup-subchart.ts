/**
 * A chart that depends on one subchart (`db`) in two versions under two aliases, the way `helm dependency build`
 * and `helm package` really make it: package writes every loaded dependency expanded under
 * `charts/<chart name>/` (chartutil.Save), so both versions land in `charts/db/`, the same paths twice, in the
 * order Helm iterated its map of subcharts (random: Go map order). Helm's loader then reads `charts/db/` as one
 * chart (src/chart/archive.ts duplicableEntry): the Chart.yaml files decoded into one Metadata (db 1.0.0 declares a
 * dependency on `leaf` that 2.0.0 does not, so it survives), the last values.yaml. Only one alias finds a chart of
 * its version. Shared by scripts/capture-dup-subchart-fixtures.ts and test/e2e/dup-subchart.test.ts.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';

const CM = (name: string, data: string): string => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-${name}\ndata:\n${data}`;

/** Source files, relative to a work folder: `parent/` depends on `db1/` (db 1.0.0) and `db2/` (db 2.0.0). */
export const DUP_SUBCHART_SOURCES: Record<string, string> = {
  'db1/Chart.yaml': 'apiVersion: v2\nname: db\nversion: 1.0.0\ndescription: old db\nkeywords: [old]\ndependencies:\n  - name: leaf\n    version: 0.1.0\n    import-values: [leafdata]\n',
  'db1/values.yaml': 'image: db-old\nonlyOld: true\nport: 5432\nexports:\n  data:\n    oldExport: from-v1\n',
  'db1/templates/cm.yaml': CM('{{ .Chart.Name }}-v1', '  image: {{ .Values.image | quote }}\n'),
  'db1/templates/_helpers.tpl': '{{- define "db.v1" -}}old{{- end -}}\n',
  'db1/charts/leaf/Chart.yaml': 'apiVersion: v2\nname: leaf\nversion: 0.1.0\ntype: library\n',
  'db1/charts/leaf/values.yaml': 'leafOwn: 7\nexports:\n  leafdata:\n    fromLeaf: yes-leaf\n',
  'db2/Chart.yaml': 'apiVersion: v2\nname: db\nversion: 2.0.0\ndescription: new db\n',
  'db2/values.yaml': 'image: db-new\nonlyNew: true\nreplicas: 3\nexports:\n  data:\n    newExport: from-v2\n',
  'db2/templates/cm.yaml': CM('{{ .Chart.Name }}-v2cm', '  image: {{ .Values.image | quote }}\n'),
  'db2/templates/deploy.yaml': CM('{{ .Chart.Name }}-v2', '  replicas: {{ .Values.replicas | quote }}\n'),
  'parent/Chart.yaml': [
    'apiVersion: v2',
    'name: dupsub',
    'version: 0.1.0',
    'dependencies:',
    '  - name: db',
    '    version: 1.x',
    '    alias: dbold',
    '    repository: file://../db1',
    '    import-values: [data]',
    '  - name: db',
    '    version: 2.x',
    '    alias: dbnew',
    '    repository: file://../db2',
    '    condition: dbnew.enabled',
    '    import-values: [data]',
    '',
  ].join('\n'),
  'parent/values.yaml': 'top: 1\ndbold:\n  image: override-old\n',
  'parent/templates/cm.yaml': CM('parent', '  top: {{ .Values.top | quote }}\n'),
};

export function writeDupSubchartSources(dir: string): void {
  for (const [name, text] of Object.entries(DUP_SUBCHART_SOURCES)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
}

function run(helm: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(helm, args, { env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => (err ? reject(new Error(`${helm} ${args.join(' ')}: ${stderr.trim() || err.message}`)) : resolve(stdout)));
  });
}

/** The `version:` of each `charts/db/Chart.yaml` entry of a packaged chart, in tar order. */
export function dbVersionsInTarOrder(tgz: Uint8Array): string[] {
  const tar = gunzipSync(tgz);
  const out: string[] = [];
  for (let off = 0; off + 512 <= tar.length; ) {
    const name = tar.subarray(off, off + 100).toString('utf8').replace(/\0.*$/s, '');
    if (!name) break;
    const size = parseInt(tar.subarray(off + 124, off + 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    const data = tar.subarray(off + 512, off + 512 + size).toString('utf8');
    if (name.endsWith('/charts/db/Chart.yaml')) out.push(/^version: (\S+)$/m.exec(data)?.[1] ?? '?');
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** `helm dependency build` then one `helm package` with a real helm: the tarball's path (`<out>/dupsub-0.1.0.tgz`). */
export async function packageOnce(helm: string, env: NodeJS.ProcessEnv, work: string, out: string): Promise<string> {
  writeDupSubchartSources(work);
  await run(helm, ['dependency', 'build', join(work, 'parent')], env);
  await run(helm, ['package', join(work, 'parent'), '--destination', out], env);
  return join(out, 'dupsub-0.1.0.tgz');
}

/**
 * `helm dependency build` then `helm package` with a real helm, repeated until both orders of the two db versions
 * were written. Go's map order is random per run but not even: one fresh-clone CI run saw only 1.0.0-2.0.0 in 20
 * runs (iteration over a small map starts at a random slot, so the rarer order is far below one in two); hence up
 * to 200 runs here (scripts/capture-dup-subchart-fixtures.ts), while the e2e test serves the captured tarballs.
 * Returns the tarballs by order, `<out>/1.0.0-2.0.0/dupsub-0.1.0.tgz` and `<out>/2.0.0-1.0.0/dupsub-0.1.0.tgz`.
 */
export async function packageBothOrders(helm: string, env: NodeJS.ProcessEnv, work: string, out: string): Promise<Record<'1.0.0-2.0.0' | '2.0.0-1.0.0', string>> {
  writeDupSubchartSources(work);
  await run(helm, ['dependency', 'build', join(work, 'parent')], env);
  const found = new Map<string, string>();
  for (let i = 0; i < 200 && found.size < 2; i++) {
    const tmp = join(out, `try-${i}`);
    await run(helm, ['package', join(work, 'parent'), '--destination', tmp], env);
    const file = join(tmp, readdirSync(tmp)[0] ?? '');
    const order = dbVersionsInTarOrder(readFileSync(file)).join('-');
    if (!found.has(order)) {
      mkdirSync(join(out, order), { recursive: true });
      renameSync(file, join(out, order, 'dupsub-0.1.0.tgz'));
      found.set(order, join(out, order, 'dupsub-0.1.0.tgz'));
    }
    rmSync(tmp, { recursive: true, force: true });
  }
  const a = found.get('1.0.0-2.0.0');
  const b = found.get('2.0.0-1.0.0');
  if (!a || !b) throw new Error(`helm package wrote only the orders ${[...found.keys()].join(', ')} of charts/db/ in 200 runs`);
  return { '1.0.0-2.0.0': a, '2.0.0-1.0.0': b };
}

/**
 * The same chart tarred as it stands after `helm dependency build` (`charts/db-1.0.0.tgz`, `charts/db-2.0.0.tgz`),
 * as a build that tars the folder itself publishes it: no path twice, both versions loaded as two charts.
 */
export function tarredAsBuilt(work: string, tgz: (entries: { name: string; data: Uint8Array }[]) => Uint8Array): Uint8Array {
  const root = join(work, 'parent');
  const names = ['Chart.yaml', 'Chart.lock', 'values.yaml', 'templates/cm.yaml', ...readdirSync(join(root, 'charts')).sort().map((f) => `charts/${f}`)];
  return tgz(names.map((n) => ({ name: `dupsub/${n}`, data: readFileSync(join(root, n)) })));
}
