import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
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

export const signer = (secret = SECRET_KEY) =>
  new SignatureV4({
    service: 's3',
    region: 'us-east-1',
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
