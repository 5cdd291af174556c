import type { Readable } from 'node:stream';
import { abortError, throwIfAborted, untilAborted } from '../core/abort.js';
import { type ErrorCode, StrataError, toStrataError } from '../core/errors.js';
import { log, logEnabled, logSeconds } from '../core/log.js';
import { redactUri } from '../core/mounts.js';
import {
  type CallOptions,
  type ListOptions,
  type ListPage,
  type ReadOptions,
  type UfsCapabilities,
  type UfsStatus,
  UnderStore,
  type WriteOptions,
} from './under-store.js';

export type UfsOperation = 'status' | 'list' | 'read' | 'write' | 'delete' | 'mkdir' | 'rename';

/**
 * Told about every store call once it settles: how long it took (a read: until its stream was
 * open, since a whole body's duration depends on how fast the reader consumes) and, if it failed,
 * the error code.
 */
export type StoreCallObserver = (op: UfsOperation, seconds: number, errorCode: ErrorCode | undefined) => void;

export interface InstrumentOptions {
  readonly observe?: StoreCallObserver;
  /**
   * Deadline of a call that moves no body (status, one list page, delete, mkdir, a real rename)
   * and of a read until its stream opens (an HTTP store: its response headers, the first byte);
   * past it the call is aborted and fails with UFS_UNAVAILABLE (the store did not answer: EIO
   * under FUSE, S3 503, CLI exit 69 — and not TIMEOUT, which clients read as "this worker is
   * stuck" and fail over to a replica that would wait on the same store). Writes are bounded by their source and
   * the caller's signal instead, and so are the calls that may move or visit a whole tree (a
   * recursive delete, a rename by copy), whose connectors bound each request they make.
   * Default 10 s (DEFAULT_STORE_DEADLINE_MS); 0 turns it off.
   */
  readonly deadlineMs?: number;
  /**
   * After a call ran into the whole deadline (the store went silent), the store is suspect for
   * this long: its bounded calls get `suspectDeadlineMs` instead, so while an origin is
   * blackholed each request does not wait the whole deadline again (an S3 GET of a cached object
   * looks up its sidecar: two store calls). The first call to succeed clears it, so reads recover
   * as soon as the store answers; a short deadline missed does not extend it, so a store that is
   * only slow gets a whole deadline again when the window ends. Default 10 s; 0 turns it off.
   */
  readonly suspectWindowMs?: number;
  /** The deadline of a suspect store's calls. Default 1 s (never above deadlineMs). */
  readonly suspectDeadlineMs?: number;
}

export const DEFAULT_SUSPECT_WINDOW_MS = 10_000;
/** A call that failed unavailable after this share of its deadline counts as one that ran into it. */
const SILENT_SHARE = 0.9;
export const DEFAULT_SUSPECT_DEADLINE_MS = 1_000;

/** The same as the http connector's default timeoutMs, so a silent store fails in 10 s. */
export const DEFAULT_STORE_DEADLINE_MS = 10_000;

/**
 * The one wrapper every under-store call of a worker goes through (the worker's mount table wraps
 * each store it opens): it times the call, bounds it by a deadline, and hands the connector one
 * AbortSignal that fires on the caller's signal or the deadline — so a client that goes away or a
 * store that hangs stops the request to the store itself. An aborted call fails with CANCELLED
 * (UFS_UNAVAILABLE for the deadline), whatever the connector's own abort error looked like.
 *
 * A wrapper of the same interface (STYLE.md: cross-cutting concerns are wrappers), so connectors
 * stay unaware of it and the contract suite runs unchanged through it.
 */
export class InstrumentedStore extends UnderStore {
  readonly uri: string;
  readonly capabilities: UfsCapabilities;
  readonly deadlineMs: number;
  private closing: Promise<void> | undefined;
  private shownUri: string | undefined;
  /** performance.now() until which the store is suspect (see InstrumentOptions.suspectWindowMs). */
  private suspectUntil = 0;

  constructor(
    readonly inner: UnderStore,
    private readonly o: InstrumentOptions = {},
  ) {
    super();
    this.uri = inner.uri;
    this.capabilities = inner.capabilities;
    this.deadlineMs = o.deadlineMs ?? DEFAULT_STORE_DEADLINE_MS;
  }

  protected _status(path: string, options: CallOptions): Promise<UfsStatus> {
    return this.call('status', path, options, true, (signal) =>
      this.inner.status(path, { ...options, signal }),
    );
  }

  protected _list(path: string, options: ListOptions): Promise<ListPage> {
    return this.call('list', path, options, true, (signal) => this.inner.list(path, { ...options, signal }));
  }

  /**
   * The inner store's listAll, not the base class's loop over list(): a connector with a faster
   * whole listing (the file connector reads its directory once) would otherwise re-read the
   * directory for every page — quadratic in its size (a cold 200,000-entry listing took 200 s).
   */
  override listAll(path: string, options: CallOptions = {}): Promise<UfsStatus[]> {
    return this.call('list', path, options, true, (signal) =>
      this.inner.listAll(path, { ...options, signal }),
    );
  }

  /** The inner store's batches, each within the store deadline (a batch that hangs fails the listing). */
  override async *listBatches(
    path: string,
    options: CallOptions & { batch?: number } = {},
  ): AsyncGenerator<UfsStatus[]> {
    const it = this.inner.listBatches(path, options);
    let finished = false;
    try {
      for (;;) {
        const r = await this.call('list', path, options, true, (signal) => untilAborted(it.next(), signal));
        if (r.done) {
          finished = true;
          return;
        }
        yield r.value;
      }
    } finally {
      // Not awaited: after a deadline the inner next() may never settle.
      if (!finished) void it.return(undefined).catch(() => undefined);
    }
  }

  protected _read(path: string, options: ReadOptions): Promise<Readable> {
    return this.call(
      'read',
      path,
      options,
      true,
      (signal) => this.inner.read(path, { ...options, signal }),
      true,
    );
  }

  /** Bounded like a read's opening, and the whole body is in hand when it settles. */
  protected override _readBuffer(
    path: string,
    options: ReadOptions & { readonly length: number },
  ): Promise<Buffer> {
    return this.call('read', path, options, true, (signal) =>
      this.inner.readBuffer(path, { ...options, signal }),
    );
  }

  protected _write(path: string, source: Readable, options: WriteOptions): Promise<UfsStatus> {
    return this.call('write', path, options, false, (signal) =>
      this.inner.write(path, source, { ...options, signal }),
    );
  }

  protected _delete(path: string, options: CallOptions & { recursive?: boolean }): Promise<void> {
    return this.call('delete', path, options, options.recursive !== true, (signal) =>
      this.inner.delete(path, { ...options, signal }),
    );
  }

  protected _mkdir(path: string, options: CallOptions): Promise<void> {
    return this.call('mkdir', path, options, true, (signal) =>
      this.inner.mkdir(path, { ...options, signal }),
    );
  }

  protected _rename(from: string, to: string, options: CallOptions): Promise<void> {
    return this.call('rename', from, options, this.capabilities.rename !== 'copy', (signal) =>
      this.inner.rename(from, to, { ...options, signal }),
    );
  }

  /** Closes the connector once: a mount table may close a store twice (unmount races a registry snapshot). */
  override close(): Promise<void> {
    this.closing ??= this.inner.close();
    return this.closing;
  }

  /** The store's URI as shown in logs and errors (no user info). */
  private shown(): string {
    this.shownUri ??= redactUri(this.uri);
    return this.shownUri;
  }

  /** Debug line of one store call; the request it serves adds its requestId (src/core/log.ts). */
  private logCall(op: UfsOperation, path: string, seconds: number, code: ErrorCode | undefined): void {
    log.debug('store_call', {
      store: this.shown(),
      op,
      path,
      seconds: logSeconds(seconds),
      ...(code ? { code } : {}),
    });
  }

  /** The store went silent: its bounded calls get the short deadline for the suspect window. */
  private markSuspect(): void {
    this.suspectUntil = performance.now() + (this.o.suspectWindowMs ?? DEFAULT_SUSPECT_WINDOW_MS);
  }

  private async call<T>(
    op: UfsOperation,
    path: string,
    options: CallOptions,
    bounded: boolean,
    fn: (signal: AbortSignal) => Promise<T>,
    /** The connector keeps using the signal after the call settles (a read's body). */
    outlives = false,
  ): Promise<T> {
    const started = performance.now();
    const deadline = new AbortController();
    const suspect = started < this.suspectUntil;
    const limitMs = suspect
      ? Math.min(this.deadlineMs, this.o.suspectDeadlineMs ?? DEFAULT_SUSPECT_DEADLINE_MS)
      : this.deadlineMs;
    const why = suspect
      ? `the store deadline while the store is suspect: it did not answer within ${this.deadlineMs} ms lately`
      : 'the store deadline';
    const timer =
      bounded && this.deadlineMs > 0
        ? setTimeout(() => {
            if (!suspect) this.markSuspect();
            deadline.abort(
              new StrataError(
                'UFS_UNAVAILABLE',
                `${this.shown()}: ${op} ${path}: no answer within ${limitMs} ms (${why})`,
                {
                  details: { path, op, deadlineMs: limitMs },
                },
              ),
            );
          }, limitMs)
        : undefined;
    // The caller's signal keeps governing a read's body after the deadline timer is cleared
    // (AbortSignal.any). A call done with the signal when it settles forwards the caller's abort
    // through a listener instead: any() was a tenth of the JavaScript a small-file load cost.
    const caller = options.signal;
    let forward: (() => void) | undefined;
    let signal = deadline.signal;
    if (caller !== undefined && outlives) signal = AbortSignal.any([caller, deadline.signal]);
    else if (caller !== undefined) {
      if (caller.aborted) deadline.abort(caller.reason);
      else {
        forward = () => deadline.abort(caller.reason);
        caller.addEventListener('abort', forward, { once: true });
      }
    }
    try {
      throwIfAborted(signal);
      const result = await fn(signal);
      this.suspectUntil = 0;
      const seconds = (performance.now() - started) / 1000;
      this.o.observe?.(op, seconds, undefined);
      if (logEnabled('debug')) this.logCall(op, path, seconds, undefined);
      return result;
    } catch (err) {
      const e = signal.aborted ? abortError(signal) : toStrataError(err);
      // The connector's own timeout may end a silent call just before the deadline does (the
      // http connector's default is the same 10 s, on undici's coarse clock): the store went
      // silent all the same, so it is suspect as if the deadline had fired.
      if (
        timer !== undefined &&
        !suspect &&
        !signal.aborted &&
        e.code === 'UFS_UNAVAILABLE' &&
        performance.now() - started >= limitMs * SILENT_SHARE
      )
        this.markSuspect();
      const seconds = (performance.now() - started) / 1000;
      this.o.observe?.(op, seconds, e.code);
      if (logEnabled('debug')) this.logCall(op, path, seconds, e.code);
      throw e;
    } finally {
      if (timer) clearTimeout(timer);
      if (forward !== undefined) caller?.removeEventListener('abort', forward);
    }
  }
}

/** A store's deadline: the given one, or the store's `timeoutMs` option when that is longer. */
export function deadlineOf(options: Readonly<Record<string, string>>, deadlineMs: number): number {
  const timeoutMs = Number(options.timeoutMs);
  if (deadlineMs <= 0 || !Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) return deadlineMs;
  return Math.max(deadlineMs, timeoutMs);
}
