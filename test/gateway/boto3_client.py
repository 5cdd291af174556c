"""Drives the Strata S3 gateway with Debian's python3-boto3; prints one JSON object of results."""
import hashlib
import json
import sys
import urllib.request

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError
from s3py import client

endpoint, key_id, secret, workdir = sys.argv[1:5]
s3 = client(endpoint, key_id, secret)
out = {}
s3.create_bucket(Bucket="boto")
r = s3.put_object(Bucket="boto", Key="hello/world.txt", Body=b"hello boto", ContentType="text/plain", Metadata={"who": "boto"})
out["put_etag"] = r["ETag"]
out["md5"] = '"%s"' % hashlib.md5(b"hello boto").hexdigest()
g = s3.get_object(Bucket="boto", Key="hello/world.txt", Range="bytes=6-")
out["range_body"] = g["Body"].read().decode()
out["range_cr"] = g["ContentRange"]
h = s3.head_object(Bucket="boto", Key="hello/world.txt")
out["head_meta"] = h["Metadata"]
out["head_ct"] = h["ContentType"]

# multipart through the transfer manager (5 MiB parts)
data = bytes(range(256)) * (12 * 1024 * 1024 // 256)
path = workdir + "/boto-big.bin"
with open(path, "wb") as f:
    f.write(data)
cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
s3.upload_file(path, "boto", "big/data.bin", Config=cfg)
hb = s3.head_object(Bucket="boto", Key="big/data.bin")
out["big_etag"] = hb["ETag"]
out["big_len"] = hb["ContentLength"]
got = s3.get_object(Bucket="boto", Key="big/data.bin")["Body"].read()
out["big_ok"] = got == data

# copy, tagging, list with url encoding (botocore decodes keys)
s3.copy_object(Bucket="boto", Key="copy/a b+c.txt", CopySource={"Bucket": "boto", "Key": "hello/world.txt"})
s3.put_object_tagging(Bucket="boto", Key="copy/a b+c.txt", Tagging={"TagSet": [{"Key": "t", "Value": "1"}]})
out["tags"] = s3.get_object_tagging(Bucket="boto", Key="copy/a b+c.txt")["TagSet"]
# botocore asks for encoding-type=url itself and decodes the keys
lst = s3.list_objects_v2(Bucket="boto", Prefix="copy/")
out["listed"] = [c["Key"] for c in lst.get("Contents", [])]
pages = s3.get_paginator("list_objects").paginate(Bucket="boto", PaginationConfig={"PageSize": 1})
out["paged"] = [c["Key"] for p in pages for c in p.get("Contents", [])]

# presigned GET
url = s3.generate_presigned_url("get_object", Params={"Bucket": "boto", "Key": "hello/world.txt"}, ExpiresIn=60)
out["presigned"] = urllib.request.urlopen(url).read().decode()

# errors
try:
    s3.get_object(Bucket="boto", Key="nope")
except ClientError as e:
    out["missing"] = e.response["Error"]["Code"]
bad = boto3.client(
    "s3", endpoint_url=endpoint, aws_access_key_id=key_id, aws_secret_access_key="wrong",
    region_name="us-east-1", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
)
try:
    bad.list_buckets()
except ClientError as e:
    out["wrong_secret"] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]

d = s3.delete_objects(Bucket="boto", Delete={"Objects": [{"Key": "hello/world.txt"}, {"Key": "copy/a b+c.txt"}]})
out["deleted"] = sorted(x["Key"] for x in d.get("Deleted", []))
print(json.dumps(out))
