import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FileInfo, StrataFileSystem } from '../../client/types.js';
import { isStrataError } from '../../core/errors.js';
import type { AuthResult } from './auth.js';
import type { BucketAccess } from './authorize.js';
import { S3Error, toS3Error } from './errors.js';
import { bucketPath } from './keys.js';
import type { ListingCache } from './listing.js';
import type { SseKeyring } from './sse-keys.js';
import type { Principal } from './users.js';

export interface GatewayLimits {
  /** Largest single PUT (S3: 5 GiB). */
  readonly maxObjectBytes: number;
  /** Smallest multipart part except the last (S3: 5 MiB). */
  readonly minPartBytes: number;
}

/** One request, parsed. */
export interface Ctx {
  readonly fs: StrataFileSystem;
  readonly cache: ListingCache;
  readonly limits: GatewayLimits;
  readonly region: string;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly bucket: string;
  readonly key: string;
  readonly query: ReadonlyMap<string, string>;
  readonly auth: AuthResult;
  /** Who signed the request (undefined: anonymous). */
  readonly principal: Principal | undefined;
  /** The bucket's owner and anonymous read, when authorisation had to read them. */
  readonly bucketAccess?: BucketAccess | undefined;
  /** Whether an S3 user of that name exists (ACL grantees must). */
  readonly userExists: (name: string) => boolean;
  readonly requestId: string;
  /** Server-side encryption keys (sse-keys.ts); none: SSE-S3/KMS requests are refused. */
  readonly sse?: SseKeyring;
  /** Store URI under which a new bucket gets a mount of its own (bucket-root.ts), if configured. */
  readonly bucketRoot?: string | undefined;
}

/** The root user as an Owner element (its name, S3_ROOT_USER). */
export const OWNER = { ID: 'strata', DisplayName: 'strata' };

/** The bucket's directory status, or NoSuchBucket. */
export async function requireBucket(ctx: Pick<Ctx, 'fs' | 'bucket'>): Promise<FileInfo> {
  try {
    const st = await ctx.fs.status(bucketPath(ctx.bucket));
    if (st.type !== 'directory') throw new S3Error('NoSuchBucket', 'The specified bucket does not exist');
    return st;
  } catch (err) {
    if (
      isStrataError(err, 'NOT_FOUND') ||
      isStrataError(err, 'NOT_MOUNTED') ||
      isStrataError(err, 'INVALID_PATH')
    ) {
      throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', { cause: err });
    }
    throw toS3Error(err);
  }
}

export function header(ctx: Ctx, name: string): string | undefined {
  const v = ctx.req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}
