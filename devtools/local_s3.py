"""The embedded S3 as the report page needs it: the browser posts photos straight to the bucket.

A presigned POST from the page's script is a cross-origin request (the API and moto listen on
different ports), so the bucket answers it only if its CORS configuration allows the API's origin,
as the deployed bucket must allow the site the page is served from.
"""

from __future__ import annotations

from typing import Any


def cors_rules(origins: list[str]) -> dict[str, Any]:
    return {
        "CORSRules": [
            {
                "AllowedOrigins": origins,
                "AllowedMethods": ["POST"],  # presigned POST uploads only: nothing is read from the page
                "AllowedHeaders": ["*"],
                "MaxAgeSeconds": 3600,
            }
        ]
    }


def configure_bucket_cors(bucket: str, origin: str) -> None:
    """Lets pages served from `origin` (e.g. http://127.0.0.1:8000) upload photos to `bucket`."""
    import boto3

    origins = [origin.rstrip("/")]
    if "://127.0.0.1:" in origin:  # the same server reached by name
        origins.append(origins[0].replace("://127.0.0.1:", "://localhost:"))
    boto3.client("s3").put_bucket_cors(Bucket=bucket, CORSConfiguration=cors_rules(origins))
