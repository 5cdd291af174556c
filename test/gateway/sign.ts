import { createHash, createHmac } from 'node:crypto';
import { createScope, getSigningKey, SignatureV4 } from '@smithy/signature-v4';
import { ACCESS_KEY, SECRET_KEY } from './harness.js';

/** node:crypto behind the hash interface @smithy/signature-v4 expects (an independent signer for tests). */
export class Sha256 {
  private h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = this.make();
  }
  private make() {
    if (this.secret === undefined) return createHash('sha256');
    const k = typeof this.secret === 'string' ? this.secret : Buffer.from(this.secret as ArrayBuffer);
    return createHmac('sha256', k as string | Buffer);
  }
  update(d: string | ArrayBuffer | ArrayBufferView) {
    this.h.update(typeof d === 'string' ? d : Buffer.from(d as ArrayBuffer));
  }
  async digest() {
    return new Uint8Array(this.h.digest());
  }
  reset() {
    this.h = this.make();
  }
}

export const signer = (secret = SECRET_KEY, region = 'us-east-1') =>
  new SignatureV4({
    service: 's3',
    region,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: secret },
    sha256: Sha256,
    uriEscapePath: false,
  });

/** Headers for a signed request with UNSIGNED-PAYLOAD. */
export async function signedHeaders(
  url: string,
  method: string,
  extra: Record<string, string> = {},
): Promise<Record<string, string>> {
  const u = new URL(url);
  const req = await signer().sign({
    method,
    protocol: 'http:',
    hostname: u.hostname,
    port: Number(u.port),
    path: u.pathname,
    query: Object.fromEntries(u.searchParams),
    headers: { host: u.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...extra },
  });
  return req.headers as Record<string, string>;
}

/**
 * A presigned URL path built by hand, for what the library's presign() does not produce: an
 * X-Amz-Content-Sha256 parameter of the caller's choosing (the canonical request's payload line).
 */
export async function presignPath(
  port: number,
  method: string,
  path: string,
  o: { payloadHash?: string; region?: string; expires?: number } = {},
): Promise<string> {
  const region = o.region ?? 'us-east-1';
  const longDate = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = longDate.slice(0, 8);
  const scope = createScope(day, region, 's3');
  const params: [string, string][] = [
    ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
    ['X-Amz-Credential', `${ACCESS_KEY}/${scope}`],
    ['X-Amz-Date', longDate],
    ['X-Amz-Expires', String(o.expires ?? 300)],
    ['X-Amz-SignedHeaders', 'host'],
    ...(o.payloadHash !== undefined ? ([['X-Amz-Content-Sha256', o.payloadHash]] as [string, string][]) : []),
  ];
  const enc = (v: string) =>
    encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const query = params
    .map(([k, v]) => `${enc(k)}=${enc(v)}`)
    .sort()
    .join('&');
  const canonical = [
    method,
    path,
    query,
    `host:127.0.0.1:${port}\n`,
    'host',
    o.payloadHash ?? 'UNSIGNED-PAYLOAD',
  ].join('\n');
  const toSign = `AWS4-HMAC-SHA256\n${longDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
  const key = await getSigningKey(
    Sha256,
    { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    day,
    region,
    's3',
  );
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return `${path}?${query}&X-Amz-Signature=${signature}`;
}
