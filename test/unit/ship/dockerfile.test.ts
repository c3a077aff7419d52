/**
 * The container image, checked statically (no Docker engine here): the Dockerfile is parsed into stages
 * and instructions and held to the rules the image promises (multi-stage, pinned Node 24 base, production
 * dependencies only, numeric non-root user, exec-form entrypoint, OCI labels) plus hadolint's rules that
 * apply to it. The parser is checked on its own first, so that a rule cannot pass on a misparse.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { REPO_ROOT } from '../../harness/tools.ts';

interface Instruction {
  op: string;
  args: string;
  line: number;
}
interface Stage {
  from: string;
  image: string;
  name: string | undefined;
  body: Instruction[];
}

/** Dockerfile → instructions: comments and parser directives dropped, `\` continuations joined. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buf = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!buf && (line === '' || line.startsWith('#'))) return;
    if (buf && line.startsWith('#')) return; // comment lines inside a continuation are dropped by Docker too
    if (!buf) start = i + 1;
    if (line.endsWith('\\')) {
      buf += `${line.slice(0, -1)} `;
      return;
    }
    buf += line;
    const m = /^(\S+)\s*(.*)$/s.exec(buf);
    if (m) out.push({ op: (m[1] ?? '').toUpperCase(), args: (m[2] ?? '').trim(), line: start });
    buf = '';
  });
  assert.equal(buf, '', 'no dangling line continuation at the end');
  return out;
}

/** ARG defaults declared before the first FROM, used to resolve `FROM ${X}`. */
function globalArgs(ins: readonly Instruction[]): Map<string, string> {
  const args = new Map<string, string>();
  for (const i of ins) {
    if (i.op === 'FROM') break;
    if (i.op !== 'ARG') continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/.exec(i.args);
    if (m?.[1]) args.set(m[1], (m[2] ?? '').replace(/^"(.*)"$/, '$1'));
  }
  return args;
}

function stages(ins: readonly Instruction[]): Stage[] {
  const args = globalArgs(ins);
  const out: Stage[] = [];
  for (const i of ins) {
    if (i.op === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args);
      assert.ok(m?.[1], `FROM on line ${i.line} is well formed`);
      const image = m[1].replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name: string) => {
        const v = args.get(name);
        assert.ok(v, `ARG ${name} used in FROM has a default`);
        return v;
      });
      out.push({ from: m[1], image, name: m[2], body: [] });
    } else if (out.length) {
      out[out.length - 1]?.body.push(i);
    }
  }
  return out;
}

function jsonForm(i: Instruction | undefined): string[] {
  assert.ok(i, 'instruction present');
  const v: unknown = JSON.parse(i.args);
  assert.ok(Array.isArray(v) && v.every((s) => typeof s === 'string'), `${i.op} uses the JSON (exec) form: ${i.args}`);
  return v as string[];
}

function labels(stage: Stage): Map<string, string> {
  const out = new Map<string, string>();
  for (const i of stage.body.filter((x) => x.op === 'LABEL')) {
    for (const m of i.args.matchAll(/([A-Za-z0-9_.-]+)=("(?:[^"\\]|\\.)*"|\S+)/g)) out.set(m[1] ?? '', (m[2] ?? '').replace(/^"(.*)"$/s, '$1'));
  }
  return out;
}

const text = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const ins = instructions(text);
const all = stages(ins);
const runtime = all[all.length - 1];
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; license: string; devDependencies: Record<string, string> };

describe('Dockerfile parser', () => {
  test('joins continuations, drops comments, resolves ARG defaults in FROM', () => {
    const sample = instructions('# syntax=docker/dockerfile:1\nARG BASE=node:24.1.0-slim\nFROM ${BASE} AS a\n# c\nRUN a \\\n  # inner\n  && b\nFROM a\nLABEL x="y z" w=v\n');
    assert.deepEqual(sample.map((i) => i.op), ['ARG', 'FROM', 'RUN', 'FROM', 'LABEL']);
    assert.equal(sample[2]?.args, 'a  && b');
    const st = stages(sample);
    assert.deepEqual(st.map((s) => [s.image, s.name]), [['node:24.1.0-slim', 'a'], ['a', undefined]]);
    assert.deepEqual([...labels(st[1] as Stage)], [['x', 'y z'], ['w', 'v']]);
  });
});

describe('Dockerfile', () => {
  test('is multi-stage: build, production dependencies, runtime', () => {
    assert.ok(all.length >= 3, `${all.length} stages`);
    const names = all.map((s) => s.name);
    assert.ok(names.includes('build') && names.includes('deps'), `stage names ${names.join(',')}`);
  });

  test('every base is an exact Node 24 release (or a digest), never latest, never an unpinned major', () => {
    for (const s of all) {
      if (all.some((o) => o.name === s.image)) continue; // FROM an earlier stage
      assert.doesNotMatch(s.image, /:latest($|@)/, `${s.image}: no latest tag`);
      assert.match(s.image, /(@sha256:[a-f0-9]{64}$)|(:24\.\d+\.\d+(-[a-z0-9-]+)?$)/, `${s.image} is pinned to an exact Node 24 version or a digest`);
      assert.match(s.image, /^(docker\.io\/(library\/)?)?node:24\./, `${s.image} is the official Node 24 image`);
    }
  });

  test('the build stage installs with npm ci and compiles with npm run build', () => {
    const build = all.find((s) => s.name === 'build');
    const runs = build?.body.filter((i) => i.op === 'RUN').map((i) => i.args) ?? [];
    assert.ok(runs.some((r) => /\bnpm ci\b/.test(r) && !/--omit=dev/.test(r)), 'npm ci with dev dependencies (tsc)');
    assert.ok(runs.some((r) => /\bnpm run build\b/.test(r)), 'npm run build');
  });

  test('the runtime gets production dependencies only: npm ci --omit=dev, node_modules never from the build stage', () => {
    const deps = all.find((s) => s.name === 'deps');
    assert.ok(deps?.body.some((i) => i.op === 'RUN' && /\bnpm ci\b.*--omit=dev/.test(i.args)), 'deps stage runs npm ci --omit=dev');
    const copies = runtime?.body.filter((i) => i.op === 'COPY') ?? [];
    const nm = copies.filter((i) => /node_modules/.test(i.args));
    assert.equal(nm.length, 1, 'node_modules copied once');
    assert.match(nm[0]?.args ?? '', /--from=deps\b/, 'node_modules come from the deps stage');
    assert.ok(copies.some((i) => /--from=build\b.*\/dist\b/.test(i.args)), 'dist/ comes from the build stage');
    assert.ok(copies.some((i) => /(^|\s)package\.json\s/.test(i.args)), 'package.json ("type": "module") is in the image');
    // The premise of --omit=dev: the `node` npm package (a second Node binary) and tsc are dev-only.
    assert.ok(pkg.devDependencies['node'] && pkg.devDependencies['typescript'], 'node and typescript are devDependencies');
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    for (const p of ['node_modules/node', 'node_modules/typescript', 'node_modules/fast-check']) assert.equal(lock.packages[p]?.dev, true, `${p} is dev-only in the lock file`);
  });

  test('runs as a numeric non-root user, set in the final stage', () => {
    const users = runtime?.body.filter((i) => i.op === 'USER') ?? [];
    const user = users[users.length - 1]?.args ?? '';
    assert.match(user, /^\d+(:\d+)?$/, `USER ${user} is numeric (runAsNonRoot can verify it)`);
    assert.ok(user.split(':').every((n) => Number(n) > 0), `USER ${user} is not root`);
    const userIndex = runtime?.body.findIndex((i) => i.op === 'USER') ?? -1;
    assert.ok(runtime?.body.slice(userIndex).every((i) => i.op !== 'RUN'), 'nothing runs after USER (no root-owned state created at run time)');
  });

  test('entrypoint is node on the bin of package.json, default command `controller`, both exec form', () => {
    const entry = runtime?.body.filter((i) => i.op === 'ENTRYPOINT').at(-1);
    const cmd = runtime?.body.filter((i) => i.op === 'CMD').at(-1);
    assert.deepEqual(jsonForm(entry), ['node', pkg.bin['chartorigin']]);
    assert.deepEqual(jsonForm(cmd), ['controller']);
    assert.equal(pkg.bin['chartorigin'], 'dist/src/cli/entry.js');
  });

  test('the runtime needs no write access to its own files: copied as root, read-only friendly', () => {
    for (const c of runtime?.body.filter((i) => i.op === 'COPY') ?? []) assert.match(c.args, /--chown=0:0\b/, `COPY ${c.args} is root-owned`);
    assert.ok(runtime?.body.some((i) => i.op === 'ENV' && /NODE_ENV=production/.test(i.args)), 'NODE_ENV=production');
    assert.ok(runtime?.body.some((i) => i.op === 'EXPOSE' && /\b8080\b/.test(i.args)), 'EXPOSE 8080 (metrics)');
  });

  test('OCI labels', () => {
    const l = labels(runtime as Stage);
    for (const k of ['title', 'description', 'licenses', 'source', 'version', 'revision', 'created']) assert.ok(l.get(`org.opencontainers.image.${k}`), `org.opencontainers.image.${k}`);
    assert.equal(l.get('org.opencontainers.image.licenses'), pkg.license);
  });

  test('hadolint rules that apply: no ADD (DL3020), exec-form CMD/ENTRYPOINT (DL3025), no cd in RUN (DL3003), no sudo (DL3004), no apt-get upgrade (DL3005), WORKDIR absolute (DL3000), one CMD/ENTRYPOINT per stage (DL4003/DL4004)', () => {
    assert.ok(ins.every((i) => i.op !== 'ADD'), 'COPY, never ADD (and never ADD of a URL)');
    assert.ok(ins.every((i) => i.op !== 'MAINTAINER'), 'no MAINTAINER (DL4000)');
    for (const i of ins.filter((x) => x.op === 'RUN')) {
      assert.doesNotMatch(i.args, /(^|&&|;)\s*cd\s/, `line ${i.line}: use WORKDIR, not cd`);
      assert.doesNotMatch(i.args, /\bsudo\b/, `line ${i.line}: no sudo`);
      assert.doesNotMatch(i.args, /apt-get\s+(dist-)?upgrade/, `line ${i.line}: no apt-get upgrade`);
      assert.doesNotMatch(i.args, /\b(curl|wget)\b/, `line ${i.line}: nothing downloaded outside the package manager`);
    }
    for (const i of ins.filter((x) => x.op === 'WORKDIR')) assert.match(i.args, /^\//, `WORKDIR ${i.args} is absolute`);
    for (const s of all) {
      assert.ok(s.body.filter((i) => i.op === 'CMD').length <= 1, `stage ${s.name ?? s.image}: one CMD`);
      assert.ok(s.body.filter((i) => i.op === 'ENTRYPOINT').length <= 1, `stage ${s.name ?? s.image}: one ENTRYPOINT`);
    }
  });

  test('.dockerignore sends only what the build needs: no node_modules, dist, .git, .tools, tests', () => {
    const lines = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    assert.equal(lines[0], '**', 'everything is excluded first');
    const allowed = lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1));
    assert.deepEqual(allowed.sort(), ['package-lock.json', 'package.json', 'scripts/bundle-cli.ts', 'src/**', 'tsconfig.build.json', 'tsconfig.json']);
    // Everything COPY takes from the context is allowed in.
    for (const c of ins.filter((i) => i.op === 'COPY' && !/--from=/.test(i.args))) {
      const sources = c.args.replace(/--\S+/g, '').trim().split(/\s+/).slice(0, -1);
      for (const s of sources) assert.ok(allowed.some((a) => a === s || (a.endsWith('/**') && s === a.slice(0, -3))), `COPY source ${s} is in .dockerignore's allow list`);
    }
  });
});
