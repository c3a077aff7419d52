/**
 * Untrusted text on its way to a human. A release Secret is written by whoever may write Secrets in its
 * namespace, so a chart name can carry a newline (a table row split in two, a forged line), an OSC
 * sequence (`ESC ] 0;title BEL` retitles the terminal; OSC 52 writes the clipboard), a CSI sequence
 * (`ESC [2J` clears the screen) or a bidi override (U+202E shows `exe.txt` as `txt.exe`). kubectl fixed
 * the same class of bug (CVE-2021-25743) by escaping what it prints; we do the same, per code point.
 */

/**
 * Code points that act on a terminal or on how the text around them reads instead of showing as a glyph:
 * C0 controls and DEL (Cc covers both, and the C1 controls U+0080–U+009F, of which U+009B is a one-byte
 * CSI), format characters (Cf: bidi embeddings, overrides and isolates U+202A–U+202E, U+2066–U+2069,
 * marks U+200E/U+200F/U+061C, zero-width characters, U+FEFF), line and paragraph separators
 * (U+2028/U+2029) and lone surrogates (no character at all).
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const UNSAFE_ALL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\\]/gu;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\' };

function escapeOne(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const cp = ch.codePointAt(0) ?? 0;
  return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
}

/**
 * `text` as it may be written to a terminal: every unsafe code point (see UNSAFE) shown as an escape
 * (`\n`, `\x1b`, `\x9b`, `\u202e`), never interpreted, and a backslash doubled so that an escape in the
 * output always stands for the character and never for the same letters typed by whoever wrote the text.
 * The result is one line of printable text.
 */
export function neutralize(text: string): string {
  return text.replace(UNSAFE_ALL, escapeOne);
}

/** true when `text` holds nothing neutralize() would escape (a backslash aside). */
export function isTerminalSafe(text: string): boolean {
  return !UNSAFE.test(text);
}

const UNSAFE_STRIP = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

/**
 * Text for an Event note or a condition message, which `kubectl describe` and dashboards show as it is:
 * kept readable (no escapes), but line breaks and tabs become a space, every other unsafe code point is
 * removed, and the result is at most `maxBytes` bytes of UTF-8 (default 1024: the API server refuses an
 * Event note over 1 kB, counted in bytes; a condition's 32768 counts characters, which bytes bound too),
 * ending in `…` when cut. A cut never splits a character.
 */
export function plainText(text: string, maxBytes = 1024): string {
  const s = text.replace(UNSAFE_STRIP, (ch) => (/[\n\r\t\u2028\u2029\u0085]/.test(ch) ? ' ' : ''));
  if (Buffer.byteLength(s, 'utf8') <= maxBytes) return s;
  const budget = Math.max(0, maxBytes - 3); // "…" is 3 bytes
  let used = 0;
  let end = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (used + n > budget) break;
    used += n;
    end += ch.length;
  }
  return `${s.slice(0, end)}…`;
}
