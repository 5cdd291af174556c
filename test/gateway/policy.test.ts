import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { S3Error } from '../../src/gateway/s3/errors.js';
import { isPublicStatement, parsePolicy } from '../../src/gateway/s3/policy.js';

/** Bucket policy documents: the subset policy.ts accepts, and the reasons it refuses the rest. */

const B = 'photos';

describe('policy documents: the supported subset, everything else MalformedPolicy', () => {
  const doc = (statement: Record<string, unknown>) =>
    JSON.stringify({ Version: '2012-10-17', Statement: [statement] });
  const base = { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*` };

  test('refused with a reason', () => {
    const cases: [string, RegExp][] = [
      ['not json', /valid JSON/],
      ['[]', /JSON object/],
      [JSON.stringify({ Version: '2012-10-17' }), /Statement/],
      [JSON.stringify({ Version: '2020-01-01', Statement: [base] }), /Version/],
      [JSON.stringify({ Version: '2012-10-17', Statement: [base], Extra: 1 }), /Extra/],
      [doc({ ...base, Effect: 'Maybe' }), /Effect/],
      [doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*` }), /Principal/],
      [doc({ ...base, Principal: { Service: 'ec2.amazonaws.com' } }), /Service/],
      [doc({ ...base, NotPrincipal: { AWS: 'bob' } }), /NotPrincipal/],
      [doc({ ...base, NotAction: 's3:PutObject' }), /NotAction/],
      [doc({ ...base, NotResource: `arn:aws:s3:::${B}/x` }), /NotResource/],
      [doc({ ...base, Action: 'iam:CreateUser' }), /not an s3: action/],
      [doc({ ...base, Action: [] }), /Action/],
      [doc({ ...base, Resource: 'arn:aws:s3:::other/*' }), /invalid resource/],
      [doc({ ...base, Resource: `arn:aws:s3:::${B}x` }), /invalid resource/],
      [doc({ ...base, Condition: { StringNotLike: { 's3:prefix': 'x' } } }), /StringNotLike/],
      [doc({ ...base, Condition: { StringEquals: { 'aws:Referer': 'x' } } }), /aws:Referer/],
      [doc({ ...base, Condition: { IpAddress: { 'aws:SourceIp': '300.1.1.1/8' } } }), /300\.1\.1\.1/],
      [doc({ ...base, Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/33' } } }), /10\.0\.0\.0\/33/],
      ['x'.repeat(21 * 1024), /at most/],
    ];
    for (const [text, reason] of cases)
      assert.throws(
        () => parsePolicy(text, B),
        (e: unknown) =>
          e instanceof S3Error && e.code === 'MalformedPolicy' && e.status === 400 && reason.test(e.message),
        text.slice(0, 120),
      );
  });

  test('accepted: one statement or a list, Sid, Id, both versions, ARNs and names, CanonicalUser', () => {
    for (const text of [
      JSON.stringify({ Version: '2008-10-17', Statement: base }),
      JSON.stringify({ Id: 'p1', Statement: [{ Sid: 'one', ...base }] }),
      doc({
        ...base,
        Principal: { AWS: ['arn:aws:iam::1:user/bob', 'alice'] },
        Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/a/*`],
      }),
      doc({ ...base, Principal: { CanonicalUser: 'bob' }, Action: '*' }),
      doc({
        ...base,
        Condition: {
          IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '::1'] },
          StringLike: { 's3:prefix': 'a/*' },
        },
      }),
    ])
      assert.ok(parsePolicy(text, B).statements.length >= 1, text);
    const p = parsePolicy(doc({ ...base, Principal: { AWS: ['arn:aws:iam::1:user/bob', '*'] } }), B);
    assert.equal(p.statements[0]!.principals, '*');
  });

  test('isPublicStatement: Allow to "*" without an address condition', () => {
    const st = (s: Record<string, unknown>) => parsePolicy(doc({ ...base, ...s }), B).statements[0]!;
    assert.equal(isPublicStatement(st({})), true);
    assert.equal(isPublicStatement(st({ Principal: { AWS: '*' } })), true);
    assert.equal(isPublicStatement(st({ Principal: { AWS: 'bob' } })), false);
    assert.equal(isPublicStatement(st({ Effect: 'Deny' })), false);
    assert.equal(
      isPublicStatement(st({ Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } })),
      false,
    );
    assert.equal(isPublicStatement(st({ Condition: { IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } } })), true);
    assert.equal(isPublicStatement(st({ Condition: { StringLike: { 's3:prefix': 'a/*' } } })), true);
  });
});
