import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { S3Error } from './errors.js';

/**
 * Bucket policies: the common subset of the IAM policy language, parsed once when stored
 * (PutBucketPolicy) and evaluated by authorize.ts. Supported:
 * - Version "2012-10-17" or "2008-10-17"; Statement: one object or a list; Sid;
 * - Effect Allow | Deny (an explicit Deny wins over every Allow);
 * - Principal "*", {"AWS": "*" | NAME | ARN | [...]}, {"CanonicalUser": NAME | [...]}: a NAME is
 *   a Strata S3 user, an ARN `arn:aws:iam::<account>:user/NAME` names the same user;
 * - Action "s3:GetObject", "s3:*", "s3:Get*"… (`*` and `?` wildcards, case-insensitive), or "*";
 * - Resource `arn:aws:s3:::BUCKET`, `arn:aws:s3:::BUCKET/KEY-PATTERN` (wildcards), of this bucket;
 * - Condition: IpAddress / NotIpAddress on aws:SourceIp (CIDRs, IPv4 and IPv6), StringEquals /
 *   StringLike on s3:prefix (a condition whose key the request lacks is false, as in IAM).
 * Anything else (NotPrincipal, NotAction, NotResource, other operators or keys…) is refused with
 * 400 MalformedPolicy saying what is not supported, so a policy never means less than it says.
 */

export interface PolicyCondition {
  readonly operator: 'IpAddress' | 'NotIpAddress' | 'StringEquals' | 'StringLike';
  readonly key: 'aws:SourceIp' | 's3:prefix';
  readonly values: readonly string[];
}

export interface PolicyStatement {
  readonly effect: 'Allow' | 'Deny';
  /** "*" (everyone, anonymous too) or user names. */
  readonly principals: '*' | readonly string[];
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  readonly conditions: readonly PolicyCondition[];
}

export interface BucketPolicy {
  /** The document as the client sent it (GetBucketPolicy answers it). */
  readonly text: string;
  readonly statements: readonly PolicyStatement[];
}

/** What a statement is matched against. */
export interface PolicyRequest {
  /** undefined: anonymous. */
  readonly user: string | undefined;
  readonly action: string;
  /** arn:aws:s3:::bucket or arn:aws:s3:::bucket/key */
  readonly resource: string;
  readonly sourceIp?: string | undefined;
  /** The listing's prefix parameter, when the request has one. */
  readonly prefix?: string | undefined;
}

export const MAX_POLICY_BYTES = 20 * 1024;
const VERSIONS = new Set(['2012-10-17', '2008-10-17']);
const STATEMENT_FIELDS = new Set(['Sid', 'Effect', 'Principal', 'Action', 'Resource', 'Condition']);
const USER_ARN = /^arn:aws:iam::[^:]*:user\/(.+)$/;

function malformed(message: string): S3Error {
  return new S3Error('MalformedPolicy', message);
}

function strings(value: unknown, what: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || !list.every((v): v is string => typeof v === 'string' && v !== ''))
    throw malformed(`${what} must be a string or a list of strings`);
  return list;
}

function principals(value: unknown): '*' | string[] {
  if (value === '*') return '*';
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw malformed('Principal must be "*" or an object with "AWS" or "CanonicalUser"');
  const names: string[] = [];
  for (const [kind, v] of Object.entries(value)) {
    if (kind !== 'AWS' && kind !== 'CanonicalUser')
      throw malformed(`Principal type "${kind}" is not supported (use "AWS" or "CanonicalUser")`);
    for (const p of strings(v, `Principal.${kind}`)) {
      if (p === '*') return '*';
      names.push(USER_ARN.exec(p)?.[1] ?? p);
    }
  }
  return names;
}

function conditions(value: unknown): PolicyCondition[] {
  if (value === undefined) return [];
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw malformed('Condition must be an object of operators');
  const out: PolicyCondition[] = [];
  for (const [operator, block] of Object.entries(value)) {
    if (typeof block !== 'object' || block === null || Array.isArray(block))
      throw malformed(`Condition ${operator} must be an object of keys`);
    for (const [rawKey, values] of Object.entries(block)) {
      const key = rawKey.toLowerCase();
      const list = strings(values, `Condition ${operator} ${rawKey}`);
      if ((operator === 'IpAddress' || operator === 'NotIpAddress') && key === 'aws:sourceip') {
        for (const cidr of list) parseCidr(cidr);
        out.push({ operator, key: 'aws:SourceIp', values: list });
      } else if ((operator === 'StringEquals' || operator === 'StringLike') && key === 's3:prefix') {
        out.push({ operator, key: 's3:prefix', values: list });
      } else {
        throw malformed(
          `Condition ${operator} on ${rawKey} is not supported: only IpAddress/NotIpAddress on aws:SourceIp and StringEquals/StringLike on s3:prefix`,
        );
      }
    }
  }
  return out;
}

/** Parses and checks a policy document for `bucket`; throws MalformedPolicy saying why. */
export function parsePolicy(text: string, bucket: string): BucketPolicy {
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES)
    throw malformed(`Policies are at most ${MAX_POLICY_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw malformed('Policies must be valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw malformed('A policy must be a JSON object');
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d))
    if (k !== 'Version' && k !== 'Statement' && k !== 'Id')
      throw malformed(`Policy field "${k}" is not supported`);
  if (d.Version !== undefined && !VERSIONS.has(String(d.Version)))
    throw malformed('The policy Version must be "2012-10-17" or "2008-10-17"');
  const raw = Array.isArray(d.Statement) ? d.Statement : d.Statement === undefined ? [] : [d.Statement];
  if (raw.length === 0) throw malformed('Missing required field Statement');
  const statements = raw.map((s: unknown): PolicyStatement => {
    if (typeof s !== 'object' || s === null || Array.isArray(s))
      throw malformed('Each Statement must be an object');
    const st = s as Record<string, unknown>;
    for (const k of Object.keys(st))
      if (!STATEMENT_FIELDS.has(k))
        throw malformed(`Statement field "${k}" is not supported by this gateway`);
    if (st.Effect !== 'Allow' && st.Effect !== 'Deny') throw malformed('Effect must be "Allow" or "Deny"');
    if (st.Principal === undefined) throw malformed('Missing required field Principal');
    const actions = strings(st.Action, 'Action').map((a) => a.toLowerCase());
    for (const a of actions)
      if (a !== '*' && !a.startsWith('s3:')) throw malformed(`Action "${a}" is not an s3: action`);
    const resources = strings(st.Resource, 'Resource');
    for (const r of resources)
      if (r !== `arn:aws:s3:::${bucket}` && !r.startsWith(`arn:aws:s3:::${bucket}/`))
        throw malformed(`Policy has invalid resource "${r}": it must be arn:aws:s3:::${bucket} or below it`);
    return {
      effect: st.Effect,
      principals: principals(st.Principal),
      actions,
      resources,
      conditions: conditions(st.Condition),
    };
  });
  return { text, statements };
}

/** Glob match with `*` (any run) and `?` (one character). */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

function parseCidr(cidr: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const [address = '', bits] = cidr.split('/');
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
  const max = family === 'ipv4' ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (family === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max)
    throw malformed(`Invalid IP address or CIDR "${cidr}" in aws:SourceIp`);
  return { address, prefix, family };
}

function ipIn(ip: string | undefined, cidrs: readonly string[]): boolean {
  if (ip === undefined) return false;
  const addr = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
  const family = isIPv4(addr) ? 'ipv4' : 'ipv6';
  const list = new BlockList();
  for (const c of cidrs) {
    const { address, prefix, family: f } = parseCidr(c);
    list.addSubnet(address, prefix, f);
  }
  return list.check(addr, family);
}

function conditionHolds(c: PolicyCondition, r: PolicyRequest): boolean {
  switch (c.operator) {
    case 'IpAddress':
      return ipIn(r.sourceIp, c.values);
    case 'NotIpAddress':
      return r.sourceIp !== undefined && !ipIn(r.sourceIp, c.values);
    case 'StringEquals':
      return r.prefix !== undefined && c.values.includes(r.prefix);
    case 'StringLike':
      return r.prefix !== undefined && c.values.some((v) => globMatch(v, r.prefix!));
  }
}

export function statementMatches(s: PolicyStatement, r: PolicyRequest): boolean {
  if (s.principals !== '*' && (r.user === undefined || !s.principals.includes(r.user))) return false;
  const action = r.action.toLowerCase();
  if (!s.actions.some((a) => a === '*' || globMatch(a, action))) return false;
  if (!s.resources.some((p) => globMatch(p, r.resource))) return false;
  return s.conditions.every((c) => conditionHolds(c, r));
}

/** "deny" when a Deny statement matches, "allow" when an Allow does, else undefined. */
export function evaluatePolicy(
  policy: BucketPolicy,
  r: PolicyRequest,
  skip: (s: PolicyStatement) => boolean = () => false,
): 'allow' | 'deny' | undefined {
  let allowed = false;
  for (const s of policy.statements) {
    if (skip(s) || !statementMatches(s, r)) continue;
    if (s.effect === 'Deny') return 'deny';
    allowed = true;
  }
  return allowed ? 'allow' : undefined;
}

/**
 * A statement that grants to everyone: Allow, Principal "*", and no aws:SourceIp IpAddress
 * condition narrowing who (what PublicAccessBlock's BlockPublicPolicy / RestrictPublicBuckets
 * look for; AWS's own test also weighs other condition keys, which are not supported here).
 */
export function isPublicStatement(s: PolicyStatement): boolean {
  return (
    s.effect === 'Allow' &&
    s.principals === '*' &&
    !s.conditions.some((c) => c.operator === 'IpAddress' && c.values.every((v) => !v.endsWith('/0')))
  );
}
