import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Starts Debian's nginx (scripts/test-packages.txt) serving `rootDir` on a free loopback port, with
 * a config, pid file, logs and temp paths all inside a temp dir. `master_process off` keeps it one
 * process running as the current user (root here: workers would otherwise drop to `nobody`, who
 * cannot read mkdtemp's 0700 directories), so stopping it by PID stops everything.
 */
export interface NginxServer {
  /** Base URL, e.g. http://127.0.0.1:43121 (no trailing slash). */
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** Directory listing format; json by default. */
  readonly autoindexFormat?: 'json' | 'html';
}

const NGINX = '/usr/sbin/nginx';

export async function startNginx(rootDir: string, options: NginxOptions = {}): Promise<NginxServer> {
  let lastError: unknown;
  // The port is probed then handed to nginx (it cannot listen on 0); another process may take it
  // in between, so retry a few times.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(rootDir, await freePort(), options);
    } catch (err) {
      lastError = err;
      if (!String(err).includes('Address already in use')) break;
    }
  }
  throw lastError;
}

async function startOnce(rootDir: string, port: number, options: NginxOptions): Promise<NginxServer> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-nginx-'));
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) await mkdir(join(dir, sub));
  const config = `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  types { text/plain txt; text/html html; application/json json; }
  default_type application/octet-stream;
  charset utf-8;
  sendfile on;
  keepalive_timeout 60s;
  server {
    listen 127.0.0.1:${port};
    server_name localhost;
    root "${rootDir}";
    location / {
      autoindex on;
      autoindex_format ${options.autoindexFormat ?? 'json'};
    }
  }
}
`;
  await writeFile(join(dir, 'nginx.conf'), config);
  // -e: nginx opens its default error log before reading the config unless told otherwise.
  const child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilAnswering(url, child, 10_000);
  } catch (err) {
    const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
    await killAndWait(child);
    await rm(dir, { recursive: true, force: true });
    throw new Error(`nginx did not start: ${(err as Error).message}\n${stderr}\n${log}`);
  }
  const pid = child.pid!;
  return {
    url,
    pid,
    async stop() {
      await killAndWait(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  // SIGQUIT: graceful shutdown; SIGKILL if it does not go within 5 s.
  process.kill(child.pid!, 'SIGQUIT');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
  }, 5_000);
  await exited;
  clearTimeout(timer);
}

async function waitUntilAnswering(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited with ${child.exitCode ?? child.signalCode}`);
    }
    if (await answers(url)) return;
    if (Date.now() > deadline) throw new Error(`no answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function answers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${url}/`, { method: 'HEAD', timeout: 1_000, agent: false }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}
