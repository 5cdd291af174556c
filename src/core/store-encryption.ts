import { StrataError } from './errors.js';
import { STORE_ENCRYPTION_MODES, type StoreEncryption } from './file-system.js';

/**
 * A write's store encryption (file-system.ts StoreEncryption) as RPC query parameters, and back:
 * `sse=AES256|aws:kms|aws:kms:dsse`, `sseKmsKeyId`, `sseContext`, `sseBucketKey=true`. Key ids
 * and contexts are not secrets (S3 answers them on every HEAD); no key material ever travels here.
 */

export function encryptionQuery(enc: StoreEncryption | undefined): Record<string, string> {
  if (enc === undefined) return {};
  if (enc.mode === 'AES256') return { sse: enc.mode };
  return {
    sse: enc.mode,
    ...(enc.kmsKeyId !== undefined ? { sseKmsKeyId: enc.kmsKeyId } : {}),
    ...(enc.context !== undefined ? { sseContext: enc.context } : {}),
    ...(enc.bucketKeyEnabled ? { sseBucketKey: 'true' } : {}),
  };
}

/** The encryption the parameters ask for; INVALID_ARGUMENT for an unknown mode or a stray KMS field. */
export function encryptionFromQuery(
  get: (name: string) => string | null | undefined,
): StoreEncryption | undefined {
  const mode = get('sse') ?? undefined;
  const kmsKeyId = get('sseKmsKeyId') ?? undefined;
  const context = get('sseContext') ?? undefined;
  const bucketKey = get('sseBucketKey') ?? undefined;
  if (mode === undefined || mode === '') {
    if (kmsKeyId !== undefined || context !== undefined || bucketKey !== undefined)
      throw new StrataError('INVALID_ARGUMENT', 'sseKmsKeyId, sseContext and sseBucketKey need sse');
    return undefined;
  }
  if (!(STORE_ENCRYPTION_MODES as readonly string[]).includes(mode))
    throw new StrataError('INVALID_ARGUMENT', `"sse" must be one of ${STORE_ENCRYPTION_MODES.join(', ')}`);
  if (bucketKey !== undefined && bucketKey !== 'true' && bucketKey !== 'false')
    throw new StrataError('INVALID_ARGUMENT', '"sseBucketKey" must be true or false');
  if (mode === 'AES256') {
    if (kmsKeyId !== undefined || context !== undefined)
      throw new StrataError('INVALID_ARGUMENT', 'sseKmsKeyId and sseContext need sse=aws:kms');
    return { mode };
  }
  return {
    mode: mode as 'aws:kms' | 'aws:kms:dsse',
    ...(kmsKeyId !== undefined ? { kmsKeyId } : {}),
    ...(context !== undefined ? { context } : {}),
    ...(bucketKey === 'true' ? { bucketKeyEnabled: true } : {}),
  };
}
