import { S3Error } from './errors.js';

/** Minimal XML writing and reading for the S3 wire format (small documents only). */

const NEEDS_ESCAPE = /[&<>"'\r]/;

export function esc(value: string | number | boolean): string {
  if (typeof value !== 'string') return String(value);
  // Most keys, dates and ETags need no escaping: one scan instead of six replaces.
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\r/g, '&#13;');
}

/** Pre-serialised elements, written as they are (their name in the parent object is ignored). */
export class RawXml {
  constructor(readonly xml: string) {}
}

export type XmlValue = string | number | boolean | XmlNode | XmlNode[] | RawXml | undefined;
export interface XmlNode {
  [name: string]: XmlValue;
}

/** Serialises nested objects; arrays repeat the element; undefined is left out. */
export function toXml(root: string, body: XmlNode, ns = 'http://s3.amazonaws.com/doc/2006-03-01/'): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${ns ? ` xmlns="${ns}"` : ''}>${inner(body)}</${root}>`;
}

function inner(node: XmlNode): string {
  let out = '';
  for (const [name, value] of Object.entries(node)) {
    if (value === undefined) continue;
    if (value instanceof RawXml) {
      out += value.xml;
      continue;
    }
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      out += typeof v === 'object' ? `<${name}>${inner(v)}</${name}>` : `<${name}>${esc(v)}</${name}>`;
    }
  }
  return out;
}

/** A parsed element: name, text content and children. */
export interface XmlElement {
  readonly name: string;
  text: string;
  readonly children: XmlElement[];
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(Number.parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(Number.parseInt(e.slice(1), 10));
    const v = ENTITIES[e];
    if (v === undefined) throw new S3Error('MalformedXML', `unknown XML entity ${m}`);
    return v;
  });
}

/** Parses a small XML document strictly enough to reject garbage (MalformedXML). */
export function parseXml(text: string): XmlElement {
  const malformed = (why: string) =>
    new S3Error('MalformedXML', `The XML you provided was not well-formed or did not validate: ${why}`);
  let i = 0;
  const skipMisc = () => {
    for (;;) {
      while (i < text.length && /\s/.test(text[i]!)) i++;
      if (text.startsWith('<?', i)) {
        const end = text.indexOf('?>', i);
        if (end < 0) throw malformed('unterminated declaration');
        i = end + 2;
      } else if (text.startsWith('<!--', i)) {
        const end = text.indexOf('-->', i);
        if (end < 0) throw malformed('unterminated comment');
        i = end + 3;
      } else return;
    }
  };
  const parseElement = (depth: number): XmlElement => {
    if (depth > 32) throw malformed('nested too deeply');
    if (text[i] !== '<') throw malformed('expected an element');
    const m = /^<([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/.exec(
      text.slice(i, i + 2048),
    );
    if (!m) throw malformed('bad start tag');
    const rawName = m[1]!;
    const name = rawName.includes(':') ? rawName.slice(rawName.indexOf(':') + 1) : rawName;
    i += m[0].length;
    const el: XmlElement = { name, text: '', children: [] };
    if (m[3] === '/') return el;
    for (;;) {
      if (i >= text.length) throw malformed(`unterminated <${rawName}>`);
      if (text.startsWith('</', i)) {
        const close = /^<\/([A-Za-z_][\w.:-]*)\s*>/.exec(text.slice(i, i + 512));
        if (!close || close[1] !== rawName) throw malformed(`mismatched </${close?.[1] ?? '?'}>`);
        i += close[0].length;
        return el;
      }
      if (text.startsWith('<!--', i)) {
        const end = text.indexOf('-->', i);
        if (end < 0) throw malformed('unterminated comment');
        i = end + 3;
      } else if (text.startsWith('<![CDATA[', i)) {
        const end = text.indexOf(']]>', i);
        if (end < 0) throw malformed('unterminated CDATA');
        el.text += text.slice(i + 9, end);
        i = end + 3;
      } else if (text[i] === '<') {
        el.children.push(parseElement(depth + 1));
      } else {
        const next = text.indexOf('<', i);
        if (next < 0) throw malformed('text after the last element');
        el.text += decodeEntities(text.slice(i, next));
        i = next;
      }
    }
  };
  skipMisc();
  const root = parseElement(0);
  skipMisc();
  if (i !== text.length) throw malformed('content after the root element');
  return root;
}

export function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

export function children(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}
