"""S3 conformance checks for the Strata gateway (Debian's /usr/bin/python3 + python3-boto3).

Usage: conformance.py ENDPOINT ACCESS_KEY SECRET_KEY [NAME_FILTER]

Each check is a small function that talks to the gateway with boto3 (path-style, SigV4) or with
raw HTTP where boto3 cannot express the request. One JSON line per check is printed:
{"name": ..., "ok": true|false, "detail": ..., "known": bool}. `known` marks behaviour that the
gateway knowingly does not support (documented in docs/s3-gateway.md); while they fail they are
reported as todo by conformance.test.ts, and a known check that passes is a failure there ("now
passes: remove it from the known list").

The checks follow what public S3 conformance suites assert (status codes, error codes, header
values, listing fields); the code and wording are our own.
"""
import base64
import datetime
import hashlib
import http.client
import json
import random
import string
import sys
import time
import traceback
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT, ACCESS, SECRET = sys.argv[1:4]
ONLY = sys.argv[4] if len(sys.argv) > 4 else ""
HOST = urllib.parse.urlparse(ENDPOINT)
MB = 1024 * 1024
RUN = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(6))


def make_client(access=ACCESS, secret=SECRET, signed=True):
    cfg = Config(
        s3={"addressing_style": "path"},
        signature_version="s3v4" if signed else UNSIGNED,
        retries={"max_attempts": 1},
    )
    return boto3.client(
        "s3", endpoint_url=ENDPOINT, aws_access_key_id=access, aws_secret_access_key=secret,
        region_name="us-east-1", config=cfg,
    )


s3 = make_client()
_counter = [0]


def new_bucket_name():
    _counter[0] += 1
    return "conf-%s-%d" % (RUN, _counter[0])


def new_bucket():
    name = new_bucket_name()
    s3.create_bucket(Bucket=name)
    return name


def bucket_with(keys):
    b = new_bucket()
    for k in keys:
        s3.put_object(Bucket=b, Key=k, Body=k.encode())
    return b


class Fail(Exception):
    pass


def eq(got, want, what=""):
    if got != want:
        raise Fail("%s: got %r, want %r" % (what or "value", got, want))


def truthy(v, what):
    if not v:
        raise Fail(what)


def err(fn, *args, **kwargs):
    """Calls fn, which must fail with a ClientError; returns (status, code, response)."""
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"].get("Code"), e.response
    raise Fail("%s did not fail" % getattr(fn, "__name__", fn))


def expect_error(status, code, fn, *args, **kwargs):
    st, c, resp = err(fn, *args, **kwargs)
    eq(st, status, "status")
    if code is not None:
        eq(c, code, "error code")
    return resp


def keys_of(resp):
    return [o["Key"] for o in resp.get("Contents", [])]


def prefixes_of(resp):
    return [p["Prefix"] for p in resp.get("CommonPrefixes", [])]


def on(client, event, fn):
    client.meta.events.register(event, fn)


def add_headers(client, op, headers):
    c = client
    c.meta.events.register("before-call.s3.%s" % op, lambda **kw: kw["params"]["headers"].update(headers))


def raw(method, path, headers=None, body=b""):
    """Unsigned raw HTTP request: (status, headers dict, body bytes)."""
    conn = http.client.HTTPConnection(HOST.hostname, HOST.port, timeout=20)
    conn.putrequest(method, path, skip_accept_encoding=True)
    for k, v in (headers or {}).items():
        conn.putheader(k, v)
    conn.endheaders()
    if body:
        conn.send(body)
    r = conn.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    conn.close()
    return r.status, hdrs, data


def presign(method, bucket, key, expires):
    """A SigV4 presigned URL with any X-Amz-Expires (botocore's signer, which allows <= 0)."""
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    req = AWSRequest(method=method, url="%s/%s/%s" % (ENDPOINT, bucket, urllib.parse.quote(key)))
    S3SigV4QueryAuth(Credentials(ACCESS, SECRET), "s3", "us-east-1", expires=expires).add_auth(req)
    return req.url


def error_code(body):
    try:
        return ET.fromstring(body).findtext("Code")
    except ET.ParseError:
        return None


CHECKS = []


def check(name, known=False):
    def wrap(fn):
        CHECKS.append((name, fn, known))
        return fn
    return wrap


# ---------------------------------------------------------------- buckets

@check("bucket: create, head, delete, then 404 NoSuchBucket on head/delete/list")
def _():
    b = new_bucket_name()
    eq(s3.create_bucket(Bucket=b)["ResponseMetadata"]["HTTPStatusCode"], 200, "create status")
    eq(s3.head_bucket(Bucket=b)["ResponseMetadata"]["HTTPStatusCode"], 200, "head status")
    eq(s3.delete_bucket(Bucket=b)["ResponseMetadata"]["HTTPStatusCode"], 204, "delete status")
    expect_error(404, None, s3.head_bucket, Bucket=b)
    expect_error(404, "NoSuchBucket", s3.delete_bucket, Bucket=b)
    expect_error(404, "NoSuchBucket", s3.list_objects, Bucket=b)
    expect_error(404, "NoSuchBucket", s3.list_objects_v2, Bucket=b)


@check("bucket: creating an existing bucket is 409 BucketAlreadyOwnedByYou, and keeps its objects")
def _():
    b = bucket_with(["mykey1", "mykey2"])
    expect_error(409, "BucketAlreadyOwnedByYou", s3.create_bucket, Bucket=b)
    eq(keys_of(s3.list_objects(Bucket=b)), ["mykey1", "mykey2"], "keys")


@check("bucket: deleting a non-empty bucket is 409 BucketNotEmpty")
def _():
    b = bucket_with(["foo"])
    expect_error(409, "BucketNotEmpty", s3.delete_bucket, Bucket=b)


def create_with_name(name):
    """CreateBucket whose URL carries `name` even where boto3 would refuse it."""
    c = make_client()
    placeholder = new_bucket_name()

    def swap(**kw):
        kw["params"]["url"] = kw["params"]["url"].replace(placeholder, name)
    c.meta.events.register("before-call.s3.CreateBucket", swap)
    return c.create_bucket(Bucket=placeholder)


@check("bucket: invalid names are 400 InvalidBucketName")
def _():
    bad = ["a", "aa", "_" + new_bucket_name(), "foo_bar", "foo-", "-foo", "foo..bar", "foo.-bar",
           "foo-.bar", "192.168.5.123", "Foo" + RUN, "a" * 64]
    for name in bad:
        expect_error(400, "InvalidBucketName", create_with_name, name)


@check("bucket: valid names (63 chars, dots, hyphens, leading digit) are created")
def _():
    base = new_bucket_name()
    for name in [base + "a" * (63 - len(base)), base + "aaa.111", base + "aaa-111", "0" + base]:
        eq(s3.create_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"], 200, name)
        s3.delete_bucket(Bucket=name)


@check("bucket: ListBuckets lists created buckets with a sane CreationDate")
def _():
    names = [new_bucket() for _ in range(3)]
    r = s3.list_buckets()
    got = {b["Name"]: b["CreationDate"] for b in r["Buckets"]}
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    for n in names:
        truthy(n in got, "bucket %s missing" % n)
        truthy(got[n] >= before, "creation date %r too old" % got[n])
    truthy("ID" in r["Owner"], "Owner.ID")


@check("bucket: ListBuckets paging (prefix, max-buckets, continuation-token)")
def _():
    base = "conf-%s-pg" % RUN
    names = [base + str(i) for i in range(3)]
    for n in names:
        s3.create_bucket(Bucket=n)
    c = make_client()
    got, token = [], None
    for _ in range(5):
        q = "?prefix=%s&max-buckets=2" % base + ("&continuation-token=%s" % token if token else "")
        c.meta.events.register("before-call.s3.ListBuckets",
                               lambda q=q, **kw: kw["params"].update(url=kw["params"]["url"].split("?")[0] + q))
        seen = {}
        c.meta.events.register("after-call.s3.ListBuckets", lambda http_response, **kw: seen.update(r=http_response))
        c.list_buckets()
        c.meta.events.unregister("before-call.s3.ListBuckets")
        doc = ET.fromstring(seen["r"].content)
        ns = {"s": "http://s3.amazonaws.com/doc/2006-03-01/"}
        got += [e.text for e in doc.findall("s:Buckets/s:Bucket/s:Name", ns)]
        token = doc.findtext("s:ContinuationToken", namespaces=ns)
        if not token:
            break
    eq(got, names, "paged bucket names")
    for n in names:
        s3.delete_bucket(Bucket=n)


@check("bucket: GetBucketLocation answers for an existing bucket")
def _():
    b = new_bucket()
    r = s3.get_bucket_location(Bucket=b)
    truthy(r["LocationConstraint"] in (None, "", "us-east-1"), "location %r" % r["LocationConstraint"])


# ---------------------------------------------------------------- auth

@check("auth: unknown access key is 403 InvalidAccessKeyId")
def _():
    expect_error(403, "InvalidAccessKeyId", make_client(access="badauth", secret="roflmao").list_buckets)


@check("auth: wrong secret is 403 SignatureDoesNotMatch")
def _():
    expect_error(403, "SignatureDoesNotMatch", make_client(secret="roflmao").list_buckets)


@check("auth: anonymous listing of a private bucket is 403 AccessDenied")
def _():
    b = new_bucket()
    anon = make_client(signed=False)
    expect_error(403, "AccessDenied", anon.list_objects, Bucket=b)
    expect_error(403, "AccessDenied", anon.list_objects_v2, Bucket=b)


@check("auth: anonymous PUT is 403 AccessDenied")
def _():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="foo")
    expect_error(403, "AccessDenied", make_client(signed=False).put_object, Bucket=b, Key="foo", Body=b"foo")


@check("auth: anonymous GET in a bucket that does not exist is 404 NoSuchBucket")
def _():
    anon = make_client(signed=False)
    expect_error(404, "NoSuchBucket", anon.get_object, Bucket=new_bucket_name(), Key="foo")
    expect_error(404, "NoSuchBucket", anon.delete_object, Bucket=new_bucket_name(), Key="foo")


@check("auth: missing or empty Authorization on PUT is 403")
def _():
    b = new_bucket()
    st, _, _ = raw("PUT", "/%s/foo" % b, {"Content-Length": "3"}, b"bar")
    eq(st, 403, "no auth status")
    st, _, body = raw("PUT", "/%s/foo" % b, {"Content-Length": "3", "Authorization": ""}, b"bar")
    eq(st, 403, "empty auth status")


@check("auth: an unauthorised PUT with Expect: 100-continue is refused (403) before the body is sent")
def _():
    b = new_bucket()
    import socket
    sock = socket.create_connection((HOST.hostname, HOST.port), timeout=5)
    sock.sendall(("PUT /%s/testobj HTTP/1.1\r\nHost: %s\r\nContent-Length: 123\r\n"
                  "Expect: 100-continue\r\n\r\n" % (b, HOST.netloc)).encode())
    first = sock.recv(1024).decode(errors="replace")
    sock.close()
    eq(first.split(" ")[1], "403", "first status")
    c = make_client()
    add_headers(c, "PutObject", {"Expect": "100-continue"})
    c.put_object(Bucket=b, Key="signed", Body=b"x" * 4096)
    eq(s3.get_object(Bucket=b, Key="signed")["ContentLength"], 4096, "signed upload with Expect")


@check("auth: presigned GET works; zero and negative expiries are 403, > 7 days 400 AuthorizationQueryParametersError")
def _():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="foo", Body=b"bar")
    p = {"Bucket": b, "Key": "foo"}
    url = s3.generate_presigned_url("get_object", Params=p, ExpiresIn=100000)
    eq(urllib.request.urlopen(url).read(), b"bar", "presigned body")
    for exp, status in ((0, 403), (-7, 403), (609901, 400)):
        url = presign("GET", b, "foo", exp)
        try:
            urllib.request.urlopen(url)
            raise Fail("ExpiresIn=%d was accepted" % exp)
        except urllib.error.HTTPError as e:
            eq(e.code, status, "status for ExpiresIn=%d" % exp)


@check("auth: expired presigned PUT is 403; tampered presigned signature is 403 SignatureDoesNotMatch")
def _():
    b = new_bucket()
    u = urllib.parse.urlparse(presign("PUT", b, "foo", -1000))
    st, _, _ = raw("PUT", u.path + "?" + u.query, {"Content-Length": "3"}, b"foo")
    eq(st, 403, "expired put")
    url = s3.generate_presigned_url("put_object", Params={"Bucket": b, "Key": "foo"}, ExpiresIn=100)
    u = urllib.parse.urlparse(url)
    q = u.query.replace("X-Amz-Signature=", "X-Amz-Signature=0")[:len(u.query)]
    st, _, body = raw("PUT", u.path + "?" + q, {"Content-Length": "3"}, b"foo")
    eq(st, 403, "tampered put")
    eq(error_code(body), "SignatureDoesNotMatch", "tampered code")


# ---------------------------------------------------------------- errors

@check("errors: XML body has Code, Message, Resource and the RequestId of the response header")
def _():
    b = new_bucket()
    seen = {}
    c = make_client()
    c.meta.events.register("after-call.s3.GetObject", lambda http_response, **kw: seen.update(r=http_response))
    expect_error(404, "NoSuchKey", c.get_object, Bucket=b, Key="bar")
    doc = ET.fromstring(seen["r"].content)
    eq(doc.tag, "Error", "root")
    eq(doc.findtext("Code"), "NoSuchKey", "Code")
    truthy(doc.findtext("Message"), "Message")
    truthy(doc.findtext("Resource"), "Resource")
    eq(doc.findtext("RequestId"), seen["r"].headers.get("x-amz-request-id"), "RequestId")


@check("errors: GET of a missing key is 404 NoSuchKey, in a missing bucket 404 NoSuchBucket; HEAD 404")
def _():
    b = new_bucket()
    expect_error(404, "NoSuchKey", s3.get_object, Bucket=b, Key="bar")
    expect_error(404, "NoSuchBucket", s3.get_object, Bucket=new_bucket_name(), Key="bar")
    expect_error(404, None, s3.head_object, Bucket=b, Key="bar")
    expect_error(404, "NoSuchBucket", s3.put_object, Bucket=new_bucket_name(), Key="foo", Body=b"foo")


@check("errors: a subresource we do not implement answers 501 NotImplemented in XML")
def _():
    b = new_bucket()
    expect_error(501, "NotImplemented", s3.put_bucket_versioning, Bucket=b,
                 VersioningConfiguration={"Status": "Enabled"})
    expect_error(501, "NotImplemented", s3.get_bucket_lifecycle_configuration, Bucket=b)
    expect_error(404, "ServerSideEncryptionConfigurationNotFoundError", s3.get_bucket_encryption, Bucket=b)


@check("browsers: CORS rules round-trip (none: 404 NoSuchCORSConfiguration); a POST form without a file is 400")
def _():
    b = new_bucket()
    expect_error(404, "NoSuchCORSConfiguration", s3.get_bucket_cors, Bucket=b)
    rules = [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "AllowedHeaders": [], "ExposeHeaders": []}]
    s3.put_bucket_cors(Bucket=b, CORSConfiguration={"CORSRules": rules})
    eq(s3.get_bucket_cors(Bucket=b)["CORSRules"], [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}], "rules")
    s3.delete_bucket_cors(Bucket=b)
    expect_error(404, "NoSuchCORSConfiguration", s3.get_bucket_cors, Bucket=b)
    form = b"--xx\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nfoo.txt\r\n--xx--\r\n"
    st, _, body = raw("POST", "/%s" % b, {"Content-Type": "multipart/form-data; boundary=xx",
                                          "Content-Length": str(len(form))}, form)
    eq((st, error_code(body)), (400, "IncorrectNumberOfFilesInPostRequest"), "POST form without a file")


def form_body(fields, file_name="file", content=b"bar"):
    """multipart/form-data as python-requests sends it (every part with a filename), file last."""
    boundary = "conf" + RUN
    out = b""
    for k, v in fields:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n\r\n" % (boundary, k, k)).encode()
        out += (v if isinstance(v, bytes) else v.encode()) + b"\r\n"
    out += ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n\r\n" % (boundary, file_name)).encode()
    out += content + ("\r\n--%s--\r\n" % boundary).encode()
    return boundary, out


def post_form(bucket, fields, file_name="file", content=b"bar"):
    boundary, body = form_body(fields, file_name, content)
    return raw("POST", "/%s" % bucket, {"Content-Type": "multipart/form-data; boundary=" + boundary,
                                         "Content-Length": str(len(body))}, body)


def v2_policy(doc):
    """A base64 policy and its Signature Version 2 (base64 HMAC-SHA1), as s3-tests sign POST forms."""
    import hmac
    policy = base64.b64encode(json.dumps(doc).encode())
    return policy.decode(), base64.b64encode(hmac.new(SECRET.encode(), policy, hashlib.sha1).digest()).decode()


def in_minutes(m):
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ")


def text_conditions(b, extra=()):
    return [{"bucket": b}, ["starts-with", "$key", "foo"], {"acl": "private"},
            ["starts-with", "$Content-Type", "text/plain"], ["content-length-range", 0, 1024]] + list(extra)


def signed_fields(doc, fields, key_field="key"):
    policy, sig = v2_policy(doc)
    out = list(fields)
    out[1:1] = [("AWSAccessKeyId", ACCESS), ("signature", sig), ("policy", policy)]
    return out


@check("post: a V2-signed form uploads (204); ${filename}, x-ignore-*, mixed-case names; object and metadata stored")
def _():
    b = new_bucket()
    doc = {"expiration": in_minutes(100), "conditions": text_conditions(b, [["starts-with", "$x-amz-meta-foo", "bar"]])}
    st, _, body = post_form(b, signed_fields(doc, [("key", "foo.txt"), ("acl", "private"), ("Content-Type", "text/plain"),
                                                   ("x-amz-meta-foo", "barclamp"), ("x-ignore-foo", "bar")]))
    eq(st, 204, "status %s" % body[:200])
    o = s3.get_object(Bucket=b, Key="foo.txt")
    eq((o["Body"].read(), o["Metadata"], o["ContentType"]), (b"bar", {"foo": "barclamp"}, "text/plain"), "object")
    st, _, _ = post_form(b, signed_fields(doc, [("key", "${filename}"), ("acl", "private"), ("Content-Type", "text/plain"),
                                                ("x-amz-meta-foo", "bar")]), file_name="foo-named.txt")
    eq(st, 204, "key from filename")
    eq(s3.get_object(Bucket=b, Key="foo-named.txt")["Body"].read(), b"bar", "named object")
    mixed = {"expiration": in_minutes(100), "conditions": [{"bUcKeT": b}, ["StArTs-WiTh", "$KeY", "foo"], {"AcL": "private"},
                                                           ["StArTs-WiTh", "$CoNtEnT-TyPe", "text/plain"]]}
    policy, sig = v2_policy(mixed)
    st, _, _ = post_form(b, [("kEy", "foo.txt"), ("AWSAccessKeyId", ACCESS), ("aCl", "private"), ("signature", sig),
                             ("pOLICy", policy), ("Content-Type", "text/plain")])
    eq(st, 204, "case-insensitive names")


@check("post: an unsigned form to a public-read-write bucket is an anonymous upload (204, 201 with the status)")
def _():
    b = new_bucket_name()
    s3.create_bucket(Bucket=b, ACL="public-read-write")
    st, _, body = post_form(b, [("key", "foo.txt"), ("acl", "public-read"), ("Content-Type", "text/plain")])
    eq(st, 204, "anonymous %s" % body[:200])
    eq(s3.get_object(Bucket=b, Key="foo.txt")["Body"].read(), b"bar", "body")
    st, _, body = post_form(b, [("key", "foo.txt"), ("acl", "public-read"), ("success_action_status", "201"),
                                ("Content-Type", "text/plain")])
    eq((st, ET.fromstring(body).findtext("Key")), (201, "foo.txt"), "201")
    private = new_bucket()
    st, _, body = post_form(private, [("key", "foo.txt"), ("Content-Type", "text/plain")])
    eq((st, error_code(body)), (403, "AccessDenied"), "private bucket")


@check("post: success_action_status 201 (PostResponse Key), other values 204 empty; success_action_redirect 303")
def _():
    b = new_bucket()
    redirect = "%s/%s" % (ENDPOINT, b)
    doc = {"expiration": in_minutes(100), "conditions": text_conditions(b, [["eq", "$success_action_status", "201"]])}
    st, _, body = post_form(b, signed_fields(doc, [("key", "foo.txt"), ("acl", "private"), ("Content-Type", "text/plain"),
                                                   ("success_action_status", "201")]))
    eq((st, ET.fromstring(body).findtext("Key")), (201, "foo.txt"), "201")
    doc = {"expiration": in_minutes(100), "conditions": text_conditions(b, [["eq", "$success_action_status", "404"]])}
    st, _, body = post_form(b, signed_fields(doc, [("key", "foo.txt"), ("acl", "private"), ("Content-Type", "text/plain"),
                                                   ("success_action_status", "404")]))
    eq((st, body), (204, b""), "other status")
    doc = {"expiration": in_minutes(100), "conditions": text_conditions(b, [["eq", "$success_action_redirect", redirect]])}
    st, hdrs, _ = post_form(b, signed_fields(doc, [("key", "foo.txt"), ("acl", "private"), ("Content-Type", "text/plain"),
                                                   ("success_action_redirect", redirect)]))
    etag = s3.head_object(Bucket=b, Key="foo.txt")["ETag"].strip('"')
    eq((st, hdrs.get("location")), (303, "%s?bucket=%s&key=foo.txt&etag=%%22%s%%22" % (redirect, b, etag)), "redirect")


@check("post: refusals: bad signature / key 403, policy conditions 403 (bucket, field, expired), malformed policy 400")
def _():
    b = new_bucket()
    other = new_bucket()
    fields = [("key", "foo.txt"), ("acl", "private"), ("Content-Type", "text/plain")]
    good = {"expiration": in_minutes(100), "conditions": text_conditions(b)}
    cases = []
    f = signed_fields(good, fields)
    f[2] = ("signature", f[2][1][::-1])
    cases.append(("reversed signature", b, f, 403))
    f = signed_fields(good, fields)
    f[1] = ("AWSAccessKeyId", ACCESS[::-1])
    cases.append(("unknown key", b, f, 403))
    cases.append(("no bucket condition", b, signed_fields({"expiration": in_minutes(100), "conditions": text_conditions(b)[1:]}, fields), 403))
    cases.append(("another bucket", other, signed_fields(good, fields + [("bucket", b)]), 403))
    cases.append(("condition on a missing field", b, signed_fields(
        {"expiration": in_minutes(100), "conditions": text_conditions(b, [["starts-with", "$x-amz-meta-foo", "bar"]])}, fields), 403))
    cases.append(("eq fails", b, signed_fields(
        {"expiration": in_minutes(100), "conditions": text_conditions(b, [["eq", "$x-amz-meta-foo", ""]])}, fields + [("x-amz-meta-foo", "barclamp")]), 403))
    cases.append(("expired", b, signed_fields({"expiration": in_minutes(-100), "conditions": text_conditions(b)}, fields), 403))
    cases.append(("no expiration", b, signed_fields({"conditions": text_conditions(b)}, fields), 400))
    cases.append(("EXPIRATION", b, signed_fields({"EXPIRATION": in_minutes(100), "conditions": text_conditions(b)}, fields), 400))
    cases.append(("CONDITIONS", b, signed_fields({"expiration": in_minutes(100), "CONDITIONS": text_conditions(b)}, fields), 400))
    cases.append(("date format", b, signed_fields({"expiration": str(datetime.datetime.now(datetime.timezone.utc)), "conditions": text_conditions(b)}, fields), 400))
    cases.append(("empty condition", b, signed_fields({"expiration": in_minutes(100), "conditions": [{}]}, fields), 400))
    for rng in ([0], [-1, 0]):
        cases.append(("range %s" % rng, b, signed_fields({"expiration": in_minutes(100), "conditions": text_conditions(b)[:-1] + [["content-length-range"] + rng]}, fields), 400))
    cases.append(("too large", b, signed_fields({"expiration": in_minutes(100), "conditions": text_conditions(b)[:-1] + [["content-length-range", 0, 0]]}, fields), 400))
    cases.append(("too small", b, signed_fields({"expiration": in_minutes(100), "conditions": text_conditions(b)[:-1] + [["content-length-range", 512, 1000]]}, fields), 400))
    f = signed_fields(good, fields)
    del f[2]
    cases.append(("no signature", b, f, 400))
    cases.append(("no key", b, signed_fields({"expiration": in_minutes(100), "conditions": [c for c in text_conditions(b) if "$key" not in c]}, fields[1:]), 400))
    got = [(name, post_form(bucket, f)[0]) for name, bucket, f, _ in cases]
    eq(got, [(name, want) for name, _, _, want in cases], "statuses")
    expect_error(404, None, s3.head_object, Bucket=b, Key="foo.txt")


@check("cors: Access-Control-* on actual requests and preflights chosen by the first matching rule")
def _():
    b = new_bucket()
    s3.put_bucket_cors(Bucket=b, CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["PUT", "DELETE"], "AllowedOrigins": ["http://www.example1.com"], "AllowedHeaders": ["*"]},
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "AllowedHeaders": ["*"]},
        {"AllowedMethods": ["DELETE"], "AllowedOrigins": ["http://www.example2.com", "http://www.example3.com"], "AllowedHeaders": ["*"]},
    ]})

    def cors(method, path, headers):
        st, h, _ = raw(method, path, headers)
        return st, h.get("access-control-allow-origin"), h.get("access-control-allow-methods")

    obj = "/%s/bar" % b
    got = [
        cors("GET", "/" + b, {})[1:],
        cors("GET", "/" + b, {"Origin": "http://www.example1.com"})[1:],
        cors("PUT", obj, {"Origin": "http://www.example1.com"})[1:],
        cors("DELETE", obj, {"Origin": "http://www.example3.com"})[1:],
        cors("PUT", obj, {"Origin": "http://www.example3.com"})[1:],
        cors("DELETE", obj, {"Origin": "http://not.exists"})[1:],
        cors("OPTIONS", "/" + b, {"Origin": "http://www.example1.com", "Access-Control-Request-Method": "GET"}),
        cors("OPTIONS", "/" + b, {"Origin": "http://www.example1.com", "Access-Control-Request-Method": "DELETE"}),
        cors("OPTIONS", "/" + b, {"Origin": "http://www.example2.com", "Access-Control-Request-Method": "DELETE"}),
        cors("OPTIONS", "/" + b, {"Origin": "http://www.example2.com", "Access-Control-Request-Method": "PUT"}),
        cors("OPTIONS", "/" + b, {"Origin": "http://not.exists", "Access-Control-Request-Method": "PUT"}),
    ]
    eq(got, [
        (None, None), ("*", "GET"), ("http://www.example1.com", "PUT, DELETE"), ("http://www.example3.com", "DELETE"),
        (None, None), (None, None),
        (200, "*", "GET"), (200, "http://www.example1.com", "PUT, DELETE"), (200, "http://www.example2.com", "DELETE"),
        (403, None, None), (403, None, None),
    ], "answers")


@check("cors: preflight Access-Control-Request-Headers must each match an AllowedHeader")
def _():
    b = new_bucket()
    s3.put_bucket_cors(Bucket=b, CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "AllowedHeaders": ["x-amz-meta-header1"]},
        {"AllowedMethods": ["PUT"], "AllowedOrigins": ["http://www.example.com"], "AllowedHeaders": ["x-amz-meta-header2", "x-amz-meta-header3"]},
        {"AllowedMethods": ["DELETE"], "AllowedOrigins": ["http://www.example1.com"], "AllowedHeaders": []},
    ]})

    def pre(origin, method, req_headers=None):
        h = {"Origin": origin, "Access-Control-Request-Method": method}
        if req_headers:
            h["Access-Control-Request-Headers"] = req_headers
        st, hdrs, _ = raw("OPTIONS", "/" + b, h)
        return st, hdrs.get("access-control-allow-origin"), hdrs.get("access-control-allow-headers")

    eq([
        pre("http://any.origin", "GET", "x-amz-meta-header1"),
        pre("http://www.example.com", "PUT", "x-amz-meta-header1"),
        pre("http://www.example.com", "PUT", "x-amz-meta-header2, x-amz-meta-header3"),
        pre("http://www.example.com", "PUT"),
        pre("http://www.example1.com", "DELETE", "x-amz-meta-header"),
        pre("http://www.example1.com", "DELETE"),
    ], [
        (200, "*", "x-amz-meta-header1"),
        (403, None, None),
        (200, "http://www.example.com", "x-amz-meta-header2, x-amz-meta-header3"),
        (200, "http://www.example.com", None),
        (403, None, None),
        (200, "http://www.example1.com", None),
    ], "preflights")


# ---------------------------------------------------------------- put / get / head

@check("object: PUT returns the MD5 ETag; read, rewrite, read, delete")
def _():
    b = new_bucket()
    r = s3.put_object(Bucket=b, Key="foo", Body=b"bar")
    eq(r["ETag"], '"37b51d194a7513e45b56f6524f2d51f2"', "etag")
    eq(s3.get_object(Bucket=b, Key="foo")["Body"].read(), b"bar", "body")
    s3.put_object(Bucket=b, Key="foo", Body=b"soup")
    eq(s3.get_object(Bucket=b, Key="foo")["Body"].read(), b"soup", "rewritten body")
    eq(s3.delete_object(Bucket=b, Key="foo")["ResponseMetadata"]["HTTPStatusCode"], 204, "delete")
    expect_error(404, "NoSuchKey", s3.get_object, Bucket=b, Key="foo")


@check("object: empty objects have ContentLength 0 and the empty MD5")
def _():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="foo", Body=b"")
    h = s3.head_object(Bucket=b, Key="foo")
    eq(h["ContentLength"], 0, "length")
    eq(h["ETag"], '"d41d8cd98f00b204e9800998ecf8427e"', "etag")
    eq(s3.get_object(Bucket=b, Key="foo")["Body"].read(), b"", "body")


@check("object: Content-Type defaults to binary/octet-stream; an explicit one is kept")
def _():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="a", Body=b"x")
    eq(s3.head_object(Bucket=b, Key="a")["ContentType"], "binary/octet-stream", "default")
    s3.put_object(Bucket=b, Key="b", Body=b"x", ContentType="text/bla")
    eq(s3.head_object(Bucket=b, Key="b")["ContentType"], "text/bla", "explicit")


@check("object: Cache-Control, Expires, Content-Disposition/Encoding/Language round-trip")
def _():
    b = new_bucket()
    exp = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=6000)
    s3.put_object(Bucket=b, Key="foo", Body=b"bar", CacheControl="public, max-age=14400", Expires=exp,
                  ContentDisposition="attachment", ContentEncoding="gzip", ContentLanguage="de")
    h = s3.head_object(Bucket=b, Key="foo")
    eq(h["ResponseMetadata"]["HTTPHeaders"]["cache-control"], "public, max-age=14400", "cache-control")
    eq(h["Expires"], exp, "expires")
    eq(h["ContentDisposition"], "attachment", "disposition")
    eq(h["ContentEncoding"], "gzip", "encoding")
    eq(h["ContentLanguage"], "de", "language")


@check("object: x-amz-meta-* round-trip (empty value, lower-cased names) and is replaced on overwrite")
def _():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="foo", Body=b"bar", Metadata={"meta1": "mymeta", "empty": ""})
    eq(s3.get_object(Bucket=b, Key="foo")["Metadata"], {"meta1": "mymeta", "empty": ""}, "metadata")
    c = make_client()
    add_headers(c, "PutObject", {"X-Amz-Meta-MixedCase": "Value"})
    c.put_object(Bucket=b, Key="mixed", Body=b"x")
    eq(s3.head_object(Bucket=b, Key="mixed")["Metadata"], {"mixedcase": "Value"}, "case")
    s3.put_object(Bucket=b, Key="foo", Body=b"bar")
    eq(s3.get_object(Bucket=b, Key="foo")["Metadata"], {}, "replaced")


@check("object: metadata with control characters is rejected with 400")
def _():
    b = new_bucket()
    for v in ("\x04mymeta", "h\x04", "h\x04w"):
        st, _, _ = err(s3.put_object, Bucket=b, Key="bar", Metadata={"meta1": v})
        eq(st, 400, "status for %r" % v)


@check("object: metadata over 2 KiB is 400 MetadataTooLarge")
def _():
    b = new_bucket()
    expect_error(400, "MetadataTooLarge", s3.put_object, Bucket=b, Key="big", Body=b"x",
                 Metadata={"m": "v" * 2100})


@check("object: Content-MD5 mismatch is 400 BadDigest; malformed/short/empty is 400 InvalidDigest")
def _():
    b = new_bucket()
    for value, code in (("rL0Y20xC+Fzt72VPzMSk2A==", "BadDigest"), ("YWJyYWNhZGFicmE=", "InvalidDigest"),
                        ("", "InvalidDigest"), ("not base64!", "InvalidDigest")):
        c = make_client()
        add_headers(c, "PutObject", {"Content-MD5": value})
        expect_error(400, code, c.put_object, Bucket=b, Key="foo", Body=b"bar")
    md5 = base64.b64encode(hashlib.md5(b"bar").digest()).decode()
    s3.put_object(Bucket=b, Key="ok", Body=b"bar", ContentMD5=md5)


@check("object: a bad digest does not leave the object behind")
def _():
    b = new_bucket()
    c = make_client()
    add_headers(c, "PutObject", {"Content-MD5": "rL0Y20xC+Fzt72VPzMSk2A=="})
    err(c.put_object, Bucket=b, Key="foo", Body=b"bar")
    expect_error(404, "NoSuchKey", s3.get_object, Bucket=b, Key="foo")


@check("object: PUT without Content-Length is 411 MissingContentLength; negative is 400")
def _():
    b = new_bucket()
    url = s3.generate_presigned_url("put_object", Params={"Bucket": b, "Key": "foo"}, ExpiresIn=100)
    u = urllib.parse.urlparse(url)
    st, _, body = raw("PUT", u.path + "?" + u.query, {})
    eq(st, 411, "status")
    eq(error_code(body), "MissingContentLength", "code")
    st, _, _ = raw("PUT", u.path + "?" + u.query, {"Content-Length": "-1"})
    eq(st, 400, "negative length status")


@check("object: keys with special characters are stored, listed and read back")
def _():
    names = [" ", '"', "$", "%", "&", "'", "<", ">", "_", "_ ", "_ _", "__", "foo?bar", "a+b=c",
             "\u00e9t\u00e9", "sp ace/x"]
    b = bucket_with(names)
    eq(keys_of(s3.list_objects(Bucket=b)), sorted(names, key=lambda s: s.encode()), "listing")
    for n in names:
        eq(s3.get_object(Bucket=b, Key=n)["Body"].read(), n.encode(), "body of %r" % n)


@check("object: a key over 1024 bytes is 400 KeyTooLongError")
def _():
    b = new_bucket()
    expect_error(400, "KeyTooLongError", s3.put_object, Bucket=b, Key="k" * 1025, Body=b"x")


@check("object: keys no path can name (a//b, /a, ./.. segments, 300-byte segment, 1024 bytes) are objects")
def _():
    b = new_bucket()
    keys = ["a//b", "/lead", "x/./y", "x/../y", "s" * 300, "t/" + "u" * 1021, "dir//"]
    for i, k in enumerate(keys):
        s3.put_object(Bucket=b, Key=k, Body=b"v%d" % i)
    for i, k in enumerate(keys):
        eq(s3.get_object(Bucket=b, Key=k)["Body"].read(), b"v%d" % i, "body of %r" % k[:20])
        eq(s3.head_object(Bucket=b, Key=k)["ContentLength"], len(b"v%d" % i), "size of %r" % k[:20])
    eq(keys_of(s3.list_objects_v2(Bucket=b)), sorted(keys, key=lambda s: s.encode()), "listing")
    s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": k} for k in keys]})
    eq(keys_of(s3.list_objects_v2(Bucket=b)), [], "listing after delete")


@check("object: a key that is not valid UTF-8 in the URL is 400 InvalidURI")
def _():
    b = new_bucket()
    url = s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "x"}, ExpiresIn=100)
    u = urllib.parse.urlparse(url)
    st, _, body = raw("GET", "/%s/%%ae%%8a-?%s" % (b, u.query))
    eq((st, error_code(body)), (400, "InvalidURI"), "answer")
    eq(ET.fromstring(body).findtext("Message"), "Couldn't parse the specified URI.", "message")


@check("object: SSE-S3 is stored encrypted and reported; object lock is 501; bad SSE combinations 400")
def _():
    b = new_bucket()
    put = s3.put_object(Bucket=b, Key="enc", Body=b"x", ServerSideEncryption="AES256")
    eq(put.get("ServerSideEncryption"), "AES256", "put answer")
    eq(s3.head_object(Bucket=b, Key="enc").get("ServerSideEncryption"), "AES256", "head")
    eq(s3.get_object(Bucket=b, Key="enc")["Body"].read(), b"x", "get")
    s3.delete_object(Bucket=b, Key="enc")
    for hdrs in ({"x-amz-server-side-encryption": "aes:kms"},
                 {"x-amz-server-side-encryption": "AES256", "x-amz-server-side-encryption-aws-kms-key-id": "k"},
                 {"x-amz-server-side-encryption": "AES256",
                  "x-amz-server-side-encryption-customer-algorithm": "AES256"}):
        c = make_client()
        add_headers(c, "PutObject", hdrs)
        expect_error(400, "InvalidArgument", c.put_object, Bucket=b, Key="k", Body=b"x")
    truthy("Contents" not in s3.list_objects(Bucket=b), "nothing stored")
    expect_error(501, "NotImplemented", s3.create_bucket, Bucket=new_bucket_name(), ObjectLockEnabledForBucket=True)
    s3.put_object(Bucket=b, Key="plain", Body=b"x")
    c = make_client()
    add_headers(c, "GetObject", {"x-amz-server-side-encryption": "aws:kms"})
    st, _, _ = err(c.get_object, Bucket=b, Key="plain")
    eq(st, 400, "sse header on a read")


# ---------------------------------------------------------------- ranges

def range_bucket(content=b"testcontent"):
    b = new_bucket()
    s3.put_object(Bucket=b, Key="testobj", Body=content)
    return b


@check("range: bytes=4-7 is 206 with Content-Range bytes 4-7/11")
def _():
    b = range_bucket()
    r = s3.get_object(Bucket=b, Key="testobj", Range="bytes=4-7")
    eq(r["ResponseMetadata"]["HTTPStatusCode"], 206, "status")
    eq(r["Body"].read(), b"cont", "body")
    eq(r["ContentRange"], "bytes 4-7/11", "content-range")
    eq(r["ContentLength"], 4, "length")


@check("range: open-ended bytes=4- and suffix bytes=-7")
def _():
    b = range_bucket()
    r = s3.get_object(Bucket=b, Key="testobj", Range="bytes=4-")
    eq((r["Body"].read(), r["ContentRange"]), (b"content", "bytes 4-10/11"), "open")
    r = s3.get_object(Bucket=b, Key="testobj", Range="bytes=-7")
    eq((r["Body"].read(), r["ContentRange"]), (b"content", "bytes 4-10/11"), "suffix")
    r = s3.get_object(Bucket=b, Key="testobj", Range="bytes=-100")
    eq((r["Body"].read(), r["ContentRange"]), (b"testcontent", "bytes 0-10/11"), "long suffix")
    r = s3.get_object(Bucket=b, Key="testobj", Range="bytes=5-100")
    eq((r["Body"].read(), r["ContentRange"]), (b"ontent", "bytes 5-10/11"), "end past size")


@check("range: unsatisfiable ranges are 416 InvalidRange (also on empty objects)")
def _():
    b = range_bucket()
    expect_error(416, "InvalidRange", s3.get_object, Bucket=b, Key="testobj", Range="bytes=40-50")
    b2 = range_bucket(b"")
    expect_error(416, "InvalidRange", s3.get_object, Bucket=b2, Key="testobj", Range="bytes=40-50")


@check("range: a malformed or reversed Range header is ignored (200, whole object)")
def _():
    b = range_bucket()
    for r in ("bytes=7-4", "chars=0-3", "bytes=a-b"):
        g = s3.get_object(Bucket=b, Key="testobj", Range=r)
        eq(g["ResponseMetadata"]["HTTPStatusCode"], 200, "status for %s" % r)
        eq(g["Body"].read(), b"testcontent", "body for %s" % r)


@check("range: a 1 MiB slice of an 8 MiB object")
def _():
    data = bytes(random.getrandbits(8) for _ in range(1024)) * (8 * 1024)
    b = range_bucket(data)
    r = s3.get_object(Bucket=b, Key="testobj", Range="bytes=3145728-4194304")
    eq(r["ContentRange"], "bytes 3145728-4194304/8388608", "content-range")
    eq(r["Body"].read() == data[3145728:4194305], True, "slice")


# ---------------------------------------------------------------- conditional GET

def cond_bucket():
    b = new_bucket()
    etag = s3.put_object(Bucket=b, Key="foo", Body=b"bar")["ETag"]
    return b, etag


@check("conditional: If-Match current ETag is 200; bogus is 412 PreconditionFailed")
def _():
    b, etag = cond_bucket()
    eq(s3.get_object(Bucket=b, Key="foo", IfMatch=etag)["Body"].read(), b"bar", "match")
    expect_error(412, "PreconditionFailed", s3.get_object, Bucket=b, Key="foo", IfMatch='"ABCORZ"')


@check("conditional: If-None-Match current ETag is 304 Not Modified; bogus is 200")
def _():
    b, etag = cond_bucket()
    st, code, resp = err(s3.get_object, Bucket=b, Key="foo", IfNoneMatch=etag)
    eq(st, 304, "status")
    eq(resp["Error"]["Message"], "Not Modified", "message")
    eq(s3.get_object(Bucket=b, Key="foo", IfNoneMatch="ABCORZ")["Body"].read(), b"bar", "no match")
    st, _, _ = err(s3.head_object, Bucket=b, Key="foo", IfNoneMatch=etag)
    eq(st, 304, "head status")


@check("conditional: If-Modified-Since past is 200; future is 304")
def _():
    b, _ = cond_bucket()
    eq(s3.get_object(Bucket=b, Key="foo", IfModifiedSince="Sat, 29 Oct 1994 19:43:31 GMT")["Body"].read(),
       b"bar", "past")
    lm = s3.head_object(Bucket=b, Key="foo")["LastModified"]
    after = (lm + datetime.timedelta(seconds=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    st, _, _ = err(s3.get_object, Bucket=b, Key="foo", IfModifiedSince=after)
    eq(st, 304, "future status")
    same = lm.strftime("%a, %d %b %Y %H:%M:%S GMT")
    st, _, _ = err(s3.get_object, Bucket=b, Key="foo", IfModifiedSince=same)
    eq(st, 304, "equal-time status")


@check("conditional: If-Unmodified-Since past is 412; future is 200")
def _():
    b, _ = cond_bucket()
    expect_error(412, "PreconditionFailed", s3.get_object, Bucket=b, Key="foo",
                 IfUnmodifiedSince="Sat, 29 Oct 1994 19:43:31 GMT")
    eq(s3.get_object(Bucket=b, Key="foo", IfUnmodifiedSince="Sat, 29 Oct 2100 19:43:31 GMT")["Body"].read(),
       b"bar", "future")


@check("conditional: If-Match wins over a failing If-Unmodified-Since; If-None-Match over If-Modified-Since")
def _():
    b, etag = cond_bucket()
    r = s3.get_object(Bucket=b, Key="foo", IfMatch=etag, IfUnmodifiedSince="Sat, 29 Oct 1994 19:43:31 GMT")
    eq(r["ResponseMetadata"]["HTTPStatusCode"], 200, "if-match + stale ius")
    r = s3.get_object(Bucket=b, Key="foo", IfNoneMatch='"other"', IfModifiedSince="Sat, 29 Oct 2100 19:43:31 GMT")
    eq(r["ResponseMetadata"]["HTTPStatusCode"], 200, "if-none-match(miss) + future ims")
    st, _, _ = err(s3.get_object, Bucket=b, Key="foo", IfMatch='"nope"', IfNoneMatch=etag)
    eq(st, 412, "if-match fails first")


@check("conditional PUT: If-Match / If-None-Match on writes")
def _():
    b, etag = cond_bucket()
    c = make_client()
    add_headers(c, "PutObject", {"If-Match": '"ABCORZ"'})
    expect_error(412, "PreconditionFailed", c.put_object, Bucket=b, Key="foo", Body=b"zar")
    eq(s3.get_object(Bucket=b, Key="foo")["Body"].read(), b"bar", "unchanged after 412")
    c = make_client()
    add_headers(c, "PutObject", {"If-Match": etag.strip('"')})
    c.put_object(Bucket=b, Key="foo", Body=b"zar")
    eq(s3.get_object(Bucket=b, Key="foo")["Body"].read(), b"zar", "if-match write")
    c = make_client()
    add_headers(c, "PutObject", {"If-None-Match": "*"})
    expect_error(412, "PreconditionFailed", c.put_object, Bucket=b, Key="foo", Body=b"new")
    c.put_object(Bucket=b, Key="fresh", Body=b"new")
    eq(s3.get_object(Bucket=b, Key="fresh")["Body"].read(), b"new", "if-none-match * on a new key")
    c = make_client()
    add_headers(c, "PutObject", {"If-Match": "*"})
    expect_error(412, "PreconditionFailed", c.put_object, Bucket=b, Key="missing", Body=b"x")
    expect_error(404, "NoSuchKey", s3.get_object, Bucket=b, Key="missing")


@check("response-* query parameters override the response headers")
def _():
    b, _ = cond_bucket()
    r = s3.get_object(Bucket=b, Key="foo", ResponseCacheControl="no-cache", ResponseContentDisposition="bla",
                      ResponseContentEncoding="aaa", ResponseContentLanguage="esperanto",
                      ResponseContentType="foo/bar", ResponseExpires="123")
    h = r["ResponseMetadata"]["HTTPHeaders"]
    eq((h["content-type"], h["content-disposition"], h["content-language"], h["content-encoding"],
        h["cache-control"]), ("foo/bar", "bla", "esperanto", "aaa", "no-cache"), "headers")


# ---------------------------------------------------------------- copy

@check("copy: same bucket, other bucket, keeps Content-Type and metadata (COPY)")
def _():
    b1, b2 = new_bucket(), new_bucket()
    s3.put_object(Bucket=b1, Key="foo123bar", Body=b"foo", ContentType="audio/ogg", Metadata={"k1": "v1"})
    r = s3.copy_object(Bucket=b1, Key="bar321foo", CopySource={"Bucket": b1, "Key": "foo123bar"})
    eq(r["CopyObjectResult"]["ETag"], '"%s"' % hashlib.md5(b"foo").hexdigest(), "copy etag")
    g = s3.get_object(Bucket=b1, Key="bar321foo")
    eq((g["Body"].read(), g["ContentType"], g["Metadata"]), (b"foo", "audio/ogg", {"k1": "v1"}), "same bucket")
    s3.copy_object(Bucket=b2, Key="bar321foo", CopySource="%s/foo123bar" % b1)
    eq(s3.get_object(Bucket=b2, Key="bar321foo")["Body"].read(), b"foo", "other bucket")


@check("copy: REPLACE sets new metadata and Content-Type (3 B and 1 MiB)")
def _():
    for size in (3, MB):
        b = new_bucket()
        s3.put_object(Bucket=b, Key="src", Body=bytearray(size), ContentType="audio/ogg",
                      Metadata={"key1": "value1", "key2": "value2"})
        s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src"}, MetadataDirective="REPLACE",
                       Metadata={"key3": "value3"}, ContentType="audio/mpeg")
        g = s3.get_object(Bucket=b, Key="dst")
        eq((g["ContentType"], g["Metadata"], g["ContentLength"]), ("audio/mpeg", {"key3": "value3"}, size), "replace")


@check("copy: onto itself is 400 InvalidRequest without REPLACE; with REPLACE it updates metadata")
def _():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="foo123bar", Body=b"foo")
    src = {"Bucket": b, "Key": "foo123bar"}
    expect_error(400, "InvalidRequest", s3.copy_object, Bucket=b, Key="foo123bar", CopySource=src)
    s3.copy_object(Bucket=b, Key="foo123bar", CopySource=src, Metadata={"foo": "bar"}, MetadataDirective="REPLACE")
    g = s3.get_object(Bucket=b, Key="foo123bar")
    eq((g["Metadata"], g["Body"].read()), ({"foo": "bar"}, b"foo"), "self copy")


@check("copy: zero-size object; missing source key / bucket are 404")
def _():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="empty", Body=b"")
    s3.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "empty"})
    eq(s3.get_object(Bucket=b, Key="copy")["ContentLength"], 0, "length")
    expect_error(404, "NoSuchKey", s3.copy_object, Bucket=b, Key="x", CopySource={"Bucket": b, "Key": "nope"})
    st, _, _ = err(s3.copy_object, Bucket=b, Key="x", CopySource={"Bucket": b + "-fake", "Key": "empty"})
    eq(st, 404, "missing source bucket status")


@check("copy: x-amz-copy-source-if-match / if-none-match")
def _():
    b = new_bucket()
    etag = s3.put_object(Bucket=b, Key="foo", Body=b"bar")["ETag"]
    s3.copy_object(Bucket=b, Key="c1", CopySource=b + "/foo", CopySourceIfMatch=etag)
    eq(s3.get_object(Bucket=b, Key="c1")["Body"].read(), b"bar", "if-match good")
    expect_error(412, "PreconditionFailed", s3.copy_object, Bucket=b, Key="c2", CopySource=b + "/foo",
                 CopySourceIfMatch="ABCORZ")
    expect_error(412, "PreconditionFailed", s3.copy_object, Bucket=b, Key="c3", CopySource=b + "/foo",
                 CopySourceIfNoneMatch=etag)
    s3.copy_object(Bucket=b, Key="c4", CopySource=b + "/foo", CopySourceIfNoneMatch="ABCORZ")
    eq(s3.get_object(Bucket=b, Key="c4")["Body"].read(), b"bar", "if-none-match bogus")


@check("copy: x-amz-copy-source-if-(un)modified-since")
def _():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="foo", Body=b"bar")
    past = datetime.datetime(1994, 10, 29, tzinfo=datetime.timezone.utc)
    future = datetime.datetime(2100, 10, 29, tzinfo=datetime.timezone.utc)
    s3.copy_object(Bucket=b, Key="c1", CopySource=b + "/foo", CopySourceIfModifiedSince=past)
    expect_error(412, "PreconditionFailed", s3.copy_object, Bucket=b, Key="c2", CopySource=b + "/foo",
                 CopySourceIfModifiedSince=future)
    s3.copy_object(Bucket=b, Key="c3", CopySource=b + "/foo", CopySourceIfUnmodifiedSince=future)
    expect_error(412, "PreconditionFailed", s3.copy_object, Bucket=b, Key="c4", CopySource=b + "/foo",
                 CopySourceIfUnmodifiedSince=past)


@check("copy: keys needing URL encoding in x-amz-copy-source")
def _():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="foo?bar", Body=b"q")
    s3.copy_object(Bucket=b, Key="bar&foo", CopySource={"Bucket": b, "Key": "foo?bar"})
    s3.copy_object(Bucket=b, Key="sp ace+plus", CopySource={"Bucket": b, "Key": "bar&foo"})
    eq(s3.get_object(Bucket=b, Key="sp ace+plus")["Body"].read(), b"q", "body")


# ---------------------------------------------------------------- delete

@check("delete: deleting a missing key is 204")
def _():
    b = new_bucket()
    eq(s3.delete_object(Bucket=b, Key="nope")["ResponseMetadata"]["HTTPStatusCode"], 204, "status")


@check("delete: DeleteObjects removes keys, reports missing keys as Deleted, Quiet omits them")
def _():
    names = ["key0", "key1", "key2"]
    b = bucket_with(names)
    objs = {"Objects": [{"Key": k} for k in names]}
    r = s3.delete_objects(Bucket=b, Delete=objs)
    eq(len(r.get("Deleted", [])), 3, "deleted")
    truthy("Errors" not in r, "no errors")
    truthy("Contents" not in s3.list_objects(Bucket=b), "bucket empty")
    r = s3.delete_objects(Bucket=b, Delete=objs)
    eq(len(r.get("Deleted", [])), 3, "deleted again")
    s3.put_object(Bucket=b, Key="q", Body=b"x")
    r = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "q"}], "Quiet": True})
    eq(r.get("Deleted", []), [], "quiet")


@check("delete: DeleteObjects with more than 1000 keys is 400")
def _():
    b = new_bucket()
    st, _, _ = err(s3.delete_objects, Bucket=b, Delete={"Objects": [{"Key": "k%d" % i} for i in range(1001)]})
    eq(st, 400, "status")


# ---------------------------------------------------------------- listing

def lst(v2, b, **kw):
    return (s3.list_objects_v2 if v2 else s3.list_objects)(Bucket=b, **kw)


@check("list: empty bucket; V2 KeyCount")
def _():
    b = new_bucket()
    truthy("Contents" not in s3.list_objects(Bucket=b), "empty")
    r = s3.list_objects_v2(Bucket=b)
    eq(r["KeyCount"], 0, "empty key count")
    for j in range(5):
        s3.put_object(Bucket=b, Key=str(j))
    eq(s3.list_objects_v2(Bucket=b)["KeyCount"], 5, "key count")


@check("list: max-keys paging with marker (V1) and start-after (V2)")
def _():
    b = bucket_with(["foo", "bar", "baz"])
    for v2 in (False, True):
        r = lst(v2, b, MaxKeys=2)
        eq((keys_of(r), r["IsTruncated"]), (["bar", "baz"], True), "page 1 v2=%s" % v2)
        r = lst(v2, b, MaxKeys=2, **({"StartAfter": "baz"} if v2 else {"Marker": "baz"}))
        eq((keys_of(r), r["IsTruncated"]), (["foo"], False), "page 2 v2=%s" % v2)


@check("list: delimiter '/' with prefixes (CommonPrefixes, V2 KeyCount counts both)")
def _():
    b = bucket_with(["foo/bar", "foo/baz/xyzzy", "quux/thud", "asdf"])
    for v2 in (False, True):
        r = lst(v2, b, Delimiter="/")
        eq(r["Delimiter"], "/", "delimiter echo")
        eq(keys_of(r), ["asdf"], "keys")
        eq(prefixes_of(r), ["foo/", "quux/"], "prefixes")
        if v2:
            eq(r["KeyCount"], 3, "key count")


@check("keys: an object and a prefix of the same name (foo/bar and foo/bar/xyzzy), in both orders")
def _():
    for names in (["foo/bar", "foo/bar/xyzzy", "quux/thud", "asdf"], ["foo/bar/xyzzy", "foo/bar", "quux/thud", "asdf"]):
        b = bucket_with(names)
        for v2 in (False, True):
            r = lst(v2, b, Delimiter="/")
            eq((keys_of(r), prefixes_of(r)), (["asdf"], ["foo/", "quux/"]), "delimiter listing v2=%s" % v2)
            r = lst(v2, b, Prefix="foo/", Delimiter="/")
            eq((keys_of(r), prefixes_of(r)), (["foo/bar"], ["foo/bar/"]), "under foo/ v2=%s" % v2)
            r = lst(v2, b)
            eq(keys_of(r), ["asdf", "foo/bar", "foo/bar/xyzzy", "quux/thud"], "flat listing v2=%s" % v2)
            r = lst(v2, b, MaxKeys=2)
            eq((keys_of(r), r["IsTruncated"]), (["asdf", "foo/bar"], True), "first page v2=%s" % v2)
            r = lst(v2, b, **({"StartAfter": "foo/bar"} if v2 else {"Marker": "foo/bar"}))
            eq(keys_of(r), ["foo/bar/xyzzy", "quux/thud"], "after foo/bar v2=%s" % v2)
        for k in ("foo/bar", "foo/bar/xyzzy"):
            eq(s3.get_object(Bucket=b, Key=k)["Body"].read(), k.encode(), "body of %s" % k)
            eq(s3.head_object(Bucket=b, Key=k)["ETag"], '"%s"' % hashlib.md5(k.encode()).hexdigest(), "etag of %s" % k)
        s3.put_object_tagging(Bucket=b, Key="foo/bar", Tagging={"TagSet": [{"Key": "t", "Value": "v"}]})
        eq(s3.get_object_tagging(Bucket=b, Key="foo/bar")["TagSet"], [{"Key": "t", "Value": "v"}], "tags")
        s3.put_object(Bucket=b, Key="foo/bar", Body=b"new", Metadata={"m": "1"})
        g = s3.get_object(Bucket=b, Key="foo/bar")
        eq((g["Body"].read(), g["Metadata"]), (b"new", {"m": "1"}), "overwrite")
        s3.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "foo/bar"})
        s3.copy_object(Bucket=b, Key="foo/bar/copy", CopySource={"Bucket": b, "Key": "asdf"})
        eq(s3.get_object(Bucket=b, Key="copy")["Body"].read(), b"new", "copy from it")
        expect_error(409, "BucketNotEmpty", s3.delete_bucket, Bucket=b)
        for k in ("foo/bar", "foo/bar/xyzzy", "quux/thud", "asdf", "copy", "foo/bar/copy"):
            s3.delete_object(Bucket=b, Key=k)
        expect_error(404, "NoSuchKey", s3.get_object, Bucket=b, Key="foo/bar")
        truthy("Contents" not in s3.list_objects(Bucket=b), "empty after deletes")
        s3.delete_bucket(Bucket=b)


@check("keys: a file gives way when a key needs it as a directory (a, then a/b; metadata kept)")
def _():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="a", Body=b"file", ContentType="text/x-a", Metadata={"k": "v"})
    s3.put_object(Bucket=b, Key="a/b", Body=b"child")
    h = s3.head_object(Bucket=b, Key="a")
    eq((h["ContentType"], h["Metadata"], h["ContentLength"]), ("text/x-a", {"k": "v"}, 4), "moved object")
    eq(keys_of(s3.list_objects(Bucket=b)), ["a", "a/b"], "listing")
    uid, parts, data = upload_parts(b, "a/b", [6])
    s3.complete_multipart_upload(Bucket=b, Key="a/b", UploadId=uid, MultipartUpload={"Parts": parts})
    uid, parts, data = upload_parts(b, "a/b/c", [3])
    s3.complete_multipart_upload(Bucket=b, Key="a/b/c", UploadId=uid, MultipartUpload={"Parts": parts})
    eq(keys_of(s3.list_objects(Bucket=b)), ["a", "a/b", "a/b/c"], "after multipart")
    eq(s3.get_object(Bucket=b, Key="a/b")["Body"].read(), b"AAAAAA", "a/b content")
    r = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": k} for k in ("a", "a/b", "a/b/c")]})
    eq(len(r["Deleted"]), 3, "deleted")
    truthy("Contents" not in s3.list_objects(Bucket=b), "empty")


@check("list: encoding-type=url encodes keys and prefixes (V1 and V2)")
def _():
    b = bucket_with(["foo+1/bar", "foo/bar/xyzzy", "quux ab/thud", "asdf+b"])
    for v2 in (False, True):
        c = make_client()
        # botocore decodes url-encoded keys itself; look at the raw values instead
        seen = {}
        op = "ListObjectsV2" if v2 else "ListObjects"
        c.meta.events.register("after-call.s3.%s" % op, lambda http_response, **kw: seen.update(r=http_response))
        (c.list_objects_v2 if v2 else c.list_objects)(Bucket=b, Delimiter="/", EncodingType="url")
        doc = ET.fromstring(seen["r"].content)
        ns = {"s": "http://s3.amazonaws.com/doc/2006-03-01/"}
        keys = [e.text for e in doc.findall("s:Contents/s:Key", ns)]
        pre = [e.text for e in doc.findall("s:CommonPrefixes/s:Prefix", ns)]
        eq(keys, ["asdf%2Bb"], "raw keys v2=%s" % v2)
        eq(pre, ["foo%2B1/", "foo/", "quux%20ab/"], "raw prefixes v2=%s" % v2)
        eq(doc.findtext("s:EncodingType", namespaces=ns), "url", "EncodingType")


def validate(v2, b, prefix, delim, marker, max_keys, truncated, objs, prefixes, next_marker=None):
    kw = {"Delimiter": delim, "MaxKeys": max_keys, "Prefix": prefix}
    if v2:
        if marker is not None:
            kw["ContinuationToken"] = marker
        else:
            kw["StartAfter"] = ""
    else:
        kw["Marker"] = marker or ""
    r = lst(v2, b, **kw)
    eq(r["IsTruncated"], truncated, "IsTruncated %r" % kw)
    eq(keys_of(r), objs, "keys %r" % kw)
    eq(prefixes_of(r), prefixes, "prefixes %r" % kw)
    if v2:
        if not truncated:
            truthy("NextContinuationToken" not in r, "no NextContinuationToken when complete")
        return r.get("NextContinuationToken")
    eq(r.get("NextMarker"), next_marker, "NextMarker %r" % kw)
    return r.get("NextMarker")


@check("list: paging through keys and prefixes one or two at a time (NextMarker / continuation tokens)")
def _():
    for keys, p1, o1, under in (
        (["asdf", "boo/bar", "boo/baz/xyzzy", "cquux/thud", "cquux/bla"], "boo/", "asdf", "boo/"),
        (["_obj1_", "_under1/bar", "_under1/baz/xyzzy", "_under2/thud", "_under2/bla"], "_under1/", "_obj1_", "_under1/"),
    ):
        b = bucket_with(keys)
        last = keys[3].split("/")[0] + "/"
        for v2 in (False, True):
            m = validate(v2, b, "", "/", None, 1, True, [o1], [], o1)
            m = validate(v2, b, "", "/", m, 1, True, [], [p1], p1)
            validate(v2, b, "", "/", m, 1, False, [], [last], None)
            m = validate(v2, b, "", "/", None, 2, True, [o1], [p1], p1)
            validate(v2, b, "", "/", m, 2, False, [], [last], None)
            m = validate(v2, b, under, "/", None, 1, True, [under + "bar"], [], under + "bar")
            validate(v2, b, under, "/", m, 1, False, [], [under + "baz/"], None)
            validate(v2, b, under, "/", None, 2, False, [under + "bar"], [under + "baz/"], None)


@check("list: without a delimiter a truncated V1 page has no NextMarker (the last key is the marker)")
def _():
    b = bucket_with(["a", "b", "c"])
    r = s3.list_objects(Bucket=b, MaxKeys=2)
    eq((r["IsTruncated"], r.get("NextMarker")), (True, None), "truncated without delimiter")


@check("list: a prefix that ends with the delimiter and an object named like it")
def _():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="asdf/", Body=b"")
    for v2 in (False, True):
        validate(v2, b, "asdf/", "/", None, 1000, False, ["asdf/"], [], None)


@check("keys: 'folder' keys (ending in '/') with a body, next to keys under them")
def _():
    b = bucket_with(["asdf/"])
    eq(s3.get_object(Bucket=b, Key="asdf/")["Body"].read(), b"asdf/", "body")
    for v2 in (False, True):
        validate(v2, b, "asdf/", "/", None, 1000, False, ["asdf/"], [], None)
    s3.put_object(Bucket=b, Key="asdf/x", Body=b"x")
    s3.put_object(Bucket=b, Key="x", Body=b"file x")
    s3.put_object(Bucket=b, Key="x/", Body=b"")
    eq(keys_of(s3.list_objects(Bucket=b)), ["asdf/", "asdf/x", "x", "x/"], "listing")
    eq(s3.head_object(Bucket=b, Key="asdf/")["ContentLength"], 5, "length")
    s3.delete_object(Bucket=b, Key="asdf/")
    eq(keys_of(s3.list_objects(Bucket=b)), ["asdf/x", "x", "x/"], "after delete")
    names = ["0/"] + ["0/%d" % i for i in range(1000, 1020)] + ["1999", "1999#", "1999+", "2000"]
    b2 = bucket_with(names)
    r = s3.list_objects(Bucket=b2, Delimiter="/")
    eq((keys_of(r), prefixes_of(r)), (["1999", "1999#", "1999+", "2000"], ["0/"]), "delimiter listing")
    eq(keys_of(s3.list_objects(Bucket=b2, Prefix="0/", MaxKeys=2)), ["0/", "0/1000"], "folder key listed first")


@check("list: non-slash delimiters ('a', '%', ' ', '.', newline) and the empty delimiter")
def _():
    for delim, keys, want_keys, want_prefixes in (
        ("a", ["bar", "baz", "cab", "foo"], ["foo"], ["ba", "ca"]),
        ("%", ["b%ar", "b%az", "c%ab", "foo"], ["foo"], ["b%", "c%"]),
        (" ", ["b ar", "b az", "c ab", "foo"], ["foo"], ["b ", "c "]),
        (".", ["b.ar", "b.az", "c.ab", "foo"], ["foo"], ["b.", "c."]),
        ("\n", ["bar", "baz", "cab", "foo"], ["bar", "baz", "cab", "foo"], []),
        ("ab", ["xaby", "xabz", "ab", "b"], ["b"], ["ab", "xab"]),
    ):
        b = bucket_with(keys)
        for v2 in (False, True):
            r = lst(v2, b, Delimiter=delim)
            eq(r.get("Delimiter"), delim, "delimiter echo %r" % delim)
            eq((keys_of(r), prefixes_of(r)), (want_keys, want_prefixes), "delimiter %r v2=%s" % (delim, v2))
    b = bucket_with(["bar", "baz", "cab", "foo"])
    for v2 in (False, True):
        r = lst(v2, b, Delimiter="")
        truthy("Delimiter" not in r, "empty delimiter is not echoed")
        eq(keys_of(r), ["bar", "baz", "cab", "foo"], "keys")
        r = lst(v2, b)
        truthy("Delimiter" not in r, "no delimiter")
        r = lst(v2, b, Delimiter="/")
        eq((keys_of(r), prefixes_of(r)), (["bar", "baz", "cab", "foo"], []), "unused delimiter")


@check("list: prefix (basic, non-slash, empty, missing, unprintable) is echoed and filters")
def _():
    b = bucket_with(["foo/bar", "foo/baz", "quux"])
    b2 = bucket_with(["bar", "baz", "foo"])
    for v2 in (False, True):
        for bucket, prefix, want in ((b, "foo/", ["foo/bar", "foo/baz"]), (b2, "ba", ["bar", "baz"]),
                                     (b, "", ["foo/bar", "foo/baz", "quux"]), (b, "d", []), (b, "\n", [])):
            r = lst(v2, bucket, Prefix=prefix)
            eq(r["Prefix"], prefix, "prefix echo")
            eq((keys_of(r), prefixes_of(r)), (want, []), "prefix %r v2=%s" % (prefix, v2))


@check("list: prefix with delimiter combinations")
def _():
    b1 = bucket_with(["foo/bar", "foo/baz/xyzzy", "quux/thud", "asdf"])
    b2 = bucket_with(["bar", "bazar", "cab", "foo"])
    b3 = bucket_with(["b/a/r", "b/a/c", "b/a/g", "g"])
    for v2 in (False, True):
        for bucket, prefix, delim, keys, pres in (
            (b1, "foo/", "/", ["foo/bar"], ["foo/baz/"]),
            (b2, "ba", "a", ["bar"], ["baza"]),
            (b3, "/", "d", [], []),
            (b3, "b", "z", ["b/a/c", "b/a/g", "b/a/r"], []),
            (b3, "y", "z", [], []),
        ):
            r = lst(v2, bucket, Prefix=prefix, Delimiter=delim)
            eq((keys_of(r), prefixes_of(r)), (keys, pres), "prefix %r delimiter %r v2=%s" % (prefix, delim, v2))


@check("list: max-keys 1, 0, default 1000 and invalid (400 InvalidArgument)")
def _():
    names = ["bar", "baz", "foo", "quxx"]
    b = bucket_with(names)
    for v2 in (False, True):
        r = lst(v2, b, MaxKeys=1)
        eq((keys_of(r), r["IsTruncated"]), (names[:1], True), "max 1")
        r = lst(v2, b, **({"StartAfter": names[0]} if v2 else {"Marker": names[0]}))
        eq((keys_of(r), r["IsTruncated"]), (names[1:], False), "rest")
        r = lst(v2, b, MaxKeys=0)
        eq((keys_of(r), r["IsTruncated"]), ([], False), "max 0")
        r = lst(v2, b)
        eq((keys_of(r), r["IsTruncated"], r["MaxKeys"]), (names, False, 1000), "default")
    c = make_client()
    c.meta.events.register("before-call.s3.ListObjects",
                           lambda **kw: kw["params"].update(url=kw["params"]["url"] + "&max-keys=blah"))
    expect_error(400, "InvalidArgument", c.list_objects, Bucket=b)


@check("list: markers and start-after (empty, unprintable, not in list, after the list)")
def _():
    names = ["bar", "baz", "foo", "quxx"]
    b = bucket_with(names)
    eq(s3.list_objects(Bucket=b)["Marker"], "", "Marker when none")
    for v2 in (False, True):
        for marker, want in (("", names), ("\n", names), ("blah", ["foo", "quxx"]), ("zzz", [])):
            r = lst(v2, b, **({"StartAfter": marker} if v2 else {"Marker": marker}))
            eq(r["StartAfter" if v2 else "Marker"], marker, "echo %r" % marker)
            eq((keys_of(r), r["IsTruncated"]), (want, False), "marker %r v2=%s" % (marker, v2))


@check("list: V2 continuation tokens (empty token, echo, together with start-after)")
def _():
    names = ["bar", "baz", "foo", "quxx"]
    b = bucket_with(names)
    r = s3.list_objects_v2(Bucket=b, ContinuationToken="")
    eq((r.get("ContinuationToken"), keys_of(r), r["IsTruncated"]), ("", names, False), "empty token")
    t = s3.list_objects_v2(Bucket=b, MaxKeys=1)["NextContinuationToken"]
    r = s3.list_objects_v2(Bucket=b, ContinuationToken=t)
    eq((r["ContinuationToken"], keys_of(r), r["IsTruncated"]), (t, names[1:], False), "token")
    t = s3.list_objects_v2(Bucket=b, StartAfter="bar", MaxKeys=1)["NextContinuationToken"]
    r = s3.list_objects_v2(Bucket=b, StartAfter="bar", ContinuationToken=t)
    eq((r["ContinuationToken"], r["StartAfter"], keys_of(r)), (t, "bar", ["foo", "quxx"]), "token + start-after")
    expect_error(400, "InvalidArgument", s3.list_objects_v2, Bucket=b, ContinuationToken="garbage!")


@check("list: fetch-owner (V2 only when asked; V1 always has Owner matching the ACL owner)")
def _():
    b = bucket_with(["foo/bar", "foo/baz", "quux"])
    truthy("Owner" in s3.list_objects_v2(Bucket=b, FetchOwner=True)["Contents"][0], "owner when asked")
    truthy("Owner" not in s3.list_objects_v2(Bucket=b)["Contents"][0], "no owner by default")
    truthy("Owner" not in s3.list_objects_v2(Bucket=b, FetchOwner=False)["Contents"][0], "no owner when false")
    acl = s3.get_object_acl(Bucket=b, Key="quux")["Owner"]
    for o in s3.list_objects(Bucket=b)["Contents"]:
        eq((o["Owner"]["ID"], o["Owner"]["DisplayName"]), (acl["ID"], acl["DisplayName"]), "owner")


@check("list: entries agree with HEAD (ETag, Size, LastModified to the second)")
def _():
    b = bucket_with(["bar", "baz", "foo"])
    for o in s3.list_objects(Bucket=b)["Contents"]:
        h = s3.head_object(Bucket=b, Key=o["Key"])
        eq((o["ETag"], o["Size"]), (h["ETag"], h["ContentLength"]), "etag/size")
        eq(o["LastModified"].replace(microsecond=0), h["LastModified"], "last modified")
        eq(o["StorageClass"], "STANDARD", "storage class")


@check("list: a large prefix as one CommonPrefix next to keys with '#' and '+'")
def _():
    names = ["0/%d" % i for i in range(1000, 1060)] + ["1999", "1999#", "1999+", "2000"]
    b = bucket_with(names)
    s3.put_object(Bucket=b, Key="0/", Body=b"")
    r = s3.list_objects(Bucket=b, Delimiter="/")
    eq((keys_of(r), prefixes_of(r)), (["1999", "1999#", "1999+", "2000"], ["0/"]), "listing")


@check("list: paginating 1001 keys with the V1 and V2 paginators")
def _():
    b = new_bucket()
    for i in range(1001):
        s3.put_object(Bucket=b, Key="key-%d" % i, Body=b"")
    for op in ("list_objects", "list_objects_v2"):
        n = sum(len(p.get("Contents", [])) for p in s3.get_paginator(op).paginate(Bucket=b))
        eq(n, 1001, op)


# ---------------------------------------------------------------- multipart

def upload_parts(b, key, sizes, content_type=None, metadata=None, resend=()):
    kw = {}
    if content_type:
        kw["ContentType"] = content_type
    if metadata:
        kw["Metadata"] = metadata
    uid = s3.create_multipart_upload(Bucket=b, Key=key, **kw)["UploadId"]
    parts, data = [], b""
    for i, size in enumerate(sizes):
        chunk = bytes([65 + (i % 26)]) * size
        r = s3.upload_part(Bucket=b, Key=key, UploadId=uid, PartNumber=i + 1, Body=chunk)
        if i in resend:
            chunk = bytes([97 + (i % 26)]) * size
            r = s3.upload_part(Bucket=b, Key=key, UploadId=uid, PartNumber=i + 1, Body=chunk)
        parts.append({"ETag": r["ETag"], "PartNumber": i + 1})
        data += chunk
    return uid, parts, data


def mp_etag(parts_data):
    h = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts_data)).hexdigest()
    return '"%s-%d"' % (h, len(parts_data))


@check("multipart: complete gives md5-of-md5s-N ETag, size, content-type, metadata, content and ranges")
def _():
    b = new_bucket()
    sizes = [5 * MB, 5 * MB, 123]
    uid, parts, data = upload_parts(b, "mymultipart", sizes, "text/bla", {"foo": "bar"}, resend=(1,))
    r = s3.complete_multipart_upload(Bucket=b, Key="mymultipart", UploadId=uid, MultipartUpload={"Parts": parts})
    chunks = [data[0:5 * MB], data[5 * MB:10 * MB], data[10 * MB:]]
    eq(r["ETag"], mp_etag(chunks), "etag")
    g = s3.get_object(Bucket=b, Key="mymultipart")
    eq((g["ContentType"], g["Metadata"], g["ContentLength"]), ("text/bla", {"foo": "bar"}, len(data)), "head")
    eq(g["Body"].read() == data, True, "content")
    eq(s3.head_object(Bucket=b, Key="mymultipart")["ETag"], mp_etag(chunks), "head etag")
    r = s3.get_object(Bucket=b, Key="mymultipart", Range="bytes=5242870-5242889")
    eq(r["Body"].read(), data[5242870:5242890], "range across parts")
    eq([o["Size"] for o in s3.list_objects(Bucket=b)["Contents"]], [len(data)], "listed size")


@check("multipart: GET/HEAD by partNumber returns that part (206, PartsCount, whole-object ETag)")
def _():
    b = new_bucket()
    uid, parts, data = upload_parts(b, "k", [5 * MB, 5 * MB, 7])
    etag = s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=uid, MultipartUpload={"Parts": parts})["ETag"]
    offsets = [(0, 5 * MB), (5 * MB, 5 * MB), (10 * MB, 7)]
    for n, (start, size) in enumerate(offsets, 1):
        g = s3.get_object(Bucket=b, Key="k", PartNumber=n)
        eq((g["ResponseMetadata"]["HTTPStatusCode"], g["ContentLength"], g["PartsCount"], g["ETag"]),
           (206, size, 3, etag), "part %d" % n)
        eq(g["ContentRange"], "bytes %d-%d/%d" % (start, start + size - 1, len(data)), "range of part %d" % n)
        eq(g["Body"].read() == data[start:start + size], True, "content of part %d" % n)
        eq(s3.head_object(Bucket=b, Key="k", PartNumber=n)["ContentLength"], size, "head part %d" % n)
    expect_error(400, "InvalidPart", s3.get_object, Bucket=b, Key="k", PartNumber=4)
    s3.put_object(Bucket=b, Key="plain", Body=b"abc")
    eq(s3.get_object(Bucket=b, Key="plain", PartNumber=1)["Body"].read(), b"abc", "part 1 of a plain object")
    expect_error(400, "InvalidPart", s3.get_object, Bucket=b, Key="plain", PartNumber=2)


@check("multipart: completing twice answers the same result")
def _():
    b = new_bucket()
    uid, parts, _ = upload_parts(b, "mymultipart", [1])
    r1 = s3.complete_multipart_upload(Bucket=b, Key="mymultipart", UploadId=uid, MultipartUpload={"Parts": parts})
    r2 = s3.complete_multipart_upload(Bucket=b, Key="mymultipart", UploadId=uid, MultipartUpload={"Parts": parts})
    eq(r2["ETag"], r1["ETag"], "etag")
    eq(s3.head_object(Bucket=b, Key="mymultipart")["ContentLength"], 1, "length")


@check("multipart: complete without parts is 400 MalformedXML")
def _():
    b = new_bucket()
    uid = s3.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    expect_error(400, "MalformedXML", s3.complete_multipart_upload, Bucket=b, Key="k", UploadId=uid)
    expect_error(400, "MalformedXML", s3.complete_multipart_upload, Bucket=b, Key="k", UploadId=uid,
                 MultipartUpload={"Parts": []})


@check("multipart: parts below 5 MiB (not last) are 400 EntityTooSmall")
def _():
    b = new_bucket()
    uid, parts, _ = upload_parts(b, "k", [10 * 1024] * 10)
    expect_error(400, "EntityTooSmall", s3.complete_multipart_upload, Bucket=b, Key="k", UploadId=uid,
                 MultipartUpload={"Parts": parts})


@check("multipart: unknown part number or wrong ETag is 400 InvalidPart; descending order InvalidPartOrder")
def _():
    b = new_bucket()
    uid, parts, _ = upload_parts(b, "k", [5 * MB, 1])
    bad = [{"ETag": parts[0]["ETag"], "PartNumber": 9999}]
    expect_error(400, "InvalidPart", s3.complete_multipart_upload, Bucket=b, Key="k", UploadId=uid,
                 MultipartUpload={"Parts": bad})
    bad = [{"ETag": "ffffffffffffffffffffffffffffffff", "PartNumber": 1}]
    expect_error(400, "InvalidPart", s3.complete_multipart_upload, Bucket=b, Key="k", UploadId=uid,
                 MultipartUpload={"Parts": bad})
    expect_error(400, "InvalidPartOrder", s3.complete_multipart_upload, Bucket=b, Key="k", UploadId=uid,
                 MultipartUpload={"Parts": list(reversed(parts))})


@check("multipart: abort; then complete, upload part, list parts and abort are 404 NoSuchUpload")
def _():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="k", Body=b"old")
    uid, parts, _ = upload_parts(b, "k", [1])
    eq(s3.get_object(Bucket=b, Key="k")["Body"].read(), b"old", "object untouched while uploading")
    eq(s3.abort_multipart_upload(Bucket=b, Key="k", UploadId=uid)["ResponseMetadata"]["HTTPStatusCode"], 204,
       "abort status")
    eq(s3.get_object(Bucket=b, Key="k")["Body"].read(), b"old", "object untouched after abort")
    expect_error(404, "NoSuchUpload", s3.complete_multipart_upload, Bucket=b, Key="k", UploadId=uid,
                 MultipartUpload={"Parts": parts})
    expect_error(404, "NoSuchUpload", s3.upload_part, Bucket=b, Key="k", UploadId=uid, PartNumber=1, Body=b"x")
    expect_error(404, "NoSuchUpload", s3.list_parts, Bucket=b, Key="k", UploadId=uid)
    expect_error(404, "NoSuchUpload", s3.abort_multipart_upload, Bucket=b, Key="k", UploadId="56788")


@check("multipart: ListMultipartUploads and ListParts")
def _():
    b = new_bucket()
    u1 = s3.create_multipart_upload(Bucket=b, Key="mymultipart")["UploadId"]
    u2 = s3.create_multipart_upload(Bucket=b, Key="mymultipart")["UploadId"]
    u3 = s3.create_multipart_upload(Bucket=b, Key="mymultipart2")["UploadId"]
    r = s3.upload_part(Bucket=b, Key="mymultipart", UploadId=u1, PartNumber=2, Body=b"hello")
    ups = s3.list_multipart_uploads(Bucket=b)["Uploads"]
    eq(sorted(u["UploadId"] for u in ups), sorted([u1, u2, u3]), "upload ids")
    eq([u["Key"] for u in ups][-1], "mymultipart2", "sorted by key")
    truthy(all("ID" in u["Initiator"] and "ID" in u["Owner"] for u in ups), "initiator/owner")
    p = s3.list_parts(Bucket=b, Key="mymultipart", UploadId=u1)
    eq([(x["PartNumber"], x["ETag"], x["Size"]) for x in p["Parts"]], [(2, r["ETag"], 5)], "parts")
    for k, u in (("mymultipart", u1), ("mymultipart", u2), ("mymultipart2", u3)):
        s3.abort_multipart_upload(Bucket=b, Key=k, UploadId=u)
    truthy(not s3.list_multipart_uploads(Bucket=b).get("Uploads"), "no uploads left")


@check("multipart: overwriting an existing object; a part number out of range is 400 InvalidArgument")
def _():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="k", Body=b"12345")
    uid, parts, data = upload_parts(b, "k", [5 * MB, 5])
    s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=uid, MultipartUpload={"Parts": parts})
    eq(s3.get_object(Bucket=b, Key="k")["Body"].read() == data, True, "content")
    uid = s3.create_multipart_upload(Bucket=b, Key="k2")["UploadId"]
    expect_error(400, "InvalidArgument", s3.upload_part, Bucket=b, Key="k2", UploadId=uid, PartNumber=10001,
                 Body=b"x")


@check("upload part copy: ranges, whole source, bad ranges (InvalidRange / InvalidArgument)")
def _():
    b = new_bucket()
    src = bytes(random.getrandbits(8) for _ in range(4096)) * (11 * 256)  # 11 MiB
    s3.put_object(Bucket=b, Key="src", Body=src)
    uid = s3.create_multipart_upload(Bucket=b, Key="dst")["UploadId"]
    parts = []
    for i, start in enumerate(range(0, len(src), 5 * MB)):
        end = min(start + 5 * MB, len(src)) - 1
        r = s3.upload_part_copy(Bucket=b, Key="dst", UploadId=uid, PartNumber=i + 1,
                                CopySource={"Bucket": b, "Key": "src"}, CopySourceRange="bytes=%d-%d" % (start, end))
        parts.append({"ETag": r["CopyPartResult"]["ETag"], "PartNumber": i + 1})
    s3.complete_multipart_upload(Bucket=b, Key="dst", UploadId=uid, MultipartUpload={"Parts": parts})
    eq(s3.get_object(Bucket=b, Key="dst")["Body"].read() == src, True, "ranged copy content")
    s3.put_object(Bucket=b, Key="small", Body=b"0123456789")
    uid = s3.create_multipart_upload(Bucket=b, Key="d2")["UploadId"]
    r = s3.upload_part_copy(Bucket=b, Key="d2", UploadId=uid, PartNumber=1, CopySource={"Bucket": b, "Key": "small"})
    s3.complete_multipart_upload(Bucket=b, Key="d2", UploadId=uid,
                                 MultipartUpload={"Parts": [{"ETag": r["CopyPartResult"]["ETag"], "PartNumber": 1}]})
    eq(s3.get_object(Bucket=b, Key="d2")["Body"].read(), b"0123456789", "whole-source copy")
    uid = s3.create_multipart_upload(Bucket=b, Key="d3")["UploadId"]
    st, code, _ = err(s3.upload_part_copy, Bucket=b, Key="d3", UploadId=uid, PartNumber=1,
                      CopySource={"Bucket": b, "Key": "small"}, CopySourceRange="bytes=0-21")
    truthy(st in (400, 416) and code == "InvalidRange", "out of range: %s %s" % (st, code))
    for bad in ("0-2", "bytes=0", "bytes=hello-world", "bytes=0-bar", "bytes=hello-", "bytes=0-2,3-5"):
        expect_error(400, "InvalidArgument", s3.upload_part_copy, Bucket=b, Key="d3", UploadId=uid, PartNumber=1,
                     CopySource={"Bucket": b, "Key": "small"}, CopySourceRange=bad)


@check("upload part copy: source keys with special names")
def _():
    b = new_bucket()
    for k in (" ", "_", "__", "?versionId"):
        s3.put_object(Bucket=b, Key=k, Body=b"abc")
        uid = s3.create_multipart_upload(Bucket=b, Key="dst")["UploadId"]
        r = s3.upload_part_copy(Bucket=b, Key="dst", UploadId=uid, PartNumber=1, CopySource={"Bucket": b, "Key": k},
                                CopySourceRange="bytes=0-0")
        s3.complete_multipart_upload(Bucket=b, Key="dst", UploadId=uid,
                                     MultipartUpload={"Parts": [{"ETag": r["CopyPartResult"]["ETag"], "PartNumber": 1}]})
        eq(s3.get_object(Bucket=b, Key="dst")["Body"].read(), b"a", "copy of %r" % k)


# ---------------------------------------------------------------- tagging

def tagset(n):
    return {"TagSet": [{"Key": str(i), "Value": str(i)} for i in range(n)]}


@check("tagging: put/get, HEAD x-amz-tagging-count, replace, delete (204)")
def _():
    b = bucket_with(["k"])
    eq(s3.put_object_tagging(Bucket=b, Key="k", Tagging=tagset(2))["ResponseMetadata"]["HTTPStatusCode"], 200, "put")
    eq(s3.get_object_tagging(Bucket=b, Key="k")["TagSet"], tagset(2)["TagSet"], "get")
    eq(s3.head_object(Bucket=b, Key="k")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"], "2", "count")
    new = {"TagSet": [{"Key": "key3", "Value": "val3"}]}
    s3.put_object_tagging(Bucket=b, Key="k", Tagging=new)
    eq(s3.get_object_tagging(Bucket=b, Key="k")["TagSet"], new["TagSet"], "replaced")
    eq(s3.delete_object_tagging(Bucket=b, Key="k")["ResponseMetadata"]["HTTPStatusCode"], 204, "delete")
    eq(s3.get_object_tagging(Bucket=b, Key="k")["TagSet"], [], "deleted")


@check("tagging: limits (10 tags, 128-char keys, 256-char values) → 400 InvalidTag, nothing stored")
def _():
    b = bucket_with(["k"])
    s3.put_object_tagging(Bucket=b, Key="k", Tagging=tagset(10))
    eq(len(s3.get_object_tagging(Bucket=b, Key="k")["TagSet"]), 10, "ten tags")
    s3.delete_object_tagging(Bucket=b, Key="k")
    for bad in (tagset(11), {"TagSet": [{"Key": "k" * 129, "Value": "v"}]},
                {"TagSet": [{"Key": "k", "Value": "v" * 257}]}):
        expect_error(400, "InvalidTag", s3.put_object_tagging, Bucket=b, Key="k", Tagging=bad)
        eq(s3.get_object_tagging(Bucket=b, Key="k")["TagSet"], [], "nothing stored")
    ok = {"TagSet": [{"Key": "k" * 128, "Value": "v" * 256}]}
    s3.put_object_tagging(Bucket=b, Key="k", Tagging=ok)


@check("tagging: x-amz-tagging on PUT ('foo=bar&bar' → bar='' and foo='bar')")
def _():
    b = new_bucket()
    c = make_client()
    add_headers(c, "PutObject", {"x-amz-tagging": "foo=bar&bar"})
    c.put_object(Bucket=b, Key="k", Body=b"A" * 100)
    eq(s3.get_object_tagging(Bucket=b, Key="k")["TagSet"],
       [{"Key": "bar", "Value": ""}, {"Key": "foo", "Value": "bar"}], "tags")


@check("tagging: bucket tags put/get/delete (204), NoSuchTagSet, 50-tag limit, aws: keys refused")
def _():
    b = new_bucket()
    expect_error(404, "NoSuchTagSet", s3.get_bucket_tagging, Bucket=b)
    eq(s3.put_bucket_tagging(Bucket=b, Tagging=tagset(2))["ResponseMetadata"]["HTTPStatusCode"], 204, "put")
    eq(s3.get_bucket_tagging(Bucket=b)["TagSet"], tagset(2)["TagSet"], "get")
    s3.put_bucket_tagging(Bucket=b, Tagging=tagset(50))
    eq(len(s3.get_bucket_tagging(Bucket=b)["TagSet"]), 50, "fifty tags")
    expect_error(400, "InvalidTag", s3.put_bucket_tagging, Bucket=b, Tagging=tagset(51))
    expect_error(400, "InvalidTag", s3.put_bucket_tagging, Bucket=b,
                 Tagging={"TagSet": [{"Key": "aws:x", "Value": "v"}]})
    eq(s3.delete_bucket_tagging(Bucket=b)["ResponseMetadata"]["HTTPStatusCode"], 204, "delete")
    expect_error(404, "NoSuchTagSet", s3.get_bucket_tagging, Bucket=b)
    s3.head_bucket(Bucket=b)


@check("tagging: on a missing key is 404 NoSuchKey")
def _():
    b = new_bucket()
    expect_error(404, "NoSuchKey", s3.get_object_tagging, Bucket=b, Key="nope")
    expect_error(404, "NoSuchKey", s3.put_object_tagging, Bucket=b, Key="nope", Tagging=tagset(1))


# ---------------------------------------------------------------- acl (read-only)

@check("acl: GetBucketAcl / GetObjectAcl answer the owner with FULL_CONTROL")
def _():
    b = bucket_with(["foo"])
    for r in (s3.get_bucket_acl(Bucket=b), s3.get_object_acl(Bucket=b, Key="foo")):
        eq([(g["Permission"], g["Grantee"]["Type"]) for g in r["Grants"]], [("FULL_CONTROL", "CanonicalUser")], "grants")
        eq(r["Grants"][0]["Grantee"]["ID"], r["Owner"]["ID"], "grantee is owner")
    expect_error(404, "NoSuchKey", s3.get_object_acl, Bucket=b, Key="nope")


@check("acl: PutBucketAcl/PutObjectAcl accept canned ACLs (private, public-read…); bad canned ACL 400")
def _():
    b = new_bucket_name()
    s3.create_bucket(Bucket=b, ACL="private")
    s3.put_object(Bucket=b, Key="foo", Body=b"x", ACL="private")
    eq(s3.put_bucket_acl(Bucket=b, ACL="private")["ResponseMetadata"]["HTTPStatusCode"], 200, "bucket private")
    eq(s3.put_object_acl(Bucket=b, Key="foo", ACL="private")["ResponseMetadata"]["HTTPStatusCode"], 200,
       "object private")
    eq(s3.put_object_acl(Bucket=b, Key="foo", ACL="public-read-write")["ResponseMetadata"]["HTTPStatusCode"],
       200, "object public-read-write")
    eq(s3.put_bucket_acl(Bucket=b, ACL="public-read")["ResponseMetadata"]["HTTPStatusCode"], 200,
       "bucket public-read")
    expect_error(404, "NoSuchKey", s3.put_object_acl, Bucket=b, Key="nope", ACL="private")
    c = make_client()
    add_headers(c, "PutBucketAcl", {"x-amz-acl": "public-ready"})
    st, _, _ = err(c.put_bucket_acl, Bucket=b, ACL="public-read")
    eq(st, 400, "bad canned acl")


@check("acl: a canned ACL header on PUT/CreateBucket is stored: public-read is readable anonymously, private is not")
def _():
    b = new_bucket_name()
    s3.create_bucket(Bucket=b, ACL="public-read")
    s3.put_object(Bucket=b, Key="foo", Body=b"x", ACL="public-read")
    s3.put_object(Bucket=b, Key="bar", Body=b"y")
    eq(make_client(signed=False).get_object(Bucket=b, Key="foo")["Body"].read(), b"x", "anonymous reads public-read")
    expect_error(403, "AccessDenied", make_client(signed=False).get_object, Bucket=b, Key="bar")
    eq(s3.get_object(Bucket=b, Key="foo")["Body"].read(), b"x", "owner reads")


# ---------------------------------------------------------------- versions (unversioned buckets)

@check("versions: ListObjectVersions lists each object as VersionId null; batch cleanup empties the bucket")
def _():
    b = bucket_with(["a", "b", "c/d", "c/e", "f"])
    eq(s3.get_bucket_versioning(Bucket=b).get("Status"), None, "versioning status")
    r = s3.list_object_versions(Bucket=b, Delimiter="/")
    eq(([v["Key"] for v in r.get("Versions", [])], prefixes_of(r)), (["a", "b", "f"], ["c/"]), "delimiter")
    seen, kw, truncated = [], {"Bucket": b, "MaxKeys": 2}, True
    while truncated:
        r = s3.list_object_versions(**kw)
        for v in r.get("Versions", []):
            eq((v["VersionId"], v["IsLatest"]), ("null", True), "version of %s" % v["Key"])
            truthy(v["ETag"] and "Size" in v and "ID" in v["Owner"], "version fields")
        truthy(not r.get("DeleteMarkers"), "no delete markers")
        seen += [v["Key"] for v in r.get("Versions", [])]
        truncated = r["IsTruncated"]
        kw["KeyMarker"], kw["VersionIdMarker"] = r.get("NextKeyMarker"), r.get("NextVersionIdMarker")
        if truncated:
            s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": v["Key"], "VersionId": v["VersionId"]}
                                                            for v in r.get("Versions", [])], "Quiet": True},
                              BypassGovernanceRetention=True)
    eq(seen, ["a", "b", "c/d", "c/e", "f"], "listed versions")
    s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "f", "VersionId": "null"}], "Quiet": True})
    truthy("Versions" not in s3.list_object_versions(Bucket=b), "empty")
    s3.delete_bucket(Bucket=b)


@check("versions: versionId=null addresses the object; any other versionId is 400 InvalidArgument")
def _():
    b = bucket_with(["k"])
    eq(s3.get_object(Bucket=b, Key="k", VersionId="null")["Body"].read(), b"k", "null version")
    expect_error(400, "InvalidArgument", s3.get_object, Bucket=b, Key="k", VersionId="3sL4kqtJlcpXroDTDmJ")
    r = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "k", "VersionId": "3sL4kqtJlcpXroDTDmJ"}]})
    eq([e["Code"] for e in r.get("Errors", [])], ["NoSuchVersion"], "other version in DeleteObjects")
    s3.delete_object(Bucket=b, Key="k", VersionId="null")
    expect_error(404, "NoSuchKey", s3.get_object, Bucket=b, Key="k")


@check("object: a PUT declaring more than 5 GiB is 400 EntityTooLarge")
def _():
    b = new_bucket()
    u = urllib.parse.urlparse(presign("PUT", b, "huge", 100))
    st, _, body = raw("PUT", u.path + "?" + u.query, {"Content-Length": str(6 * 1024 ** 3)})
    eq((st, error_code(body)), (400, "EntityTooLarge"), "answer")


# ---------------------------------------------------------------- run

# ---------------------------------------------------------------- additional checksums

def _crc_reflected(poly, width):
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    mask = (1 << width) - 1

    def crc(data):
        c = mask
        for byte in data:
            c = (c >> 8) ^ table[(c ^ byte) & 0xFF]
        return (c ^ mask).to_bytes(width // 8, "big")
    return crc


_CRC32C = _crc_reflected(0x82F63B78, 32)
_CRC64NVME = _crc_reflected(0x9A6C9329AC4BC9B5, 64)


def cksum(alg, data):
    """base64 of the big-endian digest, as S3 sends x-amz-checksum-<alg>."""
    if alg == "crc32":
        import zlib
        raw = (zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big")
    elif alg == "crc32c":
        raw = _CRC32C(data)
    elif alg == "crc64nvme":
        raw = _CRC64NVME(data)
    else:
        raw = hashlib.new(alg, data).digest()
    return base64.b64encode(raw).decode()


@check("checksums: CRC32C / CRC64NVME reference values ('123456789')")
def _():
    eq(_CRC32C(b"123456789").hex(), "e3069283", "crc32c")
    eq(_CRC64NVME(b"123456789").hex(), "ae8b14860a799888", "crc64nvme")


@check("checksums: PutObject ChecksumAlgorithm SHA256/SHA1/CRC32 → answered; HEAD/GET return it only with ChecksumMode")
def _():
    b = new_bucket()
    body = b"checksummed body " * 100
    for alg, field in (("sha256", "ChecksumSHA256"), ("sha1", "ChecksumSHA1"), ("crc32", "ChecksumCRC32")):
        k = "o-" + alg
        put = s3.put_object(Bucket=b, Key=k, Body=body, ChecksumAlgorithm=alg.upper())
        eq(put.get(field), cksum(alg, body), "%s in the PUT answer" % alg)
        eq(s3.head_object(Bucket=b, Key=k, ChecksumMode="ENABLED").get(field), cksum(alg, body), "HEAD " + alg)
        got = s3.get_object(Bucket=b, Key=k, ChecksumMode="ENABLED")
        eq(got.get(field), cksum(alg, body), "GET " + alg)
        eq(got["Body"].read(), body, "body")
        eq(s3.head_object(Bucket=b, Key=k).get(field), None, "HEAD without checksum mode")
        ranged = s3.get_object(Bucket=b, Key=k, ChecksumMode="ENABLED", Range="bytes=0-3")
        eq(ranged.get(field), None, "ranged GET")
        ranged["Body"].read()


@check("checksums: CRC32C and CRC64NVME x-amz-checksum-* headers are verified and stored")
def _():
    b = new_bucket()
    body = b"castagnoli and nvme"
    for alg in ("crc32c", "crc64nvme"):
        c = make_client()
        add_headers(c, "PutObject", {"x-amz-checksum-" + alg: cksum(alg, body)})
        c.put_object(Bucket=b, Key=alg, Body=body)
        c2 = make_client()
        seen = {}
        on(c2, "after-call.s3.HeadObject", lambda http_response, **kw: seen.update(http_response.headers))
        c2.head_object(Bucket=b, Key=alg, ChecksumMode="ENABLED")
        eq(seen.get("x-amz-checksum-" + alg), cksum(alg, body), "stored " + alg)
        bad = make_client()
        add_headers(bad, "PutObject", {"x-amz-checksum-" + alg: cksum(alg, b"other")})
        expect_error(400, "BadDigest", bad.put_object, Bucket=b, Key=alg + "-bad", Body=body)
        expect_error(404, None, s3.head_object, Bucket=b, Key=alg + "-bad")


@check("checksums: a wrong checksum is 400 BadDigest (nothing stored, old object kept); malformed is InvalidRequest")
def _():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="k", Body=b"old")
    expect_error(400, "BadDigest", s3.put_object, Bucket=b, Key="k", Body=b"new",
                 ChecksumSHA256=cksum("sha256", b"different"))
    eq(s3.get_object(Bucket=b, Key="k")["Body"].read(), b"old", "old object kept")
    expect_error(400, "BadDigest", s3.put_object, Bucket=b, Key="n", Body=b"new", ChecksumCRC32=cksum("crc32", b"x"))
    expect_error(404, None, s3.head_object, Bucket=b, Key="n")
    expect_error(400, "InvalidRequest", s3.put_object, Bucket=b, Key="n", Body=b"new", ChecksumSHA1="AAAA")


@check("checksums: multipart COMPOSITE SHA256: UploadPart, ListParts, Complete, HEAD (-N, COMPOSITE)")
def _():
    b = new_bucket()
    data = [b"a" * (5 * MB), b"tail part"]
    up = s3.create_multipart_upload(Bucket=b, Key="mp", ChecksumAlgorithm="SHA256")
    uid = up["UploadId"]
    parts = []
    for i, d in enumerate(data):
        r = s3.upload_part(Bucket=b, Key="mp", UploadId=uid, PartNumber=i + 1, Body=d, ChecksumAlgorithm="SHA256")
        eq(r.get("ChecksumSHA256"), cksum("sha256", d), "part %d checksum" % (i + 1))
        parts.append({"PartNumber": i + 1, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]})
    listed = s3.list_parts(Bucket=b, Key="mp", UploadId=uid)
    eq([p.get("ChecksumSHA256") for p in listed["Parts"]], [p["ChecksumSHA256"] for p in parts], "ListParts")
    wrong = [dict(parts[0], ChecksumSHA256=cksum("sha256", b"no")), parts[1]]
    expect_error(400, "InvalidPart", s3.complete_multipart_upload, Bucket=b, Key="mp", UploadId=uid,
                 MultipartUpload={"Parts": wrong})
    done = s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts})
    joined = b"".join(base64.b64decode(p["ChecksumSHA256"]) for p in parts)
    want = base64.b64encode(hashlib.sha256(joined).digest()).decode() + "-2"
    eq(done.get("ChecksumSHA256"), want, "Complete answer")
    head = s3.head_object(Bucket=b, Key="mp", ChecksumMode="ENABLED")
    eq(head.get("ChecksumSHA256"), want, "HEAD")
    eq(head["ResponseMetadata"]["HTTPHeaders"].get("x-amz-checksum-type"), "COMPOSITE", "checksum type")


def main():
    ok_count = 0
    for name, fn, known in CHECKS:
        if ONLY and ONLY not in name:
            continue
        t0 = time.time()
        try:
            fn()
            res = {"name": name, "ok": True, "detail": ""}
        except Fail as e:
            res = {"name": name, "ok": False, "detail": str(e)}
        except Exception as e:  # an unexpected exception is a failure with its traceback tail
            tb = traceback.format_exc().strip().splitlines()
            res = {"name": name, "ok": False, "detail": "%s: %s | %s" % (type(e).__name__, e, " / ".join(tb[-4:]))}
        res["known"] = known
        res["ms"] = int((time.time() - t0) * 1000)
        ok_count += res["ok"]
        print(json.dumps(res), flush=True)


main()
