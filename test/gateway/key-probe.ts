import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from './sign.js';

/**
 * Whether a key is refused as unknown: one signed ListBuckets from this process (milliseconds,
 * unlike a client process per probe), so the time until a removed key stops working can be read.
 */
export async function keyRefused(
  endpoint: string,
  key: { readonly accessKeyId: string; readonly secretAccessKey: string },
): Promise<boolean> {
  const u = new URL(endpoint);
  const signed = await new SignatureV4({
    service: 's3',
    region: 'us-east-1',
    credentials: key,
    sha256: Sha256,
    uriEscapePath: false,
  }).sign({
    method: 'GET',
    protocol: 'http:',
    hostname: u.hostname,
    port: Number(u.port),
    path: '/',
    headers: { host: u.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
  });
  const res = await fetch(`${u.origin}/`, { headers: signed.headers as Record<string, string> });
  const body = await res.text();
  return res.status === 403 && body.includes('<Code>InvalidAccessKeyId</Code>');
}
