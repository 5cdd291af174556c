import { StrataError } from './errors.js';
import { currentRequestId, setRequestTracing } from './request-context.js';

/**
 * Structured JSON logs on stderr (stdout carries only the ready line), one object a line:
 * {"time","level","event",...fields,"requestId"?}. `requestId` is added when the code runs for a
 * request (src/core/request-context.ts). Fields must never hold secrets: URIs are redacted and
 * options masked before they reach here.
 *
 * Levels: debug < info < warn < error; the threshold comes from --log-level, else
 * STRATA_LOG_LEVEL, else info. STRATA_LOG=off silences everything. A call below the threshold
 * returns after one comparison; hot paths that would build fields check `logEnabled` first.
 * At debug, request ids are also carried across awaits (request-context.ts says what that costs).
 */
export type Logger = (event: string, fields?: Record<string, unknown>) => void;

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const OFF = 100;

/** A level name, or INVALID_ARGUMENT naming the ones there are. */
export function parseLogLevel(value: unknown, source = '--log-level'): LogLevel {
  const s = String(value).toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(s)) return s as LogLevel;
  throw new StrataError(
    'INVALID_ARGUMENT',
    `${source} must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(String(value))}`,
  );
}

let level: LogLevel = 'info';
let threshold = RANK.info;
let quiet = process.env.STRATA_LOG === 'off';

function initialLevel(): void {
  setQuiet(quiet);
  const env = process.env.STRATA_LOG_LEVEL;
  if (env === undefined || env === '') return;
  try {
    setLogLevel(parseLogLevel(env, 'STRATA_LOG_LEVEL'));
  } catch {
    // A daemon checks it again at start (its configuration) and refuses to run; a library keeps info.
  }
}

export function setLogLevel(value: LogLevel): void {
  level = value;
  threshold = quiet ? OFF : RANK[value];
  setRequestTracing(threshold <= RANK.debug);
}

export function getLogLevel(): LogLevel {
  return level;
}

/** STRATA_LOG=off, or tests that want silence. */
export function setQuiet(value: boolean): void {
  quiet = value;
  threshold = quiet ? OFF : RANK[level];
  setRequestTracing(threshold <= RANK.debug);
}

/** Whether a line at this level would be written (check it before building costly fields). */
export function logEnabled(at: LogLevel): boolean {
  return RANK[at] >= threshold;
}

function write(at: LogLevel, event: string, fields: Record<string, unknown> | undefined): void {
  const requestId = currentRequestId();
  const line: Record<string, unknown> = { time: new Date().toISOString(), level: at, event, ...fields };
  if (requestId !== undefined && line.requestId === undefined) line.requestId = requestId;
  process.stderr.write(`${JSON.stringify(line)}\n`);
}

function at(l: LogLevel): Logger {
  const rank = RANK[l];
  return (event, fields) => {
    if (rank < threshold) return;
    write(l, event, fields);
  };
}

/** A duration for a log line: seconds to the microsecond (no float noise such as 0.0043999999). */
export function logSeconds(seconds: number): number {
  return Math.round(seconds * 1e6) / 1e6;
}

/** One logger per level. */
export const log: Readonly<Record<LogLevel, Logger>> = {
  debug: at('debug'),
  info: at('info'),
  warn: at('warn'),
  error: at('error'),
};

/** The info logger (what every caller used before levels existed). */
export const logger: Logger = log.info;

/**
 * The level a daemon runs at: its --log-level flag, else STRATA_LOG_LEVEL, else the config
 * file's `logLevel`, else info. Bad values are INVALID_ARGUMENT (the daemon does not start).
 */
export function logLevelFrom(flag: unknown, env: NodeJS.ProcessEnv, fileValue?: unknown): LogLevel {
  if (flag !== undefined) return parseLogLevel(flag, '--log-level');
  const fromEnv = env.STRATA_LOG_LEVEL;
  if (fromEnv !== undefined && fromEnv !== '') return parseLogLevel(fromEnv, 'STRATA_LOG_LEVEL');
  if (fileValue !== undefined) return parseLogLevel(fileValue, 'logLevel');
  return 'info';
}

initialLevel();
