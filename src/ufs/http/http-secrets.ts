import type { SecretOptionPolicy } from '../secret-options.js';

/**
 * The credential options of `http(s)://` mounts: `header.NAME` options (sent with every request)
 * whose header carries a credential. Header names are case-insensitive, as in HTTP. A mount may
 * name more with `secretHeaders=X-Vault-Token,X-My-Key` (comma-separated header names); that
 * option only declares, the store does not send it. User info in the URI (Basic auth) is a
 * credential too: it is redacted from every view and sealed at rest with the URI.
 */
export const HTTP_SECRET_HEADERS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-api-key',
  'x-auth-token',
  'x-access-token',
  'x-amz-security-token',
];

const BUILT_IN = new Set(HTTP_SECRET_HEADERS);

export const HTTP_SECRET_OPTIONS: SecretOptionPolicy = {
  declared: HTTP_SECRET_HEADERS.map((h) => `header.${h}`),
  isSecret(key, options) {
    const lower = key.toLowerCase();
    if (!lower.startsWith('header.')) return false;
    const name = lower.slice('header.'.length);
    if (BUILT_IN.has(name)) return true;
    const extra = (options.secretHeaders ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter((h) => h !== '');
    return extra.includes(name);
  },
};
