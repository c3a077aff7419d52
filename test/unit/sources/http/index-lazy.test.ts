/**
 * The lazy index (sources/http/index-lazy.ts) against the whole parse (parseIndex) on the same bytes: every
 * chart it answers for must be exactly what the whole parse gives, and anything it cannot answer alone must
 * go to the whole parse. The minimum size is lowered to 0 so that the real, helm-written fixtures take the
 * lazy path too.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { BlockNotAlone, LazyChartIndex, LAZY_MIN_BYTES, lazyIndex, readIndex } from '../../../../src/sources/http/index-lazy.ts';
import { parseIndex, type IndexParseOptions } from '../../../../src/sources/http/index-parse.ts';
import { syntheticIndexYaml } from '../../../harness/charts.ts';
import { expectRepoError } from '../../../support/repo-errors.ts';

const fixture = readFileSync(new URL('../../../fixtures/repo/index.yaml', import.meta.url));
const relative = readFileSync(new URL('../../../fixtures/repo/fork-index-relative.yaml', import.meta.url));
const opts: IndexParseOptions = { repository: 'main', repoUrl: 'https://charts.example.com/main' };

function lazyOf(bytes: Uint8Array | string): LazyChartIndex | undefined {
  return lazyIndex(typeof bytes === 'string' ? Buffer.from(bytes) : bytes, opts, 0);
}

/** Every chart of the whole parse, looked up lazily, is deeply equal; the lazy index lists no other chart with versions. */
function assertSameAsWhole(bytes: Uint8Array): LazyChartIndex {
  const lazy = lazyIndex(bytes, opts, 0);
  assert.ok(lazy, 'the lazy path applies');
  const whole = parseIndex(bytes, opts);
  assert.ok(whole.size > 0);
  for (const [chart, versions] of whole) assert.deepEqual(lazy.get(chart), versions, chart);
  assert.equal([...lazy.values()].length, whole.size);
  return lazy;
}

describe('lazy index: the same answers as the whole parse', () => {
  it('on the indexes helm repo index wrote (absolute and relative chart URLs)', () => {
    assertSameAsWhole(fixture);
    assertSameAsWhole(relative);
  });

  it('on a 3 MiB index, which readIndex reads lazily', async () => {
    const bytes = Buffer.from(syntheticIndexYaml(3 * 1024 * 1024));
    assert.ok(bytes.byteLength >= LAZY_MIN_BYTES);
    assert.ok((await readIndex(bytes, opts)) instanceof LazyChartIndex);
    assertSameAsWhole(bytes);
  });

  it('on non-ASCII text and a byte-order mark (byte offsets, not character offsets)', () => {
    const text = fixture.toString('utf8').replaceAll('The legacy test chart', 'Ünïcödé 图表 — 🚀 chart');
    assert.notEqual(text, fixture.toString('utf8'));
    const lazy = assertSameAsWhole(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]));
    assert.ok(lazy.get('webapp')?.length);
  });

  it('with quoted chart keys, comments and an empty chart', () => {
    const text = 'apiVersion: v1\n# a comment\nentries:\n  "quoted-chart":\n  - name: quoted-chart\n    version: 1.0.0\n    urls: [q.tgz]\n  empty: # none yet\n  plain:\n  # between items\n  - name: plain\n    version: 2.0.0\n  - name: plain\n    version: 2.1.0\ngenerated: "2024-01-01T00:00:00Z"\n';
    const lazy = assertSameAsWhole(Buffer.from(text));
    assert.equal(lazy.get('empty'), undefined);
    assert.deepEqual(lazy.get('plain')?.map((e) => e.version), ['2.1.0', '2.0.0']);
    assert.equal(lazy.size, 3, 'size counts chart keys');
  });

  it('does not parse a block before it is asked for', () => {
    const text = 'apiVersion: v1\nentries:\n  good:\n  - name: good\n    version: 1.0.0\n  broken:\n  - version: "1.0.0\n    x: [\n';
    const lazy = lazyOf(text);
    assert.ok(lazy);
    assert.equal(lazy.get('good')?.[0]?.version, '1.0.0');
    assert.throws(() => lazy.get('broken'), BlockNotAlone);
  });
});

describe('lazy index, compacted (block by block deflated, as the controller keeps it)', () => {
  it('answers the same before and after, and the whole parse reads the exact bytes back', async () => {
    const text = fixture.toString('utf8').replace('  webapp:\n', '  webapp:\n  - version: "9.9.9\n    x: [\n');
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]);
    const lazy = lazyIndex(bytes, opts, 0);
    assert.ok(lazy);
    const before = lazy.get('legacy');
    await lazy.compact();
    bytes.fill(0x20); // nothing may still read the original buffer
    assert.deepEqual(lazy.get('legacy'), before);
    assert.throws(() => lazy.get('webapp'), BlockNotAlone);
    await expectRepoError(lazy.parseWhole(), 'invalid_index', /malformed YAML at line \d+ column/);
  });

  it('a compacted 3 MiB index: every chart as the whole parse gives it', async () => {
    const bytes = Buffer.from(syntheticIndexYaml(3 * 1024 * 1024));
    const whole = parseIndex(bytes, opts);
    const lazy = lazyIndex(Buffer.from(bytes), opts);
    assert.ok(lazy);
    assert.deepEqual(lazy.get('chart-1'), whole.get('chart-1'), 'parsed before compaction');
    await lazy.compact();
    for (const [chart, versions] of whole) assert.deepEqual(lazy.get(chart), versions, chart);
    assert.deepEqual(await lazy.parseWhole(), whole);
  });

  it('keeps what the blocks deflate to, not slabs of the shared buffer pool', async () => {
    const text = syntheticIndexYaml(3 * 1024 * 1024);
    const lazy = lazyIndex(Buffer.from(text), opts);
    assert.ok(lazy);
    // A process does other work while it compacts (the controller keeps syncing): small buffers cut from the
    // same 64 KiB pool slabs as zlib's results.
    let compacting = true;
    const busy = (async () => {
      while (compacting) {
        for (let i = 0; i < 64; i++) Buffer.from(`other work ${i}`.repeat(40));
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    })();
    await lazy.compact();
    compacting = false;
    await busy;
    // 88 charts deflate to ~130 KiB; a block cut from a pool slab would keep 64 KiB (5.5 MiB for 88).
    const kept = lazy.retainedBytes();
    assert.ok(kept < 512 * 1024, `${kept} bytes kept by ${lazy.size} compacted charts`);
    assert.deepEqual(lazy.get('chart-1'), parseIndex(Buffer.from(text), opts).get('chart-1'));
  });
});

describe('lazy index: what goes to the whole parse', () => {
  const base = fixture.toString('utf8');
  const cases: Record<string, string> = {
    'an alias across chart blocks': 'apiVersion: v1\nentries:\n  a:\n  - &v\n    version: 1.0.0\n  b:\n  - *v\n',
    'a tag': 'apiVersion: v1\nentries:\n  a:\n  - version: !!str 1.0.0\n',
    'JSON': JSON.stringify({ apiVersion: 'v1', entries: { a: [{ version: '1.0.0' }] } }),
    'flow-style entries': 'apiVersion: v1\nentries: {a: [{version: 1.0.0}]}\n',
    'a repeated chart key': 'apiVersion: v1\nentries:\n  a:\n  - version: 1.0.0\n  a:\n  - version: 2.0.0\n',
    'no apiVersion': 'entries:\n  a:\n  - version: 1.0.0\n',
    'a second entries key': 'apiVersion: v1\nentries:\n  a:\n  - version: 1.0.0\nentries: {}\n',
    'a head that does not parse': 'apiVersion: [v1\nentries:\n  a:\n  - version: 1.0.0\n',
    // Its versions on the key's line: no block of its own, it would be lost inside the chart before it.
    'a chart in flow style after a block one': 'apiVersion: v1\nentries:\n  app:\n  - name: app\n    version: 1.0.0\n  tool: [{name: tool, version: 2.0.0}]\n',
  };
  for (const [what, text] of Object.entries(cases)) {
    it(`${what}: not lazy`, () => assert.equal(lazyOf(text), undefined));
  }

  it('invalid UTF-8 (offsets would shift): not lazy', () => {
    const bytes = Buffer.from(base);
    const at = bytes.indexOf('The legacy');
    bytes[at] = 0xff;
    assert.equal(lazyOf(bytes), undefined);
    assert.ok(lazyOf(base), 'the same text without the bad byte is');
  });

  it('an index below the minimum size: not lazy by default', () => {
    assert.equal(lazyIndex(fixture, opts), undefined);
  });

  it('a block that does not parse alone: the whole parse gives the error and its line', async () => {
    const text = `${base.replace(/\n$/, '')}\n`.replace('  webapp:\n', '  webapp:\n  - version: "1.0.0\n    x: [\n');
    const lazy = lazyOf(text);
    assert.ok(lazy);
    assert.throws(() => lazy.get('webapp'), BlockNotAlone);
    assert.ok(lazy.get('legacy')?.length, 'other charts still answer');
    const line = text.slice(0, text.indexOf('  - version: "1.0.0')).split('\n').length;
    await expectRepoError(lazy.parseWhole(), 'invalid_index', new RegExp(`malformed YAML at line (${line}|${line + 1}|${line + 2}) column`));
  });
});
