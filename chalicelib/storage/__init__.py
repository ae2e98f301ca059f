"""Object storage (S3): the only place that talks to S3, as chalicelib/models is for DynamoDB."""
