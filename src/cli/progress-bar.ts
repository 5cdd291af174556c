import { isFinal, type JobInfo } from '../core/jobs.js';
import { formatBytes } from '../core/units.js';

/**
 * The progress bar of `strata job status --watch` and `… --wait` on a terminal, as pure functions:
 * `render(job, rate, width)` is one line of at most `width` characters, and `RateMeter` turns
 * counter samples into a rate over the last few seconds. Drawing (\r, clearing) is job-watch.ts's.
 */

/** Throughput over the meter's window; undefined until two samples span some time. */
export interface Rate {
  readonly bytesPerSecond: number;
  readonly filesPerSecond: number;
}

/** Files the job is finished with, whatever the outcome. */
export function filesHandled(job: JobInfo): number {
  return job.filesDone + job.filesSkipped + job.filesFailed;
}

/**
 * How far the job got, 0..1; undefined while nothing is listed yet. Bytes when they measure all of
 * the work handled (no skipped or failed files, whose bytes are not in bytesDone), else files.
 * While the listing runs the totals grow, so this is the share of what is listed so far.
 */
export function progressFraction(job: JobInfo): number | undefined {
  if (job.state === 'SUCCEEDED') return 1;
  // Nothing listed: unknown (a job cancelled or failed before its listing began is not 100 %).
  if (job.filesTotal <= 0) return undefined;
  const byBytes = job.bytesTotal > 0 && job.filesSkipped === 0 && job.filesFailed === 0;
  const f = byBytes ? job.bytesDone / job.bytesTotal : filesHandled(job) / job.filesTotal;
  return Math.min(1, Math.max(0, f));
}

/** "3s", "4m05s", "2h10m", "3d4h". */
export function formatEta(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`;
}

/** Seconds left at this rate over what is listed so far; undefined when it cannot be told. */
export function etaSeconds(job: JobInfo, rate: Rate | undefined): number | undefined {
  // Before the listing has ended the totals are only what was found so far: no ETA yet.
  if (rate === undefined || isFinal(job.state) || job.filesTotal <= 0 || !job.listingDone) return undefined;
  const bytesLeft = job.bytesTotal - job.bytesDone;
  if (job.filesSkipped === 0 && job.filesFailed === 0 && bytesLeft > 0 && rate.bytesPerSecond > 0)
    return bytesLeft / rate.bytesPerSecond;
  const filesLeft = job.filesTotal - filesHandled(job);
  if (filesLeft <= 0) return 0;
  return rate.filesPerSecond > 0 ? filesLeft / rate.filesPerSecond : undefined;
}

function formatRate(rate: Rate): string {
  if (rate.bytesPerSecond > 0 || rate.filesPerSecond === 0)
    return `${formatBytes(Math.round(rate.bytesPerSecond))}/s`;
  return `${rate.filesPerSecond >= 10 ? Math.round(rate.filesPerSecond) : rate.filesPerSecond.toFixed(1)} files/s`;
}

/** Cuts the middle out of a long text: "/s3/data…/part-0001". */
export function ellipsize(text: string, width: number): string {
  if (text.length <= width) return text;
  if (width <= 1) return text.slice(0, Math.max(0, width));
  const tail = Math.ceil((width - 1) / 2);
  return `${text.slice(0, width - 1 - tail)}…${text.slice(text.length - tail)}`;
}

/** "load /s3/datasets/train", or cut to `width` keeping the path's end: "load …datasets/train". */
export function labelText(kind: string, path: string, width: number): string {
  const whole = `${kind} ${path}`;
  if (whole.length <= width) return whole;
  const tail = width - kind.length - 2;
  return tail >= 4 ? `${kind} …${path.slice(path.length - tail)}` : ellipsize(whole, width);
}

/** `[#####-----]` of `width` characters (brackets included); all '-' when unknown. */
export function bar(fraction: number | undefined, width: number): string {
  const inner = Math.max(0, width - 2);
  const full = fraction === undefined ? 0 : Math.floor(fraction * inner);
  return `[${'#'.repeat(full)}${'-'.repeat(inner - full)}]`;
}

const SEP = '  ';
const MIN_BAR = 12;
const MAX_BAR = 32;
const MIN_LABEL = 16;

interface Part {
  readonly order: number;
  readonly text: string;
}

/**
 * One line: `RUNNING  load /m/big  [####----]  42%  2520/6000 files  2.5MiB/5.9MiB  1.2MiB/s
 * ETA 3s  0 failed`. What does not fit `width` is left out, least useful first: the path, the bar,
 * "0 failed", the ETA, the rate, the bytes, the files (the bar and path share what is left); state and percent always stay (and a
 * width too small even for them is cut). Failures, when there are some, outrank all but those.
 */
/** From this width on, the label and the bar are always shown. */
const WIDE = 60;

export function render(job: JobInfo, rate: Rate | undefined, width: number): string {
  const fraction = progressFraction(job);
  const ended = isFinal(job.state);
  const pct = fraction === undefined ? '?%' : `${Math.floor(fraction * 100)}%`;
  // "1024+": the listing goes on, more files may come.
  const total = job.filesTotal > 0 || ended ? `${job.filesTotal}${job.listingDone || ended ? '' : '+'}` : '?';
  const files = `${job.filesDone}/${total} files${job.filesSkipped > 0 ? ` (${job.filesSkipped} skipped)` : ''}`;
  const bytes = `${formatBytes(job.bytesDone)}/${job.bytesTotal > 0 || ended ? formatBytes(job.bytesTotal) : '?'}`;
  const eta = etaSeconds(job, rate);
  const took =
    ended && job.startedAtMs !== undefined && job.endedAtMs !== undefined
      ? `in ${formatEta((job.endedAtMs - job.startedAtMs) / 1000)}`
      : undefined;
  const failed = `${job.filesFailed} failed`;

  // [order on the line, text], in the order they are given room.
  const wanted: Part[] = [
    { order: 0, text: job.state },
    { order: 3, text: pct },
  ];
  if (job.filesFailed > 0) wanted.push({ order: 8, text: failed });
  wanted.push({ order: 4, text: files }, { order: 5, text: bytes });
  if (rate !== undefined && !ended) wanted.push({ order: 6, text: formatRate(rate) });
  if (!ended) wanted.push({ order: 7, text: `ETA ${eta === undefined ? '?' : formatEta(eta)}` });
  if (took !== undefined) wanted.push({ order: 7, text: took });
  if (job.filesFailed === 0) wanted.push({ order: 8, text: failed });
  // load --verify: cached pages found corrupt and fetched again.
  if (job.pagesRepaired > 0) wanted.push({ order: 9, text: `${job.pagesRepaired} pages repaired` });

  // On a terminal of normal width the label and a short bar come before the optional figures
  // (room for them is kept first); on a narrow one the figures win.
  const label = `${job.kind} ${job.path}`;
  const reserve = width >= WIDE ? 2 * SEP.length + MIN_BAR + Math.min(MIN_LABEL, label.length) : 0;
  const parts: Part[] = [];
  let used = -SEP.length;
  for (const p of wanted) {
    const cost = SEP.length + p.text.length;
    if (parts.length >= 2 && used + cost > width - reserve) continue;
    parts.push(p);
    used += cost;
  }
  // What is left goes to the bar (12 to 32 wide), then to the path (whole, or cut to ≥ 16 keeping its end).
  const room = width - used;
  let barWidth = 0;
  let labelWidth = 0;
  if (room >= SEP.length + MIN_BAR) {
    barWidth = Math.min(MAX_BAR, room - SEP.length);
    const fits = Math.min(label.length, room - 2 * SEP.length - MIN_BAR);
    if (fits >= Math.min(MIN_LABEL, label.length)) {
      labelWidth = fits;
      barWidth = Math.min(MAX_BAR, room - 2 * SEP.length - labelWidth);
    }
  } else if (room >= SEP.length + Math.min(MIN_LABEL, label.length)) {
    labelWidth = Math.min(label.length, room - SEP.length);
  }
  if (labelWidth > 0) parts.push({ order: 1, text: labelText(job.kind, job.path, labelWidth) });
  if (barWidth > 0) parts.push({ order: 2, text: bar(fraction, barWidth) });
  parts.sort((a, b) => a.order - b.order);
  return parts
    .map((p) => p.text)
    .join(SEP)
    .slice(0, Math.max(0, width));
}

/**
 * Bytes and files per second over the last `windowMs` of samples (the caller's clock, so tests
 * need no timers). A stalled job's rate falls to 0 as its old samples leave the window.
 */
export class RateMeter {
  readonly #samples: { atMs: number; bytes: number; files: number }[] = [];

  constructor(private readonly windowMs = 5_000) {}

  add(atMs: number, job: JobInfo): void {
    this.#samples.push({ atMs, bytes: job.bytesDone, files: filesHandled(job) });
    // Keep one sample at or before the window's start, so the rate spans the whole window.
    while (this.#samples.length > 2 && (this.#samples[1]?.atMs ?? atMs) <= atMs - this.windowMs)
      this.#samples.shift();
  }

  rate(): Rate | undefined {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (first === undefined || last === undefined || last.atMs <= first.atMs) return undefined;
    const seconds = (last.atMs - first.atMs) / 1000;
    return {
      bytesPerSecond: Math.max(0, (last.bytes - first.bytes) / seconds),
      filesPerSecond: Math.max(0, (last.files - first.files) / seconds),
    };
  }
}
