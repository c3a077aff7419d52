import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { normalizeDigest, parseIndex } from '../../../../src/sources/http/index-parse.ts';
import { RepoError } from '../../../../src/model/repository.ts';
import { syntheticIndexYaml } from '../../../harness/charts.ts';
import { rejects } from '../../../support/repo-errors.ts';

const fixture = readFileSync(new URL('../../../fixtures/repo/index.yaml', import.meta.url));
const relative = readFileSync(new URL('../../../fixtures/repo/fork-index-relative.yaml', import.meta.url));
const opts = { repository: 'main', repoUrl: 'https://charts.example.com/main' };

function parseText(text: string, extra: Partial<typeof opts> & { maxBytes?: number; maxVersions?: number } = {}) {
  return parseIndex(Buffer.from(text), { ...opts, ...extra });
}


describe('parseIndex on an index written by helm repo index', () => {
  const index = parseIndex(fixture, opts);

  it('lists charts with versions newest first, pre-releases by semver', () => {
    assert.deepEqual([...index.keys()].sort(), ['legacy', 'webapp']);
    assert.deepEqual(index.get('webapp')?.map((e) => e.version), ['3.0.0-rc.1', '2.0.0', '1.2.0', '1.1.0', '1.0.0']);
    assert.deepEqual(index.get('legacy')?.map((e) => e.version), ['1.0.0', '0.9.0']);
  });

  it('keeps exactly the fields chartorigin uses, typed as Helm reads them', () => {
    const legacy = index.get('legacy')?.[0];
    assert.ok(legacy);
    assert.deepEqual(Object.keys(legacy).sort(), ['appVersion', 'created', 'deprecated', 'digest', 'name', 'urls', 'version']);
    assert.equal(legacy.name, 'legacy');
    assert.equal(legacy.appVersion, '1.0');
    assert.equal(legacy.deprecated, true);
    assert.equal(index.get('legacy')?.[1]?.deprecated, false);
    assert.match(legacy.created ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
    assert.match(legacy.digest ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(legacy.urls, ['https://charts.example.com/main/legacy-1.0.0.tgz']);
  });

  it('resolves the relative URLs of `helm repo index` without --url against the repository URL', () => {
    const fork = parseIndex(relative, { repository: 'fork', repoUrl: 'https://fork.example.com/charts?token=t' });
    assert.deepEqual(fork.get('webapp')?.[0]?.urls, ['https://fork.example.com/charts/webapp-1.1.0.tgz?token=t']);
  });

  it('parses the same content as JSON identically', async () => {
    const { load } = await import('js-yaml');
    const json = JSON.stringify(load(fixture.toString()));
    assert.deepEqual(parseText(json), index);
  });
});

describe('parseIndex details', () => {
  it('accepts Helm lenient versions, sorts them by semver and drops what Helm does not parse', () => {
    const idx = parseText(`apiVersion: v1
entries:
  a:
  - {name: a, version: latest, urls: [a.tgz]}
  - {name: a, version: v1.2, urls: [a.tgz]}
  - {name: a, version: 1.10.0}
  - {name: a, version: nightly}
  - {name: a, version: 1.2.1-beta.1}
  - {name: a, version: "1.9"}
`);
    assert.deepEqual(idx.get('a')?.map((e) => e.version), ['1.10.0', '1.9', '1.2.1-beta.1', 'v1.2']);
  });

  it('keeps numeric-looking scalars as written (version 1.10 is not 1.1)', () => {
    const idx = parseText('apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.10\n    appVersion: 2.0\n');
    assert.equal(idx.get('a')?.[0]?.version, '1.10');
    assert.equal(idx.get('a')?.[0]?.appVersion, '2.0');
  });

  it('normalizes digests with or without the sha256: prefix and drops invalid ones', () => {
    const hex = 'AB'.repeat(32);
    const idx = parseText(`apiVersion: v1
entries:
  a:
  - {name: a, version: 1.0.0, digest: "${hex}"}
  - {name: a, version: 2.0.0, digest: "sha256:${hex.toLowerCase()}"}
  - {name: a, version: 3.0.0, digest: "md5:abc"}
  - {name: a, version: 4.0.0, digest: "${hex.slice(2)}"}
`);
    const d = idx.get('a')?.map((e) => e.digest);
    assert.deepEqual(d, [undefined, undefined, `sha256:${hex.toLowerCase()}`, `sha256:${hex.toLowerCase()}`]);
    assert.equal(normalizeDigest(42), undefined);
  });

  it('de-duplicates repeated versions, keeping the first', () => {
    const idx = parseText('apiVersion: v1\nentries:\n  a:\n  - {name: a, version: 1.0.0, appVersion: first}\n  - {name: a, version: 1.0.0, appVersion: second}\n');
    assert.equal(idx.get('a')?.length, 1);
    assert.equal(idx.get('a')?.[0]?.appVersion, 'first');
  });

  it('reads YAML 1.1 booleans for deprecated and treats null scalars as absent', () => {
    const idx = parseText('apiVersion: v1\nentries:\n  a:\n  - {name: a, version: 1.0.0, deprecated: yes, appVersion: ~}\n  - {name: a, version: 0.1.0, deprecated: false, appVersion: null}\n');
    assert.equal(idx.get('a')?.[0]?.deprecated, true);
    assert.equal(idx.get('a')?.[0]?.appVersion, undefined);
    assert.equal(idx.get('a')?.[1]?.deprecated, false);
  });

  it('skips entries without a version and charts whose value is not a list', () => {
    const idx = parseText('apiVersion: v1\nentries:\n  a:\n  - {name: a}\n  - {name: a, version: 1.0.0}\n  b: oops\n  c:\n');
    assert.deepEqual([...idx.keys()], ['a']);
    assert.equal(idx.get('a')?.length, 1);
  });

  it('accepts an index without entries and a UTF-8 BOM', () => {
    assert.equal(parseText('\ufeffapiVersion: v1\nentries: {}\n').size, 0);
    assert.equal(parseText('apiVersion: v1\n').size, 0);
  });

  it('parses flow-style and anchor-using YAML (the whole-document path)', () => {
    const idx = parseText('apiVersion: v1\nentries:\n  a:\n  - &x {name: a, version: 1.0.0, urls: [a-1.0.0.tgz]}\n  b:\n  - *x\n');
    assert.deepEqual(idx.get('b')?.[0]?.urls, ['https://charts.example.com/main/a-1.0.0.tgz']);
    assert.equal(idx.get('b')?.[0]?.name, 'b');
    const flow = parseText('{"apiVersion": "v1", "entries": {"a": [{"name": "a", "version": "1.0.0", "deprecated": true}]}}');
    assert.equal(flow.get('a')?.[0]?.deprecated, true);
  });

  it('reports malformed YAML with a position and without the content', () => {
    rejects(() => parseText('apiVersion: v1\nentries:\n  a:\n  - version: "1.0.0\n    secret: hunter2\n'), 'invalid_index', /repository main: invalid index: malformed YAML at line \d+ column \d+/);
    try {
      parseText('apiVersion: v1\nentries:\n  a: [ {version: hunter2 }\n');
    } catch (err) {
      assert.ok(err instanceof RepoError);
      assert.doesNotMatch(err.message, /hunter2/);
    }
  });

  it('reports malformed JSON with a position', () => {
    rejects(() => parseText('{"apiVersion": "v1", "entries": {"a": [}}'), 'invalid_index', /malformed JSON at line 1 column \d+/);
  });

  it('refuses documents that are not an index', () => {
    rejects(() => parseText('- a\n- b\n'), 'invalid_index', /not a mapping/);
    rejects(() => parseText('entries: {}\n'), 'invalid_index', /no apiVersion/);
    rejects(() => parseText('apiVersion: v1\nentries: [1, 2]\n'), 'invalid_index', /`entries` is not a mapping/);
    rejects(() => parseText('<html><body>Not Found</body></html>'), 'invalid_index', /not a mapping/);
  });

  it('enforces the size and version-count limits', () => {
    rejects(() => parseIndex(fixture, { ...opts, maxBytes: 100 }), 'too_large', /more than the limit of 100/);
    rejects(() => parseIndex(fixture, { ...opts, maxVersions: 3 }), 'too_large', /more than 3 chart versions/);
  });
});

describe('parseIndex chunked YAML path', () => {
  it('gives exactly what the JSON form of the same index gives', async () => {
    const { load, FAILSAFE_SCHEMA } = await import('js-yaml');
    const yaml = syntheticIndexYaml(1024 * 1024);
    const fromYaml = parseText(yaml);
    // Strings everywhere, as Helm reads these fields (an all-digit digest is not a number).
    const fromJson = parseText(JSON.stringify(load(yaml, { schema: FAILSAFE_SCHEMA })));
    assert.ok(fromYaml.size > 20);
    assert.deepEqual(fromYaml, fromJson);
  });

  it('falls back to the whole document when a chart block does not parse alone', () => {
    // The alias crosses chart blocks, so the per-chart parse fails and the full parse must resolve it.
    const idx = parseText('apiVersion: v1\nentries:\n  a:\n  - &v\n    name: a\n    version: 1.0.0\n  b:\n  - *v\ngenerated: "x"\n');
    assert.equal(idx.get('b')?.[0]?.version, '1.0.0');
  });
});

describe('parseIndex on a 20 MB index', () => {
  // Its speed is measured by bench/index-parse.ts (npm run bench:index), not here: a wall-clock bound
  // failed this test at 6.7 s on a 2-core machine running other builds (0.8 s when idle).
  it('parses every version and keeps only the small fields', () => {
    const big = Buffer.from(syntheticIndexYaml(20 * 1024 * 1024));
    const idx = parseIndex(big, { repository: 'big', repoUrl: 'https://big.example.com/charts' });
    let versions = 0;
    for (const list of idx.values()) versions += list.length;
    assert.ok(versions > 20_000, `${versions} versions`);
    const first = idx.get('chart-0')?.[0];
    assert.equal(first?.version, '3.9.1');
    assert.deepEqual(first?.urls, ['https://big.example.com/charts/chart-0-3.9.1.tgz']);
  });
});

describe('parseIndex publisher notes', () => {
  it('keeps artifacthub.io annotations, home and the first source; changes only for the newest 20 versions', () => {
    const versions = Array.from({ length: 22 }, (_, i) => `  - name: web
    version: 1.${21 - i}.0
    home: https://example.com/web
    sources: [https://github.com/example/web, https://mirror.example.com]
    annotations:
      artifacthub.io/changes: |
        - kind: fixed
          description: fix in 1.${21 - i}.0
      artifacthub.io/containsSecurityUpdates: "${i === 21 ? 'true' : 'false'}"
      artifacthub.io/prerelease: "${i === 0 ? 'true' : 'false'}"
      other.example/annotation: ignored
`).join('');
    const idx = parseText(`apiVersion: v1\nentries:\n  web:\n${versions}  plain:\n  - name: plain\n    version: 1.0.0\n`);
    const web = idx.get('web') ?? [];
    assert.equal(web.length, 22);
    assert.deepEqual(web[0]?.notes, { changes: '- kind: fixed\n  description: fix in 1.21.0\n', prerelease: true, home: 'https://example.com/web', source: 'https://github.com/example/web' });
    assert.deepEqual(web[1]?.notes, { changes: '- kind: fixed\n  description: fix in 1.20.0\n', home: undefined, source: undefined }, 'home and sources describe the chart: kept once');
    assert.equal(web[20]?.notes?.changes, undefined, 'changes beyond the newest 20 versions are dropped');
    assert.deepEqual(web[21]?.notes, { securityUpdates: true, home: undefined, source: undefined, changes: undefined });
    assert.equal(idx.get('plain')?.[0]?.notes, undefined, 'no object for an entry without notes');
  });

  it('drops a changes annotation larger than 16 KiB', () => {
    const big = `- ${'x'.repeat(17 * 1024)}`;
    const idx = parseText(JSON.stringify({ apiVersion: 'v1', entries: { a: [{ name: 'a', version: '1.0.0', annotations: { 'artifacthub.io/changes': big } }] } }));
    assert.equal(idx.get('a')?.[0]?.notes, undefined);
  });
});
