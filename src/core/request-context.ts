import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';

/**
 * The request a piece of work is done for, carried across awaits without threading a parameter
 * through every layer: the S3 gateway and FUSE start one per request, RemoteFileSystem sends its
 * id to the worker (REQUEST_ID_HEADER), the RPC server runs the call inside it, and the logger
 * and the store wrapper read it from here.
 *
 * Carried only while tracing is on (the debug log level, set by src/core/log.ts): on Node 20 an
 * AsyncLocalStorage in use installs a promise hook for every promise of the process, measured at
 * ~10–25 µs more server CPU per 4 KiB S3 GET (49–64 → 74–89 µs in one interleaved run). Off, withRequestId just calls `fn`;
 * the front ends still name their own id in their own log lines.
 */
export interface RequestContext {
  readonly requestId: string;
}

/** The header RemoteFileSystem sends and the RPC server reads. */
export const REQUEST_ID_HEADER = 'x-strata-request-id';

const storage = new AsyncLocalStorage<RequestContext>();
let tracing = false;

/** Turns carrying request ids across awaits on or off (log.ts: on at the debug level). */
export function setRequestTracing(on: boolean): void {
  tracing = on;
}

export function requestTracing(): boolean {
  return tracing;
}

/** Runs `fn` (and everything it awaits or schedules) as part of request `requestId`, when tracing. */
export function withRequestId<T>(requestId: string, fn: () => T): T {
  return tracing ? storage.run({ requestId }, fn) : fn();
}

/** The id of the request this code runs for, if any. */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** An incoming id is taken only when it looks like one (no header injection into logs). */
export function acceptRequestId(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= 64 && /^[\w.:-]+$/.test(value)
    ? value
    : undefined;
}

const PREFIX = randomBytes(4).toString('hex').toUpperCase();
let counter = 0;

/** A new id, unique per process start (random prefix) and in it (counter): 16 hex characters. */
export function newRequestId(): string {
  counter = (counter + 1) % 0x100000000;
  return PREFIX + counter.toString(16).toUpperCase().padStart(8, '0');
}
