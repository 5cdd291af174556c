"""Presigned requests for the Chromium tests, made by Debian python3-boto3 as an application
server would make them for its web page: a POST form (generate_presigned_post) and presigned
GET and PUT URLs. Prints one JSON object.

Usage: browser_presign.py ENDPOINT KEY_ID SECRET BUCKET REDIRECT GET_KEY PUT_KEY
"""
import json
import sys
from s3py import client


endpoint, key_id, secret, bucket, redirect, get_key, put_key = sys.argv[1:8]
s3 = client(endpoint, key_id, secret)
post = s3.generate_presigned_post(
    bucket,
    "browser/${filename}",
    Fields={"success_action_redirect": redirect, "x-amz-meta-from": "chromium"},
    Conditions=[
        {"success_action_redirect": redirect},
        {"x-amz-meta-from": "chromium"},
        ["starts-with", "$Content-Type", "text/"],
        ["content-length-range", 1, 10 * 1024 * 1024],
    ],
    ExpiresIn=600,
)
# For a script's fetch() of a FormData (no navigation): the 201 PostResponse is its answer.
post201 = s3.generate_presigned_post(
    bucket,
    "fetched/${filename}",
    Fields={"success_action_status": "201"},
    Conditions=[{"success_action_status": "201"}],
    ExpiresIn=600,
)
print(
    json.dumps(
        {
            "post": post,
            "post201": post201,
            "get": s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": get_key}, ExpiresIn=600),
            "put": s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": put_key}, ExpiresIn=600),
        }
    )
)
