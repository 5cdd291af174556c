import { compareUtf8 } from '../../core/utf8-order.js';
import type { Ctx } from './context.js';
import { S3Error } from './errors.js';
import { readBody, sendEmpty, sendXml } from './http.js';
import type { ObjectMeta } from './meta.js';
import { statObject } from './object-state.js';
import { commitMeta, type Place } from './object-write.js';
import { child, children, parseXml, toXml } from './xml.js';

/** Object tags: the x-amz-tagging header of writes and Get/Put/DeleteObjectTagging. */

export function parseTagHeader(value: string | undefined): Record<string, string> {
  const tags: Record<string, string> = {};
  if (!value) return tags;
  for (const [k, v] of new URLSearchParams(value)) tags[k] = v;
  validateTags(tags);
  return tags;
}

/** S3's limits: 10 tags an object, 50 a bucket; keys 1–128 characters, values up to 256. */
export function validateTags(tags: Record<string, string>, max = 10, what = 'Object'): void {
  const keys = Object.keys(tags);
  if (keys.length > max) throw new S3Error('InvalidTag', `${what} tags cannot be greater than ${max}`);
  for (const k of keys) {
    if (k.length === 0 || k.length > 128)
      throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid');
    if ((tags[k] ?? '').length > 256)
      throw new S3Error('InvalidTag', 'The TagValue you have provided is invalid');
  }
}

async function metaForUpdate(ctx: Ctx): Promise<{ meta: ObjectMeta; place: Place }> {
  const state = await statObject(ctx, ctx.key);
  const place: Place = state.overflow ? 'overflow' : 'tree';
  const meta = state.meta ?? {
    v: 1,
    etag: state.etag,
    size: state.info.size,
    fingerprint: state.info.fingerprint,
    headers: {},
    meta: {},
    tags: {},
  };
  return { meta, place };
}

export async function getTagging(ctx: Ctx): Promise<void> {
  const state = await statObject(ctx, ctx.key);
  const tags = Object.entries(state.meta?.tags ?? {})
    .sort(([a], [b]) => compareUtf8(a, b))
    .map(([Key, Value]) => ({ Key, Value }));
  sendXml(ctx.res, 200, toXml('Tagging', { TagSet: { Tag: tags } }));
}

/** The tags of a Tagging document (duplicate keys refused; limits are the caller's). */
export function parseTagging(body: Buffer): Record<string, string> {
  const doc = parseXml(body.toString('utf8'));
  const set = doc.name === 'Tagging' ? child(doc, 'TagSet') : undefined;
  if (!set)
    throw new S3Error(
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema',
    );
  const tags: Record<string, string> = {};
  for (const t of children(set, 'Tag')) {
    const k = child(t, 'Key')?.text;
    const v = child(t, 'Value')?.text ?? '';
    if (k === undefined) throw new S3Error('MalformedXML', 'Each Tag needs a Key');
    if (Object.hasOwn(tags, k))
      throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key');
    tags[k] = v;
  }
  return tags;
}

export async function putTagging(ctx: Ctx): Promise<void> {
  const { meta: current, place } = await metaForUpdate(ctx);
  const tags = parseTagging(await readBody(ctx.req, 64 * 1024));
  validateTags(tags);
  await commitMeta(ctx, ctx.key, place, { ...current, tags });
  sendEmpty(ctx.res, 200);
}

export async function deleteTagging(ctx: Ctx): Promise<void> {
  const { meta: current, place } = await metaForUpdate(ctx);
  await commitMeta(ctx, ctx.key, place, { ...current, tags: {} });
  sendEmpty(ctx.res, 204);
}
