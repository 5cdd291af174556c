import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { logger } from '../core/log.js';
import { credentialsFrom, loadGatewayConfig } from '../gateway/s3/server.js';

/**
 * What `strata local` tells a person on stderr once it is ready (the JSON ready line on stdout
 * is for scripts and does not change): where the dashboard is, how to authenticate, and the S3
 * endpoint with how to get credentials — as MinIO prints its console URL. The first start (a
 * data directory without a metadata store yet) gets a few lines; later starts one. Both are also
 * one JSON log event, `welcome`.
 */

/** True when `strata local` has never run on this data directory (checked before it starts). */
export async function isNewDataDir(dataDir: string): Promise<boolean> {
  try {
    await stat(join(resolve(dataDir), 'meta'));
    return false;
  } catch {
    return true;
  }
}

export interface WelcomeFacts {
  readonly firstStart: boolean;
  readonly version: string;
  readonly dataDir: string;
  readonly addresses: Readonly<Record<string, string>>;
  /** The token file; null when STRATA_TOKEN gave the token or --insecure runs without one. */
  readonly tokenFile: string | null;
  readonly insecure: boolean;
  /** Access key ids the S3 gateway accepts (never their secrets). */
  readonly s3AccessKeys: readonly string[];
  /** Where `--fuse` mounted the namespace. */
  readonly fuseDir?: string;
}

/** The access key ids `strata local`'s S3 gateway was configured with (env and --config). */
export async function s3AccessKeys(configFile: string | undefined): Promise<string[]> {
  const file = await loadGatewayConfig(configFile).catch(() => ({ keys: [], anonymousReadBuckets: [] }));
  return [...credentialsFrom(process.env, file).keys()];
}

/** The human text: a few lines on a first start, one line afterwards. */
export function welcomeText(f: WelcomeFacts): string {
  const admin = f.addresses.admin ?? '';
  const dashboard = `${admin}/`;
  const auth = f.insecure
    ? 'none (--insecure): anyone who reaches the port may read, write and mount'
    : f.tokenFile === null
      ? 'the token in STRATA_TOKEN'
      : f.tokenFile;
  const s3 = f.addresses.s3;
  if (!f.firstStart) {
    const parts = [`dashboard ${dashboard}`, `token ${auth}`];
    if (s3) parts.push(`S3 ${s3}`);
    if (f.fuseDir) parts.push(`FUSE ${f.fuseDir}`);
    return `strata local ${f.version} ready: ${parts.join(', ')}\n`;
  }
  const lines = [
    `Strata ${f.version}: first start, data in ${f.dataDir}`,
    `  Dashboard  ${dashboard}   (actions on it need the token below)`,
  ];
  if (f.insecure) lines.push(`  Token      ${auth}`);
  else if (f.tokenFile === null)
    lines.push(`  Token      ${auth} (send it as "Authorization: Bearer <token>")`);
  else {
    lines.push(
      `  Token      ${f.tokenFile}   (mode 0600)`,
      '             the CLI of this user on this machine finds it; elsewhere pass --token-file FILE',
      `             or send "Authorization: Bearer $(cat ${f.tokenFile})"`,
    );
  }
  if (s3) {
    lines.push(`  S3         ${s3}`);
    if (f.s3AccessKeys.length > 0)
      lines.push(
        `             access keys: ${f.s3AccessKeys.join(', ')} (the secrets are where you set them)`,
      );
    else
      lines.push(
        '             no credentials yet: every signed request is refused. Set STRATA_S3_ACCESS_KEY_ID and',
        '             STRATA_S3_SECRET_ACCESS_KEY (or s3.keys in --config) and restart',
      );
  }
  if (f.fuseDir) lines.push(`  FUSE       ${f.fuseDir}`);
  lines.push(`  CLI        strata --registry ${f.addresses.registry ?? admin} fs ls /`);
  return `${lines.join('\n')}\n`;
}

/** Prints the text on stderr and logs the same facts as one event. */
export function printWelcome(f: WelcomeFacts, err: NodeJS.WritableStream = process.stderr): void {
  err.write(welcomeText(f));
  logger('welcome', {
    firstStart: f.firstStart,
    dashboard: `${f.addresses.admin ?? ''}/`,
    tokenFile: f.tokenFile,
    ...(f.insecure ? { insecure: true } : {}),
    ...(f.addresses.s3 ? { s3: f.addresses.s3, s3AccessKeys: f.s3AccessKeys } : {}),
    ...(f.fuseDir ? { fuse: f.fuseDir } : {}),
  });
}
