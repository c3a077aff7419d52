import { BOM_TRIMMED, UTF8_BOM } from './bom.ts';
import { gunzipSync } from 'node:zlib';
import { posix } from 'node:path';
import { ChartContentError, chartContentFromFiles, type ChartContent } from './content.ts';
import { RepoError } from '../model/repository.ts';

export interface ArchiveLimits {
  /** Repository name for errors (default `archive`). */
  repository?: string | undefined;
  /** Compressed size (default 20 MiB). */
  maxArchiveBytes?: number | undefined;
  /** Decompressed tar stream (default 100 MiB, Helm's MaxDecompressedChartSize). */
  maxTotalBytes?: number | undefined;
  /** One file (default 5 MiB, Helm's MaxDecompressedFileSize). */
  maxFileBytes?: number | undefined;
  /** Tar headers of any kind (default 10,000). */
  maxEntries?: number | undefined;
  /** Keep the files under charts/ (subcharts, their .prov files) instead of skipping them. */
  subcharts?: boolean | undefined;
}

export const DEFAULT_ARCHIVE_LIMITS = {
  maxArchiveBytes: 20 * 1024 * 1024,
  maxTotalBytes: 100 * 1024 * 1024,
  maxFileBytes: 5 * 1024 * 1024,
  maxEntries: 10_000,
} as const;

const BLOCK = 512;
const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

/**
 * A chart .tgz → the parent chart's content, the way Helm's loader reads it (top-level `<chart>/` stripped,
 * UTF-8 BOM trimmed from each file), but refusing everything a hostile archive could use: absolute paths,
 * `..` segments, links, devices, too many entries, oversized files, and gzip bombs (decompression stops at
 * the size limit). Subcharts under charts/ are skipped: releases do not store them. Synchronous and
 * in-memory on purpose: archives are small and bounded, and the tar format is simple enough that a strict
 * reader here is safer than a general streaming one.
 */
export function readChartArchive(bytes: Uint8Array, limits?: ArchiveLimits): ChartContent {
  const files = readChartFiles(bytes, limits);
  const repo = limits?.repository ?? 'archive';
  try {
    return chartContentFromFiles(files, `chart archive from ${repo}`);
  } catch (err) {
    if (err instanceof ChartContentError) throw new RepoError(repo, 'invalid_archive', err.message, { cause: err });
    throw err;
  }
}

/** The files of the parent chart, paths relative to the chart root. Exposed for tests and tools. */
export function readChartFiles(bytes: Uint8Array, limits?: ArchiveLimits): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  for (const f of readChartEntries(bytes, limits)) {
    if (files.has(f.name)) throw new RepoError(limits?.repository ?? 'archive', 'invalid_archive', `chart archive from ${limits?.repository ?? 'archive'}: entry ${JSON.stringify(f.name)} appears twice`);
    files.set(f.name, f.data);
  }
  return files;
}

/** One regular file of a chart archive, path relative to the chart root. */
export interface ChartEntry {
  name: string;
  data: Uint8Array;
}

/**
 * A path Helm's loader reads as a file of a subchart directory (`charts/<dir>/<file>`, `<dir>` not a .tgz):
 * the only place an archive may name one path twice. `helm package` (chartutil.Save) writes every loaded
 * dependency expanded under `charts/<chart name>/`, so a chart depending on one subchart in two versions
 * (under two aliases) gets both versions' files there, one after the other; Helm's loader (LoadFiles, every
 * version 3.0-4.x) then loads that directory as one chart, all files in tar order. Anywhere else (the parent's
 * own files, `charts/x.tgz`, `charts/x.prov`) a second copy would change what Helm stores without `helm
 * package` ever writing it, so it stays refused.
 */
export function duplicableEntry(name: string): boolean {
  const parts = name.split('/');
  return parts.length >= 3 && parts[0] === 'charts' && !(parts[1] ?? '').endsWith('.tgz');
}

/**
 * The regular files of a chart archive in tar order, paths relative to the chart root. A path appears more
 * than once only where duplicableEntry allows it (and only with `subcharts`, which keeps charts/).
 */
export function readChartEntries(bytes: Uint8Array, limits?: ArchiveLimits): ChartEntry[] {
  const repo = limits?.repository ?? 'archive';
  const maxArchive = limits?.maxArchiveBytes ?? DEFAULT_ARCHIVE_LIMITS.maxArchiveBytes;
  const maxTotal = limits?.maxTotalBytes ?? DEFAULT_ARCHIVE_LIMITS.maxTotalBytes;
  const maxFile = limits?.maxFileBytes ?? DEFAULT_ARCHIVE_LIMITS.maxFileBytes;
  const maxEntries = limits?.maxEntries ?? DEFAULT_ARCHIVE_LIMITS.maxEntries;
  const bad = (msg: string): RepoError => new RepoError(repo, 'invalid_archive', `chart archive from ${repo}: ${msg}`);
  const big = (msg: string): RepoError => new RepoError(repo, 'too_large', `chart archive from ${repo}: ${msg}`);

  if (bytes.byteLength > maxArchive) throw big(`${bytes.byteLength} bytes compressed, more than the limit of ${maxArchive}`);
  if (bytes.byteLength < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) throw bad('not a gzip file');
  let tar: Buffer;
  try {
    tar = gunzipSync(bytes, { maxOutputLength: maxTotal });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (err instanceof RangeError || code === 'ERR_BUFFER_TOO_LARGE') throw big(`decompresses to more than ${maxTotal} bytes`);
    throw bad(`gzip data is corrupt or truncated (${typeof code === 'string' ? code : 'zlib error'})`);
  }

  const files: ChartEntry[] = [];
  const seen = new Set<string>();
  let off = 0;
  let entries = 0;
  let longName: string | undefined;
  let paxPath: string | undefined;
  let paxSize: number | undefined;
  let sawEnd = false;

  while (off + BLOCK <= tar.length) {
    const header = tar.subarray(off, off + BLOCK);
    if (isZeroBlock(header)) {
      sawEnd = true;
      break;
    }
    if (++entries > maxEntries) throw big(`more than ${maxEntries} entries`);
    if (!checksumOk(header)) throw bad(`corrupt tar header at offset ${off}`);
    const type = String.fromCharCode(header[156] ?? 0);
    const ustar = latin1.decode(header.subarray(257, 263));
    let name = cString(header.subarray(0, 100));
    if (ustar === 'ustar\0') {
      const prefix = cString(header.subarray(345, 500));
      if (prefix) name = `${prefix}/${name}`;
    }
    const headerSize = parseNumber(header.subarray(124, 136));
    if (headerSize === undefined) throw bad(`invalid size in tar header for ${JSON.stringify(name)}`);
    const size = paxSize ?? headerSize;
    const dataStart = off + BLOCK;
    if (dataStart + size > tar.length) throw bad(`truncated: entry ${JSON.stringify(paxPath ?? longName ?? name)} ends past the end of the archive`);
    const data = tar.subarray(dataStart, dataStart + size);
    off = dataStart + Math.ceil(size / BLOCK) * BLOCK;

    // Extension headers describe the next entry; they are not files.
    if (type === 'x') {
      const pax = parsePax(data);
      if (pax === undefined) throw bad('corrupt pax extended header');
      if (pax.path !== undefined) paxPath = pax.path;
      if (pax.size !== undefined) paxSize = pax.size;
      continue;
    }
    if (type === 'g') continue;
    if (type === 'L') {
      longName = cString(data);
      continue;
    }
    if (type === 'K') continue;

    const fullName = paxPath ?? longName ?? name;
    paxPath = undefined;
    longName = undefined;
    paxSize = undefined;
    const shown = JSON.stringify(fullName);

    if (type === '5') continue;
    if (type === '1') throw bad(`entry ${shown} is a hard link; charts may contain regular files only`);
    if (type === '2') throw bad(`entry ${shown} is a symbolic link; charts may contain regular files only`);
    if (type !== '0' && type !== '\0' && type !== '7') throw bad(`entry ${shown} is not a regular file (tar type ${JSON.stringify(type)})`);

    const rel = chartRelativePath(fullName);
    if (typeof rel === 'object') throw bad(`entry ${shown}: ${rel.error}`);
    if ((rel === 'charts' || rel.startsWith('charts/')) && limits?.subcharts !== true) continue;
    if (size > maxFile) throw big(`entry ${shown} is ${size} bytes, more than the per-file limit of ${maxFile}`);
    if (seen.has(rel) && !duplicableEntry(rel)) throw bad(`entry ${shown} appears twice`);
    seen.add(rel);
    const bom = data[0] === UTF8_BOM[0] && data[1] === UTF8_BOM[1] && data[2] === UTF8_BOM[2];
    const content = Uint8Array.from(bom ? data.subarray(3) : data);
    if (bom) BOM_TRIMMED.add(content);
    files.push({ name: rel, data: content });
  }
  if (!sawEnd && off < tar.length) throw bad('truncated tar stream');
  if (!sawEnd && entries === 0) throw bad('empty tar stream');
  return files;
}

/**
 * Helm's loader: the first path segment is the chart directory and is dropped (`\` counts as the
 * separator when present, for archives made on Windows). Stricter than Helm: any `..` segment is refused,
 * not only one that escapes after cleaning.
 */
function chartRelativePath(name: string): string | { error: string } {
  const delimiter = name.includes('\\') ? '\\' : '/';
  if (name.startsWith('/') || name.startsWith('\\') || /^[a-zA-Z]:[\\/]/.test(name)) return { error: 'absolute path' };
  const parts = name.split(delimiter);
  if (parts.some((p) => p === '..')) return { error: 'path contains a ".." segment' };
  if (parts[0] === 'Chart.yaml') return { error: 'Chart.yaml is not inside the chart directory' };
  const rest = parts.slice(1).join('/');
  const cleaned = posix.normalize(rest === '' ? '.' : rest).replace(/\/+$/, '');
  if (cleaned === '.' || cleaned === '') return { error: 'file outside the chart directory' };
  if (cleaned.startsWith('/') || cleaned.startsWith('..')) return { error: 'path escapes the chart directory' };
  if (/^[a-zA-Z]:\//.test(cleaned)) return { error: 'illegal file name' };
  return cleaned;
}

function isZeroBlock(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function checksumOk(h: Uint8Array): boolean {
  const stored = parseNumber(h.subarray(148, 156));
  if (stored === undefined) return false;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (h[i] ?? 0);
  return sum === stored;
}

function cString(b: Uint8Array): string {
  const nul = b.indexOf(0);
  return utf8.decode(nul < 0 ? b : b.subarray(0, nul));
}

/** Octal (NUL/space padded) or GNU base-256 (high bit set); undefined when neither. */
function parseNumber(b: Uint8Array): number | undefined {
  if (b.length && ((b[0] ?? 0) & 0x80) !== 0) {
    if (((b[0] ?? 0) & 0x40) !== 0) return undefined;
    let n = (b[0] ?? 0) & 0x3f;
    for (let i = 1; i < b.length; i++) n = n * 256 + (b[i] ?? 0);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  const s = latin1.decode(b).replace(/[\0 ]+$/, '').replace(/^[ ]+/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) return undefined;
  return parseInt(s, 8);
}

/** POSIX pax records `<len> <key>=<value>\n`; only path and size matter for reading files. */
function parsePax(data: Uint8Array): { path?: string; size?: number } | undefined {
  const out: { path?: string; size?: number } = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) return undefined;
    const len = Number(latin1.decode(data.subarray(i, sp)));
    if (!Number.isInteger(len) || len <= 0 || i + len > data.length) return undefined;
    const record = utf8.decode(data.subarray(sp + 1, i + len - 1));
    const eq = record.indexOf('=');
    if (eq < 0) return undefined;
    const key = record.slice(0, eq);
    const value = record.slice(eq + 1);
    if (key === 'path') out.path = value;
    if (key === 'size') {
      if (!/^\d+$/.test(value)) return undefined;
      out.size = Number(value);
    }
    i += len;
  }
  return out;
}
