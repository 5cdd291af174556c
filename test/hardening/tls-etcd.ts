import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { ETCD_BINARY } from '../helpers/etcd.js';
import { waitFor } from '../helpers/wait.js';
import type { TestCa } from './tls-ca.js';

/** A single-node etcd serving clients over TLS only (https://), stopped by PID. */
export interface TlsEtcd {
  /** etcds://127.0.0.1:P */
  readonly uri: string;
  /** https://127.0.0.1:P */
  readonly clientUrl: string;
  stop(): Promise<void>;
}

/**
 * Starts etcd with --cert-file/--key-file and a TLS (https) client URL; `clientCertAuth` adds
 * --trusted-ca-file (etcd 3.4 then wants a client certificate signed by that CA).
 */
export async function startTlsEtcd(ca: TestCa, options: { clientCertAuth?: boolean } = {}): Promise<TlsEtcd> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-etcds-'));
  const clientPort = await freePort();
  let peerPort = await freePort();
  while (peerPort === clientPort) peerPort = await freePort();
  const clientUrl = `https://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const logFile = join(dir, 'etcd.log');
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      ETCD_BINARY,
      [
        '--name',
        'n1',
        '--data-dir',
        join(dir, 'data'),
        '--listen-client-urls',
        clientUrl,
        '--advertise-client-urls',
        clientUrl,
        '--listen-peer-urls',
        peerUrl,
        '--initial-advertise-peer-urls',
        peerUrl,
        '--initial-cluster',
        `n1=${peerUrl}`,
        '--initial-cluster-state',
        'new',
        '--cert-file',
        ca.certFile,
        '--key-file',
        ca.keyFile,
        ...(options.clientCertAuth ? ['--trusted-ca-file', ca.caFile, '--client-cert-auth'] : []),
      ],
      { stdio: ['ignore', fd, fd] },
    );
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`etcd exited: ${await readFile(logFile, 'utf8')}`);
        const res = await request(`${clientUrl}/health`, {
          dispatcher: options.clientCertAuth ? ca.clientAgent : ca.agent,
        });
        return ((await res.body.json()) as { health?: string }).health === 'true';
      },
      { what: `etcd healthy on ${clientUrl}`, timeoutMs: 20_000, intervalMs: 100, retryErrors: true },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { uri: `etcds://127.0.0.1:${clientPort}`, clientUrl, stop };
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}
