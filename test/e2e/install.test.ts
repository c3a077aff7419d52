/**
 * chartorigin installed the ways users install it, each run from a clean temporary folder against the test
 * control plane: the npm package (`npm pack`, then `npm install` of the tarball and `npx chartorigin scan`),
 * the single-file executable (`npm run build:sea`), the same binary as a kubectl plugin, and the one-line
 * refusal on a Node older than 24.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureNamespace } from '../harness/controlplane.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { helmInstall } from '../harness/helm.ts';
import { REPO_ROOT, toolPath } from '../harness/tools.ts';
import { buildSea } from '../../scripts/build-sea.ts';

const env = testEnv();
const cluster = env.cluster;
const work = mkdtempSync(join(tmpdir(), 'chartorigin-install-'));
let ns: string;
let config: string;

/**
 * A user's shell: Node 24 first on PATH (the one npm installed for us) and an empty home (no Helm
 * configuration to discover). The rest of the environment stays: npm needs its CA and proxy settings, and
 * its cache keeps the install offline where it can.
 */
function shellEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const home = join(work, 'home');
  mkdirSync(home, { recursive: true });
  const realHome = process.env['HOME'] ?? home;
  return {
    ...process.env,
    PATH: [dirname(process.execPath), process.env['PATH'] ?? ''].join(delimiter),
    HOME: home,
    npm_config_cache: process.env['npm_config_cache'] ?? join(realHome, '.npm'),
    npm_config_userconfig: process.env['npm_config_userconfig'] ?? join(realHome, '.npmrc'),
    KUBECONFIG: undefined,
    ...extra,
  };
}

function run(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: options.cwd ?? work, env: options.env ?? shellEnv(), timeout: options.timeoutMs ?? 300_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as NodeJS.ErrnoException & { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function assertScan(r: { code: number; stdout: string; stderr: string }, what: string): void {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  assert.match(r.stdout, new RegExp(`${ns}\\s+web\\s+webapp\\s+1\\.1\\.0\\s+2\\.0\\.0\\s+Major\\s+\\d+\\s+Verified\\s+main`), `${what}: ${r.stdout}`);
  assert.match(r.stderr, /chartorigin: using --config .*: 1 repository/, what);
}

before(async () => {
  ns = uniqueNamespace('e2e-install');
  await ensureNamespace(cluster, ns);
  const main = env.chartRepo.repos.main;
  await helmInstall(cluster, 3, 'web', 'webapp', { namespace: ns, repo: main.url, version: '1.1.0' });
  config = join(work, 'repos.yaml');
  writeFileSync(config, `repositories:\n  - name: main\n    url: ${main.url}\n`);
});

after(() => rmSync(work, { recursive: true, force: true }));

describe('installing and running chartorigin like a CLI', () => {
  it('npm pack → npm install in a clean folder → npx chartorigin scan', async () => {
    const packed = await run('npm', ['pack', '--pack-destination', work, '--json'], { cwd: REPO_ROOT, env: { ...process.env, PATH: shellEnv()['PATH'] } });
    assert.equal(packed.code, 0, packed.stderr);
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    assert.ok(info);
    const files = info.files.map((f) => f.path);
    assert.ok(files.includes('dist/src/cli/entry.js'), files.join(', '));
    assert.ok(!files.some((f) => f.startsWith('test/') || f.startsWith('src/') || f.endsWith('.ts')), `sources or tests packed: ${files.filter((f) => f.endsWith('.ts')).join(', ')}`);

    const app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), '{"name":"user-project","private":true}\n');
    const installed = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(work, info.filename)], { cwd: app });
    assert.equal(installed.code, 0, installed.stderr);
    const scan = (): ReturnType<typeof run> => run('npx', ['chartorigin', 'scan', '--kubeconfig', cluster.kubeconfig, '-n', ns, '--config', config], { cwd: app });
    // A failed scan (a context the kubeconfig does not have) trains no code cache (src/cli/code-cache.ts)...
    const failed = await run('npx', ['chartorigin', 'scan', '--kubeconfig', cluster.kubeconfig, '--context', 'nowhere', '--config', config], { cwd: app });
    assert.equal(failed.code, 1, failed.stderr);
    const codeDir = join(work, 'home', '.cache', 'chartorigin', 'code');
    assert.ok(!existsSync(codeDir), 'no code cache from a failed run');
    assertScan(await scan(), 'npx chartorigin scan');
    for (const f of ['dist/chartorigin.mjs', 'dist/chartorigin.cjs', 'dist/chartorigin.build', 'dist/index-parse-child.cjs']) assert.ok(files.includes(f), `${f} (what the bin loads) is packed`);
    // ...a successful one does, for this build, and the next scan reads it and leaves it as it is.
    const trained = readdirSync(codeDir);
    assert.equal(trained.length, 1, trained.join(', '));
    assert.match(trained[0] as string, /^npm-[0-9a-f]{16}\.scan\.v8$/);
    const past = new Date(Date.now() - 60_000);
    utimesSync(join(codeDir, trained[0] as string), past, past);
    assertScan(await scan(), 'npx chartorigin scan with its trained code cache');
    assert.equal(statSync(join(codeDir, trained[0] as string)).mtimeMs, past.getTime(), 'read, not written again');
    // auth-provider plugins load @kubernetes/client-node from the package's dependencies: the unsigned test
    // token reaches the API server, which refuses it (the single executable says it has no such plugins).
    const authProvider = await run('npx', ['chartorigin', 'scan', '--kubeconfig', authProviderKubeconfig(), '-n', ns, '--no-discover'], { cwd: app });
    assert.equal(authProvider.code, 1, authProvider.stderr);
    assert.match(authProvider.stderr, /Unauthorized/);

    // The published chart it proved against is kept by digest, in a directory of this build only.
    const cacheRoot = join(work, 'home', '.cache', 'chartorigin', 'charts');
    const builds = readdirSync(cacheRoot);
    assert.equal(builds.length, 1, builds.join(', '));
    const buildDir = join(cacheRoot, builds[0] as string);
    const entries = readdirSync(buildDir);
    assert.ok(entries.length >= 1 && entries.every((e) => /^[0-9a-f]{64}\.json$/.test(e)), entries.join(', '));
    // The next run reads it instead of the tarball: an entry whose template digest is changed makes the
    // same release a Mismatch (what a tampered tarball under that digest would be)...
    for (const e of entries) {
      const doc = JSON.parse(readFileSync(join(buildDir, e), 'utf8')) as { fingerprint: { templates: Record<string, string> } };
      for (const t of Object.keys(doc.fingerprint.templates)) doc.fingerprint.templates[t] = `sha256:${'0'.repeat(64)}`;
      writeFileSync(join(buildDir, e), JSON.stringify(doc));
    }
    const poisoned = await scan();
    assert.match(poisoned.stdout, new RegExp(`${ns}\\s+web\\s+webapp\\s+1\\.1\\.0\\s.*\\bMismatch\\b`), poisoned.stdout);
    // ...and without the entries it downloads again, proves, and writes them back.
    rmSync(buildDir, { recursive: true });
    assertScan(await scan(), 'npx chartorigin scan after the cache was removed');
    assert.deepEqual(readdirSync(buildDir).sort(), [...entries].sort());
    const v = await run('npx', ['chartorigin', 'scan', '--version'], { cwd: app });
    assert.match(v.stdout, /^chartorigin \d+\.\d+\.\d+\n$/);

    // Node < 24: one line saying what is needed, exit 1 (not a stack trace from a missing API).
    const entry = join(app, 'node_modules', 'chartorigin', 'dist', 'src', 'cli', 'entry.js');
    const old = await oldNode();
    const r = await run(old.cmd, [...old.args, entry, 'scan', '-A'], { cwd: app });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^chartorigin: needs Node\.js 24 or newer, this is v(1\d|2[0-3])\.\d+\.\d+ \(or use the single-file executable, see README\)\n$/);
    assert.equal(r.stdout, '');
  });

  it('the single-file executable runs scan with no Node on PATH, and as `kubectl chartorigin`', async () => {
    const started = performance.now();
    const exe = await buildSea(join(work, 'sea'));
    const seconds = (performance.now() - started) / 1000;
    const bin = join(work, 'bin');
    mkdirSync(bin);
    symlinkSync(exe, join(bin, 'kubectl-chartorigin'));
    // PATH without any node: only the plugin and kubectl.
    symlinkSync(toolPath('kubectl'), join(bin, 'kubectl'));
    const noNode = shellEnv({ PATH: `${bin}${delimiter}/nonexistent` });
    const clean = mkdtempSync(join(tmpdir(), 'chartorigin-sea-run-'));
    try {
      const scan = (): ReturnType<typeof run> => run(exe, ['scan', '--kubeconfig', cluster.kubeconfig, '-n', ns, '--config', config], { cwd: clean, env: noNode });
      assertScan(await scan(), `single executable (built in ${seconds.toFixed(1)} s)`);
      // The first scan of a build leaves a code cache trained by that run (src/cli/code-cache.ts); the next
      // scan reads it and leaves it as it is (V8 accepted it); one V8 refuses changes no answer and is replaced.
      const codeDir = join(work, 'home', '.cache', 'chartorigin', 'code');
      const trained = readdirSync(codeDir).filter((f) => /^sea-[0-9a-f]{16}\.scan\.v8$/.test(f));
      assert.equal(trained.length, 1, readdirSync(codeDir).join(', '));
      const cacheFile = join(codeDir, trained[0] as string);
      const past = new Date(Date.now() - 60_000);
      utimesSync(cacheFile, past, past);
      assertScan(await scan(), 'single executable with its trained code cache');
      assert.equal(statSync(cacheFile).mtimeMs, past.getTime(), 'the trained cache was read, not written again');
      writeFileSync(cacheFile, 'x'.repeat(4096));
      assertScan(await scan(), 'single executable with a code cache V8 refuses');
      assert.ok(statSync(cacheFile).size > 100_000 && !readFileSync(cacheFile).equals(Buffer.from('x'.repeat(4096))), 'the refused cache was replaced');
      const v = await run(exe, ['--version'], { cwd: clean, env: noNode });
      assert.match(v.stdout, /^chartorigin \d+\.\d+\.\d+\n$/);
      assertScan(await run(join(bin, 'kubectl'), ['chartorigin', 'scan', '-n', ns, '--config', config], { cwd: clean, env: { ...noNode, KUBECONFIG: cluster.kubeconfig } }), 'kubectl chartorigin scan');
      const authProvider = await run(exe, ['scan', '--kubeconfig', authProviderKubeconfig(), '-n', ns, '--no-discover'], { cwd: clean, env: noNode });
      assert.equal(authProvider.code, 1, authProvider.stderr);
      assert.match(authProvider.stderr, /auth-provider plugins need chartorigin installed with npm/);
      const help = await run(join(bin, 'kubectl'), ['chartorigin', '--help'], { cwd: clean, env: noNode });
      assert.match(help.stdout, /^ {2}kubectl chartorigin scan /m);
    } finally {
      rmSync(clean, { recursive: true, force: true });
    }
    assert.deepEqual(readdirSync(join(work, 'sea')).sort(), ['chartorigin', 'chartorigin.cjs']);
  });
});

/** The test cluster's kubeconfig with an OIDC auth-provider user (an unsigned token) instead of the admin certificate. */
function authProviderKubeconfig(): string {
  const file = join(work, 'auth-provider.kubeconfig');
  const kc = JSON.parse(readFileSync(cluster.kubeconfig, 'utf8')) as { users: { name: string; user: unknown }[] };
  const b64url = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const token = `${b64url({ alg: 'none' })}.${b64url({ iss: 'https://issuer.invalid', exp: 4102444800 })}.x`;
  for (const u of kc.users) u.user = { 'auth-provider': { name: 'oidc', config: { 'client-id': 'chartorigin', 'id-token': token, 'idp-issuer-url': 'https://issuer.invalid' } } };
  writeFileSync(file, JSON.stringify(kc));
  return file;
}

/**
 * A Node older than 24: the machine's own when it is one (Debian's nodejs, which npm runs on here), else
 * Node 24 made to report 20.0.0 before the entry point runs (then only the check is tested, not parsing).
 */
async function oldNode(): Promise<{ cmd: string; args: string[] }> {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (!dir || dir.includes('node_modules')) continue;
    const cmd = join(dir, 'node');
    const r = await run(cmd, ['--version']).catch(() => undefined);
    const major = r && r.code === 0 ? Number(/^v(\d+)/.exec(r.stdout)?.[1]) : NaN;
    if (major < 24) return { cmd, args: [] };
  }
  return { cmd: process.execPath, args: ['--import', 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.0.0"});Object.defineProperty(process,"version",{value:"v20.0.0"})'] };
}
