import { StrataError } from '../../core/errors.js';
import { parseDuration } from '../../core/units.js';
import { DEFAULT_TIMEOUTS, type GatewayTimeouts } from './server.js';

/** Flags of `strata gateway s3`'s listener: its bounds and timeouts (docs/reliability.md, "Limits"). */

/** A flag's positive integer, or undefined (the default) when not given. */
export function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new StrataError('INVALID_ARGUMENT', `${flag} must be a positive integer, got "${value}"`);
  return n;
}

/** --headers-timeout, --keep-alive-timeout, --idle-timeout (absent: DEFAULT_TIMEOUTS). */
export function gatewayTimeouts(values: {
  readonly 'headers-timeout'?: string | undefined;
  readonly 'keep-alive-timeout'?: string | undefined;
  readonly 'idle-timeout'?: string | undefined;
}): Partial<GatewayTimeouts> {
  const ms = (v: string | undefined, flag: string) => {
    if (v === undefined) return undefined;
    const n = parseDuration(v, flag);
    if (n <= 0) throw new StrataError('INVALID_ARGUMENT', `${flag} must be positive, got "${v}"`);
    return n;
  };
  const headersMs = ms(values['headers-timeout'], '--headers-timeout');
  const keepAliveMs = ms(values['keep-alive-timeout'], '--keep-alive-timeout');
  const idleMs = ms(values['idle-timeout'], '--idle-timeout');
  return {
    ...(headersMs === undefined
      ? {}
      : // Checked 4 times per timeout, at least every 5 s, so a short one is kept closely.
        {
          headersMs,
          checkIntervalMs: Math.max(10, Math.min(DEFAULT_TIMEOUTS.checkIntervalMs, headersMs / 4)),
        }),
    ...(keepAliveMs === undefined ? {} : { keepAliveMs }),
    ...(idleMs === undefined ? {} : { idleMs }),
  };
}
