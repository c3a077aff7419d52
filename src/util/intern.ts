/**
 * One copy of equal strings. V8 keeps every property name once (its string table, which lets go of a name
 * nothing uses), so a string used as a key comes back as that one copy. For values that repeat across
 * thousands of objects a long-running controller keeps — a label value, a metric line's tail, a repository
 * URL: a heap snapshot of 10,000 releases held 11.7 MiB of duplicate strings (bench/RESULTS.md) — without a
 * table of our own that would have to forget values nobody uses any more.
 */
export function intern(s: string): string {
  const holder: Record<string, true> = { [s]: true };
  for (const key in holder) return key;
  return s;
}
