import type { FileInfo, MountInfo } from '../client/types.js';
import { formatBytes } from '../core/units.js';

/** Output helpers shared by the commands: tables, sizes, times, masking. */

/** Left-aligns columns; `right` lists column indexes to right-align (numbers). */
export function table(rows: readonly (readonly string[])[], right: readonly number[] = []): string {
  if (rows.length === 0) return '';
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => {
          if (i === row.length - 1 && !right.includes(i)) return cell;
          const w = widths[i] ?? 0;
          return right.includes(i) ? cell.padStart(w) : cell.padEnd(w);
        })
        .join('  '),
    )
    .join('\n')
    .concat('\n');
}

export function humanBytes(n: number): string {
  return formatBytes(n);
}

export function size(n: number, human: boolean): string {
  return human ? humanBytes(n) : String(n);
}

/** "2024-05-01 12:00" in local time, like ls -l; "-" when unknown. */
export function shortTime(ms: number): string {
  if (!ms) return '-';
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function isoTime(ms: number): string {
  return ms ? new Date(ms).toISOString() : '-';
}

/** "1d2h", "30s", "500ms". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const parts: string[] = [];
  let rest = Math.floor(ms / 1000);
  for (const [unit, secs] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(rest / secs);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * secs;
  }
  return parts.join('');
}

/** One `ls -l`-style row: type, size, cached %, mtime, name. */
export function lsRow(e: FileInfo, human: boolean, name = e.name): string[] {
  const dir = e.type === 'directory';
  const flags = `${dir ? 'd' : '-'}${e.pinned ? 'p' : '-'}`;
  return [
    flags,
    dir ? '-' : size(e.size, human),
    dir ? '-' : `${e.cachedPercent}%`,
    shortTime(e.mtimeMs),
    dir ? `${name}/` : name,
  ];
}

export function mountRows(mounts: readonly MountInfo[]): string[][] {
  const rows = [['MOUNT', 'URI', 'MODE', 'SYNC', 'WRITE TYPE', 'OPTIONS']];
  for (const m of mounts) {
    rows.push([
      m.path,
      m.uri,
      m.readOnly ? 'ro' : 'rw',
      m.syncIntervalMs < 0 ? 'never' : m.syncIntervalMs === 0 ? 'always' : formatDuration(m.syncIntervalMs),
      m.writeType,
      Object.entries(m.options)
        .map(([k, v]) => `${k}=${v}`)
        .join(',') || '-',
    ]);
  }
  return rows;
}

/**
 * Environment variables (not mount options: those are the connectors' declaration) whose value
 * is a secret: STRATA_TOKEN, STRATA_S3_SECRET_ACCESS_KEY… A `_FILE` variable names a file, not a
 * secret, and is shown.
 */
const SECRET_KEY = /secret|password|token|key|credential/i;

/** Masks values whose key names a secret, and user info of URIs in any value. */
export function maskSecrets(values: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) {
    if (v !== undefined) out[k] = SECRET_KEY.test(k) && !/_FILE$/i.test(k) ? '****' : redactUserInfo(v);
  }
  return out;
}

/** `scheme://user:pass@host` → `scheme://host`, wherever in the text (lists of PATH=URI too). */
export function redactUserInfo(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^@/\s,]*@/gi, '$1');
}

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
