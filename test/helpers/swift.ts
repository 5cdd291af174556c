import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

/**
 * A single-node OpenStack Swift with its S3 layer (s3api + tempauth) on loopback, for tests.
 *
 * The account, container, object and proxy servers all run inside ONE Python child (a launcher
 * written below) so Swift's ~1.3 s import cost is paid once: it binds four sockets on port 0,
 * builds the rings with the ports it got (no port races), loads the four WSGI apps and serves them
 * from one eventlet hub. Swift reads swift.conf from /etc/swift unless told otherwise; the launcher
 * calls `set_swift_dir(dir)` first, so the system config is neither read nor touched. The launcher
 * starts memcached as its own child (with PR_SET_PDEATHSIG) and stops it on SIGTERM or when its
 * stdin closes, so killing the one child by PID stops everything; the temp dir is then removed.
 *
 * Debian packages: swift swift-proxy swift-object swift-container swift-account memcached
 * (scripts/test-packages.txt). Needs the system Python (/usr/bin/python3), not a pyenv one.
 */

export interface SwiftS3 {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
  /** Milliseconds from spawn to a healthy proxy. */
  readonly startupMs: number;
  /** The devices directory (what the servers' `devices =` names), for benchmark setup. */
  readonly devices: string;
  stop(): Promise<void>;
}

const PYTHON = '/usr/bin/python3';
const ACCESS_KEY = 'test:tester';
const SECRET = 'testing';

const SWIFT_CONF = `[swift-hash]
swift_hash_path_suffix = strata-test-suffix
swift_hash_path_prefix = strata-test-prefix

[storage-policy:0]
name = Policy-0
default = yes
`;

function serverConf(dir: string, kind: 'account' | 'container' | 'object'): string {
  return `[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
workers = 0
mount_check = false
devices = ${dir}/node
swift_dir = ${dir}
log_level = WARNING
recon_cache_path = ${dir}/cache

[pipeline:main]
pipeline = ${kind}-server

[app:${kind}-server]
use = egg:swift#${kind}
`;
}

function proxyConf(dir: string, memcachedPort: number, users: readonly SwiftUser[] = []): string {
  return `[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
workers = 0
swift_dir = ${dir}
log_level = WARNING

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo versioned_writes symlink proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:${memcachedPort}
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = ${SECRET} .admin
${users.map((u) => `user_${u.account}_${u.user} = ${u.secret} .admin\n`).join('')}[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
[filter:versioned_writes]
use = egg:swift#versioned_writes
[filter:symlink]
use = egg:swift#symlink
`;
}

/** Runs the four Swift servers in one eventlet hub; prints the ports as JSON; exits on stdin EOF. */
const LAUNCHER = `
import json, os, sys
os.environ['TZ'] = 'UTC+0'
import time
time.tzset()
d = sys.argv[1]
from swift.common import utils
utils.set_swift_dir(d)
utils.eventlet_monkey_patch()
import eventlet, eventlet.wsgi, eventlet.patcher
eventlet.hubs.use_hub(utils.get_hub())
from swift.common import wsgi as sw
from swift.common.ring import RingBuilder

names = ('account', 'container', 'object', 'proxy')
socks = {n: eventlet.listen(('127.0.0.1', 0)) for n in names}
ports = {n: s.getsockname()[1] for n, s in socks.items()}
for n in names[:3]:
    b = RingBuilder(10, 1, 1)
    b.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': ports[n],
               'device': 'sdb1', 'weight': 100})
    b.rebalance()
    b.get_ring().save(os.path.join(d, n + '.ring.gz'))
for n in names:
    path = os.path.join(d, n + '-server.conf')
    with open(path) as f:
        text = f.read().replace('{port}', str(ports[n]))
    with open(path, 'w') as f:
        f.write(text)
    conf, logger, log_name = sw._initrp(path, n + '-server')
    app = sw.loadapp(path, global_conf={'log_name': log_name})
    eventlet.spawn(eventlet.wsgi.server, socks[n], app, sw.NullLogger(),
                   custom_pool=sw.RestrictedGreenPool(size=1024), protocol=sw.SwiftHttpProtocol,
                   socket_timeout=60, capitalize_response_headers=False)

def start_memcached(port):
    import ctypes, signal, socket as raw_socket, subprocess
    libc = ctypes.CDLL(None, use_errno=True)
    # PR_SET_PDEATHSIG: memcached dies with this launcher, even on SIGKILL.
    child = subprocess.Popen(['memcached', '-l', '127.0.0.1', '-p', str(port), '-U', '0', '-m', '32', '-u', 'root'],
                             preexec_fn=lambda: libc.prctl(1, signal.SIGTERM), stdin=subprocess.DEVNULL)
    for _ in range(200):
        try:
            eventlet.patcher.original('socket').create_connection(('127.0.0.1', port), 0.5).close()
            return child
        except OSError:
            if child.poll() is not None:
                raise SystemExit('memcached exited with %s' % child.returncode)
            time.sleep(0.02)
    raise SystemExit('memcached did not start')

memcached = start_memcached(int(sys.argv[2]))

def shutdown(*_):
    memcached.terminate()
    try:
        memcached.wait(2)
    except Exception:
        memcached.kill()
    os._exit(0)
import signal
signal.signal(signal.SIGTERM, shutdown)
signal.signal(signal.SIGINT, shutdown)

def watch_parent():
    # A real OS thread: stdin closes when the test process dies, and then we go too.
    sys.stdin.buffer.read()
    shutdown()
eventlet.patcher.original('threading').Thread(target=watch_parent, daemon=True).start()
print(json.dumps(ports), flush=True)
while True:
    eventlet.sleep(3600)
`;

async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const addr = srv.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = once(child, 'exit');
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined)
      process.kill(child.pid, 'SIGKILL');
  }, 3000);
  await exited;
  clearTimeout(timer);
}

async function waitHealthy(url: string, deadline: number, alive: () => string | undefined): Promise<void> {
  for (;;) {
    const dead = alive();
    if (dead) throw new Error(dead);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`Swift did not become healthy at ${url}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One more tempauth user: its S3 access key is `account:user`, its secret key `secret`. */
export interface SwiftUser {
  readonly account: string;
  readonly user: string;
  readonly secret: string;
}

export async function startSwiftS3(options: { users?: readonly SwiftUser[] } = {}): Promise<SwiftS3> {
  const started = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'strata-swift-'));
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const c of children.reverse()) await killAndWait(c);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await mkdir(join(dir, 'node', 'sdb1'), { recursive: true });
    await mkdir(join(dir, 'cache'));
    const memcachedPort = await freePort();
    await writeFile(join(dir, 'swift.conf'), SWIFT_CONF);
    for (const kind of ['account', 'container', 'object'] as const) {
      await writeFile(join(dir, `${kind}-server.conf`), serverConf(dir, kind));
    }
    await writeFile(join(dir, 'proxy-server.conf'), proxyConf(dir, memcachedPort, options.users));
    await writeFile(join(dir, 'launcher.py'), LAUNCHER);

    const swift = spawn(PYTHON, [join(dir, 'launcher.py'), dir, String(memcachedPort)], {
      cwd: dir,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.push(swift);
    let stderr = '';
    swift.stderr?.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-4000);
    });
    let stdout = '';
    const portsLine = new Promise<string>((resolve, reject) => {
      swift.stdout?.on('data', (b: Buffer) => {
        stdout += b.toString();
        const nl = stdout.indexOf('\n');
        if (nl >= 0) resolve(stdout.slice(0, nl));
      });
      swift.once('exit', (code) => reject(new Error(`Swift launcher exited (${code}): ${stderr}`)));
      swift.once('error', reject);
    });
    const ports = JSON.parse(await portsLine) as { proxy: number };
    const endpoint = `http://127.0.0.1:${ports.proxy}`;
    await waitHealthy(`${endpoint}/healthcheck`, Date.now() + 30_000, () =>
      swift.exitCode !== null ? `Swift exited (${swift.exitCode}): ${stderr}` : undefined,
    );
    return {
      endpoint,
      accessKeyId: ACCESS_KEY,
      secretAccessKey: SECRET,
      region: 'us-east-1',
      startupMs: Math.round(performance.now() - started),
      devices: join(dir, 'node'),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A path-style S3 client for test setup (bucket creation, raw checks). */
export function testS3Client(
  swift: Pick<SwiftS3, 'endpoint' | 'accessKeyId' | 'secretAccessKey' | 'region'>,
): S3Client {
  return new S3Client({
    endpoint: swift.endpoint,
    region: swift.region,
    forcePathStyle: true,
    credentials: { accessKeyId: swift.accessKeyId, secretAccessKey: swift.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export async function createBucket(
  swift: Pick<SwiftS3, 'endpoint' | 'accessKeyId' | 'secretAccessKey' | 'region'>,
  name: string,
): Promise<void> {
  const client = testS3Client(swift);
  try {
    await client.send(new CreateBucketCommand({ Bucket: name }));
  } finally {
    client.destroy();
  }
}
