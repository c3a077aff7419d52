import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sanitizeString } from '../../../src/chart/fingerprint.ts';

// Helm's chart.Metadata.Validate → sanitizeString (pkg/chart/metadata.go): unicode.IsSpace becomes ' ',
// !unicode.IsPrint is dropped, the rest kept.
describe("sanitizeString (Helm's rule for Chart.yaml strings)", () => {
  it('printable ASCII, taken as it is, is what the character-by-character rule gives', () => {
    for (let c = 0x20; c <= 0x7e; c++) {
      const ch = String.fromCharCode(c);
      assert.equal(sanitizeString(ch), ch);
      // 'é' sends the same character through the character-by-character rule.
      assert.equal(sanitizeString(`${ch}é`), `${ch}é`, `U+${c.toString(16)}`);
    }
  });

  it('controls, Go spaces and unprintable characters', () => {
    assert.equal(sanitizeString('a\tb\nc\u00a0d\u2028e'), 'a b c d e');
    assert.equal(sanitizeString('a\u0000b\u0007c\u007fd\u200be'), 'abcde', 'C0 controls, DEL and a zero-width space are not printable');
    assert.equal(sanitizeString('naïve ☃ 日本'), 'naïve ☃ 日本');
    assert.equal(sanitizeString(''), '');
  });
});
