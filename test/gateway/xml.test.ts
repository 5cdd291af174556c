import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { S3Error } from '../../src/gateway/s3/errors.js';
import { child, children, MAX_XML_DEPTH, parseXml } from '../../src/gateway/s3/xml.js';

/** The request-document reader: well-formed XML only, no DTD, bounded nesting; errors are 400 MalformedXML. */

function malformed(text: string): void {
  assert.throws(
    () => parseXml(text),
    (e: unknown) => e instanceof S3Error && e.code === 'MalformedXML' && e.status === 400,
    JSON.stringify(text.slice(0, 80)),
  );
}

describe('parseXml', () => {
  test('reads S3 documents: namespaces and prefixes, entities, character references, CDATA, whitespace kept', () => {
    const doc = parseXml(
      '<?xml version="1.0" encoding="UTF-8"?>\n<s3:Delete xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">' +
        '<s3:Object><s3:Key>  a &amp; b &lt;c&gt; &#x1F600; &#233;  </s3:Key></s3:Object>' +
        '<s3:Object><s3:Key><![CDATA[<raw>&amp;]]></s3:Key></s3:Object><!-- comment --></s3:Delete>',
    );
    assert.equal(doc.name, 'Delete');
    const keys = children(doc, 'Object').map((o) => child(o, 'Key')?.text);
    assert.deepEqual(keys, ['  a & b <c> 😀 é  ', '<raw>&amp;']);
  });

  test('character references above U+10FFFF (or not characters at all) are MalformedXML, not a crash', () => {
    for (const ref of ['&#x110000;', '&#1114112;', '&#x99999999;', '&#99999999999;', '&#xD800;', '&#0;'])
      malformed(`<Delete><Object><Key>${ref}</Key></Object></Delete>`);
  });

  test('a DOCTYPE is refused: no entity is declared or expanded', () => {
    malformed('<!DOCTYPE Tagging [<!ENTITY x "xxxxxxxxxx">]><Tagging><TagSet>&x;</TagSet></Tagging>');
    const lol = Array.from({ length: 9 }, (_, i) => `<!ENTITY l${i + 1} "${`&l${i};`.repeat(10)}">`).join('');
    malformed(`<?xml version="1.0"?><!DOCTYPE a [<!ENTITY l0 "lol">${lol}]><a>&l9;</a>`);
    malformed('<!DOCTYPE a SYSTEM "file:///etc/passwd"><a>x</a>');
    malformed('<a>&undefined;</a>');
  });

  test(`nesting deeper than ${MAX_XML_DEPTH} is refused`, () => {
    const nest = (n: number) => `${'<a>'.repeat(n)}${'</a>'.repeat(n)}`;
    assert.equal(parseXml(nest(MAX_XML_DEPTH + 1)).name, 'a');
    malformed(nest(MAX_XML_DEPTH + 2));
    malformed(nest(200_000));
  });

  test('anything not well-formed is MalformedXML', () => {
    for (const text of [
      '',
      'not xml at all',
      '<Delete><Object><Key>a</Key></Object',
      '<a><b></a></b>',
      '<a>x</a><b/>',
      '<a>x</a>trailing',
      '<a>a & b</a>',
      '<a x="<"/>',
      '<?xml version="1.0"?>',
    ])
      malformed(text);
  });
});
