/**
 * One error type, one table. Every failure Strata reports carries a stable `code`; the table
 * below maps it to a POSIX errno (FUSE), an HTTP status and S3 error code (gateways and RPC) and a
 * CLI exit code. Codes are API: they are documented in docs/errors.md and a test fails when one is
 * missing there. Messages are for people and may change.
 */

/**
 * S3 error codes and the HTTP status each is answered with: AWS S3's error-code list, plus the
 * few codes only this implementation has (marked). The core table's `s3` column names one of
 * these, and the S3 gateway's errors (auth, digests, multipart…) take their status from here, so
 * a code has one status everywhere. docs/errors.md explains where the S3 edge answers a core
 * code with another status than its `http` column.
 */
export const S3_STATUS = {
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  BucketAlreadyExists: 409,
  BucketAlreadyOwnedByYou: 409,
  BucketNotEmpty: 409,
  /** MinIO's code (nginx's status) for a request whose client went away before the answer. */
  ClientDisconnected: 499,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidBucketState: 409,
  InvalidDigest: 400,
  InvalidLocationConstraint: 400,
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
  /** Strata's own: the key needs a directory where an object is, or the reverse. */
  ObjectNameConflict: 409,
  PreconditionFailed: 412,
  RequestHeaderSectionTooLarge: 400,
  RequestTimeTooSkewed: 403,
  /** The client's connection sent nothing within the timeout (a client fault in S3's sense). */
  RequestTimeout: 400,
  ServiceUnavailable: 503,
  SignatureDoesNotMatch: 403,
  SlowDown: 503,
  XAmzContentSHA256Mismatch: 400,
  // Issue 18 (identities and permissions), appended:
  MalformedPolicy: 400,
  MalformedACLError: 400,
  UnresolvableGrantByEmailAddress: 400,
  NoSuchBucketPolicy: 404,
  NoSuchPublicAccessBlockConfiguration: 404,
  OwnershipControlsNotFoundError: 404,
  AccessControlListNotSupported: 400,
  InvalidBucketAclWithObjectOwnership: 400,
  UnexpectedContent: 400,
  // Issue 18 (server-side encryption), appended:
  'KMS.NotFoundException': 400,
  InvalidEncryptionAlgorithmError: 400,
  ServerSideEncryptionConfigurationNotFoundError: 404,
  // Issue 18 (browsers: CORS and POST uploads), appended:
  NoSuchCORSConfiguration: 404,
  /** A CORS preflight no rule allows (S3's code for it). */
  AccessForbidden: 403,
  BadRequest: 400,
  MalformedPOSTRequest: 400,
  InvalidPolicyDocument: 400,
  IncorrectNumberOfFilesInPostRequest: 400,
  // Bucket tagging (issue 18, the rest of the object API):
  NoSuchTagSet: 404,
} as const satisfies Record<string, number>;

export type S3Code = keyof typeof S3_STATUS;

export function isS3Code(value: unknown): value is S3Code {
  return typeof value === 'string' && Object.hasOwn(S3_STATUS, value);
}

export interface ErrorSpec {
  /** Symbolic errno used by the FUSE layer. */
  readonly errno: string;
  /** HTTP status for RPC and the admin API. */
  readonly http: number;
  /** S3 error code for the S3 gateway (its status: S3_STATUS). */
  readonly s3: S3Code;
  /** Process exit code of the CLI. */
  readonly exit: number;
  /** A caller may retry the same call (possibly on another replica). */
  readonly retryable: boolean;
  readonly description: string;
}

export const ERROR_TABLE = {
  NOT_FOUND: {
    errno: 'ENOENT',
    http: 404,
    s3: 'NoSuchKey',
    exit: 2,
    retryable: false,
    description: 'The path does not exist.',
  },
  ALREADY_EXISTS: {
    errno: 'EEXIST',
    http: 409,
    s3: 'BucketAlreadyOwnedByYou',
    exit: 3,
    retryable: false,
    description: 'The path already exists.',
  },
  NOT_A_DIRECTORY: {
    errno: 'ENOTDIR',
    http: 409,
    s3: 'ObjectNameConflict',
    exit: 3,
    retryable: false,
    description: 'A directory was expected.',
  },
  IS_A_DIRECTORY: {
    errno: 'EISDIR',
    http: 409,
    s3: 'ObjectNameConflict',
    exit: 3,
    retryable: false,
    description: 'A file was expected.',
  },
  DIRECTORY_NOT_EMPTY: {
    errno: 'ENOTEMPTY',
    http: 409,
    s3: 'BucketNotEmpty',
    exit: 3,
    retryable: false,
    description: 'The directory is not empty.',
  },
  INVALID_PATH: {
    errno: 'EINVAL',
    http: 400,
    s3: 'InvalidArgument',
    exit: 64,
    retryable: false,
    description: 'The path is malformed or escapes its root.',
  },
  INVALID_ARGUMENT: {
    errno: 'EINVAL',
    http: 400,
    s3: 'InvalidArgument',
    exit: 64,
    retryable: false,
    description: 'An argument is missing or malformed.',
  },
  INVALID_URI: {
    errno: 'EINVAL',
    http: 400,
    s3: 'InvalidArgument',
    exit: 64,
    retryable: false,
    description: 'The under-store URI is malformed or its scheme is unknown.',
  },
  INVALID_RANGE: {
    errno: 'EINVAL',
    http: 416,
    s3: 'InvalidRange',
    exit: 64,
    retryable: false,
    description: 'The requested byte range is outside the file.',
  },
  NAME_TOO_LONG: {
    errno: 'ENAMETOOLONG',
    http: 400,
    s3: 'KeyTooLongError',
    exit: 64,
    retryable: false,
    description: 'A path segment or the whole path is too long.',
  },
  PERMISSION_DENIED: {
    errno: 'EACCES',
    http: 403,
    s3: 'AccessDenied',
    exit: 77,
    retryable: false,
    description: 'The store or the caller lacks permission.',
  },
  UNAUTHENTICATED: {
    errno: 'EACCES',
    http: 401,
    s3: 'AccessDenied',
    exit: 77,
    retryable: false,
    description: 'The call carries no valid credentials.',
  },
  READ_ONLY: {
    errno: 'EROFS',
    http: 403,
    s3: 'AccessDenied',
    exit: 77,
    retryable: false,
    description: 'The mount or store is read-only.',
  },
  UNSUPPORTED: {
    errno: 'ENOTSUP',
    http: 501,
    s3: 'NotImplemented',
    exit: 69,
    retryable: false,
    description: 'The store does not support this operation.',
  },
  NOT_MOUNTED: {
    errno: 'ENOENT',
    http: 404,
    s3: 'NoSuchBucket',
    exit: 2,
    retryable: false,
    description: 'No mount covers this path.',
  },
  MOUNT_CONFLICT: {
    errno: 'EBUSY',
    http: 409,
    s3: 'InvalidBucketState',
    exit: 3,
    retryable: false,
    description: 'The mount point is taken, nested inside a file, or has mounts below it.',
  },
  FINGERPRINT_CHANGED: {
    errno: 'ESTALE',
    http: 412,
    s3: 'ServiceUnavailable',
    exit: 75,
    retryable: true,
    description: 'The file changed in its store while being read.',
  },
  CHECKSUM_MISMATCH: {
    errno: 'EIO',
    http: 500,
    s3: 'InternalError',
    exit: 74,
    retryable: true,
    description: 'Data failed its checksum.',
  },
  CACHE_FULL: {
    errno: 'ENOSPC',
    http: 507,
    s3: 'ServiceUnavailable',
    exit: 74,
    retryable: true,
    description: 'No cache space can be freed (everything is pinned or in use).',
  },
  UFS_UNAVAILABLE: {
    errno: 'EIO',
    http: 503,
    s3: 'ServiceUnavailable',
    exit: 69,
    retryable: true,
    description: 'The under-store could not be reached or failed.',
  },
  UNAVAILABLE: {
    errno: 'EIO',
    http: 503,
    s3: 'ServiceUnavailable',
    exit: 69,
    retryable: true,
    description: 'The Strata service could not be reached.',
  },
  OVERLOADED: {
    errno: 'EAGAIN',
    http: 503,
    s3: 'SlowDown',
    exit: 75,
    retryable: true,
    description:
      'The server is at its bound of requests in flight (or connections from this address); retry later.',
  },
  TIMEOUT: {
    errno: 'ETIMEDOUT',
    http: 504,
    s3: 'ServiceUnavailable',
    exit: 75,
    retryable: true,
    description: 'The operation passed its deadline.',
  },
  CANCELLED: {
    errno: 'EINTR',
    http: 499,
    s3: 'ClientDisconnected',
    exit: 130,
    retryable: false,
    description: 'The operation was cancelled.',
  },
  INTERNAL: {
    errno: 'EIO',
    http: 500,
    s3: 'InternalError',
    exit: 70,
    retryable: false,
    description: 'A bug or unexpected state.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_TABLE;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_TABLE, value);
}

export class StrataError extends Error {
  override readonly name = 'StrataError';
  readonly code: ErrorCode;
  /** Extra machine-readable facts (path, uri, range…). Never secrets. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }

  get spec(): ErrorSpec {
    return ERROR_TABLE[this.code];
  }

  get retryable(): boolean {
    return ERROR_TABLE[this.code].retryable;
  }

  toJSON(): { code: ErrorCode; message: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isStrataError(err: unknown, code?: ErrorCode): err is StrataError {
  return err instanceof StrataError && (code === undefined || err.code === code);
}

/** Turns anything thrown into a StrataError, keeping the original as `cause`. */
export function toStrataError(err: unknown, fallback: ErrorCode = 'INTERNAL'): StrataError {
  if (err instanceof StrataError) return err;
  if (isAbortError(err)) return new StrataError('CANCELLED', 'operation cancelled', { cause: err });
  const sys = err as NodeJS.ErrnoException | undefined;
  switch (sys?.code) {
    case 'ENOENT':
      return new StrataError('NOT_FOUND', sys.message, { cause: err });
    case 'EEXIST':
      return new StrataError('ALREADY_EXISTS', sys.message, { cause: err });
    case 'ENOTDIR':
      return new StrataError('NOT_A_DIRECTORY', sys.message, { cause: err });
    case 'EISDIR':
      return new StrataError('IS_A_DIRECTORY', sys.message, { cause: err });
    case 'ENOTEMPTY':
      return new StrataError('DIRECTORY_NOT_EMPTY', sys.message, { cause: err });
    case 'EACCES':
    case 'EPERM':
      return new StrataError('PERMISSION_DENIED', sys.message, { cause: err });
    case 'EROFS':
      return new StrataError('READ_ONLY', sys.message, { cause: err });
    case 'ENAMETOOLONG':
      return new StrataError('NAME_TOO_LONG', sys.message, { cause: err });
    case 'ENOSPC':
      return new StrataError('CACHE_FULL', sys.message, { cause: err });
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'EPIPE':
    case 'EHOSTUNREACH':
    case 'ENOTFOUND':
      return new StrataError('UFS_UNAVAILABLE', sys.message, { cause: err });
    case 'ETIMEDOUT':
      return new StrataError('TIMEOUT', sys.message, { cause: err });
    default:
      return new StrataError(fallback, err instanceof Error ? err.message : String(err), { cause: err });
  }
}

export function isAbortError(err: unknown): boolean {
  return (
    err instanceof Error && (err.name === 'AbortError' || (err as NodeJS.ErrnoException).code === 'ABORT_ERR')
  );
}
