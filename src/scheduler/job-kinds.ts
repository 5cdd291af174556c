import { StrataError } from '../core/errors.js';
import type { CallOptions, FileInfo, StrataFileSystem } from '../core/file-system.js';

/**
 * The one table of job kinds (STYLE: "one table for job kinds: what they do, which conflict").
 * A kind that is declared but not implemented is refused with UNSUPPORTED when submitted.
 */

/** What handling one file came to: done (counted with its bytes) or skipped (nothing to do). */
export type FileOutcome = 'done' | 'skipped';

export interface JobKind {
  readonly summary: string;
  /** Options the kind takes, with their defaults; anything else is refused. */
  readonly options: Readonly<Record<string, boolean | number>>;
  /** Kinds that may not run at the same time on overlapping paths. */
  readonly conflictsWith: readonly string[];
  /** Undefined: declared, not yet implemented. */
  readonly file?: (
    fs: StrataFileSystem,
    file: FileInfo,
    options: Readonly<Record<string, unknown>>,
    call: CallOptions,
  ) => Promise<FileOutcome>;
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

export const JOB_KINDS: Readonly<Record<string, JobKind>> = {
  load: {
    summary: 'read files into the cache of their owners (checked: 100 % cached)',
    options: { replicas: 1, skipIfCached: false, metadataOnly: false },
    conflictsWith: ['free', 'move'],
    file: loadFile,
  },
  free: {
    summary: 'drop the cached pages of files (pinned pages stay)',
    options: {},
    conflictsWith: ['load', 'persist', 'copy', 'move'],
    file: freeFile,
  },
  persist: {
    summary: 'upload files written ASYNC_THROUGH or MUST_CACHE to the store',
    options: {},
    conflictsWith: ['free', 'move'],
  },
  copy: {
    summary: 'copy a tree to another path, through the cache',
    options: {},
    conflictsWith: ['free', 'move'],
  },
  move: {
    summary: 'move a tree to another path (copy, then delete the source)',
    options: {},
    conflictsWith: ['load', 'free', 'persist', 'copy', 'move'],
  },
};

/** The kind and its options with defaults filled in; UNSUPPORTED / INVALID_ARGUMENT otherwise. */
export function resolveKind(
  kind: string,
  options: Readonly<Record<string, unknown>> = {},
): { kind: JobKind; options: Record<string, boolean | number> } {
  const k = Object.hasOwn(JOB_KINDS, kind) ? JOB_KINDS[kind] : undefined;
  if (k === undefined) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `unknown job kind ${kind} (known: ${Object.keys(JOB_KINDS).join(', ')})`,
    );
  }
  if (k.file === undefined) throw new StrataError('UNSUPPORTED', `job kind ${kind} is not implemented yet`);
  const out: Record<string, boolean | number> = { ...k.options };
  for (const [name, value] of Object.entries(options)) {
    const dflt = k.options[name];
    if (dflt === undefined)
      throw new StrataError('INVALID_ARGUMENT', `job kind ${kind} has no option ${name}`);
    if (typeof value !== typeof dflt) {
      throw new StrataError('INVALID_ARGUMENT', `option ${name} of ${kind} must be a ${typeof dflt}`);
    }
    out[name] = value as boolean | number;
  }
  if (kind === 'load' && out.replicas !== 1) {
    // Loading on replicas needs a client per worker (the daemon's); the routed client reaches the primary.
    throw new StrataError('UNSUPPORTED', 'load with replicas other than 1 is not implemented yet');
  }
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
