import { StrataError } from '../core/errors.js';

/** A fileId is used as a directory name, so it must not be able to form a path. */
const FILE_ID = /^[A-Za-z0-9_-]{1,128}$/;

export function checkFileId(fileId: string): void {
  if (typeof fileId !== 'string' || !FILE_ID.test(fileId)) {
    throw new StrataError('INVALID_ARGUMENT', 'fileId must match /^[A-Za-z0-9_-]{1,128}$/', {
      details: { fileId: String(fileId).slice(0, 200) },
    });
  }
}

export function checkPageIndex(index: number): void {
  // The page header stores the index in 48 bits.
  if (!Number.isSafeInteger(index) || index < 0 || index >= 2 ** 48) {
    throw new StrataError('INVALID_ARGUMENT', `page index must be an integer in [0, 2^48): ${index}`, {
      details: { index },
    });
  }
}

/** The map key of a page; '/' cannot occur in a fileId, so keys are unambiguous. */
export function pageKey(fileId: string, index: number): string {
  return `${fileId}/${index}`;
}
