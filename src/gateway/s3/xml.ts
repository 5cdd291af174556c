import { SaxesParser } from 'saxes';
import { S3Error } from './errors.js';

/** XML for the S3 wire format: writing answers (by hand, below) and reading request documents (saxes). */

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

/** A parsed element: name (without a namespace prefix), text content and children. */
export interface XmlElement {
  readonly name: string;
  text: string;
  readonly children: XmlElement[];
}

/** Elements nested deeper than this are refused (S3's documents are 3–4 deep). */
export const MAX_XML_DEPTH = 32;

function malformed(why: string): S3Error {
  return new S3Error('MalformedXML', `The XML you provided was not well-formed or did not validate: ${why}`);
}

/**
 * Parses a request document (callers bound its size) with saxes, a strict XML 1.0
 * well-formedness parser: anything that is not well-formed XML (including character references
 * outside Unicode, undefined entities, a second root) is 400 MalformedXML. A DOCTYPE is refused
 * outright, so no entity is ever declared, let alone expanded, and nesting is bounded.
 */
export function parseXml(text: string): XmlElement {
  const parser = new SaxesParser({ position: false });
  const top: XmlElement = { name: '', text: '', children: [] };
  const stack: XmlElement[] = [top];
  parser.on('doctype', () => {
    throw malformed('a DOCTYPE is not allowed');
  });
  parser.on('opentag', (tag) => {
    if (stack.length > MAX_XML_DEPTH + 1) throw malformed('nested too deeply');
    const colon = tag.name.indexOf(':');
    const el: XmlElement = { name: colon < 0 ? tag.name : tag.name.slice(colon + 1), text: '', children: [] };
    stack[stack.length - 1]!.children.push(el);
    stack.push(el);
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  const addText = (t: string) => {
    // Text outside the root element is whitespace (saxes refuses anything else).
    if (stack.length > 1) stack[stack.length - 1]!.text += t;
  };
  parser.on('text', addText);
  parser.on('cdata', addText);
  try {
    // Whitespace before the declaration is not XML, but was always accepted here.
    parser.write(text.replace(/^[\t\n\r ]+(?=<\?xml)/, '')).close();
  } catch (err) {
    if (err instanceof S3Error) throw err;
    throw malformed(err instanceof Error ? err.message : String(err));
  }
  const root = top.children[0];
  if (!root) throw malformed('no root element');
  return root;
}

export function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

export function children(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}
