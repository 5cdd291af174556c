import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of an origin that can make it stop answering, the two ways an origin goes
 * down on a real network:
 * - `blackhole()`: connections are accepted (and kept ones stay open) but nothing flows either
 *   way, as behind a dead route or a silent firewall; only a deadline can end a call.
 * - `refuse()`: the port is closed (ECONNREFUSED) and kept connections are reset, as when the
 *   origin process is killed.
 * `open()` brings it back on the same port: held connections flow again, new ones are piped.
 */
export interface OriginProxy {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  blackhole(): void;
  refuse(): Promise<void>;
  open(): Promise<void>;
  stop(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  upstream: Socket | undefined;
}

export async function startOriginProxy(target: string): Promise<OriginProxy> {
  const t = new URL(target);
  const pairs = new Set<Pair>();
  let mode: 'open' | 'blackhole' | 'refuse' = 'open';

  const link = (p: Pair) => {
    if (p.upstream === undefined) {
      const up = connect(Number(t.port), t.hostname);
      p.upstream = up;
      up.on('error', () => p.client.destroy());
      up.on('close', () => p.client.destroy());
    }
    p.client.pipe(p.upstream);
    p.upstream.pipe(p.client);
  };
  const unlink = (p: Pair) => {
    p.client.unpipe();
    p.upstream?.unpipe();
    p.client.pause();
    p.upstream?.pause();
  };

  const server: Server = createServer((client) => {
    const p: Pair = { client, upstream: undefined };
    pairs.add(p);
    client.on('error', () => p.upstream?.destroy());
    client.on('close', () => {
      p.upstream?.destroy();
      pairs.delete(p);
    });
    if (mode === 'open') link(p);
    else client.pause(); // blackholed: held, bytes stay in the kernel buffers
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;

  const listen = async () => {
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
  };
  const close = () => new Promise<void>((ok) => server.close(() => ok()));

  return {
    url: `http://127.0.0.1:${port}`,
    blackhole() {
      mode = 'blackhole';
      for (const p of pairs) unlink(p);
    },
    async refuse() {
      mode = 'refuse';
      const closed = close();
      for (const p of pairs) {
        p.client.resetAndDestroy();
        p.upstream?.destroy();
      }
      await closed;
    },
    async open() {
      if (mode === 'refuse') await listen();
      mode = 'open';
      for (const p of pairs) link(p);
    },
    async stop() {
      const closed = server.listening ? close() : Promise.resolve();
      for (const p of pairs) {
        p.client.destroy();
        p.upstream?.destroy();
      }
      await closed;
    },
  };
}
