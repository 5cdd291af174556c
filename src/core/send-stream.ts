import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { RELEASE_CHUNK, type ReleasingReadable } from './buffer-pool.js';

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
    const release = (stream as ReleasingReadable)[RELEASE_CHUNK];
    if (release === undefined) stream.pipe(res);
    else pumpReleasing(stream, res, release);
  });
}

/**
 * Bytes a response may have queued before its source waits for 'drain'. pipe() waits as soon as
 * a write returns false — with 1 MiB pages, after every page — so the socket idled for a round
 * trip through JavaScript between pages; a few pages queued keep the kernel's buffer full.
 */
export const SEND_QUEUE_BYTES = 4 * 1024 * 1024;

/**
 * What pipe() does, plus giving each chunk back (buffer-pool.ts) once the socket has taken it:
 * a write's callback without an error means Node holds no reference to the chunk any more.
 */
function pumpReleasing(stream: Readable, res: ServerResponse, release: (chunk: Buffer) => void): void {
  const resume = () => stream.resume();
  stream.on('data', (chunk: Buffer) => {
    const more = res.write(chunk, (err) => {
      if (!err) release(chunk);
    });
    if (!more && res.writableLength >= SEND_QUEUE_BYTES) {
      stream.pause();
      res.once('drain', resume);
    }
  });
  stream.once('end', () => res.end());
}
