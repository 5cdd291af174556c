"""Runs S3 calls as one user with Debian's python3-boto3.

argv: endpoint, access key id, secret. stdin: a JSON list of [operation, {params}] (boto3 client
method names). Prints a JSON list with one entry per call: "ok", the call's useful result (a
body read as text, bucket names), or "<HTTP status> <error code>".
"""
import json
import sys

import boto3
from botocore.exceptions import ClientError
from s3py import client

endpoint, key_id, secret = sys.argv[1:4]
s3 = client(endpoint, key_id, secret)
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
