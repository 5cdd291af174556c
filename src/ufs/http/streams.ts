import { PassThrough, type Readable } from 'node:stream';
import type { StrataError } from '../../core/errors.js';

/**
 * Returns a stream with the bytes of `source` whose errors are translated by `map`, so that a
 * failure in the middle of a body still reaches the caller as a StrataError. Chunks pass through
 * by reference (no copy); destroying the result destroys the source.
 */
export function translateErrors(source: Readable, map: (err: unknown) => StrataError): Readable {
  const out = new PassThrough({ readableHighWaterMark: source.readableHighWaterMark });
  source.on('error', (err) => out.destroy(map(err)));
  out.on('close', () => {
    if (!source.destroyed) source.destroy();
  });
  source.pipe(out);
  return out;
}
