/**
 * User globals as the content proof may keep them. Before Helm 3.13 the chart's own values were shared
 * into every coalesced result, so the user's `global` values (`--set global.imageRegistry=…`) were written
 * into the subcharts' `global` tables of the chart Helm stored: reproducing that chart needs them. They may
 * be secrets, so only a keyed hash of each is kept (HMAC-SHA256 under a key drawn once per process and never
 * written anywhere): equal values give equal tokens within this process, and a token says nothing outside it.
 *
 * The proof then compares the stored values and the reproduction with every value inside a `global` table
 * replaced by its token on both sides: still a comparison of content, value by value.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { isTable, newTable, type Table } from './coalesce.ts';
import { canonicalJson } from './fingerprint.ts';

const KEY = randomBytes(32);
const PREFIX = '\u0000global-token:';

function isToken(v: unknown): boolean {
  return typeof v === 'string' && v.startsWith(PREFIX);
}

/** The token of a value (a string, number or list; canonical JSON, so 1 and "1" differ). */
export function globalToken(v: unknown): string {
  return PREFIX + createHmac('sha256', KEY).update(canonicalJson(v)).digest('hex');
}

/** Tables, booleans, nulls and tokens stay; every other value becomes its token. */
function tokenLeaf(v: unknown): unknown {
  if (v === null || v === undefined || typeof v === 'boolean' || isToken(v)) return v;
  if (isTable(v)) return tokenTable(v);
  return globalToken(v);
}

function tokenTable(t: Table): Table {
  const out = newTable();
  for (const k of Object.keys(t)) out[k] = tokenLeaf(t[k]);
  return out;
}

/** A copy of `values` with every value inside a `global` table, at any depth, replaced by its token. */
export function tokenizeGlobals(values: Table): Table {
  const out = newTable();
  for (const k of Object.keys(values)) {
    const v = values[k];
    out[k] = isTable(v) ? (k === 'global' ? tokenTable(v) : tokenizeGlobals(v)) : v;
  }
  return out;
}

/** Whether reduced user values (conditionValues) hold a token: the user set a global that is not a bool. */
export function hasGlobalTokens(t: Table): boolean {
  for (const k of Object.keys(t)) {
    const v = t[k];
    if (isToken(v) || (isTable(v) && hasGlobalTokens(v))) return true;
  }
  return false;
}
