import { StrataError } from '../core/errors.js';
import { parseDuration } from '../core/units.js';
import { DEFAULT_MAX_RUNNING, DEFAULT_RETENTION_MS } from '../scheduler/scheduler.js';

/** The scheduler's limits as flags, shared by `strata scheduler` and `strata local`. */
export const JOB_FLAGS = {
  'max-running': { type: 'string' },
  'job-retention': { type: 'string' },
} as const;

export const JOB_FLAGS_USAGE = `  --max-running N          jobs run at once; the rest wait PENDING (default ${DEFAULT_MAX_RUNNING})
  --job-retention DUR      finished jobs are kept this long, then purged (default 24h)`;

export function jobLimits(values: {
  'max-running'?: string | undefined;
  'job-retention'?: string | undefined;
}): {
  maxRunning: number;
  retentionMs: number;
} {
  const running = values['max-running'];
  const retention = values['job-retention'];
  return {
    maxRunning: running === undefined ? DEFAULT_MAX_RUNNING : integer(running, '--max-running', 1, 100_000),
    retentionMs:
      retention === undefined
        ? DEFAULT_RETENTION_MS
        : nonNegative(parseDuration(retention, '--job-retention'), '--job-retention'),
  };
}

export function integer(text: string, what: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(n) || n < min || n > max)
    throw new StrataError(
      'INVALID_ARGUMENT',
      `${what} must be an integer in [${min}, ${max}], got "${text}"`,
    );
  return n;
}

export function positive(n: number, what: string): number {
  if (!(n > 0)) throw new StrataError('INVALID_ARGUMENT', `${what} must be positive`);
  return n;
}

function nonNegative(n: number, what: string): number {
  if (!(n >= 0)) throw new StrataError('INVALID_ARGUMENT', `${what} must not be negative`);
  return n;
}
