import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { StrataError } from '../core/errors.js';

/**
 * The dashboard's files: the page's own (src/dashboard/web, served from the source tree so a
 * clean clone has them without a copy step) and the three libraries from node_modules, by a fixed
 * table (no path from the request reaches node_modules). Everything is read once and kept in
 * memory (~110 KB raw), gzip-compressed once for clients that accept it.
 */

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** URL name under /dashboard/vendor/ → [package, file inside it]. */
const VENDOR: Readonly<Record<string, readonly [string, string]>> = {
  'preact.mjs': ['preact', 'dist/preact.mjs'],
  'hooks.mjs': ['preact', 'hooks/dist/hooks.mjs'],
  'htm.mjs': ['htm', 'dist/htm.mjs'],
  'uplot.js': ['uplot', 'dist/uPlot.iife.min.js'],
  'uplot.css': ['uplot', 'dist/uPlot.min.css'],
};

/** The import map of index.html: bare specifiers of the page's modules → vendor URLs. */
export const IMPORT_MAP = JSON.stringify({
  imports: {
    preact: '/dashboard/vendor/preact.mjs',
    'preact/hooks': '/dashboard/vendor/hooks.mjs',
    htm: '/dashboard/vendor/htm.mjs',
  },
});

interface Asset {
  readonly body: Buffer;
  readonly gzip: Buffer;
  readonly type: string;
  readonly etag: string;
}

/** src/dashboard/web of this package, found from this module (dist/src/dashboard or src/dashboard). */
export function webDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'src', 'dashboard', 'web');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    dir = dirname(dir);
  }
  throw new StrataError(
    'INTERNAL',
    'the dashboard files (src/dashboard/web) are missing from this installation',
  );
}

function packageDir(name: string): string {
  const entry = fileURLToPath(import.meta.resolve(name));
  const marker = `${sep}node_modules${sep}${name}${sep}`;
  const at = entry.lastIndexOf(marker);
  if (at < 0) throw new StrataError('INTERNAL', `cannot locate the package ${name}`);
  return entry.slice(0, at + marker.length);
}

export class StaticAssets {
  readonly #root: string;
  readonly #cache = new Map<string, Promise<Asset>>();

  constructor(
    root = webDir(),
    /** Rewrites index.html once (the import map and its CSP hash). */
    private readonly renderIndex: (html: string) => string = (h) => h,
  ) {
    this.#root = resolve(root);
  }

  /** The file of a request path, or undefined when it is not one of the dashboard's. */
  fileOf(path: string): string | undefined {
    if (path === '/' || path === '/index.html') return join(this.#root, 'index.html');
    if (path.startsWith('/dashboard/vendor/')) {
      const v = VENDOR[path.slice('/dashboard/vendor/'.length)];
      return v === undefined ? undefined : join(packageDir(v[0]), v[1]);
    }
    if (!path.startsWith('/dashboard/app/')) return undefined;
    let rest: string;
    try {
      rest = decodeURIComponent(path.slice('/dashboard/app/'.length));
    } catch {
      return undefined;
    }
    if (rest.includes('\0') || rest.includes('\\')) return undefined;
    const file = resolve(this.#root, rest);
    // No way out of the folder, whatever the request spelled.
    if (!file.startsWith(this.#root + sep)) return undefined;
    return file;
  }

  /** Serves GET/HEAD of a dashboard file; false when the path is not one. */
  async serve(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    const file = this.fileOf(path);
    if (file === undefined) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD')
      throw new StrataError('INVALID_ARGUMENT', `${req.method} is not allowed on ${path}`);
    const type = TYPES[extname(file)];
    if (type === undefined) throw new StrataError('NOT_FOUND', `no dashboard file ${path}`);
    const asset = await this.load(file, type);
    const headers: Record<string, string> = {
      'content-type': asset.type,
      etag: asset.etag,
      // The page and its modules revalidate (cheap 304s); library files change only with the package.
      'cache-control': path.startsWith('/dashboard/vendor/') ? 'public, max-age=86400' : 'no-cache',
      'x-content-type-options': 'nosniff',
      vary: 'accept-encoding',
    };
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip ? asset.gzip : asset.body;
    if (gzip) headers['content-encoding'] = 'gzip';
    headers['content-length'] = String(body.length);
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }

  private load(file: string, type: string): Promise<Asset> {
    let asset = this.#cache.get(file);
    if (asset === undefined) {
      asset = (async () => {
        let body: Buffer;
        try {
          body = await readFile(file);
        } catch (err) {
          throw new StrataError('NOT_FOUND', 'no such dashboard file', { cause: err });
        }
        if (file === join(this.#root, 'index.html'))
          body = Buffer.from(this.renderIndex(body.toString('utf8')));
        const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
        return { body, gzip: gzipSync(body, { level: 9 }), type, etag };
      })();
      this.#cache.set(file, asset);
      // A missing file is not remembered (it may be a typo now and exist never; keep the map small).
      asset.catch(() => this.#cache.delete(file));
    }
    return asset;
  }
}

/** The CSP source of an inline script (the import map). */
export function scriptHash(text: string): string {
  return `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
}
