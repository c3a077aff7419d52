import { constants, gzipSync } from 'node:zlib';

/** Helm's storage encoding of release JSON: gzip at best compression, then base64 (std, padded). */
export function encodeHelmString(json: string): string {
  return gzipSync(Buffer.from(json, 'utf8'), { level: constants.Z_BEST_COMPRESSION }).toString('base64');
}

type Reviver = (this: unknown, key: string, value: unknown, context?: { source?: string }) => unknown;
const JSONX = JSON as JSON & { rawJSON(text: string): unknown };

/**
 * Parses release JSON keeping every number's original text, so that re-serialising does not round
 * 64-bit integers in users' values (JSON.parse alone would turn 12345678901234567890 into ...7000).
 */
export function parseLossless(json: string): unknown {
  const reviver: Reviver = (_k, v, ctx) => (typeof v === 'number' && ctx?.source !== undefined ? JSONX.rawJSON(ctx.source) : v);
  return JSON.parse(json, reviver as (this: unknown, key: string, value: unknown) => unknown);
}
