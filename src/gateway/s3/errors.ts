import { ERROR_TABLE, type ErrorCode, isStrataError, toStrataError } from '../../core/errors.js';

/**
 * S3 error codes the gateway answers with, and their HTTP status. Codes that come from a
 * StrataError are looked up through the one error table (src/core/errors.ts, column `s3`); the
 * codes only the gateway raises (auth, digests, multipart…) live here, in this one table.
 */
export const S3_STATUS = {
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  BucketAlreadyExists: 409,
  BucketAlreadyOwnedByYou: 409,
  BucketNotEmpty: 409,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  InvalidTag: 400,
  InvalidURI: 400,
  KeyTooLongError: 400,
  MalformedXML: 400,
  MetadataTooLarge: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  MissingSecurityHeader: 400,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NoSuchVersion: 404,
  NotImplemented: 501,
  NotModified: 304,
  PreconditionFailed: 412,
  RequestHeaderSectionTooLarge: 400,
  RequestTimeTooSkewed: 403,
  RequestTimeout: 400,
  ServiceUnavailable: 503,
  SignatureDoesNotMatch: 403,
  XAmzContentSHA256Mismatch: 400,
  /** The key needs a directory where an object is, or the reverse (file-system namespace). */
  ObjectNameConflict: 409,
} as const;

export type S3Code = keyof typeof S3_STATUS;

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

function isS3Code(code: string): code is S3Code {
  return Object.hasOwn(S3_STATUS, code);
}

/** Maps anything thrown to an S3Error, through the one error table for StrataErrors. */
export function toS3Error(err: unknown, context: { missing?: 'NoSuchBucket' | 'NoSuchKey' } = {}): S3Error {
  if (err instanceof S3Error) return err;
  const e = toStrataError(err);
  const code: ErrorCode = e.code;
  if (code === 'NOT_FOUND' && context.missing) return new S3Error(context.missing, e.message, { cause: e });
  if ((code === 'NOT_A_DIRECTORY' || code === 'IS_A_DIRECTORY') && isStrataError(err)) {
    return new S3Error(
      'ObjectNameConflict',
      'The key conflicts with an existing object or prefix (an object cannot also be a prefix here)',
      { cause: e },
    );
  }
  const s3 = ERROR_TABLE[code].s3;
  if (isS3Code(s3)) return new S3Error(s3, e.message, { cause: e });
  return new S3Error('InternalError', e.message, { cause: e });
}
