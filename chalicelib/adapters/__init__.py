"""The edges to AWS: PynamoDB models and their schema, persistence helpers, boto3 clients, the SQS queue,
the SES and SNS providers, the matchers' DynamoDB repository, tenants as stored, logs and metrics."""
