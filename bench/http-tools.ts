/**
 * HTTP tools shared by the gateway benchmarks: curl timings, presigned URLs, nginx proxy_cache in
 * front of an origin, a shaped (delay + rate) TCP proxy and a bare streaming proxy (the floor row).
 */
import { spawn } from 'node:child_process';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { createServer, Socket as NetSocket, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { SignatureV4 } from '@smithy/signature-v4';
import { request } from 'undici';
import { ACCESS_KEY, SECRET_KEY } from '../test/gateway/harness.js';
import { signer } from '../test/gateway/sign.js';
import { REPO_ROOT, type RunningStrata, startLocal } from '../test/helpers/local-process.js';

const MiB = 1024 * 1024;

/**
 * One GET of a whole object by curl (a C client, as fast as either server can send), timed by
 * curl itself (time_total, no process start-up). Node's HTTP client tops out near 1–2 GB/s here,
 * which made warm-throughput rows measure the client: curl read a warm 64 MiB GET in ~23 ms from
 * both Strata and nginx, undici in 40–100 ms. Fails unless the answer is 2xx with `expect` bytes.
 */
export function curlSeconds(url: string, expect: number): Promise<number> {
  return new Promise((ok, fail) => {
    const child = spawn(
      'curl',
      ['-s', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}', url],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
    });
    child.once('error', fail);
    child.once('exit', () => {
      const [code, size, secs] = out.trim().split(' ');
      if (!code?.startsWith('2') || Number(size) !== expect)
        fail(new Error(`curl ${url} → ${code}, ${size} bytes (expected ${expect})`));
      else ok(Number(secs));
    });
  });
}

export async function bestCurl(n: number, url: string, expect: number): Promise<number> {
  let b = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) b = Math.min(b, await curlSeconds(url, expect));
  return b;
}

export async function presign(
  base: string,
  path: string,
  query: Record<string, string> = {},
  sign: SignatureV4 = signer(),
  options: { method?: string; expiresIn?: number } = {},
): Promise<string> {
  const u = new URL(base);
  const req = await sign.presign(
    {
      method: options.method ?? 'GET',
      protocol: 'http:',
      hostname: u.hostname,
      port: Number(u.port),
      path,
      query,
      headers: { host: u.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    },
    { expiresIn: options.expiresIn ?? 3600 },
  );
  const qs = new URLSearchParams(req.query as Record<string, string>).toString();
  return `${base}${path}?${qs}`;
}

export async function sparseFile(path: string, bytes: number): Promise<void> {
  // Real bytes (not a hole) so that both sides move data; written in 8 MiB blocks.
  const fh = await open(path, 'w');
  const block = Buffer.alloc(8 * MiB);
  for (let i = 0; i < block.length; i++) block[i] = (i * 7) & 0xff;
  for (let off = 0; off < bytes; off += block.length)
    await fh.write(block, 0, Math.min(block.length, bytes - off));
  await fh.close();
}

/** nginx proxy_cache + slice in front of `origin` (TESTBED's configuration). */
export async function startCachingNginx(
  origin: string,
  dir: string,
): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'cache'])
    await mkdir(join(dir, sub), { recursive: true });
  const conf = `daemon off; master_process off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  sendfile on; keepalive_requests 100000;
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=c:50m max_size=8g inactive=1h use_temp_path=off;
  upstream origin { server ${new URL(origin).host}; keepalive 32; }
  server {
    listen 127.0.0.1:${port};
    location / {
      slice 1m;
      proxy_cache c;
      proxy_cache_key $uri$is_args$args$slice_range;
      proxy_set_header Range $slice_range;
      proxy_cache_valid 200 206 1h;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://origin;
    }
  }
}`;
  await writeFile(join(dir, 'nginx.conf'), conf);
  const child = spawn(
    '/usr/sbin/nginx',
    ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')],
    { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      await request(url).then((r) => r.body.dump());
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url,
    async stop() {
      const exited = new Promise((ok) => child.once('exit', ok));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => ok(p));
    });
    s.on('error', fail);
  });
}

/**
 * A userspace TCP proxy adding `delayMs` each way and limiting each direction to `bytesPerSec`
 * (netem is not in this kernel; TESTBED.md).
 */
export async function startDelayProxy(
  target: string,
  delayMs: number,
  bytesPerSec: number,
): Promise<{ url: string; stop(): Promise<void> }> {
  const t = new URL(target);
  const sockets = new Set<Socket>();
  const pipeDelayed = (from: Socket, to: Socket) => {
    let nextFree = 0; // when the shaped link is free again (ms)
    let ended = false;
    // One FIFO and one timer per direction: a timer per chunk can fire out of order (timers
    // round to whole ms), which reordered bytes on the way.
    const queue: { due: number; chunk: Buffer }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      timer = undefined;
      const now = performance.now();
      while (queue.length > 0 && queue[0]!.due <= now) {
        const { chunk } = queue.shift()!;
        if (!to.destroyed) to.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(flush, Math.max(1, queue[0]!.due - now));
      else if (ended) to.end();
    };
    from.on('data', (chunk: Buffer) => {
      const now = performance.now();
      const start = Math.max(now, nextFree);
      nextFree = start + (chunk.length / bytesPerSec) * 1000;
      // Backpressure: stop reading while more than ~1 s of data is queued on the link.
      if (nextFree - now > 1000) {
        from.pause();
        setTimeout(() => from.resume(), nextFree - now - 500);
      }
      queue.push({ due: nextFree + delayMs, chunk });
      if (timer === undefined) timer = setTimeout(flush, Math.max(1, nextFree + delayMs - now));
    });
    from.on('end', () => {
      ended = true;
      if (queue.length === 0 && timer === undefined) to.end();
    });
    from.on('error', () => to.destroy());
  };
  const server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = new NetSocket({ allowHalfOpen: true });
    sockets.add(client);
    sockets.add(upstream);
    upstream.connect(Number(t.port), t.hostname);
    pipeDelayed(client, upstream);
    pipeDelayed(upstream, client);
    // Ends travel with the delayed data (see pipeDelayed); only errors tear both sides down.
    upstream.on('close', () => setTimeout(() => client.destroy(), 5000).unref());
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}

/** A child process that streams every GET from `origin` (undici) into its response: no cache. */
export async function startPassthrough(origin: string): Promise<{ url: string; stop(): Promise<void> }> {
  const script = `
    import { createServer } from 'node:http';
    import { Agent, request } from '${REPO_ROOT}/node_modules/undici/index.js';
    const agent = new Agent({ connections: 16 });
    const server = createServer(async (req, res) => {
      const up = await request('${origin}' + req.url, { dispatcher: agent });
      res.writeHead(up.statusCode, { 'content-length': up.headers['content-length'] });
      up.body.pipe(res);
    });
    server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\\n'));
    process.once('SIGTERM', () => process.exit(0));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((ok) => createInterface({ input: child.stdout! }).once('line', ok));
  return {
    url: `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`,
    async stop() {
      const exited = new Promise((ok) => child.once('exit', ok));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** `strata local` with its defaults in `dataDir`, the benches' S3 keys and no log (the S3 load benches). */
export function startS3Local(dataDir: string): Promise<RunningStrata> {
  return startLocal(['--data-dir', dataDir], {
    STRATA_S3_ACCESS_KEY_ID: ACCESS_KEY,
    STRATA_S3_SECRET_ACCESS_KEY: SECRET_KEY,
    STRATA_LOG: 'off',
  });
}
