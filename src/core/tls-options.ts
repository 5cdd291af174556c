import { readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import { Agent, type Dispatcher } from 'undici';
import { StrataError } from './errors.js';

/**
 * TLS of Strata's listeners and clients (docs/reliability.md, "TLS").
 * - Servers: `--tls-cert FILE --tls-key FILE` (config `tlsCert`/`tlsKey`, env STRATA_TLS_CERT /
 *   STRATA_TLS_KEY) put every listener of the process on TLS.
 * - Clients: Node's CA list (which holds NODE_EXTRA_CA_CERTS), plus `--ca-file FILE` /
 *   STRATA_CA_FILE when given, for every transport (undici pools and requests, etcd's gRPC).
 */

/** PEM material of a TLS listener, as node:https and node:tls take it. */
export interface ServerTls {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** The flag (or key) names a file came from, so an error says which one to fix. */
export interface TlsFileNames {
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

/**
 * Reads the listener's certificate chain and key; undefined when neither is given. One without
 * the other, a missing or unreadable file, or a file that is not PEM is INVALID_ARGUMENT naming
 * the flag.
 */
export async function loadServerTls(
  certFile: string | undefined,
  keyFile: string | undefined,
  names: TlsFileNames = {},
): Promise<ServerTls | undefined> {
  const certName = names.cert ?? '--tls-cert';
  const keyName = names.key ?? '--tls-key';
  if (empty(certFile) && empty(keyFile)) return undefined;
  if (empty(certFile) || empty(keyFile))
    throw new StrataError(
      'INVALID_ARGUMENT',
      `TLS needs both ${certName} and ${keyName}, got only ${empty(certFile) ? keyName : certName}`,
    );
  const cert = await readPem(certFile as string, certName, 'CERTIFICATE');
  const key = await readPem(keyFile as string, keyName, 'PRIVATE KEY');
  return { cert, key };
}

/** http:// or https:// as a listener with or without TLS is reached. */
export function schemeOf(tls: ServerTls | undefined): 'http' | 'https' {
  return tls === undefined ? 'http' : 'https';
}

function empty(v: string | undefined): boolean {
  return v === undefined || v === '';
}

async function readPem(file: string, flag: string, what: 'CERTIFICATE' | 'PRIVATE KEY'): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new StrataError('INVALID_ARGUMENT', `${flag} ${file}: cannot read it (${code})`, { cause: err });
  }
  const marker =
    what === 'CERTIFICATE' ? /-----BEGIN CERTIFICATE-----/ : /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/;
  if (!marker.test(data.toString('latin1')))
    throw new StrataError('INVALID_ARGUMENT', `${flag} ${file}: not a PEM file (no "BEGIN ${what}" block)`);
  return data;
}

// ---- client side ---------------------------------------------------------------------------------

/** CAs the process trusts beyond Node's own list; undefined: Node's list only. */
let extraCa: { readonly file: string; readonly pem: string } | undefined;
let envLoaded: Promise<void> | undefined;
let agent: Agent | undefined;

/**
 * Trusts the CA certificates in `file` (PEM) for every Strata client transport of this process,
 * besides Node's list and NODE_EXTRA_CA_CERTS. `flag` names the source in errors.
 */
export async function useCaFile(file: string, flag = '--ca-file'): Promise<void> {
  if (extraCa?.file === file) return;
  const pem = (await readPem(file, flag, 'CERTIFICATE')).toString('utf8');
  await readNodeExtraCa();
  extraCa = { file, pem };
  agent?.close().catch(() => undefined);
  agent = undefined;
}

/**
 * Loads STRATA_CA_FILE (unless a --ca-file came first) and STRATA_ETCD_CERT/STRATA_ETCD_KEY
 * (unless --etcd-cert/--etcd-key came first), once; every client entry point awaits it.
 */
export function loadClientCa(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  envLoaded ??= (async () => {
    const file = env.STRATA_CA_FILE;
    if (extraCa === undefined && file !== undefined && file !== '') await useCaFile(file, 'STRATA_CA_FILE');
    if (etcdClient === undefined && (env.STRATA_ETCD_CERT || env.STRATA_ETCD_KEY))
      await useEtcdClientCert(env.STRATA_ETCD_CERT, env.STRATA_ETCD_KEY, {
        cert: 'STRATA_ETCD_CERT',
        key: 'STRATA_ETCD_KEY',
      });
    if (extraCa === undefined) await readNodeExtraCa();
  })();
  return envLoaded;
}

/** The client certificate shown to etcd over etcds:// (etcd's --client-cert-auth), if any. */
let etcdClient: ServerTls | undefined;

/**
 * Presents the certificate and key in these files to etcd on every etcds:// connection of this
 * process (mutual TLS). `names` name the flags in errors.
 */
export async function useEtcdClientCert(
  certFile: string | undefined,
  keyFile: string | undefined,
  names: TlsFileNames = { cert: '--etcd-cert', key: '--etcd-key' },
): Promise<void> {
  const loaded = await loadServerTls(certFile, keyFile, names);
  if (loaded !== undefined) etcdClient = loaded;
}

/**
 * gRPC TLS credentials of an etcds:// connection: the CAs (Node's list, NODE_EXTRA_CA_CERTS and
 * the CA file) and the client certificate when one is in use; undefined when none of the three
 * is (gRPC then takes Node's bundled list by itself — which lacks NODE_EXTRA_CA_CERTS, hence
 * the explicit list whenever that is set).
 */
export function etcdCredentials():
  | { rootCertificate: Buffer; privateKey?: Buffer; certChain?: Buffer }
  | undefined {
  if (extraCa === undefined && etcdClient === undefined && nodeExtraText === '') return undefined;
  const ca = clientCaList() ?? [...rootCertificates, ...(nodeExtraText === '' ? [] : [nodeExtraText])];
  return {
    rootCertificate: Buffer.from(ca.join('\n')),
    ...(etcdClient === undefined ? {} : { privateKey: etcdClient.key, certChain: etcdClient.cert }),
  };
}

/** The CA file trusted besides Node's list, if any (for messages). */
export function caFileInUse(): string | undefined {
  return extraCa?.file;
}

/**
 * The PEM list a TLS client should trust, or undefined for Node's default. A given `ca` replaces
 * Node's list (NODE_EXTRA_CA_CERTS included), so the list is rebuilt: the bundled roots, the
 * NODE_EXTRA_CA_CERTS file's text (read by Node at start; re-read here once), and the CA file.
 */
export function clientCaList(): string[] | undefined {
  if (extraCa === undefined) return undefined;
  return [...rootCertificates, ...(nodeExtraText === '' ? [] : [nodeExtraText]), extraCa.pem];
}

/** `connect` options of an undici Pool/Agent: `{ ca }` when a CA file is in use, else none. */
export function clientConnectOptions(): { ca?: string[] } {
  const ca = clientCaList();
  return ca === undefined ? {} : { ca };
}

/**
 * The dispatcher of one-off undici `request()`s: an Agent trusting the CA file, or undefined
 * (undici's global one, which uses Node's list and so NODE_EXTRA_CA_CERTS).
 */
export async function clientDispatcher(): Promise<Dispatcher | undefined> {
  await loadClientCa();
  if (extraCa === undefined) return undefined;
  agent ??= new Agent({ connect: clientConnectOptions() });
  return agent;
}

/** `{ dispatcher }` for an undici `request()` when a CA file is in use, else `{}`. */
export async function clientRequestOptions(): Promise<{ dispatcher?: Dispatcher }> {
  const dispatcher = await clientDispatcher();
  return dispatcher === undefined ? {} : { dispatcher };
}

/** NODE_EXTRA_CA_CERTS's text, read (asynchronously) with the CA file: a given `ca` replaces it. */
let nodeExtraText = '';
async function readNodeExtraCa(): Promise<void> {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  // Node itself warns about an unreadable NODE_EXTRA_CA_CERTS at start; nothing more to add.
  nodeExtraText = file ? await readFile(file, 'utf8').catch(() => '') : '';
}

/**
 * A TLS failure of a client in words a person can act on (unknown CA, name mismatch), or
 * undefined when `err` is no certificate error.
 */
export function tlsFailureHint(err: unknown): string | undefined {
  const codes: string[] = [];
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, i = 0; e && i < 5; i++) {
    if (typeof e.code === 'string') codes.push(e.code);
    e = e.cause as typeof e;
  }
  const untrusted = [
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'SELF_SIGNED_CERT_IN_CHAIN',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    'UNABLE_TO_GET_ISSUER_CERT',
    'CERT_UNTRUSTED',
  ];
  if (codes.some((c) => untrusted.includes(c)))
    return 'the server certificate is not signed by a trusted CA: pass --ca-file FILE, or set STRATA_CA_FILE or NODE_EXTRA_CA_CERTS';
  if (codes.includes('ERR_TLS_CERT_ALTNAME_INVALID'))
    return 'the server certificate does not name this host (its subjectAltName): connect by a name it lists';
  if (codes.includes('CERT_HAS_EXPIRED')) return 'the server certificate has expired';
  return undefined;
}
