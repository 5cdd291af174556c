import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Agent } from 'undici';

const run = promisify(execFile);

/** A test CA and one server certificate it signed, as files (made with Debian's openssl). */
export interface TestCa {
  /** The CA certificate (PEM): what clients are told to trust. */
  readonly caFile: string;
  readonly caPem: string;
  /** Server certificate for 127.0.0.1 and localhost (subjectAltName), and its key. */
  readonly certFile: string;
  readonly keyFile: string;
  /** An undici Agent that trusts the CA only (for the test's own requests). */
  readonly agent: Agent;
  /** The same, showing the server certificate as its client certificate (it has clientAuth). */
  readonly clientAgent: Agent;
  /** Closes both agents. */
  close(): Promise<void>;
}

/**
 * Makes a CA and a server certificate (SAN IP:127.0.0.1, DNS:localhost, serverAuth and
 * clientAuth, so etcd can use it both ways) in `dir`, as an operator would for a test cluster.
 */
export async function makeTestCa(dir: string, name = 'strata-test'): Promise<TestCa> {
  const caKey = join(dir, `${name}-ca.key`);
  const caFile = join(dir, `${name}-ca.pem`);
  const keyFile = join(dir, `${name}-server.key`);
  const csr = join(dir, `${name}-server.csr`);
  const certFile = join(dir, `${name}-server.pem`);
  const ext = join(dir, `${name}-server.ext`);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    caKey,
    '-out',
    caFile,
    '-days',
    '2',
    '-subj',
    `/CN=${name} CA`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run('openssl', [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    csr,
    '-subj',
    '/CN=localhost',
  ]);
  await writeFile(
    ext,
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    caFile,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-out',
    certFile,
    '-days',
    '2',
    '-extfile',
    ext,
  ]);
  const caPem = await readFile(caFile, 'utf8');
  const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  const agent = new Agent({ connect: { ca: caPem } });
  const clientAgent = new Agent({ connect: { ca: caPem, cert, key } });
  return {
    caFile,
    caPem,
    certFile,
    keyFile,
    agent,
    clientAgent,
    close: async () => {
      await Promise.all([agent.close(), clientAgent.close()]);
    },
  };
}
