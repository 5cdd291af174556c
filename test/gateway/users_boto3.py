"""Runs S3 calls as one user with Debian's python3-boto3.

argv: endpoint, access key id, secret. stdin: a JSON list of [operation, {params}] (boto3 client
method names). Prints a JSON list with one entry per call: "ok", the call's useful result (a
body read as text, bucket names), or "<HTTP status> <error code>".
"""
import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, key_id, secret = sys.argv[1:4]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    aws_access_key_id=key_id,
    aws_secret_access_key=secret,
    region_name="us-east-1",
    config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 1}),
)
out = []
for op, params in json.load(sys.stdin):
    try:
        r = getattr(s3, op)(**params)
        if op == "get_object":
            out.append(r["Body"].read().decode())
        elif op == "list_buckets":
            out.append(sorted(b["Name"] for b in r["Buckets"]))
        elif op == "list_objects_v2":
            out.append([c["Key"] for c in r.get("Contents", [])])
        else:
            out.append("ok")
    except ClientError as e:
        out.append("%s %s" % (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]))
print(json.dumps(out))
