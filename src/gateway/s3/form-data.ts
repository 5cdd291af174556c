import { Readable } from 'node:stream';
import { S3Error } from './errors.js';

/**
 * A streaming multipart/form-data reader for browser POST uploads. The fields before the file
 * are read (bounded) and handed over whole; the file part is a Readable that pulls from the
 * request only as fast as its consumer reads it, so memory holds at most one request chunk and
 * a delimiter's length of tail, whatever the file's size. Fields after the file are ignored, as
 * S3 ignores them.
 */

export interface FormLimits {
  /** All fields before the file, with their part headers (S3 allows about 20 KB). */
  readonly maxFieldBytes: number;
  /** Fields before the file. */
  readonly maxFields: number;
}

export const DEFAULT_FORM_LIMITS: FormLimits = { maxFieldBytes: 64 * 1024, maxFields: 256 };

/** The header block of one part (Content-Disposition, Content-Type…). */
const MAX_PART_HEADER_BYTES = 8 * 1024;
/** What is read after the file (fields S3 ignores, the closing delimiter) before giving up on it. */
const MAX_TRAILING_BYTES = 1024 * 1024;

export interface FormFile {
  /** The part's filename parameter ("" when it had none), without any directory part. */
  readonly filename: string;
  readonly contentType?: string;
  /** The file's bytes; fails with an S3Error when the form ends before the file does. */
  readonly body: Readable;
}

export interface Form {
  /** Fields before the file, by lower-case name (S3's field names are case-insensitive). */
  readonly fields: ReadonlyMap<string, string>;
  readonly file: FormFile;
  /**
   * Reads what follows the file once its body has ended: true when the request was read to its
   * end, false when too much followed (the connection should then not be reused).
   */
  finish(): Promise<boolean>;
  /** Most bytes this reader held at once (memory bound; tests check it). */
  readonly maxBuffered: () => number;
}

function malformed(why: string): S3Error {
  return new S3Error(
    'MalformedPOSTRequest',
    `The body of your POST request is not well-formed multipart/form-data: ${why}`,
  );
}

/** The boundary of a `multipart/form-data; boundary=…` Content-Type, or undefined. */
export function formBoundary(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const [type, ...params] = contentType.split(';');
  if (type?.trim().toLowerCase() !== 'multipart/form-data') return undefined;
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq < 0 || p.slice(0, eq).trim().toLowerCase() !== 'boundary') continue;
    let v = p.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    return v.length >= 1 && v.length <= 70 ? v : undefined;
  }
  return undefined;
}

/**
 * A parameter of a Content-Disposition header (quoted or token), undefined when absent. Browsers
 * percent-encode quotes and line breaks in names (the HTML standard) and send backslashes as
 * they are (old Windows browsers sent "C:\\…\\photo.png"), so a backslash is not an escape here.
 */
function dispositionParam(value: string, name: string): string | undefined {
  const re = new RegExp(`;\\s*${name}\\s*=\\s*(?:"([^"]*)"|([^;\\s]*))`, 'i');
  const m = re.exec(value);
  if (!m) return undefined;
  return m[1] ?? m[2];
}

interface PartHead {
  readonly name: string;
  readonly filename: string | undefined;
  readonly contentType: string | undefined;
}

function parsePartHead(block: string): PartHead {
  let disposition: string | undefined;
  let contentType: string | undefined;
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformed('a part header line has no name');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-disposition') disposition = value;
    else if (name === 'content-type') contentType = value;
  }
  if (disposition === undefined || !/^form-data\s*(;|$)/i.test(disposition))
    throw malformed('a part has no Content-Disposition: form-data');
  const name = dispositionParam(disposition, 'name');
  if (name === undefined) throw malformed('a part has no name');
  return { name, filename: dispositionParam(disposition, 'filename'), contentType };
}

/** Buffered access to a byte stream, holding at most what is not consumed yet. */
class Bytes {
  buf: Buffer;
  ended = false;
  peak = 0;
  private readonly it: AsyncIterator<unknown>;
  constructor(source: AsyncIterable<unknown>, first: Buffer) {
    this.it = source[Symbol.asyncIterator]();
    this.buf = first;
  }
  /** Appends the next chunk; false at the end of the stream. */
  async more(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.it.next();
    if (r.done) {
      this.ended = true;
      return false;
    }
    const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    this.peak = Math.max(this.peak, this.buf.length);
    return true;
  }
  /** Drops the first n bytes (copying a short remainder so a large chunk is not kept alive). */
  skip(n: number): void {
    const rest = this.buf.subarray(n);
    this.buf = rest.length < 4096 ? Buffer.from(rest) : rest;
  }
}

/**
 * Reads the form up to the start of the file part. Fails with MalformedPOSTRequest (bad framing,
 * fields over the limits), IncorrectNumberOfFilesInPostRequest (no file), InvalidArgument (a
 * field given twice).
 */
export async function readForm(
  source: AsyncIterable<unknown>,
  boundary: string,
  limits: FormLimits = DEFAULT_FORM_LIMITS,
): Promise<Form> {
  // A CRLF before the body makes the first delimiter look like every other one.
  const bytes = new Bytes(source, Buffer.from('\r\n'));
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const fields = new Map<string, string>();
  let fieldBytes = 0;
  // On a failure the rest of the request stays unread, never destroyed: that would reset the
  // connection before the client reads the error (the server lingers, then closes).
  // The preamble (before the first delimiter) is ignored, as RFC 2046 says.
  await findDelimiter(bytes, delimiter, MAX_PART_HEADER_BYTES, 'the first boundary is missing');
  for (;;) {
    bytes.skip(delimiter.length);
    if (await atCloseDelimiter(bytes))
      throw new S3Error(
        'IncorrectNumberOfFilesInPostRequest',
        'POST requires exactly one file upload per request.',
      );
    const head = await readPartHead(bytes);
    fieldBytes += head.size;
    if (head.part.name.toLowerCase() === 'file') {
      return fileForm(bytes, delimiter, fields, head.part);
    }
    const at = await findDelimiter(
      bytes,
      delimiter,
      limits.maxFieldBytes - fieldBytes,
      'the form fields before the file are too large',
    );
    fieldBytes += at;
    if (fieldBytes > limits.maxFieldBytes) throw malformed('the form fields before the file are too large');
    const name = head.part.name.toLowerCase();
    if (fields.has(name))
      throw new S3Error('InvalidArgument', `The form field ${head.part.name} appears more than once`, {
        extra: { ArgumentName: head.part.name },
      });
    fields.set(name, bytes.buf.subarray(0, at).toString('utf8'));
    if (fields.size > limits.maxFields) throw malformed('too many form fields');
    bytes.skip(at);
  }
}

/** Reads until the delimiter is in the buffer; its offset. At most `max` bytes may precede it. */
async function findDelimiter(bytes: Bytes, delimiter: Buffer, max: number, tooLong: string): Promise<number> {
  let from = 0;
  for (;;) {
    const at = bytes.buf.indexOf(delimiter, from);
    if (at >= 0) {
      if (at > max) throw malformed(tooLong);
      return at;
    }
    if (bytes.buf.length > max + delimiter.length) throw malformed(tooLong);
    from = Math.max(0, bytes.buf.length - delimiter.length + 1);
    if (!(await bytes.more())) throw malformed('the form ends before its closing boundary');
  }
}

async function atLeast(bytes: Bytes, n: number): Promise<void> {
  while (bytes.buf.length < n)
    if (!(await bytes.more())) throw malformed('the form ends before its closing boundary');
}

/** After a delimiter: "--" closes the form; otherwise optional padding and CRLF start a part. */
async function atCloseDelimiter(bytes: Bytes): Promise<boolean> {
  await atLeast(bytes, 2);
  if (bytes.buf[0] === 0x2d && bytes.buf[1] === 0x2d) return true;
  let i = 0;
  for (;;) {
    await atLeast(bytes, i + 2);
    const c = bytes.buf[i]!;
    if (c === 0x0d && bytes.buf[i + 1] === 0x0a) break;
    if (c !== 0x20 && c !== 0x09) throw malformed('a boundary is followed by something other than CRLF');
    i++;
  }
  bytes.skip(i + 2);
  return false;
}

const HEADER_END = Buffer.from('\r\n\r\n');

async function readPartHead(bytes: Bytes): Promise<{ part: PartHead; size: number }> {
  // A part without headers starts with the blank line at once: no name, refused below.
  await atLeast(bytes, 2);
  if (bytes.buf[0] === 0x0d && bytes.buf[1] === 0x0a) throw malformed('a part has no headers');
  let from = 0;
  for (;;) {
    const at = bytes.buf.indexOf(HEADER_END, from);
    if (at >= 0) {
      const part = parsePartHead(bytes.buf.subarray(0, at).toString('utf8'));
      bytes.skip(at + HEADER_END.length);
      return { part, size: at + HEADER_END.length };
    }
    if (bytes.buf.length > MAX_PART_HEADER_BYTES) throw malformed('a part header section is too large');
    from = Math.max(0, bytes.buf.length - HEADER_END.length + 1);
    if (!(await bytes.more())) throw malformed('the form ends inside a part header');
  }
}

/** The browser's file name without a directory (old browsers sent the whole local path). */
function baseName(filename: string): string {
  const cut = Math.max(filename.lastIndexOf('/'), filename.lastIndexOf('\\'));
  return cut < 0 ? filename : filename.slice(cut + 1);
}

function fileForm(bytes: Bytes, delimiter: Buffer, fields: Map<string, string>, head: PartHead): Form {
  let fileEnded = false;
  let pumping = false;
  const keep = delimiter.length - 1;
  /** Pushes one piece of the file (or its end) per call: Readable calls read() again when it wants more. */
  async function pump(stream: Readable): Promise<void> {
    if (pumping) return;
    pumping = true;
    try {
      for (;;) {
        const at = bytes.buf.indexOf(delimiter);
        if (at >= 0) {
          const data = bytes.buf.subarray(0, at);
          bytes.skip(at);
          fileEnded = true;
          if (data.length > 0) stream.push(data);
          stream.push(null);
          return;
        }
        if (bytes.buf.length > keep) {
          // All but a delimiter's length of tail is file: the tail may be the delimiter's start.
          const cut = bytes.buf.length - keep;
          const data = bytes.buf.subarray(0, cut);
          bytes.skip(cut);
          stream.push(data);
          return;
        }
        if (!(await bytes.more())) {
          stream.destroy(
            new S3Error('IncompleteBody', 'The POST request ended before the file and its closing boundary'),
          );
          return;
        }
      }
    } catch (err) {
      stream.destroy(err as Error);
    } finally {
      pumping = false;
    }
  }
  const body = new Readable({
    read() {
      void pump(this);
    },
  });
  return {
    fields,
    file: {
      filename: baseName(head.filename ?? ''),
      ...(head.contentType !== undefined ? { contentType: head.contentType } : {}),
      body,
    },
    maxBuffered: () => bytes.peak,
    async finish() {
      if (!fileEnded) return false;
      let read = bytes.buf.length;
      bytes.buf = Buffer.alloc(0);
      while (read <= MAX_TRAILING_BYTES) {
        if (!(await bytes.more())) return true;
        read += bytes.buf.length;
        bytes.buf = Buffer.alloc(0);
      }
      return false;
    },
  };
}
