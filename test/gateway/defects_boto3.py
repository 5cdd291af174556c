"""Issue 18's S3 defects through Debian's python3-boto3; prints one JSON object of results."""
import json
import sys
import urllib.error
import urllib.request
from s3py import client, code


endpoint, key_id, secret = sys.argv[1:4]
s3 = client(endpoint, key_id, secret)
out = {}


def status(url):
    try:
        return urllib.request.urlopen(url).status
    except urllib.error.HTTPError as e:
        return e.code


s3.create_bucket(Bucket="bdef")
# 1. non-ASCII metadata: botocore sends latin-1 bytes and signs the code points as UTF-8
# botocore refuses non-ASCII Metadata itself; the conformance suite sets the header in a hook
def unicode_meta(params, **kwargs):
    params["headers"]["x-amz-meta-k"] = "Hello World\xe9"


s3.meta.events.register("before-call.s3.PutObject", unicode_meta)
out["meta_put"] = code(lambda: s3.put_object(Bucket="bdef", Key="m", Body=b"x"))
s3.meta.events.unregister("before-call.s3.PutObject", unicode_meta)
out["meta_get"] = s3.head_object(Bucket="bdef", Key="m")["Metadata"].get("k") if out["meta_put"] == "ok" else None
# 2. GetObjectAttributes
s3.put_object(Bucket="bdef", Key="attr", Body=b"hello attributes", ChecksumAlgorithm="SHA256")
try:
    a = s3.get_object_attributes(Bucket="bdef", Key="attr", ObjectAttributes=["ETag", "Checksum", "ObjectSize", "StorageClass"])
    out["attr"] = {k: a.get(k) for k in ("ETag", "Checksum", "ObjectSize", "StorageClass", "ObjectParts")}
except Exception as e:  # a response that is not XML fails in the parser
    out["attr"] = "error: %s" % type(e).__name__
# 3./4. CreateBucket with a LocationConstraint, then again by the owner
out["create_loc"] = code(lambda: s3.create_bucket(Bucket="bloc", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}))
out["create_again"] = code(lambda: s3.create_bucket(Bucket="bloc"))
# 5. presigned URLs: long lifetimes that have not expired, and a deleted object
for secs in (100000, 604800):
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "bdef", "Key": "m"}, ExpiresIn=secs)
    out["presign_%d" % secs] = status(url)
s3.put_object(Bucket="bdef", Key="gone", Body=b"soon gone")
url = s3.generate_presigned_url("get_object", Params={"Bucket": "bdef", "Key": "gone"}, ExpiresIn=60)
out["presign_before_delete"] = status(url)
s3.delete_object(Bucket="bdef", Key="gone")
out["presign_deleted"] = status(url)
# 7. Content-Encoding exactly as stored
s3.put_object(Bucket="bdef", Key="enc", Body=b"x", ContentEncoding="deflate, gzip")
out["content_encoding"] = s3.head_object(Bucket="bdef", Key="enc")["ContentEncoding"]
print(json.dumps(out))
