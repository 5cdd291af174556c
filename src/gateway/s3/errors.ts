import { ERROR_TABLE, S3_STATUS, type S3Code, toStrataError } from '../../core/errors.js';

export { S3_STATUS, type S3Code };

/**
 * An S3 error answer. Its status comes from the one table of S3 codes (S3_STATUS in
 * src/core/errors.ts); a StrataError's S3 code is the core table's `s3` column.
 */
export class S3Error extends Error {
  override readonly name = 'S3Error';
  readonly status: number;
  constructor(
    readonly code: S3Code,
    message: string,
    options: { cause?: unknown; extra?: Record<string, string> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = S3_STATUS[code];
    this.extra = options.extra ?? {};
  }
  readonly extra: Readonly<Record<string, string>>;
}

/** Maps anything thrown to an S3Error, through the one error table for StrataErrors. */
export function toS3Error(err: unknown, context: { missing?: 'NoSuchBucket' | 'NoSuchKey' } = {}): S3Error {
  if (err instanceof S3Error) return err;
  const e = toStrataError(err);
  if (e.code === 'NOT_FOUND' && context.missing) return new S3Error(context.missing, e.message, { cause: e });
  const s3 = ERROR_TABLE[e.code].s3;
  const message =
    s3 === 'ObjectNameConflict'
      ? 'The key conflicts with an existing object or prefix (an object cannot also be a prefix here)'
      : e.message;
  return new S3Error(s3, message, { cause: e });
}
