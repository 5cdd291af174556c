import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';

/**
 * Streams a body into a response whose headers are written, with backpressure (pipe), and
 * resolves when the response is done or gone. A source error destroys the response, so the
 * client sees a broken body — never a short success. A client that goes away stops the source.
 *
 * Not stream.pipeline: it aborts an internal AbortController on every completion, and building
 * that DOMException cost ~4–6% of the CPU of small reads.
 */
export function sendStream(stream: Readable, res: ServerResponse): Promise<void> {
  return new Promise<void>((done) => {
    stream.once('error', (err) => {
      res.destroy(err);
      done();
    });
    res.once('close', () => {
      if (!res.writableFinished) stream.destroy();
      done();
    });
    stream.pipe(res);
  });
}
