import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseHtmlListing } from '../../src/ufs/http/listing.js';

const LISTING = 'http://files.test/pub/data/';
const names = (html: string, url = LISTING) =>
  parseHtmlListing(html, url).map((e) => `${e.type === 'directory' ? 'd' : 'f'}:${e.name}`);

describe('HTML directory listings', () => {
  test('nginx autoindex (html)', () => {
    const html = [
      '<html>\r\n<head><title>Index of /pub/data/</title></head>\r\n<body>\r\n',
      '<h1>Index of /pub/data/</h1><hr><pre><a href="../">../</a>\r\n',
      '<a href="dir/">dir/</a>                                               01-Dec-2026 10:00       -\r\n',
      '<a href="small.txt">small.txt</a>                                     01-Dec-2026 10:00      14\r\n',
      '<a href="%C3%BCn%C3%AF%20c%C3%B4de%20%26%20space.txt">ünï côde &amp; space.txt</a> 01-Dec-2026 10:00 8\r\n',
      '</pre><hr></body>\r\n</html>\r\n',
    ].join('');
    assert.deepEqual(names(html), ['d:dir', 'f:small.txt', 'f:ünï côde & space.txt']);
  });

  test('Apache mod_autoindex: sort links, icons and the parent link are not entries', () => {
    const html = `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html><head><title>Index of /pub/data</title></head><body>
<h1>Index of /pub/data</h1>
<table>
<tr><th valign="top"><img src="/icons/blank.gif" alt="[ICO]"></th><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th></tr>
<tr><td valign="top"><img src="/icons/back.gif" alt="[PARENTDIR]"></td><td><a href="/pub/">Parent Directory</a></td></tr>
<tr><td valign="top"><img src="/icons/folder.gif" alt="[DIR]"></td><td><a href="logs/">logs/</a></td></tr>
<tr><td valign="top"><img src="/icons/text.gif" alt="[TXT]"></td><td><a href="/pub/data/readme.txt">readme.txt</a></td></tr>
<tr><td valign="top"><img src="/icons/unknown.gif" alt="[   ]"></td><td><a href="http://files.test/pub/data/part-0.parquet">part-0.parquet</a></td></tr>
</table>
<address>Apache/2.4.62 (Debian) Server at files.test Port 80</address>
</body></html>`;
    assert.deepEqual(names(html), ['d:logs', 'f:readme.txt', 'f:part-0.parquet']);
  });

  test('python -m http.server: quoted hrefs, escaped text, duplicates kept once', () => {
    const html = `<!DOCTYPE HTML>
<html lang="en"><head><meta charset="utf-8"><title>Directory listing for /pub/data/</title></head>
<body><h1>Directory listing for /pub/data/</h1><hr><ul>
<li><a href="a%26b.txt">a&amp;b.txt</a></li>
<li><a href="sub%20dir/">sub dir/</a></li>
<li><a href='single.txt'>single.txt</a></li>
<li><A HREF=unquoted.txt>unquoted.txt</A></li>
<li><a href="a%26b.txt">again</a></li>
</ul><hr></body></html>`;
    assert.deepEqual(names(html), ['f:a&b.txt', 'd:sub dir', 'f:single.txt', 'f:unquoted.txt']);
  });

  test('links elsewhere, deeper, with a query or fragment, or unusable names are ignored', () => {
    const html = `<a href="http://other.test/pub/data/x.txt">x</a><a href="deep/er.txt">d</a>
<a href="?sort=name">s</a><a href="#top">t</a><a href="file.txt?v=2">q</a><a href="./">.</a>
<a href="%2F">slash</a><a href="%00">nul</a><a href="%E0%A4%A">bad escape</a><a>no href</a>
<a href="ok.txt#frag">ok</a>`;
    assert.deepEqual(names(html), ['f:ok.txt']);
  });

  // What the regex reader got wrong: HTML is not regular.
  test('links inside comments, scripts and styles are not links', () => {
    const html = `<!-- <a href="old.txt">old</a> -->
<script>document.write('<a href="fake.txt">x</a>');</script>
<style>/* <a href="style.txt"> */</style>
<textarea><a href="typed.txt">t</a></textarea>
<a href="real.txt">real</a>`;
    assert.deepEqual(names(html), ['f:real.txt']);
  });

  test('attributes in any order, with ">" inside a quoted value, and look-alike names', () => {
    const html = `<a title="a > b" href="gt.txt">1</a>
<a data-href="decoy.txt" href="real.txt">2</a>
<a
  class="file"
  href = "spaced.txt">3</a>`;
    assert.deepEqual(names(html), ['f:gt.txt', 'f:real.txt', 'f:spaced.txt']);
  });

  test('every HTML entity is decoded in href, numeric and named', () => {
    const html = `<a href="caf&eacute;.txt">1</a><a href="&#x6E;&#117;m.txt">2</a><a href="a&amp;b&nbsp;c.txt">3</a>`;
    assert.deepEqual(names(html), ['f:café.txt', 'f:num.txt', 'f:a&b\u00a0c.txt']);
  });

  test('<base href> is what relative links resolve against', () => {
    const here = `<head><base href="/pub/data/"></head><a href="in.txt">in</a>`;
    assert.deepEqual(names(here, 'http://files.test/pub/data/'), ['f:in.txt']);
    // The page says its links are relative to another folder: they are not children of this one.
    const elsewhere = `<head><base href="http://files.test/mirror/"></head><a href="out.txt">out</a>`;
    assert.deepEqual(names(elsewhere), []);
  });
});
