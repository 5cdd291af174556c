"""Browser-form (POST) uploads to the Strata S3 gateway as an application would make them: the
form fields from Debian python3-boto3's generate_presigned_post, the multipart/form-data body
built and sent with urllib (no S3 library on the wire). Prints one JSON object of results.

Usage: post_boto3.py ENDPOINT KEY_ID SECRET BUCKET BIG_MIB
"""
import base64
import datetime
import hashlib
import hmac
import json
import sys
import urllib.error
import urllib.request
import uuid

import boto3
from s3py import client

endpoint, key_id, secret, bucket, big_mib = sys.argv[1:6]
s3 = client(endpoint, key_id, secret)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


opener = urllib.request.build_opener(NoRedirect)


def form_parts(fields, filename, content):
    """The multipart body as a list of byte strings (the file part last, as S3 requires)."""
    boundary = "----strata" + uuid.uuid4().hex
    head = []
    for name, value in fields.items():
        head.append(
            ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (boundary, name, value)).encode()
        )
    head.append(
        (
            "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n" % (boundary, filename)
        ).encode()
    )
    tail = ("\r\n--%s--\r\n" % boundary).encode()
    return boundary, b"".join(head), tail


def post(presigned, filename, content, tamper=None):
    """POSTs the form; `content` is bytes or (size, chunk generator) for a streamed body."""
    fields = dict(presigned["fields"])
    if tamper:
        fields.update(tamper)
    boundary, head, tail = form_parts(fields, filename, content)
    if isinstance(content, bytes):
        data = head + content + tail
        length = len(data)
    else:
        size, chunks = content
        length = len(head) + size + len(tail)

        def gen():
            yield head
            yield from chunks
            yield tail

        data = gen()
    req = urllib.request.Request(presigned["url"], data=data, method="POST")
    req.add_header("Content-Type", "multipart/form-data; boundary=" + boundary)
    req.add_header("Content-Length", str(length))
    try:
        r = opener.open(req, timeout=300)
        return {"status": r.status, "headers": {k.lower(): v for k, v in r.headers.items()}, "body": r.read().decode()}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "headers": {k.lower(): v for k, v in e.headers.items()}, "body": e.read().decode()}


out = {}

# 201 with the PostResponse XML; the key from ${filename}; metadata and content type from fields.
p = s3.generate_presigned_post(
    bucket,
    "uploads/${filename}",
    Fields={"Content-Type": "text/plain", "x-amz-meta-owner": "ana", "success_action_status": "201"},
    Conditions=[
        {"Content-Type": "text/plain"},
        {"x-amz-meta-owner": "ana"},
        {"success_action_status": "201"},
        ["content-length-range", 1, 1048576],
    ],
    ExpiresIn=600,
)
out["fields"] = sorted(p["fields"].keys())
out["created"] = post(p, "notes.txt", b"hello from a form")
o = s3.get_object(Bucket=bucket, Key="uploads/notes.txt")
out["created_get"] = {
    "body": o["Body"].read().decode(),
    "type": o["ContentType"],
    "meta": o["Metadata"],
    "etag": o["ETag"],
}
out["md5"] = '"%s"' % hashlib.md5(b"hello from a form").hexdigest()

# success_action_redirect: 303 to it with bucket, key and etag.
p = s3.generate_presigned_post(
    bucket,
    "redirected.txt",
    Fields={"success_action_redirect": "http://app.example/done?x=1"},
    Conditions=[{"success_action_redirect": "http://app.example/done?x=1"}],
)
out["redirect"] = post(p, "r.txt", b"redirected")

# Default: 204, and the policy's content-length-range on both sides (the old object stays).
ranged = s3.generate_presigned_post(bucket, "ranged.bin", Conditions=[["content-length-range", 5, 10]])
out["no_content"] = post(ranged, "x", b"12345")
out["too_large"] = post(ranged, "x", b"12345678901")
out["too_small"] = post(ranged, "x", b"1234")
out["ranged_after"] = s3.get_object(Bucket=bucket, Key="ranged.bin")["Body"].read().decode()

# What the policy does not allow, expired policies and a wrong signature.
p = s3.generate_presigned_post(bucket, "fixed.txt")
out["other_key"] = post(p, "x", b"data", tamper={"key": "elsewhere.txt"})
out["extra_field"] = post(p, "x", b"data", tamper={"x-amz-meta-sneaky": "1"})
out["bad_signature"] = post(p, "x", b"data", tamper={"x-amz-signature": "0" * 64})
out["expired"] = post(s3.generate_presigned_post(bucket, "late.txt", ExpiresIn=-60), "x", b"data")
out["fixed_ok"] = post(p, "x", b"data")

# An x-amz-checksum-sha256 field is verified as the file streams (wrong: BadDigest, nothing stored).
digest = base64.b64encode(hashlib.sha256(b"checked data").digest()).decode()
p = s3.generate_presigned_post(
    bucket, "checked.txt", Fields={"x-amz-checksum-sha256": digest}, Conditions=[{"x-amz-checksum-sha256": digest}]
)
out["checksum_ok"] = post(p, "x", b"checked data")
out["checksum_bad"] = post(p, "x", b"other data")
out["checksum_head"] = s3.head_object(Bucket=bucket, Key="checked.txt", ChecksumMode="ENABLED").get("ChecksumSHA256")
out["checksum_expected"] = digest

# Signature Version 2 forms, as ceph's s3-tests make them (AWSAccessKeyId, base64 HMAC-SHA1).

def v2_form(conditions, fields):
    expiration = (datetime.datetime.utcnow() + datetime.timedelta(minutes=100)).strftime("%Y-%m-%dT%H:%M:%SZ")
    policy = base64.b64encode(json.dumps({"expiration": expiration, "conditions": conditions}).encode()).decode()
    signature = base64.b64encode(hmac.new(secret.encode(), policy.encode(), hashlib.sha1).digest()).decode()
    return {
        "url": "%s/%s" % (endpoint, bucket),
        "fields": dict(fields, AWSAccessKeyId=key_id, signature=signature, policy=policy),
    }


v2_conditions = [
    {"bucket": bucket},
    ["starts-with", "$key", "v2/"],
    {"acl": "private"},
    ["starts-with", "$Content-Type", "text/plain"],
    ["content-length-range", 0, 1024],
]
v2 = v2_form(v2_conditions, {"key": "v2/${filename}", "acl": "private", "Content-Type": "text/plain"})
out["v2_ok"] = post(v2, "v2.txt", b"signed the old way")
out["v2_get"] = s3.get_object(Bucket=bucket, Key="v2/v2.txt")["Body"].read().decode()
out["v2_bad_signature"] = post(v2, "v2.txt", b"x", tamper={"signature": v2["fields"]["signature"][::-1]})
out["v2_no_bucket_condition"] = post(
    v2_form(v2_conditions[1:], {"key": "v2/a", "acl": "private", "Content-Type": "text/plain"}), "a", b"x"
)

# A large file streamed through the gateway (never held whole by the client or the gateway).
size = int(big_mib) * 1024 * 1024
chunk = bytes(range(256)) * 4096  # 1 MiB
p = s3.generate_presigned_post(bucket, "big.bin", Conditions=[["content-length-range", 0, size]])
big = post(p, "big.bin", (size, (chunk for _ in range(size // len(chunk)))))
expected = hashlib.md5()
for _ in range(size // len(chunk)):
    expected.update(chunk)
out["big"] = {"status": big["status"], "etag": big["headers"].get("etag"), "md5": '"%s"' % expected.hexdigest()}
out["big_head"] = s3.head_object(Bucket=bucket, Key="big.bin")["ContentLength"]

print(json.dumps(out))
