import { StrataError } from './errors.js';
import { JOB_BATCH_OPS, type JobBatchOp, type JobBatchRequest, MAX_JOB_BATCH_PATHS } from './file-system.js';

const BATCH_OPTIONS = ['metadataOnly', 'skipIfCached', 'verify'] as const;

/**
 * Checks a batch request from outside (the RPC body, an in-process caller): a known op, at most
 * MAX_JOB_BATCH_PATHS string paths, boolean options and no others. INVALID_ARGUMENT otherwise,
 * before anything is done. What a path may contain is each path's own result (INVALID_PATH).
 */
export function parseJobBatchRequest(value: unknown): JobBatchRequest {
  const bad = (message: string) => new StrataError('INVALID_ARGUMENT', `job batch: ${message}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('must be an object');
  const v = value as Record<string, unknown>;
  if (typeof v.op !== 'string' || !(JOB_BATCH_OPS as readonly string[]).includes(v.op))
    throw bad(`"op" must be one of ${JOB_BATCH_OPS.join(', ')}, got ${JSON.stringify(v.op)}`);
  if (!Array.isArray(v.paths) || v.paths.length > MAX_JOB_BATCH_PATHS)
    throw bad(`"paths" must be an array of at most ${MAX_JOB_BATCH_PATHS} paths`);
  if (!v.paths.every((p): p is string => typeof p === 'string')) throw bad('"paths" must hold strings only');
  const options: Record<string, boolean> = {};
  if (v.options !== undefined && v.options !== null) {
    if (typeof v.options !== 'object' || Array.isArray(v.options)) throw bad('"options" must be an object');
    for (const [k, o] of Object.entries(v.options)) {
      if (!(BATCH_OPTIONS as readonly string[]).includes(k))
        throw bad(`unknown option "${k}" (known: ${BATCH_OPTIONS.join(', ')})`);
      if (typeof o !== 'boolean') throw bad(`option "${k}" must be a boolean`);
      options[k] = o;
    }
  }
  return { op: v.op as JobBatchOp, paths: v.paths, options };
}
