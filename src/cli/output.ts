import type { OriginReport } from '../model/report.ts';

/** `-o json`: one object per release shaped like ChartOrigin.status, plus name and namespace. */
function reportJson(r: OriginReport): Record<string, unknown> {
  const { majorVersionsBehind: _m, installedCreated: _c, upgradeTarget: _t, ...status } = r;
  return { name: r.release.name, namespace: r.release.namespace, ...status };
}

/** Absent fields are left out (JSON.stringify drops undefined members). */
export function renderJson(reports: readonly OriginReport[]): string {
  return `${JSON.stringify(reports.map(reportJson), null, 2)}\n`;
}

const COLUMNS = ['NAMESPACE', 'NAME', 'CHART', 'VERSION', 'LATEST', 'UPGRADE', 'BEHIND', 'MATCH', 'REPO'] as const;

function row(r: OriginReport): string[] {
  return [
    r.release.namespace,
    r.release.name,
    r.chart.name + (r.chart.deprecated ? ' (deprecated)' : ''),
    r.chart.version,
    r.latest?.version ?? '-',
    r.upgrade ?? '-',
    r.versionsBehind === undefined ? '-' : String(r.versionsBehind),
    r.origin.match,
    r.origin.repository ?? '-',
  ];
}

/** `-o table`: kubectl-style columns, padded. */
export function renderTable(reports: readonly OriginReport[]): string {
  const rows = [[...COLUMNS], ...reports.map(row)];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join('').trimEnd()).join('\n') + '\n';
}
