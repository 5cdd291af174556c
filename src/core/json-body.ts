import type { IncomingMessage } from 'node:http';
import { StrataError, toStrataError } from './errors.js';

/**
 * A request body that must be one JSON object of at most `maxBytes` (an empty body is `{}`):
 * anything else is INVALID_ARGUMENT naming `what` ("a job request", "a dashboard request").
 */
export async function readJsonObject(
  req: IncomingMessage,
  maxBytes: number,
  what: string,
): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new StrataError('INVALID_ARGUMENT', `${what} is at most ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch (err) {
    throw new StrataError('INVALID_ARGUMENT', `${what} is not JSON`, { cause: toStrataError(err) });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new StrataError('INVALID_ARGUMENT', `${what} must be a JSON object`);
  return body as Record<string, unknown>;
}
