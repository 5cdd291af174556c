import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { HostIdentity } from './page-location.js';

let host: Promise<HostIdentity> | undefined;

/**
 * This host's name and kernel boot id (read once): a worker and a client with the same pair
 * share a kernel, so the client can open the worker's page files (short-circuit reads).
 */
export function hostIdentity(): Promise<HostIdentity> {
  host ??= readFile('/proc/sys/kernel/random/boot_id', 'utf8').then(
    (id) => ({ hostname: hostname(), bootId: id.trim() }),
    () => ({ hostname: hostname(), bootId: '' }),
  );
  return host;
}
