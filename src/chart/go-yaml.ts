/**
 * YAML read the way Helm reads it: sigs.k8s.io/yaml (v1.3.0 in Helm 3.12, v1.4.0 in 3.17, v1.6.0 in 3.22 and
 * Helm 4), which decodes with go-yaml v2 (gopkg.in/yaml.v2 v2.4.0, or its fork go.yaml.in/yaml/v2 v2.4.x: the
 * same resolver and decoder) into interface{} and converts the result to JSON. The `yaml` package parses the
 * text (its failsafe schema: every scalar stays a string, no tag is applied); what a scalar means, how `<<`
 * merges and what a map key becomes are decided here, by go-yaml v2's rules, because the YAML 1.1 schema of the
 * `yaml` package differs from them in ways real values files hit (found by comparing with sigs.k8s.io/yaml on
 * the same bytes):
 * - `<<` is applied where it stands (go-yaml v2 decode.go mapping(): entries in document order, a merge writes
 *   its keys over those already there), not under the explicit keys as YAML 1.1's merge spec says: `{a: 1,
 *   <<: {a: 2}}` is {a: 2} to Helm;
 * - numbers as resolve.go resolve() reads them: strconv.ParseInt/ParseUint with base 0 after removing every
 *   `_` (`0o644`, `0O7`, `1e_3` are numbers; a float that overflows or hex beyond 64 bits stays a string);
 * - explicit tags: `!!float 3` is 3, `!!binary` is the decoded text, `!!set`/`!!omap`/`!!pairs` and unknown
 *   tags leave a collection a plain mapping or sequence;
 * - map keys as sigs.k8s.io/yaml yaml.go convertToJSONableObject() writes them: ints in decimal, floats with
 *   strconv.FormatFloat(f, 'g', -1, 32), booleans as true/false; a collection key is an error, and so is a
 *   null or uint64 key, NaN or ±Inf still in the document when it is converted to JSON.
 * Checked against sigs.k8s.io/yaml v1.3.0 and v1.6.0 on generated files and on the real-world charts of
 * test/e2e/real-charts.test.ts: equal output. Not modelled: how invalid UTF-8 in a `!!binary` value is replaced.
 */
import { randomUUID } from 'node:crypto';
import { Alias, isAlias, isMap, isPair, isScalar, isSeq, parseAllDocuments, visit, type Document, type Node, type ParsedNode } from 'yaml';

export class GoYamlError extends Error {}

const TAG = 'tag:yaml.org,2002:';
const STR = `${TAG}str`;
const BOOL = `${TAG}bool`;
const INT = `${TAG}int`;
const FLOAT = `${TAG}float`;
const NULL = `${TAG}null`;
const TIMESTAMP = `${TAG}timestamp`;
const BINARY = `${TAG}binary`;
const MERGE = `${TAG}merge`;
const RESOLVABLE = new Set(['', STR, BOOL, INT, FLOAT, NULL, TIMESTAMP]);

/** resolve.go resolveMapList: the plain scalars looked up by their exact text. */
const RESOLVE_MAP = new Map<string, { tag: string; value: GoScalar }>();
for (const [value, tag, texts] of [
  [true, BOOL, ['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']],
  [false, BOOL, ['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']],
  [null, NULL, ['', '~', 'null', 'Null', 'NULL']],
  [Number.NaN, FLOAT, ['.nan', '.NaN', '.NAN']],
  [Number.POSITIVE_INFINITY, FLOAT, ['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF']],
  [Number.NEGATIVE_INFINITY, FLOAT, ['-.inf', '-.Inf', '-.INF']],
] as const) {
  for (const t of texts) RESOLVE_MAP.set(t, { tag, value });
}

/** A resolved scalar: ints are kept exact (bigint) until they become a value or a key. */
type GoScalar = string | boolean | null | number | bigint;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** strconv.ParseInt(s, 0, 64), then strconv.ParseUint(s, 0, 64) (which takes no sign): the exact value, or undefined. */
function parseGoInt(s: string): bigint | undefined {
  const m = /^([+-]?)(?:0[xX]([0-9a-fA-F]+)|0[bB]([01]+)|0[oO]([0-7]+)|0([0-7]*)|([1-9][0-9]*))$/.exec(s);
  if (!m) return undefined;
  const [, sign, hex, bin, oct, legacyOct, dec] = m;
  const magnitude = hex !== undefined ? BigInt(`0x${hex}`) : bin !== undefined ? BigInt(`0b${bin}`) : oct !== undefined ? BigInt(`0o${oct}`) : legacyOct !== undefined ? (legacyOct ? BigInt(`0o${legacyOct}`) : 0n) : BigInt(dec ?? '0');
  const v = sign === '-' ? -magnitude : magnitude;
  if (v >= INT64_MIN && v <= INT64_MAX) return v;
  if (sign === '' && v <= UINT64_MAX) return v;
  return undefined;
}

/** strconv.ParseFloat(s, 64) for the texts resolve() hands it: undefined when out of range (Go returns ErrRange). */
function parseGoFloat(s: string): number | undefined {
  const f = Number(s);
  return Number.isFinite(f) ? f : undefined;
}

/** resolve.go yamlStyleFloat. */
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
/** What ParseFloat accepts of a text that starts with '.' (resolve()'s '.' hint; `.inf` and `.nan` are in the map). */
const DOT_FLOAT = /^\.[0-9]+([eE][-+]?[0-9]+)?$/;

/** resolve.go resolve(tag, in) for the tags it resolves: the tag it ends with and the value. */
function resolve(tag: string, text: string): { tag: string; value: GoScalar } {
  const out = resolvePlain(tag, text);
  // resolve()'s deferred check: an explicit tag must agree with what the text is, but an int may be a !!float.
  if (tag === '' || tag === out.tag || tag === STR) return tag === STR ? { tag: STR, value: text } : out;
  if (tag === FLOAT && out.tag === INT) return { tag: FLOAT, value: Number(out.value) };
  // An explicit !!timestamp: decoded into interface{}, go-yaml v2 keeps the text (decode.go scalar()).
  if (tag === TIMESTAMP) return { tag: TIMESTAMP, value: text };
  throw new GoYamlError(`cannot decode ${out.tag.replace(TAG, '!!')} \`${text}\` as a ${tag.replace(TAG, '!!')}`);
}

function resolvePlain(tag: string, text: string): { tag: string; value: GoScalar } {
  if (tag === STR) return { tag: STR, value: text };
  const c = text[0];
  // resolveTable: the first character hints at what the text may be; other texts are strings.
  const hint = text === '' ? 'N' : c !== undefined && '+-'.includes(c) ? 'S' : c !== undefined && c >= '0' && c <= '9' ? 'D' : c !== undefined && 'yYnNtTfFoO~'.includes(c) ? 'M' : c === '.' ? '.' : '';
  if (!hint) return { tag: STR, value: text };
  const known = RESOLVE_MAP.get(text);
  if (known) return known;
  if (hint === '.') {
    const f = DOT_FLOAT.test(text) ? parseGoFloat(text) : undefined;
    if (f !== undefined) return { tag: FLOAT, value: f };
  } else if (hint === 'D' || hint === 'S') {
    // Timestamps (YYYY-…) are never numbers either: decoded into interface{} they stay text.
    const plain = text.replaceAll('_', '');
    const i = parseGoInt(plain);
    if (i !== undefined) return { tag: INT, value: i };
    if (YAML_STYLE_FLOAT.test(plain)) {
      const f = parseGoFloat(plain);
      if (f !== undefined) return { tag: FLOAT, value: f };
    }
    // resolve()'s own 0b branch: strconv.ParseInt(plain[2:], 2, 64), which takes a sign after the prefix.
    if (plain.startsWith('0b')) {
      const m = /^([+-]?)([01]+)$/.exec(plain.slice(2));
      if (m) {
        const v = (m[1] === '-' ? -1n : 1n) * BigInt(`0b${m[2]}`);
        if (v >= INT64_MIN && v <= INT64_MAX) return { tag: INT, value: v };
      }
    }
  }
  return { tag: STR, value: text };
}

/** strconv.FormatFloat(f, 'g', -1, 32): the shortest text that reads back as the same float32, in %g form. */
function formatFloat32(f: number): string {
  // Checked after the conversion: a float64 beyond float32's range (1e300) is ±Inf as a float32 key.
  const x = Math.fround(f);
  if (Number.isNaN(x)) return '.nan';
  if (x === Number.POSITIVE_INFINITY) return '.inf';
  if (x === Number.NEGATIVE_INFINITY) return '-.inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  let digits = '';
  let exp = 0;
  for (let p = 1; p <= 9; p++) {
    const [mantissa = '', e = '0'] = Math.abs(x).toExponential(p - 1).split('e');
    if (Math.fround(Number(`${mantissa}e${e}`)) === Math.abs(x)) {
      digits = mantissa.replace('.', '').replace(/0+$/, '') || '0';
      exp = Number(e);
      break;
    }
  }
  const sign = x < 0 ? '-' : '';
  // %e when the exponent is < -4 or >= 6 (the shortest form decides with precision 6), else %f.
  if (exp < -4 || exp >= 6) {
    const e = Math.abs(exp) < 10 ? `0${Math.abs(exp)}` : String(Math.abs(exp));
    return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${exp < 0 ? '-' : '+'}${e}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const int = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  const frac = digits.slice(exp + 1);
  return `${sign}${int}${frac ? `.${frac}` : ''}`;
}

/**
 * Alias expansion cap: a billion-laughs file fails fast instead of exhausting memory (values files alias a few
 * anchors of tens of nodes; a file refused here is reported unreadable, never modified).
 */
const MAX_ALIASED_NODES = 100_000;

interface Ctx {
  doc: Document.Parsed;
  /**
   * Each alias's target, found once per document: the yaml package's Alias.resolve walks the whole document
   * on every call, which made a values.yaml of 20,000 aliases (137 KB) take 52 s.
   */
  targets: Map<Alias.Parsed, ParsedNode>;
  /** Nodes produced through aliases so far, over the whole stream (a file of many documents shares it). */
  budget: { aliased: number };
  /** Floats as sigs.k8s.io/yaml writes them into a Go string field (FormatFloat 'g', -1, 32). */
  floatsAsStrings: boolean;
  inAlias: number;
  /** Anchored nodes being decoded (an alias to one of them refers to itself). */
  open: Set<Node>;
}

export type GoValue = null | boolean | number | string | GoValue[] | { [k: string]: GoValue };

function setKey(out: Record<string, GoValue>, k: string, v: GoValue): void {
  // A key named __proto__ is data, not the prototype.
  if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  else out[k] = v;
}

function scalarOf(node: Node): { tag: string; value: GoScalar } {
  if (!isScalar(node)) throw new GoYamlError('not a scalar');
  const text = String(node.value ?? '');
  const tag = node.tag ?? '';
  if (tag === '') {
    // Quoted and block scalars are strings; only plain ones are resolved (go-yaml v2: n.implicit).
    return node.type === 'PLAIN' || node.type === undefined ? resolve('', text) : { tag: STR, value: text };
  }
  if (tag === BINARY) {
    // decode.go scalar(): base64 (line breaks ignored, as Go's decoder ignores \r and \n), kept as a string.
    const b64 = text.replace(/[\r\n]/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) throw new GoYamlError('!!binary value contains invalid base64 data');
    return { tag: BINARY, value: Buffer.from(b64, 'base64').toString('utf8') };
  }
  if (!RESOLVABLE.has(tag)) return { tag, value: text }; // `!`, `!custom`: the text
  return resolve(tag, text);
}

function valueOfScalar(s: GoScalar): GoValue {
  // JSON carries an int's digits; Helm reads them back as float64. NaN and ±Inf fail only if they are still
  // there when the whole document is converted to JSON (checkJsonable).
  return typeof s === 'bigint' ? Number(s) : s;
}

/**
 * Keys go-yaml v2 accepts in a map[interface{}]interface{} but sigs.k8s.io/yaml cannot turn into JSON (null,
 * uint64): kept under a name no values file can spell (a per-process nonce), so that the error comes only if the key is still there at
 * the end (a later key or merge may have replaced the value that held it), as in Go.
 */
const BAD_KEY = `\u0000bad-key-${randomUUID()}:`;

/** sigs.k8s.io/yaml's conversion of the decoded document to JSON: a null or uint64 key, NaN or ±Inf is an error. */
function checkJsonable(v: GoValue): void {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new GoYamlError(`json: unsupported value: ${v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN'}`);
  } else if (Array.isArray(v)) {
    for (const x of v) checkJsonable(x);
  } else if (v !== null && typeof v === 'object') {
    for (const k of Object.keys(v)) {
      if (k.startsWith(BAD_KEY)) throw new GoYamlError(`unsupported map key of type: ${k.slice(BAD_KEY.length)}`);
      checkJsonable(v[k] as GoValue);
    }
  }
}

function keyOf(node: ParsedNode | null, ctx: Ctx): string {
  if (node === null) return `${BAD_KEY}<nil>`;
  const target = isAlias(node) ? (ctx.targets.get(node) ?? null) : node;
  if (target === null || !isScalar(target)) throw new GoYamlError('invalid map key: a mapping or sequence');
  const { tag, value } = scalarOf(target);
  if (value === null) return `${BAD_KEY}<nil>`;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'bigint') return value > INT64_MAX ? `${BAD_KEY}uint64, key: ${value}` : value.toString();
  if (typeof value === 'number') return tag === INT ? String(value) : formatFloat32(value);
  return value;
}

function isMergeKey(node: ParsedNode | null): boolean {
  // decode.go isMerge(): a plain `<<`, or one tagged !!merge.
  return node !== null && isScalar(node) && node.value === '<<' && ((node.tag === undefined && node.type === 'PLAIN') || node.tag === MERGE);
}

function decode(node: ParsedNode | null, ctx: Ctx): GoValue {
  if (node === null) return null;
  if (isAlias(node)) return decodeAlias(node, ctx);
  if (ctx.inAlias > 0 && ++ctx.budget.aliased > MAX_ALIASED_NODES) throw new GoYamlError(`more than ${MAX_ALIASED_NODES} nodes through aliases`);
  if (isScalar(node)) {
    const value = scalarOf(node).value;
    return ctx.floatsAsStrings && typeof value === 'number' ? formatFloat32(value) : valueOfScalar(value);
  }
  const anchored = node.anchor !== undefined;
  if (anchored) ctx.open.add(node);
  try {
    if (isSeq(node)) return node.items.map((item) => decode(item as ParsedNode | null, ctx));
    if (isMap(node)) {
      const out: Record<string, GoValue> = {};
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = pair.key as ParsedNode | null;
        const value = pair.value as ParsedNode | null;
        if (isMergeKey(key)) merge(value, out, ctx);
        else setKey(out, keyOf(key, ctx), decode(value, ctx));
      }
      return out;
    }
  } finally {
    if (anchored) ctx.open.delete(node);
  }
  throw new GoYamlError('unknown YAML node');
}

function decodeAlias(node: Alias.Parsed, ctx: Ctx): GoValue {
  const target = ctx.targets.get(node);
  if (!target) throw new GoYamlError(`unknown anchor '${node.source}' referenced`);
  if (ctx.open.has(target)) throw new GoYamlError(`anchor '${node.source}' value contains itself`);
  ctx.inAlias++;
  try {
    return decode(target, ctx);
  } finally {
    ctx.inAlias--;
  }
}

/** decode.go merge(): a mapping (or alias of one), or a sequence of them applied last to first; each writes over `out`. */
function merge(node: ParsedNode | null, out: Record<string, GoValue>, ctx: Ctx): void {
  const one = (n: ParsedNode | null): void => {
    const target = n !== null && isAlias(n) ? (ctx.targets.get(n) ?? null) : n;
    if (target === null || !isMap(target)) throw new GoYamlError('map merge requires map or sequence of maps as the value');
    const m = decode(n, ctx) as Record<string, GoValue>;
    for (const k of Object.keys(m)) setKey(out, k, m[k] as GoValue);
  };
  if (node !== null && isSeq(node)) {
    for (let i = node.items.length - 1; i >= 0; i--) one(node.items[i] as ParsedNode | null);
  } else {
    one(node);
  }
}

/**
 * Every document of a YAML stream, decoded as go-yaml v2 decodes one into interface{} and sigs.k8s.io/yaml
 * turns it into JSON. A document with a syntax error is an error when it is the first; later ones are
 * returned as errors in place (go-yaml v2's Unmarshal never reads past the first document).
 */
export function goYamlDocuments(text: string, options: { firstOnly?: boolean; floatsAsStrings?: boolean } = {}): (GoValue | GoYamlError)[] {
  const docs = parseAllDocuments(text, { version: '1.1', schema: 'failsafe', merge: false, uniqueKeys: false, keepSourceTokens: false });
  const all = Array.isArray(docs) ? docs : [];
  if (!all.length) return [null];
  const list = options.firstOnly ? all.slice(0, 1) : all;
  const budget = { aliased: 0 };
  return list.map((doc, i) => {
    const err = doc.errors[0];
    if (err) {
      if (i === 0) throw new GoYamlError(err.message.split('\n')[0]);
      return new GoYamlError(err.message.split('\n')[0]);
    }
    try {
      const v = decode(doc.contents as ParsedNode | null, { doc, targets: aliasTargets(doc), budget, floatsAsStrings: options.floatsAsStrings === true, inAlias: 0, open: new Set() });
      checkJsonable(v);
      return v;
    } catch (e) {
      if (i === 0) throw e;
      return e instanceof GoYamlError ? e : new GoYamlError((e as Error).message);
    }
  });
}

/** The first document (what sigs.k8s.io/yaml Unmarshal reads), null when empty; later ones are not decoded. */
export function goYaml(text: string, options: { floatsAsStrings?: boolean } = {}): GoValue {
  return goYamlDocuments(text, { ...options, firstOnly: true })[0] as GoValue;
}

/**
 * Every alias of a document → the node it names: the latest node anchored with that name before it in
 * document order, as go-yaml v2 (and the yaml package's Alias.resolve) resolve it. One pre-order walk.
 */
function aliasTargets(doc: Document.Parsed): Map<Alias.Parsed, ParsedNode> {
  const anchors = new Map<string, ParsedNode>();
  const targets = new Map<Alias.Parsed, ParsedNode>();
  visit(doc, (_key, node) => {
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (target) targets.set(node as Alias.Parsed, target);
    } else if ((isScalar(node) || isMap(node) || isSeq(node)) && node.anchor) {
      anchors.set(node.anchor, node as ParsedNode);
    }
  });
  return targets;
}

/** Helm 4's loader MergeMaps (pkg/chart/v2/loader/load.go): nested maps merged, anything else replaced by b's. */
export function mergeMaps(a: Record<string, GoValue>, b: Record<string, GoValue>): Record<string, GoValue> {
  const out: Record<string, GoValue> = {};
  for (const k of Object.keys(a)) setKey(out, k, a[k] as GoValue);
  for (const k of Object.keys(b)) {
    const v = b[k] as GoValue;
    const prev = Object.prototype.hasOwnProperty.call(out, k) ? out[k] : undefined;
    if (isGoMap(v) && isGoMap(prev)) setKey(out, k, mergeMaps(prev, v));
    else setKey(out, k, v);
  }
  return out;
}

export function isGoMap(v: unknown): v is Record<string, GoValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Whether two decoded values are equal (key order aside). */
export function goEqual(a: GoValue | undefined, b: GoValue | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => goEqual(x, b[i]));
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && goEqual(a[k], b[k]));
}
