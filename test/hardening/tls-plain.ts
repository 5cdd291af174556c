import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import { request } from 'undici';

/** A plain HTTP/1.1 request on a raw TCP connection: what came back by the time it closed. */
export function plainHttpExchange(base: string, deadlineMs = 10_000): Promise<{ data: Buffer; ms: number }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = tcpConnect(Number(url.port), url.hostname, () => {
      socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    });
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => undefined);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the TLS port kept a plain HTTP connection open for ${deadlineMs} ms`));
    }, deadlineMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), ms: Date.now() - started });
    });
  });
}

/** Asserts a plain HTTP request to `base`'s port got no HTTP answer and a closed connection. */
export async function assertPlainHttpRefused(base: string, what: string): Promise<void> {
  const { data, ms } = await plainHttpExchange(base);
  assert.ok(
    !data.toString('latin1').includes('HTTP/1.'),
    `${what} answered plain HTTP: ${data.toString('latin1')}`,
  );
  assert.ok(!data.toString('latin1').includes('"status":"ok"'), `${what} served /healthz over plain HTTP`);
  process.stdout.write(`${what}: plain HTTP closed after ${ms} ms with ${data.length} bytes (a TLS alert)\n`);
  await assert.rejects(
    request(base.replace(/^https:/, 'http:') + '/healthz', { headersTimeout: 10_000 }),
    `${what}: an http:// request was answered`,
  );
}
