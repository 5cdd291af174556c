import { createServer, Socket } from 'node:net';

/**
 * A userspace link in front of `target`: `delayMs` each way and `bytesPerSec` per direction
 * SHARED by every connection, as one WAN link would be (bench/s3-gateway.ts's startDelayProxy
 * shapes each connection on its own, so N parallel connections got N times the rate). netem is
 * not in this kernel (TESTBED.md). Bytes keep their order per connection; a connection stops
 * reading while more than ~1 s of data waits on the link.
 */

interface Link {
  /** When the link is free again (performance.now() ms). */
  nextFree: number;
}

export interface ShapedLink {
  readonly url: string;
  /** Bytes that went from the target to the clients. */
  downstreamBytes(): number;
  stop(): Promise<void>;
}

export async function startSharedLink(
  target: string,
  delayMs: number,
  bytesPerSec: number,
): Promise<ShapedLink> {
  const t = new URL(target);
  const up: Link = { nextFree: 0 };
  const down: Link = { nextFree: 0 };
  let downBytes = 0;
  const sockets = new Set<Socket>();

  const pipe = (from: Socket, to: Socket, link: Link, count: boolean) => {
    let ended = false;
    // One FIFO and one timer per connection and direction, so chunks leave in order.
    const queue: { due: number; chunk: Buffer }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      timer = undefined;
      const now = performance.now();
      while (queue.length > 0 && (queue[0]?.due ?? 0) <= now) {
        const item = queue.shift();
        if (item !== undefined && !to.destroyed) to.write(item.chunk);
      }
      const head = queue[0];
      if (head !== undefined) timer = setTimeout(flush, Math.max(1, head.due - now));
      else if (ended) to.end();
    };
    from.on('data', (chunk: Buffer) => {
      if (count) downBytes += chunk.length;
      const now = performance.now();
      const start = Math.max(now, link.nextFree);
      link.nextFree = start + (chunk.length / bytesPerSec) * 1000;
      if (link.nextFree - now > 1000) {
        from.pause();
        setTimeout(() => from.resume(), link.nextFree - now - 500);
      }
      queue.push({ due: link.nextFree + delayMs, chunk });
      if (timer === undefined) timer = setTimeout(flush, Math.max(1, link.nextFree + delayMs - now));
    });
    from.on('end', () => {
      ended = true;
      if (queue.length === 0 && timer === undefined) to.end();
    });
    from.on('error', () => to.destroy());
  };

  const server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = new Socket({ allowHalfOpen: true });
    sockets.add(client);
    sockets.add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => {
      sockets.delete(upstream);
      setTimeout(() => client.destroy(), 5000).unref();
    });
    upstream.connect(Number(t.port), t.hostname);
    pipe(client, upstream, up, false);
    pipe(upstream, client, down, true);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    downstreamBytes: () => downBytes,
    stop: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}
