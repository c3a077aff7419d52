/**
 * Differential test of kubeconfig loading against the real kubectl: generated kubeconfig sets — one
 * configuration split across files in every order, with missing files in the list and conflicting entries
 * under the same names — are resolved by chartorigin and by `kubectl config view --minify --raw --flatten`,
 * and the results are compared field by field. `--flatten` embeds every referenced file, so it also shows
 * which file's directory a relative path was resolved against: each directory holds its own CA and
 * certificate contents.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KubeConfigError, loadKubeConfig, loadMergedKubeconfig, resolvedEntry, selectContext } from '../../../src/kube/kubeconfig.ts';
import { isObject, type JsonObject } from '../../../src/util/guards.ts';
import { toolPath } from '../../harness/tools.ts';
import { seededRandom } from '../../support/random.ts';

const root = mkdtempSync(join(tmpdir(), 'kubeconfig-diff-'));
after(() => rmSync(root, { recursive: true, force: true }));

function kubectl(env: NodeJS.ProcessEnv, args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(toolPath('kubectl'), args, { env: { PATH: '/usr/bin:/bin', HOME: join(root, 'nohome'), ...env } }, (err, stdout, stderr) => resolve({ ok: !err, stdout, stderr }));
  });
}


type Entry = { kind: 'clusters' | 'users' | 'contexts'; name: string; value: JsonObject };

/** One generated configuration: entries (some names defined twice with other values) and a current-context. */
function scenario(seed: number): { entries: Entry[]; current: (string | undefined)[]; files: number; context?: string | undefined } {
  const r = seededRandom(seed);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const entries: Entry[] = [];
  const clusters = ['c1', 'c2', 'c3'];
  const users = ['u1', 'u2', 'u3'];
  const contexts = ['x1', 'x2', 'x3'];
  for (const [i, name] of clusters.entries()) {
    const copies = r() < 0.4 ? 2 : 1; // a conflicting definition under the same name
    for (let k = 0; k < copies; k++) {
      const value: JsonObject = { server: `https://${name}-${k}.example:${6443 + i}` };
      const ca = r();
      if (ca < 0.4) value['certificate-authority'] = 'ca.crt';
      else if (ca < 0.6) value['certificate-authority-data'] = Buffer.from(`CA-DATA ${name} ${k}`).toString('base64');
      if (r() < 0.2) value['insecure-skip-tls-verify'] = true;
      if (r() < 0.2) value['tls-server-name'] = `${name}.internal`;
      entries.push({ kind: 'clusters', name, value });
    }
  }
  for (const name of users) {
    const copies = r() < 0.4 ? 2 : 1;
    for (let k = 0; k < copies; k++) {
      const v = r();
      const value: JsonObject =
        v < 0.3 ? { token: `token-${name}-${k}` }
        : v < 0.55 ? { 'client-certificate': 'client.crt', 'client-key': 'client.key' }
        : v < 0.7 ? { username: `user-${name}-${k}`, password: `pw-${k}` }
        : v < 0.85 ? { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: './plugin.sh', args: [name, String(k)] } }
        : { tokenFile: 'token.txt' };
      entries.push({ kind: 'users', name, value });
    }
  }
  for (const name of contexts) {
    const copies = r() < 0.4 ? 2 : 1;
    for (let k = 0; k < copies; k++) {
      const value: JsonObject = {};
      // Mostly names that exist; sometimes one that does not (kubectl refuses to minify then), or none.
      const c = r();
      value['cluster'] = c < 0.85 ? pick(clusters) : c < 0.93 ? 'nowhere' : '';
      const u = r();
      value['user'] = u < 0.8 ? pick(users) : u < 0.9 ? 'nobody' : '';
      if (r() < 0.5) value['namespace'] = `ns-${name}-${k}`;
      entries.push({ kind: 'contexts', name, value });
    }
  }
  const files = 2 + Math.floor(r() * 2);
  const current = Array.from({ length: files }, () => (r() < 0.5 ? pick([...contexts, 'missing-context']) : undefined));
  return { entries, current, files, context: r() < 0.25 ? pick(contexts) : undefined };
}

function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [[...xs]];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

/** Writes the scenario's files; every entry goes to a random file, a second definition to another one. */
function writeFiles(seed: number, s: ReturnType<typeof scenario>): string[] {
  const r = seededRandom(seed * 7919);
  const dir = join(root, `s${seed}`);
  const docs = Array.from({ length: s.files }, (_, i) => ({ clusters: [] as unknown[], users: [] as unknown[], contexts: [] as unknown[], 'current-context': s.current[i] }));
  const placed = new Map<string, number>();
  for (const e of s.entries) {
    const key = `${e.kind}/${e.name}`;
    const used = placed.get(key);
    let f = Math.floor(r() * s.files);
    if (used !== undefined && f === used) f = (f + 1) % s.files;
    placed.set(key, f);
    const singular = e.kind === 'clusters' ? 'cluster' : e.kind === 'users' ? 'user' : 'context';
    docs[f]?.[e.kind].push({ name: e.name, [singular]: e.value });
  }
  return docs.map((doc, i) => {
    const d = join(dir, `f${i}`);
    mkdirSync(d, { recursive: true });
    // Per-directory contents: --flatten and chartorigin must both read the file next to the defining kubeconfig.
    writeFileSync(join(d, 'ca.crt'), `CA of f${i}\n`);
    writeFileSync(join(d, 'client.crt'), `CERT of f${i}\n`);
    writeFileSync(join(d, 'client.key'), `KEY of f${i}\n`);
    writeFileSync(join(d, 'token.txt'), `token of f${i}\n`);
    writeFileSync(join(d, 'plugin.sh'), '#!/bin/sh\nexit 1\n');
    chmodSync(join(d, 'plugin.sh'), 0o755);
    const file = join(d, 'config');
    writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'Config', ...doc }, null, 1));
    return file;
  });
}

const b64file = (p: string): string => readFileSync(p).toString('base64');

/** chartorigin's selection in the shape of `kubectl config view --minify --raw --flatten -o json`. */
function ours(kubeconfigList: string, context: string | undefined): JsonObject {
  const merged = loadMergedKubeconfig({}, { KUBECONFIG: kubeconfigList, HOME: join(root, 'nohome') });
  if (!merged) throw new KubeConfigError('no file');
  const sel = selectContext(merged, context);
  const flatten = (v: JsonObject, key: string): void => {
    const p = v[key];
    if (typeof p === 'string' && p) {
      v[`${key}-data`] = b64file(p);
      delete v[key];
    }
  };
  const cluster = sel.cluster ? resolvedEntry(sel.cluster, 'cluster') : undefined;
  if (cluster) flatten(cluster, 'certificate-authority');
  // kubectl's view shows the user entry as written (only certificate files are embedded); tokenFile and
  // the exec command stay as written, so compare those raw.
  const user = sel.user ? { ...resolvedEntry(sel.user, 'user'), ...pickRaw(sel.user.value, ['tokenFile', 'exec']) } : undefined;
  if (user) {
    flatten(user, 'client-certificate');
    flatten(user, 'client-key');
  }
  return {
    'current-context': sel.contextName,
    contexts: [{ name: sel.contextName, context: sel.context.value }],
    clusters: sel.cluster && cluster ? [{ name: sel.cluster.name, cluster }] : [],
    users: sel.user && user ? [{ name: sel.user.name, user }] : [],
  };
}

function pickRaw(v: JsonObject, keys: string[]): JsonObject {
  const out: JsonObject = {};
  for (const k of keys) if (v[k] !== undefined) out[k] = v[k];
  return out;
}

/** The fields both sides know, normalised (kubectl adds `env: null`, drops empty strings and false). */
function normalise(view: JsonObject): JsonObject {
  const list = (k: string): JsonObject[] => (Array.isArray(view[k]) ? (view[k] as unknown[]).filter(isObject) : []);
  const clean = (o: unknown): JsonObject => {
    const out: JsonObject = {};
    if (!isObject(o)) return out;
    for (const [k, v] of Object.entries(o)) {
      if (v === null || v === '' || v === false || k === 'extensions') continue;
      if (k === 'exec' && isObject(v)) out[k] = { command: v['command'], args: v['args'], apiVersion: v['apiVersion'] };
      else out[k] = v;
    }
    return out;
  };
  const ctx = list('contexts')[0];
  return {
    current: view['current-context'],
    context: ctx ? { name: ctx['name'], ...clean(ctx['context']) } : undefined,
    cluster: list('clusters').map((c) => ({ name: c['name'], ...clean(c['cluster']) }))[0],
    user: list('users').map((u) => ({ name: u['name'], ...clean(u['user']) }))[0],
  };
}

describe('kubeconfig: chartorigin resolves like kubectl (differential, real kubectl)', () => {
  it('every split of generated configurations across files, in every order, with missing files and conflicting entries', async () => {
    let compared = 0;
    let refused = 0;
    for (let seed = 1; seed <= 16; seed++) {
      const s = scenario(seed);
      const files = writeFiles(seed, s);
      const missing = join(root, `s${seed}`, 'absent', 'config');
      const orders = permutations(files);
      // Every order, and each order once more with a missing file first, in the middle and last.
      const lists = [...orders.map((o) => o.join(':')), ...orders.slice(0, 2).map((o, i) => (i === 0 ? [missing, ...o] : [...o.slice(0, 1), missing, ...o.slice(1), missing]).join(':'))];
      for (const list of lists) {
        const args = ['config', 'view', '--minify', '--raw', '--flatten', '-o', 'json', ...(s.context ? ['--context', s.context] : [])];
        const k = await kubectl({ KUBECONFIG: list }, args);
        let mine: JsonObject | undefined;
        let myError: unknown;
        try {
          mine = ours(list, s.context);
        } catch (err) {
          myError = err;
        }
        const label = `seed ${seed}, KUBECONFIG=${list}${s.context ? `, --context ${s.context}` : ''}`;
        if (!k.ok) {
          assert.ok(myError instanceof KubeConfigError, `${label}: kubectl refused (${k.stderr.trim()}) but chartorigin resolved ${JSON.stringify(mine)}`);
          refused++;
          continue;
        }
        assert.equal(myError, undefined, `${label}: kubectl resolved it, chartorigin threw ${String(myError)}`);
        const theirs = JSON.parse(k.stdout) as JsonObject;
        assert.deepEqual(normalise(mine ?? {}), normalise(theirs), label);
        compared++;
      }
    }
    // The generator must exercise both outcomes, or the comparison proves little.
    assert.ok(compared >= 40, `only ${compared} resolved cases compared`);
    assert.ok(refused >= 5, `only ${refused} refused cases compared`);
  });

  it('a KUBECONFIG of only missing files never falls back to ~/.kube/config (neither does kubectl)', async () => {
    const home = join(root, 'home');
    mkdirSync(join(home, '.kube'), { recursive: true });
    writeFileSync(join(home, '.kube', 'config'), JSON.stringify({ clusters: [{ name: 'h', cluster: { server: 'https://home.example' } }], contexts: [{ name: 'h', context: { cluster: 'h' } }], 'current-context': 'h' }));
    const k = await kubectl({ KUBECONFIG: join(root, 'absent'), HOME: home }, ['config', 'view', '--minify', '--raw', '-o', 'json']);
    assert.equal(k.ok, false, k.stdout);
    assert.throws(() => loadKubeConfig({}, { KUBECONFIG: join(root, 'absent'), HOME: home }), /none of the KUBECONFIG files exists/);
    // Without KUBECONFIG both take the home file.
    const h = await kubectl({ HOME: home }, ['config', 'view', '--minify', '--raw', '-o', 'json']);
    assert.ok(h.ok, h.stderr);
    assert.equal(loadKubeConfig({}, { HOME: home }).server, 'https://home.example');
  });
});
