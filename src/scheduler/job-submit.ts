import { randomUUID } from 'node:crypto';
import { StrataError } from '../core/errors.js';
import type { CallOptions, StrataFileSystem } from '../core/file-system.js';
import { normalizePath } from '../core/paths.js';
import type { Registry } from '../registry/registry.js';
import { checkCopyPaths } from './copy.js';
import { kindsConflict, pathsOverlap, resolveKind } from './job-kinds.js';
import { isFinal, newJobRecord, type SchedulerJob } from './job-record.js';

/**
 * Creating, finding, updating and cancelling job records (what the jobs API does); the engine
 * (engine.ts) runs them.
 */

export interface JobSpec {
  readonly kind: string;
  readonly path: string;
  readonly options?: Readonly<Record<string, unknown>>;
  readonly id?: string;
  /** copy, move: the destination path. */
  readonly dst?: string;
  /** A Strata path of a text file listing the job's paths, one per line. */
  readonly fromList?: string;
}

/** Options an unfinished job takes from a resubmission of the same kind, path and dst. */
const UPDATABLE = ['bandwidth'] as const;

/**
 * Checks and stores a new job (PENDING): an unknown kind or option is INVALID_ARGUMENT, a kind not
 * implemented UNSUPPORTED, a path that does not exist or lies outside every mount fails as the
 * file system answers it (NOT_FOUND / NOT_MOUNTED); a job that conflicts with an unfinished one on
 * an overlapping path is ALREADY_EXISTS.
 */
export async function submitJob(
  registry: Registry,
  fs: StrataFileSystem,
  spec: JobSpec,
  call: CallOptions = {},
): Promise<SchedulerJob> {
  return create(registry, fs, spec, (await registry.listJobs()) as SchedulerJob[], call);
}

/**
 * What `POST /api/v1/jobs` does: the unfinished job of the same kind, path and dst when there is
 * one (with its bandwidth updated when the spec's differs: `updated`), else a new one (`created`).
 * One listing of the registry serves both the lookup and the conflict check.
 */
export async function submitOrFind(
  registry: Registry,
  fs: StrataFileSystem,
  spec: JobSpec,
  call: CallOptions = {},
): Promise<{ job: SchedulerJob; created: boolean; updated: boolean }> {
  const path = normalizePath(spec.path);
  const dst = spec.dst === undefined ? undefined : normalizePath(spec.dst);
  const jobs = (await registry.listJobs()) as SchedulerJob[];
  const same = jobs.find(
    (j) =>
      !isFinal(j.state) &&
      j.kind === spec.kind &&
      j.path === path &&
      j.dst === dst &&
      j.fromList === spec.fromList,
  );
  if (same === undefined)
    return { job: await create(registry, fs, spec, jobs, call), created: true, updated: false };
  const patch: Record<string, unknown> = {};
  for (const name of UPDATABLE) {
    const asked = spec.options?.[name];
    if (asked !== undefined && asked !== same.options[name]) patch[name] = asked;
  }
  if (Object.keys(patch).length === 0) return { job: same, created: false, updated: false };
  const job = await updateJobOptions(registry, same.id, patch);
  return { job, created: false, updated: job.options.bandwidth === patch.bandwidth };
}

async function create(
  registry: Registry,
  fs: StrataFileSystem,
  spec: JobSpec,
  jobs: readonly SchedulerJob[],
  call: CallOptions,
): Promise<SchedulerJob> {
  const { kind, options } = resolveKind(spec.kind, spec.options);
  const path = normalizePath(spec.path);
  if (kind.dst && spec.dst === undefined)
    throw new StrataError('INVALID_ARGUMENT', `a ${spec.kind} job needs a destination (dst)`);
  if (!kind.dst && spec.dst !== undefined)
    throw new StrataError('INVALID_ARGUMENT', `a ${spec.kind} job takes no destination (dst)`);
  if (spec.fromList !== undefined && kind.dst)
    throw new StrataError('INVALID_ARGUMENT', `a ${spec.kind} job starts from a path, not from a list`);
  const dst = spec.dst === undefined ? undefined : normalizePath(spec.dst);
  if (spec.fromList !== undefined) {
    // A job from a list is known by its list: the list must be a file now (each entry is checked as it is read).
    const list = await fs.status(normalizePath(spec.fromList), call);
    if (list.type !== 'file')
      throw new StrataError('IS_A_DIRECTORY', `the list ${list.path} is a directory: give a file of paths`);
  } else await fs.status(path, call);
  if (dst !== undefined) await checkCopyPaths(fs, spec.kind, path, dst, call);
  // A job's extent: its path, and for copy and move its destination too. A job from a list is
  // checked by its list's path only (its entries are not known before they are read).
  const extent = (j: { path: string; dst?: string }) => (j.dst === undefined ? [j.path] : [j.path, j.dst]);
  for (const other of jobs) {
    if (isFinal(other.state) || typeof other.path !== 'string') continue;
    const overlap = extent({ path, ...(dst === undefined ? {} : { dst }) }).some((a) =>
      extent(other).some((b) => pathsOverlap(a, b)),
    );
    if (kindsConflict(spec.kind, other.kind) && overlap) {
      throw new StrataError(
        'ALREADY_EXISTS',
        `job ${other.id} (${other.kind} ${other.path}) conflicts with ${spec.kind} ${path}`,
      );
    }
  }
  const job = newJobRecord(spec.id ?? randomUUID(), spec.kind, path, options, Date.now(), {
    ...(dst === undefined ? {} : { dst }),
    ...(spec.fromList === undefined ? {} : { fromList: normalizePath(spec.fromList) }),
  });
  if ((await registry.putJobIf(job, 0)) === undefined) {
    throw new StrataError('ALREADY_EXISTS', `a job with id ${job.id} exists`);
  }
  return job;
}

/**
 * Changes options of an unfinished job (compare-and-set; the running engine sees the new
 * version — at its next write or its next look at the record — and adopts them). A finished job
 * is returned as it is. Values are checked as at submit.
 */
export async function updateJobOptions(
  registry: Registry,
  id: string,
  patch: Readonly<Record<string, unknown>>,
): Promise<SchedulerJob> {
  for (const name of Object.keys(patch)) {
    if (!(UPDATABLE as readonly string[]).includes(name))
      throw new StrataError('INVALID_ARGUMENT', `option ${name} of a job cannot change once submitted`);
  }
  for (;;) {
    const current = await registry.readJob(id);
    if (current === undefined) throw new StrataError('NOT_FOUND', `no job ${id}`);
    const job = current.job as SchedulerJob;
    if (isFinal(job.state)) return job;
    const { options } = resolveKind(job.kind, { ...job.options, ...patch });
    const next: SchedulerJob = { ...job, options, updatedAtMs: Date.now() };
    if ((await registry.putJobIf(next, current.version)) !== undefined) return next;
  }
}

/** Asks a job to end CANCELLED: its engine sees the record change (≤ its watch interval) and stops. */
export async function cancelJob(registry: Registry, id: string): Promise<SchedulerJob> {
  for (;;) {
    const current = await registry.readJob(id);
    if (current === undefined) throw new StrataError('NOT_FOUND', `no job ${id}`);
    const job = current.job as SchedulerJob;
    if (isFinal(job.state)) return job;
    const now = Date.now();
    const next: SchedulerJob = { ...job, state: 'CANCELLED', updatedAtMs: now, endedAtMs: now };
    if ((await registry.putJobIf(next, current.version)) !== undefined) return next;
  }
}
