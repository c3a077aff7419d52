import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { chartStoreIn, openChartStore } from '../../../src/cli/chart-store.ts';
import { PublishedChartCache, type PublishedChart } from '../../../src/resolve/chart-cache.ts';

const base = mkdtempSync(join(tmpdir(), 'chartorigin-chart-store-'));
after(() => rmSync(base, { recursive: true, force: true }));

const digest = (c: string): string => `sha256:${c.repeat(64)}`;
const chart = (d: string, extra: Partial<PublishedChart> = {}): PublishedChart => ({
  tarballDigest: d,
  fingerprint: { metadata: digest('1'), values: digest('2'), schema: '', templates: { 'templates/a.yaml': digest('3') }, files: {}, lock: '' },
  tree: '{"m":{"name":"a"},"v":{},"d":[]}',
  ...extra,
});

describe('the CLI chart store (on disk, by tarball digest)', () => {
  it('reads back what it wrote; refuses entries of another digest, another format, or corrupt files', () => {
    const store = chartStoreIn(base, 'build-0000000000000001');
    assert.equal(store.read(digest('a')), undefined, 'nothing yet');
    store.write(digest('a'), chart(digest('a')));
    assert.deepEqual(store.read(digest('a')), { ...chart(digest('a')), manifestDigest: undefined });
    const dir = join(base, 'charts', 'build-0000000000000001');
    assert.deepEqual(readdirSync(dir), [`${'a'.repeat(64)}.json`]);
    // An entry under another digest's name, an old format, or garbage: a miss, never an error.
    writeFileSync(join(dir, `${'b'.repeat(64)}.json`), readFileSync(join(dir, `${'a'.repeat(64)}.json`)));
    assert.equal(store.read(digest('b')), undefined);
    writeFileSync(join(dir, `${'c'.repeat(64)}.json`), JSON.stringify({ ...chart(digest('c')), format: 0 }));
    assert.equal(store.read(digest('c')), undefined);
    writeFileSync(join(dir, `${'d'.repeat(64)}.json`), '{"format":1,');
    assert.equal(store.read(digest('d')), undefined);
  });

  it("a build's first write removes other builds' entries unused for a week; an unwritable place is no error", () => {
    const stale = join(base, 'charts', 'build-00000000000000aa');
    const recent = join(base, 'charts', 'build-00000000000000cc');
    for (const d of [stale, recent]) {
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'x.json'), '{}');
    }
    const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600 * 1000);
    utimesSync(stale, eightDaysAgo, eightDaysAgo);
    chartStoreIn(base, 'build-00000000000000bb').write(digest('e'), chart(digest('e')));
    const left = readdirSync(join(base, 'charts'));
    assert.ok(!left.includes('build-00000000000000aa'), 'a week unused: removed');
    assert.ok(left.includes('build-00000000000000cc'), 'another build in use (npm and the executable side by side): kept');
    const file = join(base, 'not-a-dir');
    writeFileSync(file, '');
    const broken = chartStoreIn(file, 'build-0000000000000001');
    broken.write(digest('a'), chart(digest('a')));
    assert.equal(broken.read(digest('a')), undefined);
  });

  it('run from source (development) there is no store', () => {
    assert.equal(openChartStore({ CHARTORIGIN_CACHE_DIR: base }), undefined);
  });
});

describe('PublishedChartCache with a store', () => {
  const memoryStore = (): { store: { read(d: string): PublishedChart | undefined; write(d: string, c: PublishedChart): void }; saved: Map<string, PublishedChart> } => {
    const saved = new Map<string, PublishedChart>();
    return { saved, store: { read: (d) => saved.get(d), write: (d, c) => void saved.set(d, c) } };
  };

  it('a digest key is served from the store without loading; a loaded chart is stored when its digest is the key', async () => {
    const { store, saved } = memoryStore();
    let loads = 0;
    const load = (c: PublishedChart) => async (): Promise<PublishedChart> => (loads++, c);
    const first = new PublishedChartCache(10, 1 << 20, store);
    await first.get(digest('a'), load(chart(digest('a'))));
    assert.equal(loads, 1);
    assert.ok(saved.has(digest('a')));
    // A new process: the store answers.
    const second = new PublishedChartCache(10, 1 << 20, store);
    assert.equal((await second.get(digest('a'), load(chart(digest('a'))))).tarballDigest, digest('a'));
    assert.equal(loads, 1, 'not downloaded again');
  });

  it('never stores a download whose digest differs from the key, one with a .prov, or a key that is not a digest', async () => {
    const { store, saved } = memoryStore();
    const cache = new PublishedChartCache(10, 1 << 20, store);
    await cache.get(digest('a'), async () => chart(digest('f')));
    await cache.get(digest('b'), async () => chart(digest('b'), { provenance: Buffer.from('prov') }));
    await cache.get(`main|${digest('c')}`, async () => chart(digest('c')));
    assert.deepEqual([...saved.keys()], []);
  });
});
