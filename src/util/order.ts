/**
 * Strings in code-unit order, as Array.prototype.sort() orders them and as Go's sort.Strings orders the
 * names helm and kubectl print (the same order for every Kubernetes name, which is ASCII). Not
 * localeCompare: its order follows the machine's locale, and its first call loads ICU's collation data
 * (~5 ms, a tenth of a 200-release `scan`, measured with Node 24).
 */
export function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
