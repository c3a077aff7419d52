import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { compileOnlyCache, runBundle, trainedCacheFile } from '../../../src/cli/code-cache.ts';

const base = mkdtempSync(join(tmpdir(), 'chartorigin-code-cache-'));
after(() => rmSync(base, { recursive: true, force: true }));
const require = createRequire(import.meta.url);

// A bundle shaped like the executable's: CommonJS, a function compiled lazily, a built-in module required.
// The numbers make each test's source its own (V8 keeps compiled scripts per source in the process).
const bundle = (n: number): string =>
  `const { sep } = require('node:path');\nfunction lazy(x) { return x * ${n}; }\nmodule.exports.value = lazy(2);\nglobalThis.__codeCacheTest = { sep, value: lazy(3), file: __filename, dir: __dirname };\n`;
const ran = (): { sep: string; value: number; file: string; dir: string } => (globalThis as unknown as { __codeCacheTest: { sep: string; value: number; file: string; dir: string } }).__codeCacheTest;

describe('the trained code cache of the single-file executable', () => {
  it('runs the bundle as CommonJS; the first run writes a cache the next run accepts and does not rewrite', () => {
    const file = trainedCacheFile(base, 'sea-1-1', 'scan') as string;
    assert.equal(file, join(base, 'code', 'sea-1-1.scan.v8'));
    const source = bundle(7);
    const first = runBundle({ source, filename: '/opt/bin/chartorigin', require, trained: file, persistOnExit: false });
    assert.deepEqual(ran(), { sep: '/', value: 21, file: '/opt/bin/chartorigin', dir: '/opt/bin' });
    assert.equal(first.cache, 'none', 'no embedded cache given, none on disk');
    first.persist();
    const written = readFileSync(file);
    assert.ok(written.length > 0);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(join(base, 'code')).mode & 0o777, 0o700);
    const past = new Date(Date.now() - 60_000);
    utimesSync(file, past, past);
    const second = runBundle({ source, filename: '/opt/bin/chartorigin', require, trained: file, persistOnExit: false });
    assert.equal(second.cache, 'trained');
    second.persist();
    assert.equal(statSync(file).mtimeMs, past.getTime(), 'an accepted trained cache is not written again');
  });

  it("a cache V8 refuses (garbage, another source) is replaced; the build's embedded cache is used until then", () => {
    const file = trainedCacheFile(base, 'sea-2-2', 'scan') as string;
    mkdirSync(join(base, 'code'), { recursive: true, mode: 0o700 });
    writeFileSync(file, Buffer.from('not a V8 code cache, just bytes of the right kind of size'), { mode: 0o600 });
    const source = bundle(11);
    const run = runBundle({ source, filename: '/x/chartorigin', require, embedded: compileOnlyCache(source), trained: file, persistOnExit: false });
    assert.equal(ran().value, 33);
    assert.equal(run.cache, 'none', 'the garbage was offered first and refused');
    run.persist();
    assert.equal(runBundle({ source, filename: '/x/chartorigin', require, trained: file, persistOnExit: false }).cache, 'trained', 'rewritten with a good one');
    const embedded = runBundle({ source: bundle(13), filename: '/x/chartorigin', require, embedded: compileOnlyCache(bundle(13)), persistOnExit: false });
    assert.equal(embedded.cache, 'embedded');
    // V8 compares a source's length, not its text (the file name carries the build for that): another length is refused.
    assert.equal(runBundle({ source: bundle(170), filename: '/x/chartorigin', require, embedded: compileOnlyCache(bundle(19)), persistOnExit: false }).cache, 'none', "another source's cache is refused");
  });

  it('a cache file or directory others can write is neither read nor replaced', () => {
    const dir = join(base, 'shared', 'code');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'sea-3-3.scan.v8');
    const source = bundle(23);
    const good = runBundle({ source, filename: '/x/c', require, trained: join(base, 'tmp-good.v8'), persistOnExit: false });
    good.persist();
    writeFileSync(file, readFileSync(join(base, 'tmp-good.v8')), { mode: 0o600 });
    chmodSync(dir, 0o777);
    const before = readFileSync(file);
    const run = runBundle({ source, filename: '/x/c', require, trained: file, persistOnExit: false });
    assert.equal(run.cache, 'none', 'not read from a world-writable directory');
    run.persist();
    assert.deepEqual(readFileSync(file), before, 'not replaced either');
    chmodSync(dir, 0o700);
    chmodSync(file, 0o620);
    assert.equal(runBundle({ source, filename: '/x/c', require, trained: file, persistOnExit: false }).cache, 'none', 'a group-writable file is not read');
    chmodSync(file, 0o600);
    assert.equal(runBundle({ source, filename: '/x/c', require, trained: file, persistOnExit: false }).cache, 'trained');
  });

  it('a trained cache older than a day is written again, from a run that started with it', () => {
    const file = trainedCacheFile(base, 'sea-5-5', 'scan') as string;
    const source = bundle(31);
    runBundle({ source, filename: '/x/c', require, trained: file, persistOnExit: false }).persist();
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    utimesSync(file, twoDaysAgo, twoDaysAgo);
    const run = runBundle({ source, filename: '/x/c', require, trained: file, persistOnExit: false });
    assert.equal(run.cache, 'trained', 'still used');
    run.persist();
    assert.ok(Date.now() - statSync(file).mtimeMs < 60_000, 'and rewritten');
  });

  it("import() in the bundle loads modules only when asked to (the npm bin's; the executable's does not)", async () => {
    const source = 'globalThis.__codeCacheImport = import("node:os").then((m) => typeof m.cpus, (e) => e.code);\n';
    const result = (): Promise<string> => (globalThis as unknown as { __codeCacheImport: Promise<string> }).__codeCacheImport;
    runBundle({ source, filename: '/x/c.cjs', require, dynamicImport: true, persistOnExit: false });
    assert.equal(await result(), 'function');
    runBundle({ source: `${source} `, filename: '/x/c.cjs', require, persistOnExit: false });
    assert.equal(await result(), 'ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING');
  });

  it("writing removes another build's caches unused for a week; no cache directory means no file", () => {
    const dir = join(base, 'code');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const name of ['sea-old-1.scan.v8', 'sea-recent-1.scan.v8', 'sea-4-4.inspect.v8']) writeFileSync(join(dir, name), 'x');
    const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600 * 1000);
    utimesSync(join(dir, 'sea-old-1.scan.v8'), eightDaysAgo, eightDaysAgo);
    utimesSync(join(dir, 'sea-4-4.inspect.v8'), eightDaysAgo, eightDaysAgo);
    runBundle({ source: bundle(29), filename: '/x/c', require, trained: trainedCacheFile(base, 'sea-4-4', 'scan'), persistOnExit: false }).persist();
    const left = readdirSync(dir);
    assert.ok(!left.includes('sea-old-1.scan.v8'), 'another build, a week unused: removed');
    assert.ok(left.includes('sea-recent-1.scan.v8'), 'another build in use: kept');
    assert.ok(left.includes('sea-4-4.inspect.v8') && left.includes('sea-4-4.scan.v8'), "this build's caches stay");
    assert.equal(trainedCacheFile(undefined, 'sea-4-4', 'scan'), undefined);
  });
});
