import { StrataError } from '../core/errors.js';
import type { CallOptions, FileInfo, JobBatchOp, StrataFileSystem } from '../core/file-system.js';
import { copyFile, destinationOf } from './copy.js';

/**
 * The one table of job kinds (STYLE: "one table for job kinds: what they do, which conflict").
 * A kind that is declared but not implemented is refused with UNSUPPORTED when submitted.
 * A kind runs through the owners' batch call (`op`, `fs.jobBatch`), or file by file through
 * `file` where the file system has no batch call (or the kind has no op: copy and move).
 */

/** What handling one file came to: done (counted with its bytes) or skipped (nothing to do). */
export type FileOutcome = 'done' | 'skipped';

/** The per-owner batch operations (JobBatchRequest.op). */
export type BatchOp = JobBatchOp;

export type OptionValue = boolean | number;

export interface JobKind {
  readonly summary: string;
  /** Options the kind takes, with their defaults; anything else is refused. */
  readonly options: Readonly<Record<string, OptionValue>>;
  /** Kinds that may not run at the same time on overlapping paths. */
  readonly conflictsWith: readonly string[];
  /** Whether the kind takes a destination (`dst`: copy, move) — then it must have one. */
  readonly dst: boolean;
  /** The owners' batch operation, when the kind has one. */
  readonly op?: BatchOp;
  /**
   * One file at a time (the fallback where `fs.jobBatch` is absent). Undefined with no op as
   * well: declared, not yet implemented.
   */
  readonly file?: (
    fs: StrataFileSystem,
    file: FileInfo,
    options: Readonly<Record<string, unknown>>,
    call: CallOptions,
    target: JobTarget,
  ) => Promise<FileOutcome>;
  /** Options the per-file fallback cannot honour (the job fails UNSUPPORTED rather than lie). */
  readonly batchOnly?: (options: Readonly<Record<string, unknown>>) => string | undefined;
  /** Bytes a file costs against the job's bandwidth (what the transfer moves, per copy made). */
  readonly charge: (file: FileInfo, options: Readonly<Record<string, unknown>>) => number;
}

/** What a job runs over: its root path and, for copy and move, its destination. */
export interface JobTarget {
  readonly root: string;
  readonly dst?: string;
}

async function loadFile(
  fs: StrataFileSystem,
  file: FileInfo,
  options: Readonly<Record<string, unknown>>,
  call: CallOptions,
): Promise<FileOutcome> {
  if (options.metadataOnly === true) {
    await fs.status(file.path, { ...call, syncIntervalMs: 0 });
    return 'done';
  }
  // The listing's cached figures come from each file's owner (ClusterFileSystem.list probes them).
  if (options.skipIfCached === true && file.cachedPercent === 100) return 'skipped';
  await fs.load(file.path, call);
  const after = await fs.status(file.path, call);
  if (after.cachedPercent < 100) {
    throw new StrataError('CACHE_FULL', `only ${after.cachedPercent} % of the file is cached after loading`, {
      details: { path: file.path },
    });
  }
  return 'done';
}

async function freeFile(
  fs: StrataFileSystem,
  file: FileInfo,
  _options: Readonly<Record<string, unknown>>,
  call: CallOptions,
): Promise<FileOutcome> {
  await fs.free(file.path, call);
  return 'done';
}

/** Copy and move: through the scheduler, one file at a time (no owner holds both ends). */
function copyKind(move: boolean): NonNullable<JobKind['file']> {
  return (fs, file, options, call, target) => {
    if (target.dst === undefined)
      throw new StrataError('INVALID_ARGUMENT', 'a copy or move needs a destination');
    return copyFile(
      fs,
      file,
      destinationOf(target.root, target.dst, file.path),
      {
        overwrite: options.overwrite === true,
        move,
      },
      call,
    );
  };
}

const free = () => 0;
const bySize = (f: FileInfo) => f.size;

export const JOB_KINDS: Readonly<Record<string, JobKind>> = {
  load: {
    summary: 'read files into the cache of their first `replicas` owners (checked: 100 % cached on each)',
    options: { replicas: 1, skipIfCached: false, metadataOnly: false, verify: false, bandwidth: 0 },
    conflictsWith: ['free', 'move'],
    dst: false,
    op: 'load',
    file: loadFile,
    batchOnly: (o) =>
      o.verify === true
        ? 'load with verify needs the owners’ batch call'
        : (o.replicas as number) > 1
          ? 'load on replicas needs the owners’ batch call'
          : undefined,
    charge: (f, o) =>
      o.metadataOnly === true || (o.skipIfCached === true && f.cachedPercent === 100)
        ? 0
        : f.size * Math.max(1, o.replicas as number),
  },
  free: {
    summary: 'drop the cached pages of files (pinned pages stay)',
    options: { bandwidth: 0 },
    conflictsWith: ['load', 'persist', 'copy', 'move'],
    dst: false,
    op: 'free',
    file: freeFile,
    charge: free,
  },
  persist: {
    summary: 'upload files written ASYNC_THROUGH or MUST_CACHE to the store, resolved once durable',
    options: { bandwidth: 0 },
    conflictsWith: ['free', 'move'],
    dst: false,
    op: 'persist',
    charge: (f) => (f.persistence === 'PERSISTED' ? 0 : f.size),
  },
  copy: {
    summary: 'copy a tree to another path, through the cache',
    options: { bandwidth: 0, overwrite: false },
    conflictsWith: ['free', 'move'],
    dst: true,
    file: copyKind(false),
    charge: bySize,
  },
  move: {
    summary: 'move a tree to another path (copy, then delete the source)',
    options: { bandwidth: 0, overwrite: false },
    conflictsWith: ['load', 'free', 'persist', 'copy', 'move'],
    dst: true,
    file: copyKind(true),
    charge: bySize,
  },
};

/** Checks an option's value beyond its type. */
function checkValue(kind: string, name: string, value: OptionValue): void {
  if (typeof value !== 'number') return;
  if (!Number.isFinite(value))
    throw new StrataError('INVALID_ARGUMENT', `option ${name} of ${kind} must be finite`);
  if (name === 'replicas' && (!Number.isInteger(value) || value < 1))
    throw new StrataError('INVALID_ARGUMENT', `option replicas of ${kind} must be a whole number ≥ 1`);
  if (name === 'bandwidth' && value < 0)
    throw new StrataError(
      'INVALID_ARGUMENT',
      `option bandwidth of ${kind} must be ≥ 0 bytes per second (0 = unlimited)`,
    );
}

/** The kind and its options with defaults filled in; UNSUPPORTED / INVALID_ARGUMENT otherwise. */
export function resolveKind(
  kind: string,
  options: Readonly<Record<string, unknown>> = {},
): { kind: JobKind; options: Record<string, OptionValue> } {
  const k = Object.hasOwn(JOB_KINDS, kind) ? JOB_KINDS[kind] : undefined;
  if (k === undefined) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `unknown job kind ${kind} (known: ${Object.keys(JOB_KINDS).join(', ')})`,
    );
  }
  if (k.file === undefined && k.op === undefined)
    throw new StrataError('UNSUPPORTED', `job kind ${kind} is not implemented yet`);
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new StrataError('INVALID_ARGUMENT', 'job options must be an object');
  const out: Record<string, OptionValue> = { ...k.options };
  for (const [name, value] of Object.entries(options)) {
    const dflt = Object.hasOwn(k.options, name) ? k.options[name] : undefined;
    if (dflt === undefined)
      throw new StrataError(
        'INVALID_ARGUMENT',
        `job kind ${kind} has no option ${name} (it takes: ${Object.keys(k.options).join(', ')})`,
      );
    if (typeof value !== typeof dflt) {
      throw new StrataError('INVALID_ARGUMENT', `option ${name} of ${kind} must be a ${typeof dflt}`);
    }
    checkValue(kind, name, value as OptionValue);
    out[name] = value as OptionValue;
  }
  if (out.verify === true && out.metadataOnly === true)
    throw new StrataError(
      'INVALID_ARGUMENT',
      'load: verify re-reads pages, metadataOnly reads none — choose one',
    );
  return { kind: k, options: out };
}

/** Paths overlap when one is the other or lies below it. */
export function pathsOverlap(a: string, b: string): boolean {
  const under = (x: string, y: string) => x === y || y === '/' || x.startsWith(`${y}/`);
  return under(a, b) || under(b, a);
}

export function kindsConflict(a: string, b: string): boolean {
  return (
    (JOB_KINDS[a]?.conflictsWith.includes(b) ?? false) || (JOB_KINDS[b]?.conflictsWith.includes(a) ?? false)
  );
}
