import type { Writable } from 'node:stream';
import type { JobsClient } from '../client/jobs-client.js';
import { abortError } from '../core/abort.js';
import { ERROR_TABLE, StrataError, toStrataError } from '../core/errors.js';
import { isFinal, type JobInfo } from '../core/jobs.js';
import { print } from './command.js';
import { RateMeter, render } from './progress-bar.js';

/**
 * Following a job until it ends: as a progress bar redrawn in place on a terminal, as JSON lines
 * (one job object per change), or silently. Polls the jobs API; a retryable error (the scheduler
 * restarting, a failover) is retried until `reconnectMs` has passed without an answer.
 */

export type WatchMode = 'bar' | 'json' | 'quiet';

export interface WatchOptions {
  /** Between polls. Default 500 ms for the bar, 200 ms otherwise. */
  readonly intervalMs?: number;
  /** Stops watching (not the job): the promise rejects with CANCELLED. */
  readonly signal?: AbortSignal;
  /** How long retryable errors are retried in a row. Default 30 s. */
  readonly reconnectMs?: number;
}

/** Whether a stream is a terminal (process.stdout/stderr, or a test's stand-in saying so). */
export function isTty(out: Writable): boolean {
  return (out as { isTTY?: boolean }).isTTY === true;
}

function columns(out: Writable): number {
  const c = (out as { columns?: number }).columns;
  return typeof c === 'number' && c > 0 ? c : 80;
}

/** Polls job `id` until it has ended, showing it on `out` as `mode` says; answers the ended job. */
export async function watchJob(
  client: JobsClient,
  id: string,
  out: Writable,
  mode: WatchMode,
  options: WatchOptions = {},
): Promise<JobInfo> {
  const intervalMs = options.intervalMs ?? (mode === 'bar' ? 500 : 200);
  const reconnectMs = options.reconnectMs ?? 30_000;
  const meter = new RateMeter();
  let lastJson = '';
  let drawn = false;
  let failingSince: number | undefined;
  try {
    for (;;) {
      if (options.signal?.aborted) throw abortError(options.signal);
      let job: JobInfo;
      try {
        job = await client.get(id);
        failingSince = undefined;
      } catch (err) {
        const e = toStrataError(err);
        const now = Date.now();
        failingSince ??= now;
        if (!ERROR_TABLE[e.code].retryable || now - failingSince > reconnectMs) throw e;
        await sleep(intervalMs, options.signal);
        continue;
      }
      const ended = isFinal(job.state);
      if (mode === 'json') {
        const text = JSON.stringify(job);
        if (text !== lastJson) await print(out, `${text}\n`);
        lastJson = text;
      } else if (mode === 'bar') {
        meter.add(Date.now(), job);
        // One line redrawn with \r; one column kept free so the terminal never wraps it.
        const line = render(job, meter.rate(), columns(out) - 1);
        await print(out, `\r${line}\x1b[K${ended ? '\n' : ''}`);
        drawn = !ended;
      }
      if (ended) return job;
      await sleep(intervalMs, options.signal);
    }
  } finally {
    // Interrupted mid-bar: end its line so what follows starts on a fresh one.
    if (drawn) out.write('\n');
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * An abort signal fired by Ctrl-C (SIGINT) while `run` goes on, so a watch can end its line and
 * say it stopped watching; the job itself keeps running. The handler is removed afterwards.
 */
export async function untilInterrupted<T>(run: (signal: AbortSignal) => Promise<T>, id: string): Promise<T> {
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    return await run(controller.signal);
  } catch (err) {
    if (controller.signal.aborted)
      throw new StrataError(
        'CANCELLED',
        `stopped watching; job ${id} goes on (strata job status --watch ${id})`,
      );
    throw err;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
