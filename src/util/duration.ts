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
