export { loadBucketSettings, setAnonymousRead } from '../../client/s3-settings.js';
export type { CredentialSource } from './auth.js';
export { S3_STATUS, type S3Code, S3Error, toS3Error } from './errors.js';
export { createS3Gateway, type S3Gateway, type S3GatewayOptions } from './gateway.js';
export {
  credentialsFrom,
  GATEWAY_S3_USAGE,
  loadGatewayConfig,
  runS3Gateway,
  type S3GatewayServer,
  startS3GatewayServer,
} from './server.js';
