const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
const UNIT: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** A Go/Kubernetes duration (`1h`, `90s`, `1h30m`) in seconds; undefined when malformed. */
export function parseDuration(s: string): number | undefined {
  const t = s.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(t)) return undefined;
  let total = 0;
  for (const m of t.matchAll(PART)) total += Number(m[1]) * (UNIT[m[2] ?? 's'] ?? 1);
  return total;
}

const DEFAULT_TIMEOUT_SECONDS = 60;
const MAX_TIMEOUT_SECONDS = 600;

/**
 * A repository request timeout (`timeout: 30s`): absent → 60 s; otherwise a duration from 1 s to 10 min,
 * since a longer one would hold a refresh slot for the whole interval. `error` builds the caller's error.
 */
export function parseTimeout(text: string | undefined, error: (message: string) => Error): number {
  if (text === undefined) return DEFAULT_TIMEOUT_SECONDS;
  const seconds = parseDuration(text);
  if (seconds === undefined) throw error(`"${text}" is not a duration like 30s or 2m`);
  if (seconds < 1 || seconds > MAX_TIMEOUT_SECONDS) throw error(`"${text}" must be between 1s and 10m`);
  return seconds;
}
