import { type Socket, connect as tcpConnect } from 'node:net';

/**
 * Raw HTTP/1.1 over TCP for the limits tests: each connection is one the test opens and closes
 * itself (a pooled client would hold connections the per-address count then sees).
 */
export interface RawConnection {
  readonly socket: Socket;
  /** Everything received so far (latin1). */
  data(): string;
  /** Resolves with the ms from connect to close. */
  readonly closed: Promise<number>;
  /** Resolves once a whole response head has arrived, with the bytes so far; rejects on timeout. */
  head(timeoutMs?: number): Promise<string>;
}

export function openRaw(base: string): Promise<RawConnection> {
  const url = new URL(base);
  return new Promise((ok, fail) => {
    const started = Date.now();
    const socket = tcpConnect(Number(url.port), url.hostname);
    let received = '';
    const waiters = new Set<() => void>();
    socket.setEncoding('latin1').on('data', (d: string) => {
      received += d;
      for (const w of waiters) w();
    });
    socket.on('error', () => undefined);
    const closed = new Promise<number>((done) =>
      socket.once('close', () => {
        for (const w of waiters) w();
        done(Date.now() - started);
      }),
    );
    socket.once('error', fail);
    socket.once('connect', () =>
      ok({
        socket,
        data: () => received,
        closed,
        head(timeoutMs = 10_000) {
          return new Promise((resolve, reject) => {
            const check = () => {
              if (received.includes('\r\n\r\n')) {
                waiters.delete(check);
                clearTimeout(timer);
                resolve(received);
              } else if (socket.destroyed) {
                waiters.delete(check);
                clearTimeout(timer);
                reject(new Error(`closed without a response head; got ${JSON.stringify(received)}`));
              }
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              reject(new Error(`no response head in ${timeoutMs} ms; got ${JSON.stringify(received)}`));
            }, timeoutMs);
            waiters.add(check);
            check();
          });
        },
      }),
    );
  });
}

/** One request on a new connection (Connection: close); resolves with all that came back. */
export async function rawRequest(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body: Buffer | string = '',
  timeoutMs = 10_000,
): Promise<{ status: number; head: string; text: string }> {
  const c = await openRaw(base);
  const lines = [`${method} ${path} HTTP/1.1`, `host: ${new URL(base).host}`, 'connection: close'];
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() !== 'host') lines.push(`${k}: ${v}`);
  if (body.length > 0 || method === 'PUT' || method === 'POST')
    lines.push(`content-length: ${Buffer.byteLength(body)}`);
  c.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  if (body.length > 0) c.socket.write(body);
  const timer = setTimeout(() => c.socket.destroy(), timeoutMs);
  await c.closed;
  clearTimeout(timer);
  const all = c.data();
  const end = all.indexOf('\r\n\r\n');
  const head = end < 0 ? all : all.slice(0, end);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(all)?.[1] ?? 0);
  const raw = end < 0 ? '' : all.slice(end + 4);
  return { status, head, text: /^transfer-encoding:\s*chunked/im.test(head) ? dechunk(raw) : raw };
}

/** The payload of a chunked body (as far as it came). */
function dechunk(body: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    if (eol < 0) return out;
    const size = Number.parseInt(body.slice(at, eol), 16);
    if (!Number.isFinite(size) || size === 0) return out;
    out += body.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

/** The value of a header in a raw response head (case-insensitive), or undefined. */
export function headerOf(head: string, name: string): string | undefined {
  const m = new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(head);
  return m?.[1]?.trim();
}

/**
 * Sends `head` one byte at a time every `everyMs` until the server closes the connection (or
 * all is sent): a slowloris. Resolves with what came back, the ms until the close and how
 * many bytes were sent.
 */
export async function slowloris(
  base: string,
  head: string,
  everyMs = 50,
  deadlineMs = 15_000,
): Promise<{ data: string; ms: number; sent: number }> {
  const c = await openRaw(base);
  let sent = 0;
  const timer = setInterval(() => {
    if (c.socket.destroyed || sent >= head.length) return;
    c.socket.write(head[sent]!);
    sent++;
  }, everyMs);
  const guard = setTimeout(() => c.socket.destroy(), deadlineMs);
  const ms = await c.closed;
  clearInterval(timer);
  clearTimeout(guard);
  return { data: c.data(), ms, sent };
}
