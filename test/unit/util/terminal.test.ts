/**
 * Untrusted text on its way to a terminal (src/util/terminal.ts) and the table that prints it
 * (src/cli/output.ts): escapes are shown, never interpreted; one table line per release whatever the input.
 * Fuzzed with a fixed seed so a failure reproduces exactly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isTerminalSafe, neutralize, plainText } from '../../../src/util/terminal.ts';
import { renderTable } from '../../../src/cli/output.ts';
import { plainCondition } from '../../../src/publish/chart-origins.ts';
import type { OriginReport } from '../../../src/model/report.ts';

const SEED = 20261130;
/** What a terminal or a reader could be fooled by: C0, DEL, C1, bidi controls, separators, zero-width, lone surrogates. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]/u;
const HOSTILE = 'web"\n# HELP x\nevil{a="b"}\u001b]0;owned\u0007\u001b[2J';

function report(name: string, chart: string, version: string, repository?: string): OriginReport {
  return {
    release: { name, namespace: 'apps', revision: 1, status: 'deployed', storage: 'Secret' },
    chart: { name: chart, version, deprecated: false },
    origin: { match: 'NotFound', repository },
    lastChecked: '2026-11-30T00:00:00Z',
    conditions: [],
  };
}

describe('neutralize', () => {
  it('shows the issue\'s hostile chart name as one escaped line', () => {
    assert.equal(neutralize(HOSTILE), 'web"\\n# HELP x\\nevil{a="b"}\\x1b]0;owned\\x07\\x1b[2J');
  });

  it('escapes C0, DEL, C1 (one-byte CSI U+009B), bidi overrides and isolates, separators, BOM and lone surrogates', () => {
    assert.equal(neutralize('a\rb\tc\u0000d\u007fe\u0085f\u009b31m'), 'a\\rb\\tc\\x00d\\x7fe\\x85f\\x9b31m');
    assert.equal(neutralize('invoice\u202eexe.txt'), 'invoice\\u202eexe.txt');
    assert.equal(neutralize('\u2066x\u2067y\u2068z\u2069 \u200e\u200f\u061c'), '\\u2066x\\u2067y\\u2068z\\u2069 \\u200e\\u200f\\u061c');
    assert.equal(neutralize('l1\u2028l2\u2029\ufeff\u200b'), 'l1\\u2028l2\\u2029\\ufeff\\u200b');
    assert.equal(neutralize('x\ud800y'), 'x\\ud800y');
  });

  it('doubles backslashes, so typed escape letters cannot pass for an escaped character', () => {
    assert.equal(neutralize('a\\nb'), 'a\\\\nb');
    assert.notEqual(neutralize('a\\nb'), neutralize('a\nb'));
  });

  it('leaves printable text alone, including non-Latin scripts and emoji', () => {
    for (const s of ['nginx-ingress', 'ウェブ', 'añejo 1.2.3+build.7', '🚀 chart', 'ключ']) {
      assert.equal(neutralize(s), s);
      assert.ok(isTerminalSafe(s));
    }
  });

  it('fuzz: the result never holds a control character and distinct inputs stay distinct', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 }), (a, b) => {
        const na = neutralize(a);
        assert.ok(!CONTROL.test(na), JSON.stringify(na));
        assert.ok(isTerminalSafe(na));
        if (a !== b) assert.notEqual(na, neutralize(b));
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });
});

describe('plainText (Events, conditions)', () => {
  it('keeps the text readable: line breaks become spaces, escape sequences lose their ESC/BEL', () => {
    assert.equal(plainText(HOSTILE), 'web" # HELP x evil{a="b"}]0;owned[2J');
    assert.equal(plainText('a\u202eb\u2028c'), 'ab c');
  });

  it('is bounded in UTF-8 bytes (the Event note limit), never splitting a character', () => {
    assert.equal(plainText('abcdef', 5), 'ab…');
    assert.equal(plainText('ab🚀cd', 7), 'ab…', 'the rocket (4 bytes) does not fit beside the ellipsis');
    assert.equal(plainText('abcd', 4), 'abcd');
    assert.equal(Buffer.byteLength(plainText('ウェブ'.repeat(1000))), 1023);
  });

  it('fuzz: at most max bytes, no control character', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), fc.integer({ min: 3, max: 120 }), (s, max) => {
        const out = plainText(s, max);
        assert.ok(Buffer.byteLength(out) <= max);
        assert.ok(!CONTROL.test(out), JSON.stringify(out));
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });
});

describe('plainCondition (every condition the controller writes)', () => {
  it('strips control characters and bounds the message to metav1.Condition\'s 32768', () => {
    const c = plainCondition({ type: 'Ready', status: 'False', reason: 'DecodeError', message: `${HOSTILE}${'x'.repeat(40_000)}`, lastTransitionTime: '2026-11-30T00:00:00Z' });
    assert.ok(c.message.startsWith('web" # HELP x evil{a="b"}]0;owned[2J'));
    assert.equal(Buffer.byteLength(c.message), 32768);
    assert.ok(!CONTROL.test(c.message));
    assert.equal(c.reason, 'DecodeError');
  });
});

describe('renderTable', () => {
  it('prints the hostile chart name in one escaped row', () => {
    const out = renderTable([report('web', HOSTILE, '1.0.0\u001b[31m'), report('ok', 'nginx', '1.0.0')]);
    const lines = out.trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[1] ?? '', /^apps\s+web\s+web"\\n# HELP x\\nevil\{a="b"\}\\x1b\]0;owned\\x07\\x1b\[2J\s+1\.0\.0\\x1b\[31m\s+-/);
    assert.ok(!out.includes('\u001b'));
  });

  it('fuzz: one line per release and no control character in any line, whatever the release says', () => {
    const text = fc.string({ unit: 'binary', maxLength: 40 });
    const rep = fc.tuple(text, text, text, fc.option(text, { nil: undefined })).map(([n, c, v, r]) => report(n, c, v, r));
    fc.assert(
      fc.property(fc.array(rep, { maxLength: 8 }), (reports) => {
        const out = renderTable(reports);
        assert.ok(out.endsWith('\n'));
        const lines = out.slice(0, -1).split('\n');
        assert.equal(lines.length, reports.length + 1, JSON.stringify(out));
        for (const line of lines) assert.ok(!CONTROL.test(line), JSON.stringify(line));
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });
});
