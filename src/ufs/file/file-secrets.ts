import { namedSecrets, type SecretOptionPolicy } from '../secret-options.js';

/** `file://` mounts take no credentials: nothing to mask or seal. */
export const FILE_SECRET_OPTIONS: SecretOptionPolicy = namedSecrets([]);
