import { isAscii } from 'node:buffer';
import { promisify } from 'node:util';
import { deflateRaw, inflateRawSync } from 'node:zlib';
import { load } from 'js-yaml';
import { isObject } from '../../util/guards.ts';
import type { ChartVersionEntry } from '../../model/repository.ts';
import { chartVersions, checkIndexSize, DEFAULT_MAX_INDEX_BYTES, DEFAULT_MAX_VERSIONS, indexLayout, scalar, YAML_OPTIONS, type ChartIndex, type IndexParseOptions } from './index-parse.ts';
import { ISOLATED_MIN_BYTES, parseIndexIsolated } from './index-parse-isolated.ts';

/**
 * Indexes at least this big are parsed chart by chart, on first lookup. A cluster installs a handful of the
 * hundreds of charts a big index lists, and parsing all of a 20 MiB index costs ~1 s of CPU and a child
 * process (bench/index-parse.ts); finding where each chart's block starts costs ~50 ms. Smaller indexes are
 * parsed whole: a few ms, and every error shows at once.
 */
export const LAZY_MIN_BYTES = ISOLATED_MIN_BYTES;

/**
 * Whether text[from, to) has a node property — anchor (&a), alias (*a) or tag (!t) — where a node can start:
 * after an indent, after `: `, `- ` or `? `, or after a flow indicator. An alias makes a chart's block depend
 * on another block, and Helm never writes any of them, so such an index is parsed whole. Conservative by
 * design: a description containing ` - *word` also counts, which costs only the lazy path. A loop over the
 * three characters, not one regular expression over every line start (which took 35 ms of a 20 MiB index).
 */
const flow = (c: string | undefined): boolean => c === '[' || c === '{' || c === ',';

function hasNodeProperty(text: string, from: number, to: number): boolean {
  const candidates = /[&*!]\S/g;
  candidates.lastIndex = from;
  for (let m = candidates.exec(text); m && m.index < to; m = candidates.exec(text)) {
    let i = m.index - 1;
    if (flow(text[i])) return true;
    let spaced = false;
    while (text[i] === ' ' || text[i] === '\t') {
      i--;
      spaced = true;
    }
    const before = text[i];
    if (before === undefined || before === '\n' || before === '\r' || flow(before)) return true;
    if (spaced && (before === ':' || before === '-' || before === '?')) return true;
  }
  return false;
}

const decoder = new TextDecoder('utf-8');
const deflateRawAsync = promisify(deflateRaw);

/** A chart's block did not parse on its own: only the whole document can say what it means. */
export class BlockNotAlone extends Error {
  constructor(chart: string, options: ErrorOptions) {
    super(`the index block of chart ${chart} does not parse on its own`, options);
    this.name = 'BlockNotAlone';
  }
}

/** Byte range of one chart's block in the index. */
interface Span {
  start: number;
  end: number;
}

/**
 * A Helm-shaped index.yaml whose charts are parsed on first lookup, each block on its own (the same
 * conversion as parseIndex: chartVersions). Keeps the index bytes (outside the V8 heap) and the parsed
 * charts. Each block is decoded into a string of its own, so the strings of a kept entry never pin the
 * whole document.
 *
 * A block that does not parse on its own throws BlockNotAlone: the caller then parses the whole document
 * (parseWhole), which answers exactly as parseIndex does — with the chart, or with the error and its position
 * in the file. What differs from a whole parse, by design: charts whose blocks parse keep answering before
 * (or without) a lookup of a broken block, where Helm refuses the whole file at once; the version limit
 * (maxVersions) applies per chart; `size` counts chart keys, including a key without a valid version.
 */
export class LazyChartIndex implements ChartIndex {
  /** The index as downloaded, until compact() replaces it with `packed`. */
  #bytes: Uint8Array | undefined;
  /** compact()'s form: what precedes the first block, each block deflated on its own, what follows the last. */
  #packed: { before: Uint8Array; blocks: Map<string, Uint8Array>; after: Uint8Array } | undefined;
  readonly #spans: Map<string, Span>;
  readonly #parsed = new Map<string, ChartVersionEntry[]>();
  readonly #options: IndexParseOptions;

  constructor(bytes: Uint8Array, spans: Map<string, Span>, options: IndexParseOptions) {
    this.#bytes = bytes;
    this.#spans = spans;
    this.#options = options;
  }

  /**
   * For a process that keeps the index (the controller): each block deflated on its own (zlib level 1, in
   * libuv's thread pool, off the event loop), then the bytes dropped. A 20 MiB index otherwise stays resident
   * (bench/scale.ts at 2,000 × 5: RSS after sync 130 → 142 MiB when kept whole). A lookup then inflates one
   * block; the whole parse reassembles the exact bytes. The one-shot CLI does not call it.
   */
  async compact(): Promise<void> {
    const bytes = this.#bytes;
    if (!bytes || this.#packed) return;
    const blocks = new Map<string, Uint8Array>();
    let first = bytes.byteLength;
    let last = 0;
    for (const [chart, span] of this.#spans) {
      // Copied into memory of its own: zlib's result is a slice of Node's shared 64 KiB buffer pool, and a
      // block kept for the life of the index pins the whole slab with whatever else was cut from it
      // (measured at 10,000 releases: 175 blocks pinned 10.9 MiB for ~0.8 MiB of data).
      blocks.set(chart, new Uint8Array(await deflateRawAsync(bytes.subarray(span.start, span.end), { level: 1 })));
      first = Math.min(first, span.start);
      last = Math.max(last, span.end);
    }
    // Copies (a Buffer's slice is a view that would keep the whole download alive).
    this.#packed = { before: new Uint8Array(bytes.subarray(0, first)), blocks, after: new Uint8Array(bytes.subarray(last)) };
    this.#bytes = undefined;
  }

  #block(chart: string, span: Span): Uint8Array {
    if (this.#bytes) return this.#bytes.subarray(span.start, span.end);
    const packed = this.#packed?.blocks.get(chart);
    if (!packed) throw new Error(`index block of ${chart} is missing`);
    return inflateRawSync(packed);
  }

  #wholeBytes(): Uint8Array {
    if (this.#bytes) return this.#bytes;
    const p = this.#packed;
    if (!p) throw new Error('index bytes are missing');
    return Buffer.concat([p.before, ...[...p.blocks.values()].map((b) => inflateRawSync(b)), p.after]);
  }

  /**
   * Bytes of memory the index's bytes keep alive: the download, or after compact() what each block's memory
   * is (a block that were a slice of a shared buffer would keep all of it). Diagnostics and tests.
   */
  retainedBytes(): number {
    if (this.#bytes) return this.#bytes.buffer.byteLength;
    const p = this.#packed;
    if (!p) return 0;
    let total = p.before.buffer.byteLength + p.after.buffer.byteLength;
    for (const b of p.blocks.values()) total += b.buffer.byteLength;
    return total;
  }

  get size(): number {
    return this.#spans.size;
  }

  get(chart: string): ChartVersionEntry[] | undefined {
    const done = this.#parsed.get(chart);
    if (done) return done.length ? done : undefined;
    const span = this.#spans.get(chart);
    if (!span) return undefined;
    let block: unknown;
    try {
      block = load(decoder.decode(this.#block(chart, span)), YAML_OPTIONS);
    } catch (err) {
      throw new BlockNotAlone(chart, { cause: err });
    }
    const list = isObject(block) ? block[chart] : undefined;
    const versions = chartVersions(chart, list, true, this.#options, { left: this.#options.maxVersions ?? DEFAULT_MAX_VERSIONS });
    this.#parsed.set(chart, versions);
    return versions.length ? versions : undefined;
  }

  /** The chart keys, parsed or not. */
  keys(): IterableIterator<string> {
    return this.#spans.keys();
  }

  *values(): IterableIterator<ChartVersionEntry[]> {
    for (const chart of this.#spans.keys()) {
      const versions = this.get(chart);
      if (versions) yield versions;
    }
  }

  /** The whole parse of the same bytes (in a child process), for when a block does not parse alone. */
  parseWhole(): Promise<Map<string, ChartVersionEntry[]>> {
    return parseIndexIsolated(this.#wholeBytes(), this.#options);
  }
}

/**
 * The lazy form of a big, Helm-shaped index.yaml; undefined when the index is small, JSON, irregular, uses
 * anchors, aliases or tags, repeats a chart key, or its head (apiVersion, …) is not what parseIndex accepts —
 * the whole parse then decides, with its exact errors.
 */
export function lazyIndex(bytes: Uint8Array, options: IndexParseOptions, minBytes = LAZY_MIN_BYTES): LazyChartIndex | undefined {
  if (bytes.byteLength < minBytes || bytes.byteLength > (options.maxBytes ?? DEFAULT_MAX_INDEX_BYTES)) return undefined;
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const text = decoder.decode(bom ? bytes.subarray(bom) : bytes);
  // Offsets found in the text are turned into byte offsets below; that needs the text to re-encode to exactly
  // the input (no invalid UTF-8 replaced by U+FFFD, which would shift them). ASCII, the usual case, maps 1:1.
  const ascii = isAscii(bytes);
  if (!ascii && Buffer.byteLength(text, 'utf8') + bom !== bytes.byteLength) return undefined;
  const first = /\S/.exec(text)?.[0];
  if (first === '{') return undefined;
  const layout = indexLayout(text);
  if (!layout) return undefined;
  if (hasNodeProperty(text, layout.starts[0] ?? 0, layout.end)) return undefined;

  let head: unknown;
  try {
    head = load(layout.head, YAML_OPTIONS);
  } catch {
    return undefined;
  }
  if (!isObject(head) || Object.hasOwn(head, 'entries') || scalar(head['apiVersion'], true) === undefined) return undefined;

  const spans = new Map<string, Span>();
  let charAt = 0;
  let byteAt = bom;
  const byteOffset = (i: number): number => {
    if (ascii) return i;
    byteAt += Buffer.byteLength(text.slice(charAt, i), 'utf8');
    charAt = i;
    return byteAt;
  };
  const { starts, end } = layout;
  let start = byteOffset(starts[0] ?? 0);
  for (let i = 0; i < starts.length; i++) {
    const from = starts[i] ?? 0;
    const to = starts[i + 1] ?? end;
    const eol = text.indexOf('\n', from);
    const keyLine = text.slice(from, eol < 0 ? text.length : eol);
    let key: unknown;
    try {
      key = load(keyLine, YAML_OPTIONS);
    } catch {
      return undefined;
    }
    const names = isObject(key) ? Object.keys(key) : [];
    const name = names[0];
    if (names.length !== 1 || name === undefined || spans.has(name)) return undefined;
    const stop = byteOffset(to);
    spans.set(name, { start, end: stop });
    start = stop;
  }
  return new LazyChartIndex(bytes, spans, options);
}

/** The index for a source: lazy when it can be (lazyIndex), else parsed whole (in a child process when big). */
export async function readIndex(bytes: Uint8Array, options: IndexParseOptions): Promise<ChartIndex> {
  checkIndexSize(bytes, options);
  return lazyIndex(bytes, options) ?? parseIndexIsolated(bytes, options);
}
