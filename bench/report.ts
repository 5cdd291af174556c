import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One benchmark figure: a ratio against a baseline measured in the same run. */
export interface Row {
  readonly metric: string;
  readonly strata: string;
  readonly baseline: string;
  readonly ratio: number;
  readonly target: string;
  readonly ok: boolean;
}

/** A row; `goal` {min} or {max} makes it a target (else informational). */
export function row(
  metric: string,
  strata: string,
  baseline: string,
  ratio: number,
  goal: { min?: number; max?: number } = {},
): Row {
  if (goal.min !== undefined)
    return { metric, strata, baseline, ratio, target: `≥ ${goal.min}`, ok: ratio >= goal.min };
  if (goal.max !== undefined)
    return { metric, strata, baseline, ratio, target: `≤ ${goal.max}`, ok: ratio <= goal.max };
  return { metric, strata, baseline, ratio, target: '(info)', ok: true };
}

export function printTable(title: string, rows: readonly Row[]): void {
  const header = ['metric', 'strata', 'baseline', 'ratio', 'target', 'met'];
  const cells = rows.map((r) => [
    r.metric,
    r.strata,
    r.baseline,
    r.ratio.toFixed(2),
    r.target,
    r.target === '(info)' ? '' : r.ok ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`;
  process.stdout.write(
    `\n${title}\n${line(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n${cells.map(line).join('\n')}\n`,
  );
}

/** Writes the rows as JSON into bench/results/ (ignored by git). */
export async function saveResults(name: string, rows: readonly Row[]): Promise<string> {
  const dir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify({ name, at: new Date().toISOString(), rows }, null, 2));
  return file;
}
