"""Business rules. Plain Python: must never import boto3, pynamodb or chalice."""
