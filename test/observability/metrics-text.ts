import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/local-process.js';

/** The families a /metrics text declares (`# TYPE name type`), name → type. */
export async function liveFamilies(admin: string): Promise<Map<string, string>> {
  const res = await fetch(`${admin}/metrics`);
  if (!res.ok) throw new Error(`${admin}/metrics answered ${res.status}`);
  const families = new Map<string, string>();
  for (const line of (await res.text()).split('\n')) {
    const m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (m) families.set(m[1]!, m[2]!);
  }
  return families;
}

/** Samples of one family in a /metrics text: labels and value of each line. */
export async function samples(
  admin: string,
  name: string,
): Promise<Array<{ labels: Record<string, string>; value: number }>> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labels: Record<string, string> = {};
    const brace = line.indexOf('{');
    if (brace === name.length) {
      const body = line.slice(brace + 1, line.lastIndexOf('}'));
      for (const m of body.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!;
    }
    out.push({ labels, value: Number(line.slice(line.lastIndexOf(' ') + 1)) });
  }
  return out;
}

/** The family a sample name belongs to, given the families there are (histogram parts → base). */
export function familyOf(name: string, families: ReadonlyMap<string, string>): string | undefined {
  if (families.has(name)) return name;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (m && families.get(m[1]!) === 'histogram') return m[1];
  return undefined;
}

/** Rows of the series table in docs/metrics.md: documented names (a trailing * is a prefix) and type. */
export async function documentedSeries(): Promise<Array<{ name: string; type: string }>> {
  const text = await readFile(join(REPO_ROOT, 'docs', 'metrics.md'), 'utf8');
  const section = text.slice(text.indexOf('## Series'), text.indexOf('## Queries'));
  const rows: Array<{ name: string; type: string }> = [];
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const cells = line.split('|').map((c) => c.trim());
    const type = cells[2]!;
    for (const m of cells[1]!.matchAll(/`([^`]+)`/g)) rows.push({ name: m[1]!, type });
  }
  return rows;
}

export interface DashboardQuery {
  readonly panel: string;
  readonly expr: string;
}

/** Every query of every panel of deploy/grafana/strata.json (rows' nested panels included). */
export async function dashboardQueries(): Promise<DashboardQuery[]> {
  interface Panel {
    title?: string;
    targets?: Array<{ expr?: string }>;
    panels?: Panel[];
  }
  const dashboard = JSON.parse(
    await readFile(join(REPO_ROOT, 'deploy', 'grafana', 'strata.json'), 'utf8'),
  ) as { panels: Panel[] };
  const out: DashboardQuery[] = [];
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? [])
        if (typeof t.expr === 'string') out.push({ panel: p.title ?? '?', expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(dashboard.panels);
  return out;
}

/**
 * The metric names a PromQL expression reads: identifiers that are not inside a label matcher
 * or a by/without/on/ignoring list, and are not functions or keywords. Only Strata's and the
 * process series' prefixes count as metrics here (the dashboard uses nothing else).
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    if (/^(strata_|process_|nodejs_)/.test(m[0])) names.add(m[0]);
  }
  return [...names];
}

/** Grafana's built-in interval variables, as Grafana would substitute them for a short test. */
export function substituteGrafana(expr: string, interval = '1m'): string {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range/g, interval);
}
