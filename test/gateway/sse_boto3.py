"""Server-side encryption through Debian's python3-boto3; prints one JSON object of results.

argv: endpoint key_id secret bucket kms_key_id
"""
import base64
import hashlib
import json
import os
import sys
from s3py import client, code


endpoint, key_id, secret, bucket, kms_key = sys.argv[1:6]
s3 = client(endpoint, key_id, secret)
out = {}


key1 = os.urandom(32)
key2 = os.urandom(32)
ssec1 = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key1}
ssec2 = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key2}
body = b"SSE-C-PLAINTEXT-" * 10000  # 160,000 bytes: three 64 KiB chunks

put = s3.put_object(Bucket=bucket, Key="c/obj", Body=body, **ssec1)
out["put_alg"] = put.get("SSECustomerAlgorithm")
out["put_key_md5"] = put.get("SSECustomerKeyMD5")
out["key1_md5"] = base64.b64encode(hashlib.md5(key1).digest()).decode()
out["put_etag_is_md5"] = put["ETag"].strip('"') == hashlib.md5(body).hexdigest()

got = s3.get_object(Bucket=bucket, Key="c/obj", **ssec1)
out["get_equal"] = got["Body"].read() == body
out["get_alg"] = got.get("SSECustomerAlgorithm")
head = s3.head_object(Bucket=bucket, Key="c/obj", **ssec1)
out["head_length"] = head["ContentLength"]
out["head_key_md5"] = head.get("SSECustomerKeyMD5")

# A range across a chunk boundary, and a suffix range.
r = s3.get_object(Bucket=bucket, Key="c/obj", Range="bytes=65530-65545", **ssec1)
out["range_equal"] = r["Body"].read() == body[65530:65546]
out["range_header"] = r["ContentRange"]
r = s3.get_object(Bucket=bucket, Key="c/obj", Range="bytes=-5", **ssec1)
out["suffix_equal"] = r["Body"].read() == body[-5:]

out["get_no_key"] = code(lambda: s3.get_object(Bucket=bucket, Key="c/obj"))
out["head_no_key"] = code(lambda: s3.head_object(Bucket=bucket, Key="c/obj"))
out["get_wrong_key"] = code(lambda: s3.get_object(Bucket=bucket, Key="c/obj", **ssec2))
out["head_wrong_key"] = code(lambda: s3.head_object(Bucket=bucket, Key="c/obj", **ssec2))

# Copy between modes: SSE-C -> SSE-C (another key), -> SSE-S3, -> KMS, -> none; and back.
src = {"Bucket": bucket, "Key": "c/obj"}
csrc1 = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": key1}
out["copy_no_source_key"] = code(lambda: s3.copy_object(Bucket=bucket, Key="c/x", CopySource=src))
cp = s3.copy_object(Bucket=bucket, Key="c/to-c2", CopySource=src, **csrc1, **ssec2)
out["copy_c2_alg"] = cp.get("SSECustomerAlgorithm")
out["copy_c2_equal"] = s3.get_object(Bucket=bucket, Key="c/to-c2", **ssec2)["Body"].read() == body
out["copy_c2_old_key"] = code(lambda: s3.head_object(Bucket=bucket, Key="c/to-c2", **ssec1))
cp = s3.copy_object(Bucket=bucket, Key="c/to-s3", CopySource=src, ServerSideEncryption="AES256", **csrc1)
out["copy_s3_sse"] = cp.get("ServerSideEncryption")
g = s3.get_object(Bucket=bucket, Key="c/to-s3")
out["copy_s3_equal"] = g["Body"].read() == body
out["copy_s3_get_sse"] = g.get("ServerSideEncryption")
out["copy_s3_etag_is_md5"] = g["ETag"].strip('"') == hashlib.md5(body).hexdigest()
cp = s3.copy_object(
    Bucket=bucket, Key="c/to-kms", CopySource=src, ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key, **csrc1
)
out["copy_kms_sse"] = cp.get("ServerSideEncryption")
out["copy_kms_key"] = cp.get("SSEKMSKeyId")
h = s3.head_object(Bucket=bucket, Key="c/to-kms")
out["copy_kms_head_key"] = h.get("SSEKMSKeyId")
out["copy_kms_etag_is_md5"] = h["ETag"].strip('"') == hashlib.md5(body).hexdigest()
s3.copy_object(Bucket=bucket, Key="c/to-plain", CopySource=src, **csrc1)
g = s3.get_object(Bucket=bucket, Key="c/to-plain")
out["copy_plain_equal"] = g["Body"].read() == body
out["copy_plain_sse"] = g.get("ServerSideEncryption")
# Plain -> SSE-C, and re-encrypting an object onto itself (SSE-C key rotation).
s3.copy_object(Bucket=bucket, Key="c/back-c", CopySource={"Bucket": bucket, "Key": "c/to-plain"}, **ssec1)
out["plain_to_c_equal"] = s3.get_object(Bucket=bucket, Key="c/back-c", **ssec1)["Body"].read() == body
s3.copy_object(
    Bucket=bucket,
    Key="c/back-c",
    CopySource={"Bucket": bucket, "Key": "c/back-c"},
    MetadataDirective="REPLACE",
    **{"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": key1},
    **ssec2,
)
out["rotate_new_key"] = s3.get_object(Bucket=bucket, Key="c/back-c", **ssec2)["Body"].read() == body
out["rotate_old_key"] = code(lambda: s3.head_object(Bucket=bucket, Key="c/back-c", **ssec1))

# Bad requests.
out["bad_key_length"] = code(
    lambda: s3.put_object(
        Bucket=bucket,
        Key="c/bad",
        Body=b"x",
        SSECustomerAlgorithm="AES256",
        SSECustomerKey=b"short",
    )
)
out["unknown_kms_key"] = code(
    lambda: s3.put_object(Bucket=bucket, Key="c/bad", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="nope")
)
out["bad_algorithm"] = code(
    lambda: s3.put_object(Bucket=bucket, Key="c/bad", Body=b"x", ServerSideEncryption="AES128")
)
out["ssec_on_plain"] = code(lambda: s3.get_object(Bucket=bucket, Key="c/to-plain", **ssec1))

# Multipart with SSE-C: every part brings the key.
mp = s3.create_multipart_upload(Bucket=bucket, Key="c/mp", **ssec1)
out["mp_create_alg"] = mp.get("SSECustomerAlgorithm")
uid = mp["UploadId"]
p1 = b"A" * (5 * 1024 * 1024)
p2 = b"B" * 1000
out["part_no_key"] = code(lambda: s3.upload_part(Bucket=bucket, Key="c/mp", UploadId=uid, PartNumber=1, Body=p1))
e1 = s3.upload_part(Bucket=bucket, Key="c/mp", UploadId=uid, PartNumber=1, Body=p1, **ssec1)["ETag"]
e2 = s3.upload_part(Bucket=bucket, Key="c/mp", UploadId=uid, PartNumber=2, Body=p2, **ssec1)["ETag"]
parts = s3.list_parts(Bucket=bucket, Key="c/mp", UploadId=uid)["Parts"]
out["mp_list_sizes"] = [p["Size"] for p in parts]
s3.complete_multipart_upload(
    Bucket=bucket,
    Key="c/mp",
    UploadId=uid,
    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
)
g = s3.get_object(Bucket=bucket, Key="c/mp", **ssec1)
out["mp_equal"] = g["Body"].read() == p1 + p2
r = s3.get_object(Bucket=bucket, Key="c/mp", Range="bytes=5242870-5242889", **ssec1)
out["mp_range_across_parts"] = r["Body"].read() == (p1 + p2)[5242870:5242890]
r = s3.get_object(Bucket=bucket, Key="c/mp", PartNumber=2, **ssec1)
out["mp_part2"] = r["Body"].read() == p2

# UploadPartCopy: ranges of an SSE-C source into an SSE-S3 upload (decrypted, re-encrypted).
mp = s3.create_multipart_upload(Bucket=bucket, Key="c/mpcopy", ServerSideEncryption="AES256")
out["mpcopy_create_sse"] = mp.get("ServerSideEncryption")
uid = mp["UploadId"]
cp1 = s3.upload_part_copy(
    Bucket=bucket, Key="c/mpcopy", UploadId=uid, PartNumber=1, CopySource={"Bucket": bucket, "Key": "c/mp"},
    CopySourceRange="bytes=0-5242879", **csrc1,
)
cp2 = s3.upload_part_copy(
    Bucket=bucket, Key="c/mpcopy", UploadId=uid, PartNumber=2, CopySource=src, CopySourceRange="bytes=100-70099", **csrc1,
)
out["mpcopy_no_source_key"] = code(
    lambda: s3.upload_part_copy(Bucket=bucket, Key="c/mpcopy", UploadId=uid, PartNumber=3, CopySource=src)
)
s3.complete_multipart_upload(
    Bucket=bucket,
    Key="c/mpcopy",
    UploadId=uid,
    MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": cp1["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": cp2["CopyPartResult"]["ETag"]},
    ]},
)
g = s3.get_object(Bucket=bucket, Key="c/mpcopy")
out["mpcopy_equal"] = g["Body"].read() == p1 + body[100:70100]
out["mpcopy_sse"] = g.get("ServerSideEncryption")

# Bucket default encryption.
out["enc_none"] = code(lambda: s3.get_bucket_encryption(Bucket=bucket))
s3.put_bucket_encryption(
    Bucket=bucket,
    ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key}}]
    },
)
rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
out["enc_rule"] = rules[0]["ApplyServerSideEncryptionByDefault"]
put = s3.put_object(Bucket=bucket, Key="d/default", Body=b"DEFAULT-ENCRYPTED-BODY")
out["default_put_sse"] = put.get("ServerSideEncryption")
out["default_put_key"] = put.get("SSEKMSKeyId")
out["default_get_equal"] = s3.get_object(Bucket=bucket, Key="d/default")["Body"].read() == b"DEFAULT-ENCRYPTED-BODY"
out["enc_unknown_key"] = code(
    lambda: s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "nope"}}]
        },
    )
)
s3.delete_bucket_encryption(Bucket=bucket)
out["enc_deleted"] = code(lambda: s3.get_bucket_encryption(Bucket=bucket))
put = s3.put_object(Bucket=bucket, Key="d/plain", Body=b"PLAIN")
out["after_delete_sse"] = put.get("ServerSideEncryption")

listing = s3.list_objects_v2(Bucket=bucket, Prefix="c/")
out["list_sizes"] = {o["Key"]: o["Size"] for o in listing.get("Contents", [])}

print(json.dumps(out))
