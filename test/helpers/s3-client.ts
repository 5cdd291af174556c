import { S3Client } from '@aws-sdk/client-s3';
import type { RunningStrata } from './local-process.js';

/** A JS SDK client of a `strata local`'s S3 gateway: path style, no retries (a test sees each failure). */
export function localS3Client(strata: RunningStrata, accessKeyId: string, secretAccessKey: string): S3Client {
  return new S3Client({
    endpoint: strata.ready.addresses.s3!,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
  });
}
