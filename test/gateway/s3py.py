"""What the boto3 test scripts share: a path-style SigV4 client with no retries, and the outcome
of a call as "ok" or "<HTTP status> <S3 error code>"."""
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def client(endpoint, key_id, secret, **config):
    """A boto3 S3 client for the gateway at `endpoint` (extra Config options may be given)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 1}, **config
        ),
    )


def code(fn):
    """Runs fn(): "ok", or the HTTP status and S3 error code it failed with."""
    try:
        fn()
        return "ok"
    except ClientError as e:
        return "%s %s" % (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"])
