/**
 * `npm run bench:scale` — RELEASES (default 2000) × REVISIONS (default 5) release Secrets on the real
 * control plane, then the controller from start to every ChartOrigin Ready: wall time, resident memory
 * after sync and peak (VmRSS / VmHWM of the controller process), bytes retained per release.
 *
 * The releases are encoded exactly as Helm's Secret driver does (JSON → gzip best → base64, then the API's
 * base64), from a real `helm install --dry-run=client -o json` of a 40-template chart packaged by the real
 * helm into the test chart repository; only name, namespace, revision and status differ between them.
 */
import { readFileSync, writeFileSync, mkdirSync, cpSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { apiKubeConfigFor, kubectl } from '../test/harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess } from '../test/harness/controller-process.ts';
import { startTestEnvironment } from '../test/harness/environment.ts';
import { repoIndex, runHelm, scratchDir, writeChartSource } from '../test/harness/charts.ts';
import { kubeRequest } from '../src/kube/raw-client.ts';
import { REPO_ROOT } from '../test/harness/tools.ts';
import { encodeHelmString } from '../src/release/encode.ts';

const RELEASES = Number(process.env['RELEASES'] ?? 2000);
const REVISIONS = Number(process.env['REVISIONS'] ?? 5);
const NAMESPACES = Math.max(1, Math.min(20, Math.ceil(RELEASES / 100)));
const TEMPLATES = 40;

function procMem(pid: number): { rssMb: number; hwmMb: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < items.length) await fn(items[i++] as T);
  }));
}

const running = await startTestEnvironment({ log: () => undefined });
const { env } = running;
const cluster = env.cluster;
const kc = apiKubeConfigFor(cluster);
try {
  // A 40-template chart, packaged by the real helm into the "main" repository.
  const src = scratchDir('big-src');
  const dir = writeChartSource(src, { name: 'bigchart', version: '1.0.0', appVersion: '1.0.0' });
  const base = readFileSync(join(dir, 'templates', 'service.yaml'), 'utf8');
  for (let t = readdirSync(join(dir, 'templates')).length; t < TEMPLATES; t++) writeFileSync(join(dir, 'templates', `extra-${t}.yaml`), base.replace('{{ include "chart.fullname" . }}', `{{ include "chart.fullname" . }}-${t}`));
  const mainDir = env.chartRepo.repos.main.dir;
  await runHelm(['package', dir, '--destination', mainDir]);
  mkdirSync(join(src, 'copy'), { recursive: true });
  cpSync(join(mainDir, 'bigchart-1.0.0.tgz'), join(src, 'copy', 'bigchart-1.0.0.tgz'));
  await repoIndex(mainDir);
  const { stdout } = await runHelm(['install', 'template', join(mainDir, 'bigchart-1.0.0.tgz'), '--dry-run=client', '-o', 'json']);
  const template = JSON.parse(stdout) as { name: string; namespace: string; version: number; info: { status: string } };
  process.stderr.write(`release JSON ${(stdout.length / 1024).toFixed(0)} KiB, ${TEMPLATES} templates\n`);

  await installCrds(cluster);
  const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `scale-${i}`);
  for (const ns of namespaces) await kubectl(cluster, ['create', 'namespace', ns]);
  await kubectl(cluster, ['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name: 'main' }, spec: { url: env.chartRepo.repos.main.url } }),
  });

  const t0 = performance.now();
  const work: { ns: string; name: string; rev: number }[] = [];
  for (let r = 0; r < RELEASES; r++) for (let rev = 1; rev <= REVISIONS; rev++) work.push({ ns: namespaces[r % NAMESPACES] ?? 'scale-0', name: `rel-${r}`, rev });
  await pool(work, 16, async ({ ns, name, rev }) => {
    const status = rev === REVISIONS ? 'deployed' : 'superseded';
    const json = JSON.stringify({ ...template, name, namespace: ns, version: rev, info: { ...template.info, status } });
    const body = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'helm.sh/release.v1',
      metadata: { name: `sh.helm.release.v1.${name}.v${rev}`, namespace: ns, labels: { name, owner: 'helm', status, version: String(rev) } },
      data: { release: Buffer.from(encodeHelmString(json)).toString('base64') },
    };
    await kubeRequest(kc, { method: 'POST', path: `/api/v1/namespaces/${ns}/secrets`, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  });
  const createdS = (performance.now() - t0) / 1000;
  process.stderr.write(`created ${work.length} release Secrets in ${createdS.toFixed(1)} s\n`);

  const started = performance.now();
  // As in the image: compiled JavaScript (no type stripping at run time), NODE_OPTIONS as the chart sets it.
  const controller = await startControllerProcess(cluster, ['--leader-elect=false', '--log-level', 'warn', '--concurrency', '8'], 'scale', {
    entry: join(REPO_ROOT, 'dist/src/cli/main.js'),
    nodeFlags: (process.env['CONTROLLER_NODE_FLAGS'] ?? '').split(' ').filter(Boolean),
  });
  let peakSeen = 0;
  const ready = await eventually('every ChartOrigin Ready', async () => {
    peakSeen = Math.max(peakSeen, procMem(controller.proc.pid).hwmMb);
    const list = await kubeRequest<{ items: { status?: { conditions?: { type: string; status: string }[]; origin?: { match?: string } } }[] }>(kc, { path: '/apis/chartorigin.io/v1alpha1/chartorigins' });
    const done = list.items.filter((i) => i.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
    return done >= RELEASES ? list.items : undefined;
  }, 600_000, 1000);
  const syncS = (performance.now() - started) / 1000;
  const verified = ready.filter((i) => i.status?.origin?.match === 'Verified').length;
  await new Promise((r) => setTimeout(r, 3000));
  const after = procMem(controller.proc.pid);
  await controller.stop();
  process.stdout.write(
    [
      `| releases × revisions | Secrets | controller start → all Ready (s) | Verified | RSS after sync (MiB) | peak RSS (MiB) | RSS per release (KiB) |`,
      `|---|---|---|---|---|---|---|`,
      `| ${RELEASES} × ${REVISIONS} | ${work.length} | ${syncS.toFixed(1)} | ${verified} | ${after.rssMb.toFixed(0)} | ${Math.max(after.hwmMb, peakSeen).toFixed(0)} | ${((after.rssMb * 1024) / RELEASES).toFixed(1)} |`,
      '',
    ].join('\n'),
  );
} finally {
  await running.stop();
}
