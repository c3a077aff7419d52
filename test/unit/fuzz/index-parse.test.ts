/**
 * Property-based fuzzing of the index.yaml parser: arbitrary and mutated index text either parses or is
 * refused with RepoError('invalid_index' | 'too_large') — never another exception (which would surface
 * as an unlabelled repository failure), never a hang. Generated well-formed indexes keep every version,
 * newest first. Fixed seed: a failure reproduces exactly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { dump } from 'js-yaml';
import { parseIndex } from '../../../src/sources/http/index-parse.ts';
import { BlockNotAlone, lazyIndex } from '../../../src/sources/http/index-lazy.ts';
import { compareVersionsDesc } from '../../../src/chart/version.ts';
import { RepoError } from '../../../src/model/repository.ts';
import { fixture } from '../helpers.ts';

const SEED = 20261122;
const OPTS = { repository: 'fuzz', repoUrl: 'https://charts.example.com/sub/?token=t', maxBytes: 256 * 1024, maxVersions: 200 };
const real = fixture('repo/index.yaml').toString('utf8');
const realRelative = fixture('repo/fork-index-relative.yaml').toString('utf8');

type Outcome = { ok: true; index: ReturnType<typeof parseIndex> } | { ok: false; reason: string };

function parseOrDocumentedError(input: string | Uint8Array): Outcome {
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  const started = performance.now();
  try {
    const index = parseIndex(bytes, OPTS);
    for (const [name, list] of index) {
      assert.ok(list.length > 0, `chart ${name} listed with no versions`);
      for (const e of list) {
        assert.equal(e.name, name);
        assert.equal(typeof e.version, 'string');
        assert.ok(e.digest === undefined || /^sha256:[0-9a-f]{64}$/.test(e.digest));
        // Absolute chart URLs are kept verbatim (Helm does too, and fails only on download); relative ones are resolved.
        for (const u of e.urls) assert.match(u, /^[a-zA-Z][a-zA-Z0-9+.-]*:/);
      }
      const versions = list.map((e) => e.version);
      assert.deepEqual(versions, [...versions].sort(compareVersionsDesc), `chart ${name} not newest first`);
      assert.equal(new Set(versions).size, versions.length, `chart ${name} repeats a version`);
    }
    return { ok: true, index };
  } catch (err) {
    if (!(err instanceof RepoError)) {
      assert.fail(`expected RepoError, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    }
    assert.ok(err.reason === 'invalid_index' || err.reason === 'too_large', `unexpected reason ${err.reason}`);
    assert.equal(err.repository, 'fuzz');
    assert.ok(!err.message.includes('token=t'), 'error message quotes the repository URL query');
    return { ok: false, reason: err.reason };
  } finally {
    assert.ok(performance.now() - started < 2000, 'one parse took over 2 s');
  }
}

// Characters that change YAML structure, so that mutations reach the interesting parser states.
const yamlChar = fc.constantFrom(...' \t\n:-#&*!|>{}[],"\'%@`?~\u00a0\ufeffx0.'.split(''));

/** One edit of index text: replace, insert or delete a span; duplicate, drop or re-indent a line. */
const edit = fc.oneof(
  fc.record({ op: fc.constant('replace' as const), at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), len: fc.nat({ max: 8 }), with: fc.string({ unit: yamlChar, maxLength: 6 }) }),
  fc.record({ op: fc.constant('line' as const), at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), how: fc.constantFrom('drop', 'dup', 'indent', 'dedent', 'tab') }),
);
type Edit = typeof edit extends fc.Arbitrary<infer T> ? T : never;

function applyEdits(text: string, edits: Edit[]): string {
  let t = text;
  for (const e of edits) {
    if (e.op === 'replace') {
      const i = Math.floor(e.at * t.length);
      t = t.slice(0, i) + e.with + t.slice(i + e.len);
    } else {
      const lines = t.split('\n');
      const i = Math.floor(e.at * lines.length);
      const line = lines[i] ?? '';
      if (e.how === 'drop') lines.splice(i, 1);
      else if (e.how === 'dup') lines.splice(i, 0, line);
      else if (e.how === 'indent') lines[i] = `  ${line}`;
      else if (e.how === 'dedent') lines[i] = line.replace(/^ {1,2}/, '');
      else lines[i] = `\t${line}`;
      t = lines.join('\n');
    }
  }
  return t;
}

const semverish = fc.oneof(
  fc.tuple(fc.nat({ max: 20 }), fc.nat({ max: 20 }), fc.nat({ max: 20 }), fc.option(fc.constantFrom('rc.1', 'alpha', 'beta.2'), { nil: undefined }))
    .map(([a, b, c, pre]) => `${a}.${b}.${c}${pre ? `-${pre}` : ''}`),
  fc.constantFrom('v1.2', '1.10', 'latest', '0.0.0+build'),
);

describe('fuzz: parseIndex', () => {
  it('the real fixtures parse (the mutations below start from valid input)', () => {
    const a = parseOrDocumentedError(real);
    const b = parseOrDocumentedError(realRelative);
    assert.ok(a.ok && a.index.size > 0);
    assert.ok(b.ok && b.index.size > 0);
  });

  it('arbitrary text and bytes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 400 }), fc.string({ unit: yamlChar, maxLength: 200 }), fc.uint8Array({ maxLength: 400 })), (input) => {
        parseOrDocumentedError(input);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('the real index.yaml with random edits', () => {
    const reasons = new Set<string>();
    fc.assert(
      fc.property(fc.constantFrom(real, realRelative), fc.array(edit, { minLength: 1, maxLength: 5 }), (text, edits) => {
        const out = parseOrDocumentedError(applyEdits(text, edits));
        reasons.add(out.ok ? 'ok' : out.reason);
      }),
      { seed: SEED, numRuns: 300 },
    );
    assert.ok(reasons.has('ok') && reasons.has('invalid_index'), `outcomes: ${[...reasons].join(',')}`);
  });

  it('the lazy index (chart by chart) answers exactly as the whole parse, or sends the lookup to it', () => {
    let lazy = 0;
    let compared = 0;
    let deferred = 0;
    fc.assert(
      fc.property(fc.constantFrom(real, realRelative), fc.array(edit, { minLength: 1, maxLength: 3 }), (text, edits) => {
        const bytes = Buffer.from(applyEdits(text, edits));
        const index = lazyIndex(bytes, OPTS, 0);
        if (!index) return;
        lazy++;
        const whole = parseOrDocumentedError(bytes);
        const charts = new Set([...index.keys(), ...(whole.ok ? whole.index.keys() : [])]);
        for (const chart of charts) {
          let got;
          try {
            got = index.get(chart);
          } catch (err) {
            // The source then asks the whole parse (HttpChartSource.versions): never a different answer.
            if (err instanceof BlockNotAlone) {
              deferred++;
              continue;
            }
            assert.ok(err instanceof RepoError && err.reason === 'too_large', String(err));
            continue;
          }
          // A whole parse that refuses the file gives no answer to compare with (documented leniency).
          if (!whole.ok) continue;
          assert.deepEqual(got, whole.index.get(chart), chart);
          compared++;
        }
      }),
      { seed: SEED, numRuns: 3000 },
    );
    assert.ok(lazy > 150 && compared > 250 && deferred > 0, `lazy ${lazy}, compared ${compared}, deferred ${deferred}`);
  });

  it('the real index as JSON with random edits (the JSON fast path and its YAML fallback)', () => {
    const json = JSON.stringify(parseIndexDoc(real));
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
        parseOrDocumentedError(applyEdits(json, edits));
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('arbitrary JSON/YAML shapes with an apiVersion and entries', () => {
    const any = fc.jsonValue({ maxDepth: 3 });
    const entry = fc.record({ name: fc.oneof(fc.constant('a'), any), version: fc.oneof(semverish, any), urls: fc.oneof(fc.array(fc.oneof(fc.constantFrom('x.tgz', '/abs/x.tgz', 'http://[::1', 'oci://r/x', '%zz'), fc.string({ maxLength: 10 }))), any), digest: fc.oneof(fc.stringMatching(/^[0-9a-fA-F]{64}$/), any), deprecated: any, created: any, appVersion: any }, { requiredKeys: [] });
    const doc = fc.record({ apiVersion: fc.oneof(fc.constant('v1'), any), entries: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.array(entry, { maxLength: 4 }), any), { maxKeys: 4 }), any) }, { requiredKeys: [] });
    fc.assert(
      fc.property(doc, fc.boolean(), (d, asJson) => {
        parseOrDocumentedError(asJson ? JSON.stringify(d) : dump(d));
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('well-formed generated indexes keep every version of every chart Helm keeps, newest first', () => {
    const chartName = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/);
    const index = fc.dictionary(chartName, fc.uniqueArray(semverish, { minLength: 1, maxLength: 6 }), { minKeys: 1, maxKeys: 5 });
    fc.assert(
      fc.property(index, fc.boolean(), (charts, asJson) => {
        const entries = Object.fromEntries(Object.entries(charts).map(([n, vs]) => [n, vs.map((v) => ({ name: n, version: v, urls: [`${n}-${v}.tgz`] }))]));
        const text = asJson ? JSON.stringify({ apiVersion: 'v1', entries }) : dump({ apiVersion: 'v1', entries });
        const out = parseOrDocumentedError(text);
        assert.ok(out.ok);
        for (const [n, vs] of Object.entries(charts)) {
          const got: string[] = out.index.get(n)?.map((e) => e.version) ?? [];
          // `latest` is the one generated version Helm's semver check refuses.
          assert.deepEqual([...got].sort(), vs.filter((v) => v !== 'latest').sort());
          for (const e of out.index.get(n) ?? []) assert.ok(e.urls[0]?.startsWith('https://charts.example.com/sub/'), e.urls[0]);
        }
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('error messages never quote the index: a marker planted as a key, value, tag, alias or anchor stays out', () => {
    const MARK = 'Q7mrk9Z';
    const planted = fc.constantFrom(MARK, `*${MARK}`, `&${MARK}`, `!${MARK}`, `!<${MARK}>`, `${MARK}:`, `"${MARK}`, `'${MARK}`, `{${MARK}`, `[${MARK}`, `%${MARK}`, `? ${MARK}`, `- ${MARK}`, `|${MARK}`, `@${MARK}`, `\t${MARK}`);
    let refused = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(real, realRelative, JSON.stringify(parseIndexDoc(real))),
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), planted), { minLength: 1, maxLength: 3 }),
        fc.array(edit, { maxLength: 2 }),
        (text, plants, edits) => {
          let t = text;
          for (const [at, p] of plants) {
            const i = Math.floor(at * t.length);
            t = t.slice(0, i) + p + t.slice(i);
          }
          t = applyEdits(t, edits);
          try {
            parseIndex(Buffer.from(t), OPTS);
          } catch (err) {
            assert.ok(err instanceof RepoError, String(err));
            assert.ok(!err.message.includes(MARK), `message quotes the input: ${err.message}`);
            refused++;
          }
        },
      ),
      { seed: SEED, numRuns: 400 },
    );
    assert.ok(refused > 50, `only ${refused} inputs were refused`);
  });

  it('limits: oversized input and too many versions are too_large', () => {
    assert.deepEqual(parseOrDocumentedError(`apiVersion: v1\n# ${'x'.repeat(OPTS.maxBytes)}\n`), { ok: false, reason: 'too_large' });
    const many = { apiVersion: 'v1', entries: { a: Array.from({ length: OPTS.maxVersions + 1 }, (_, i) => ({ name: 'a', version: `1.0.${i}` })) } };
    assert.deepEqual(parseOrDocumentedError(dump(many)), { ok: false, reason: 'too_large' });
  });
});

function parseIndexDoc(text: string): unknown {
  const out = parseIndex(Buffer.from(text), OPTS);
  return { apiVersion: 'v1', entries: Object.fromEntries([...out].map(([n, list]) => [n, list.map((e) => ({ ...e }))])) };
}
