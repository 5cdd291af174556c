/**
 * Why a disk-tier page write failed, as the label a metric and a log line carry. A full disk
 * shrinks the tier (TieredPageStore.remeasure); a read-only or failing disk is set aside for new
 * pages for a while (DiskTier.writeBlockedUntilMs) — its pages stay readable, new pages live in
 * memory only — and is tried again after that.
 */
import { isStrataError } from '../core/errors.js';

export type DiskWriteFailureReason = 'no_space' | 'read_only' | 'io_error';

/** The errno under a page write's error (the StrataError's cause, or the error itself). */
function errnoOf(err: unknown): string {
  const cause = isStrataError(err) ? err.cause : err;
  return (cause as NodeJS.ErrnoException | undefined)?.code ?? '';
}

export function diskWriteFailureReason(err: unknown): DiskWriteFailureReason {
  const code = errnoOf(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'no_space';
  if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return 'read_only';
  return 'io_error';
}

/** Called once per failed disk page write (the worker counts it and logs it). */
export type DiskWriteFailureHook = (tier: string, reason: DiskWriteFailureReason, error: string) => void;
