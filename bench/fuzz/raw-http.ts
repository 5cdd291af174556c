import { connect } from 'node:net';

/**
 * One request over a fresh TCP socket, bytes exactly as given (no client library normalises
 * them), and the answer parsed strictly enough to call it well-formed or not.
 */

export interface RawResponse {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

export interface Exchange {
  /** Final (non-1xx) responses in the order they came; empty when the server only closed. */
  readonly responses: RawResponse[];
  /** Why the bytes that came are not HTTP/1.1, if they are not. */
  readonly malformed?: string;
  /** The deadline passed with the socket still open. */
  readonly hung: boolean;
  /** Connection reset / refused (the server process may be gone). */
  readonly socketError?: string;
}

export async function exchange(
  port: number,
  bytes: Buffer,
  o: { timeoutMs: number; head?: boolean; host?: string; halfClose?: boolean },
): Promise<Exchange> {
  const chunks: Buffer[] = [];
  const result = await new Promise<{ hung: boolean; error?: string }>((ok) => {
    const socket = connect(port, o.host ?? '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      ok({ hung: true });
    }, o.timeoutMs);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      ok({ hung: false, error: err.code ?? err.message });
    });
    socket.on('close', () => {
      clearTimeout(timer);
      ok({ hung: false });
    });
    socket.on('connect', () => {
      // Node's server drops a request whose client half-closes (httpAllowHalfOpen false): only
      // a request whose framing never ends is half-closed, to say no more bytes are coming.
      socket.write(bytes, () => {
        if (o.halfClose) socket.end();
      });
    });
  });
  const data = Buffer.concat(chunks);
  const parsed = parseResponses(data, o.head === true);
  return {
    responses: parsed.responses,
    hung: result.hung,
    ...(parsed.malformed === undefined ? {} : { malformed: parsed.malformed }),
    // A reset after an answer came (the server closed with our unread body) is no failure.
    ...(result.error !== undefined && data.length === 0 ? { socketError: result.error } : {}),
  };
}

const STATUS_LINE = /^HTTP\/1\.1 (\d{3}) [^\r\n]*$/;
const HEADER_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$/;

/** Splits a byte stream into responses; anything that is not HTTP/1.1 framing is `malformed`. */
export function parseResponses(
  data: Buffer,
  head: boolean,
): { responses: RawResponse[]; malformed?: string } {
  const responses: RawResponse[] = [];
  let at = 0;
  while (at < data.length) {
    const end = data.indexOf('\r\n\r\n', at, 'latin1');
    if (end < 0) return { responses, malformed: `truncated head: ${preview(data.subarray(at))}` };
    const lines = data.subarray(at, end).toString('latin1').split('\r\n');
    const m = STATUS_LINE.exec(lines[0] ?? '');
    if (!m) return { responses, malformed: `bad status line: ${preview(Buffer.from(lines[0] ?? ''))}` };
    const status = Number(m[1]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const h = HEADER_LINE.exec(line);
      if (!h) return { responses, malformed: `bad header line: ${preview(Buffer.from(line))}` };
      const name = h[1]!.toLowerCase();
      headers.set(name, headers.has(name) ? `${headers.get(name)}, ${h[2]}` : h[2]!);
    }
    at = end + 4;
    if (status >= 100 && status < 200) continue;
    let body: Buffer = Buffer.alloc(0);
    const noBody = head || status === 204 || status === 304;
    const te = headers.get('transfer-encoding');
    const cl = headers.get('content-length');
    if (noBody) {
      // nothing follows
    } else if (te !== undefined) {
      if (te.toLowerCase() !== 'chunked') return { responses, malformed: `transfer-encoding ${te}` };
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = data.indexOf('\r\n', at, 'latin1');
        if (lineEnd < 0) return { responses, malformed: 'truncated chunked body' };
        const size = Number.parseInt(data.subarray(at, lineEnd).toString('latin1').split(';')[0]!, 16);
        if (!Number.isFinite(size) || size < 0) return { responses, malformed: 'bad chunk size' };
        at = lineEnd + 2;
        if (size === 0) {
          const trailerEnd = data.indexOf('\r\n', at, 'latin1');
          if (trailerEnd < 0) return { responses, malformed: 'truncated chunked trailer' };
          at = trailerEnd + 2;
          break;
        }
        if (at + size + 2 > data.length) return { responses, malformed: 'truncated chunk' };
        parts.push(data.subarray(at, at + size));
        at += size + 2;
      }
      body = Buffer.concat(parts);
    } else if (cl !== undefined) {
      if (!/^\d+$/.test(cl)) return { responses, malformed: `content-length ${cl}` };
      const n = Number(cl);
      if (at + n > data.length) {
        return { responses, malformed: `body shorter than content-length ${n}: ${data.length - at}` };
      }
      body = data.subarray(at, at + n);
      at += n;
    } else {
      body = data.subarray(at);
      at = data.length;
    }
    responses.push({ status, headers, body });
  }
  return { responses };
}

function preview(b: Buffer): string {
  return JSON.stringify(b.subarray(0, 120).toString('latin1'));
}
