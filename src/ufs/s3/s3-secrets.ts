import { namedSecrets, type SecretOptionPolicy } from '../secret-options.js';

/**
 * The credential options of `s3://` mounts (what S3UnderStore hands the SDK as `credentials`).
 * The access key id is included, as Alluxio marks `aws.accessKeyId` a credential: with the
 * secret it is the account, and alone it still names whose key a mount uses.
 */
export const S3_SECRET_OPTIONS: SecretOptionPolicy = namedSecrets([
  'accessKeyId',
  'secretAccessKey',
  'sessionToken',
]);
