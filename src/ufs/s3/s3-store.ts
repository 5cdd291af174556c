import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { StrataError } from '../../core/errors.js';
import type { UfsOptions } from '../factory.js';
import {
  type CallOptions,
  type ListOptions,
  type ListPage,
  type ReadOptions,
  type UfsCapabilities,
  type UfsStatus,
  UnderStore,
  type WriteOptions,
} from '../under-store.js';
import {
  type BulkTarget,
  COPY_SINGLE_MAX,
  contentMd5ForDeleteObjects,
  copyObject,
  deleteKeys,
  forEachLimited,
} from './s3-bulk.js';
import { isS3NotFound, translateS3Error } from './s3-errors.js';
import { sseOfHead } from './s3-sse.js';
import { uploadStream } from './s3-upload.js';

/**
 * S3 under-store: `s3://bucket/optional/prefix`. Directories are key prefixes ("a/b/" exists when
 * any key starts with it); mkdir writes a zero-byte "a/b/" marker so empty directories survive.
 * Rename is copy + delete (not atomic). Credentials come from the mount options or the SDK's
 * default chain and never appear in messages.
 *
 * Checksums are only computed when S3 requires them: Swift's s3api (and other S3 look-alikes)
 * reject the aws-chunked encoding the SDK uses for streaming checksums.
 */

const DEFAULT_LIST_LIMIT = 1000;
const COPY_CONCURRENCY = 8;

function stripQuotes(etag: string | undefined): string | undefined {
  if (etag === undefined) return undefined;
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}

function parseIntOption(options: UfsOptions, name: string): number | undefined {
  const raw = options[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new StrataError('INVALID_ARGUMENT', `s3 option ${name} must be a positive integer`);
  return n;
}

function parseBoolOption(options: UfsOptions, name: string, fallback: boolean): boolean {
  const raw = options[name];
  if (raw === undefined) return fallback;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new StrataError('INVALID_ARGUMENT', `s3 option ${name} must be 'true' or 'false'`);
}

export class S3UnderStore extends UnderStore {
  readonly uri: string;
  readonly capabilities: UfsCapabilities = {
    writable: true,
    rename: 'copy',
    directories: false,
    list: true,
    rangeRead: true,
    encryption: true,
  };
  private readonly client: S3Client;
  private readonly bucket: string;
  /** '' (bucket root) or 'some/prefix/' — always ends with '/' when not empty. */
  private readonly prefix: string;
  private readonly partSize: number | undefined;
  private readonly copySingleMax: number;

  constructor(uri: URL, options: UfsOptions) {
    super();
    if (uri.username || uri.password) {
      throw new StrataError(
        'INVALID_URI',
        's3 URIs take no credentials; pass accessKeyId/secretAccessKey as mount options',
      );
    }
    this.bucket = decodeURIComponent(uri.host);
    if (this.bucket.length < 3)
      throw new StrataError('INVALID_URI', 's3 bucket names have at least 3 characters');
    const segments = decodeURIComponent(uri.pathname)
      .split('/')
      .filter((s) => s !== '');
    if (segments.some((s) => s === '.' || s === '..'))
      throw new StrataError('INVALID_URI', 's3 prefix may not contain "." or ".."');
    this.prefix = segments.length === 0 ? '' : `${segments.join('/')}/`;
    this.uri = `s3://${this.bucket}/${this.prefix}`;

    const endpoint = options.endpoint;
    const config: S3ClientConfig = {
      region: options.region ?? 'us-east-1',
      forcePathStyle: parseBoolOption(options, 'pathStyle', endpoint !== undefined),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    };
    if (endpoint !== undefined) config.endpoint = endpoint;
    const { accessKeyId, secretAccessKey, sessionToken } = options;
    if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        's3 options accessKeyId and secretAccessKey must be given together',
      );
    }
    if (accessKeyId !== undefined && secretAccessKey !== undefined) {
      config.credentials =
        sessionToken === undefined
          ? { accessKeyId, secretAccessKey }
          : { accessKeyId, secretAccessKey, sessionToken };
    }
    const maxAttempts = parseIntOption(options, 'maxAttempts');
    if (maxAttempts !== undefined) config.maxAttempts = maxAttempts;
    const timeoutMs = parseIntOption(options, 'timeoutMs');
    if (timeoutMs !== undefined)
      config.requestHandler = { connectionTimeout: timeoutMs, requestTimeout: timeoutMs };
    this.client = new S3Client(config);
    // Undocumented knobs so tests can exercise multipart paths with small objects.
    this.partSize = parseIntOption(options, 'partSize');
    this.copySingleMax = parseIntOption(options, 'copySingleMax') ?? COPY_SINGLE_MAX;
    this.client.middlewareStack.add(contentMd5ForDeleteObjects, {
      step: 'build',
      name: 'strataContentMd5',
      override: true,
    });
  }

  // ---- key mapping -------------------------------------------------------------------------

  /** Object key of a normalised path ("/" maps to the prefix itself, without its slash). */
  private key(path: string): string {
    return path === '/' ? this.prefix.slice(0, -1) : this.prefix + path.slice(1);
  }

  /** Key prefix of everything below a directory path. */
  private dirPrefix(path: string): string {
    return path === '/' ? this.prefix : `${this.key(path)}/`;
  }

  private bulk(signal: AbortSignal | undefined): BulkTarget {
    return { client: this.client, bucket: this.bucket, signal };
  }

  private where(key: string): string {
    return `${this.bucket}/${key}`;
  }

  private async send<T>(
    what: string,
    signal: AbortSignal | undefined,
    run: (opts: { abortSignal?: AbortSignal }) => Promise<T>,
  ): Promise<T> {
    try {
      return await run(signal === undefined ? {} : { abortSignal: signal });
    } catch (err) {
      throw translateS3Error(err, what, signal);
    }
  }

  private async head(
    key: string,
    signal: AbortSignal | undefined,
  ): Promise<HeadObjectCommandOutput | undefined> {
    try {
      return await this.send(`HeadObject ${this.where(key)}`, signal, (o) =>
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), o),
      );
    } catch (err) {
      if (isS3NotFound(err)) return undefined;
      throw err;
    }
  }

  private fileStatus(path: string, head: HeadObjectCommandOutput): UfsStatus {
    const etag = stripQuotes(head.ETag);
    const base = {
      path,
      type: 'file' as const,
      size: head.ContentLength ?? 0,
      mtimeMs: head.LastModified?.getTime() ?? 0,
    };
    return etag === undefined ? base : { ...base, etag };
  }

  private async listRaw(
    prefix: string,
    opts: { delimiter?: boolean; maxKeys?: number; token?: string | undefined },
    signal: AbortSignal | undefined,
  ): Promise<ListObjectsV2CommandOutput> {
    return this.send(`ListObjectsV2 ${this.where(prefix)}`, signal, (o) =>
      this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          Delimiter: opts.delimiter ? '/' : undefined,
          MaxKeys: opts.maxKeys ?? DEFAULT_LIST_LIMIT,
          ContinuationToken: opts.token,
        }),
        o,
      ),
    );
  }

  /** Whether any key (a child or the marker) lives under the directory prefix. */
  private async dirExists(path: string, signal: AbortSignal | undefined): Promise<boolean> {
    const res = await this.listRaw(this.dirPrefix(path), { maxKeys: 1 }, signal);
    return (res.Contents?.length ?? 0) > 0 || (res.CommonPrefixes?.length ?? 0) > 0;
  }

  /** Every key under a prefix, recursively. */
  private async allKeys(
    prefix: string,
    signal: AbortSignal | undefined,
  ): Promise<Array<{ key: string; size: number }>> {
    const out: Array<{ key: string; size: number }> = [];
    let token: string | undefined;
    do {
      const res = await this.listRaw(prefix, { token }, signal);
      for (const o of res.Contents ?? [])
        if (o.Key !== undefined) out.push({ key: o.Key, size: o.Size ?? 0 });
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out;
  }

  // ---- UnderStore -------------------------------------------------------------------------

  protected async _status(path: string, options: CallOptions): Promise<UfsStatus> {
    const dir: UfsStatus = { path, type: 'directory', size: 0, mtimeMs: 0 };
    if (path === '/') {
      // The root always exists as a directory, but a missing bucket or bad credentials show here.
      await this.send(`HeadBucket ${this.bucket}`, options.signal, (o) =>
        this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), o),
      ).catch((err: unknown) => {
        if (isS3NotFound(err))
          throw new StrataError('NOT_FOUND', `HeadBucket ${this.bucket}: the bucket does not exist`, {
            cause: err,
          });
        throw err;
      });
      return dir;
    }
    const head = await this.head(this.key(path), options.signal);
    if (head) return this.fileStatus(path, head);
    if (await this.dirExists(path, options.signal)) return dir;
    throw new StrataError('NOT_FOUND', `no such file or directory: ${path}`, { details: { path } });
  }

  protected async _list(path: string, options: ListOptions): Promise<ListPage> {
    const prefix = this.dirPrefix(path);
    const res = await this.listRaw(
      prefix,
      { delimiter: true, maxKeys: options.limit ?? DEFAULT_LIST_LIMIT, token: options.token },
      options.signal,
    );
    const base = path === '/' ? '' : path;
    const entries: UfsStatus[] = [];
    let sawMarker = false;
    const seen = new Set<string>();
    for (const o of res.Contents ?? []) {
      if (o.Key === undefined) continue;
      const name = o.Key.slice(prefix.length);
      if (name === '') {
        sawMarker = true;
        continue;
      }
      if (name === '.' || name === '..') continue; // not addressable as a path
      const etag = stripQuotes(o.ETag);
      const e = {
        path: `${base}/${name}`,
        type: 'file' as const,
        size: o.Size ?? 0,
        mtimeMs: o.LastModified?.getTime() ?? 0,
      };
      entries.push(etag === undefined ? e : { ...e, etag });
      seen.add(name);
    }
    for (const p of res.CommonPrefixes ?? []) {
      if (p.Prefix === undefined) continue;
      const name = p.Prefix.slice(prefix.length, -1);
      // A key "a" and keys under "a/" may both exist; status() reports the file, so does list.
      if (name === '' || name === '.' || name === '..' || seen.has(name)) continue;
      entries.push({ path: `${base}/${name}`, type: 'directory', size: 0, mtimeMs: 0 });
    }
    entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const nextToken = res.IsTruncated ? res.NextContinuationToken : undefined;
    if (
      options.token === undefined &&
      entries.length === 0 &&
      !sawMarker &&
      nextToken === undefined &&
      path !== '/'
    ) {
      // Nothing under the prefix: an absent directory, or a file.
      if (await this.head(this.key(path), options.signal))
        throw new StrataError('NOT_A_DIRECTORY', `not a directory: ${path}`, { details: { path } });
      throw new StrataError('NOT_FOUND', `no such directory: ${path}`, { details: { path } });
    }
    return nextToken === undefined ? { entries } : { entries, nextToken };
  }

  protected async _read(path: string, options: ReadOptions): Promise<Readable> {
    const offset = options.offset ?? 0;
    const length = options.length;
    if (length === 0) return Readable.from([]);
    if (path === '/') throw new StrataError('IS_A_DIRECTORY', 'cannot read the store root');
    const key = this.key(path);
    let range: string | undefined;
    if (length !== undefined) range = `bytes=${offset}-${offset + length - 1}`;
    else if (offset > 0) range = `bytes=${offset}-`;
    try {
      const res = await this.send(`GetObject ${this.where(key)}`, options.signal, (o) =>
        this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range }), o),
      );
      if (!(res.Body instanceof Readable))
        throw new StrataError('INTERNAL', 'S3 response body is not a Node stream');
      return res.Body;
    } catch (err) {
      if (err instanceof StrataError && err.code === 'INVALID_RANGE') {
        // S3 answers 416 for offset == size too; that one is a valid, empty read.
        const head = await this.head(key, options.signal);
        if (!head)
          throw new StrataError('NOT_FOUND', `no such file: ${path}`, { details: { path }, cause: err });
        if (offset === (head.ContentLength ?? 0)) return Readable.from([]);
        throw new StrataError(
          'INVALID_RANGE',
          `offset ${offset} is past the end (${head.ContentLength ?? 0} bytes) of ${path}`,
          {
            cause: err,
            details: { path, offset, size: head.ContentLength },
          },
        );
      }
      if (isS3NotFound(err) && (await this.dirExists(path, options.signal))) {
        throw new StrataError('IS_A_DIRECTORY', `is a directory: ${path}`, { details: { path } });
      }
      throw err;
    }
  }

  protected async _write(path: string, source: Readable, options: WriteOptions): Promise<UfsStatus> {
    const key = this.key(path);
    await uploadStream(
      {
        client: this.client,
        bucket: this.bucket,
        key,
        signal: options.signal,
        expectedSize: options.size,
        partSize: this.partSize,
        encryption: options.encryption,
      },
      source,
    );
    // Status from a HEAD, so the fingerprint equals what a later status() reports.
    const head = await this.head(key, options.signal);
    if (!head) throw new StrataError('UFS_UNAVAILABLE', `wrote ${this.where(key)} but it is not visible yet`);
    return this.fileStatus(path, head);
  }

  protected async _delete(path: string, options: CallOptions & { recursive?: boolean }): Promise<void> {
    const key = this.key(path);
    if (await this.head(key, options.signal)) {
      await deleteKeys(this.bulk(options.signal), [key]);
      return;
    }
    const prefix = this.dirPrefix(path);
    const some = await this.listRaw(prefix, { maxKeys: 2 }, options.signal);
    const keys = (some.Contents ?? []).map((o) => o.Key).filter((k): k is string => k !== undefined);
    if (keys.length === 0)
      throw new StrataError('NOT_FOUND', `no such file or directory: ${path}`, { details: { path } });
    const onlyMarker = keys.length === 1 && keys[0] === prefix && !some.IsTruncated;
    if (!onlyMarker && !options.recursive) {
      throw new StrataError('DIRECTORY_NOT_EMPTY', `directory not empty: ${path}`, { details: { path } });
    }
    const all = onlyMarker ? keys : (await this.allKeys(prefix, options.signal)).map((o) => o.key);
    await deleteKeys(this.bulk(options.signal), all);
  }

  protected async _mkdir(path: string, options: CallOptions): Promise<void> {
    if (path === '/') return;
    // No ancestor (nor the path itself) may be a file.
    const segments = path.slice(1).split('/');
    const ancestors = segments.map((_, i) => `/${segments.slice(0, i + 1).join('/')}`);
    const heads = await Promise.all(ancestors.map((p) => this.head(this.key(p), options.signal)));
    const fileAt = heads.findIndex((h) => h !== undefined);
    if (fileAt >= 0) {
      const p = ancestors[fileAt] as string;
      if (p === path)
        throw new StrataError('ALREADY_EXISTS', `a file exists at ${path}`, { details: { path } });
      throw new StrataError('NOT_A_DIRECTORY', `not a directory: ${p}`, { details: { path: p } });
    }
    const marker = this.dirPrefix(path);
    await this.send(`PutObject ${this.where(marker)}`, options.signal, (o) =>
      this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: marker, Body: Buffer.alloc(0), ContentLength: 0 }),
        o,
      ),
    );
  }

  protected async _rename(from: string, to: string, options: CallOptions): Promise<void> {
    const signal = options.signal;
    const exists = await this._status(to, options).then(
      () => true,
      (err: unknown) => {
        if (err instanceof StrataError && err.code === 'NOT_FOUND') return false;
        throw err;
      },
    );
    if (exists)
      throw new StrataError('ALREADY_EXISTS', `rename target exists: ${to}`, { details: { path: to } });
    const src = this.key(from);
    const head = await this.head(src, signal);
    if (head) {
      // The renamed object stays encrypted as it was (a plain CopyObject would not keep it).
      await copyObject(
        this.bulk(signal),
        src,
        this.key(to),
        head.ContentLength ?? 0,
        this.copySingleMax,
        sseOfHead(head),
      );
      await deleteKeys(this.bulk(signal), [src]);
      return;
    }
    const fromPrefix = this.dirPrefix(from);
    const toPrefix = this.dirPrefix(to);
    const keys = await this.allKeys(fromPrefix, signal);
    if (keys.length === 0)
      throw new StrataError('NOT_FOUND', `no such file or directory: ${from}`, { details: { path: from } });
    // Copy everything first, delete after: a failure midway leaves the source complete.
    await forEachLimited(keys, COPY_CONCURRENCY, (k) =>
      copyObject(
        this.bulk(signal),
        k.key,
        toPrefix + k.key.slice(fromPrefix.length),
        k.size,
        this.copySingleMax,
      ),
    );
    await deleteKeys(
      this.bulk(signal),
      keys.map((k) => k.key),
    );
  }

  override async close(): Promise<void> {
    this.client.destroy();
  }
}
