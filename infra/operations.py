"""What a deployed stage needs beyond its tables (issue 14): the same in every partition.

Merged into infra/resources.json by infra/resources.py. Nothing here writes a partition, region or
account: ARNs come from `${AWS::Partition}`, `${AWS::Region}` and `${AWS::AccountId}`, so one template
deploys to cn-north-1 (aws-cn) and to a global region alike. No Cognito (AWS China has no user pools):
the stage trusts an OIDC issuer given as parameters (AuthIssuer, AuthAudience, AuthJwksUrl).

- Parameters for what differs per installation (issuer, the QR labels' public base URL, alarm
  threshold, the API's reserved concurrency); the functions' settings from them and from the
  resources (SAM Globals), so config.json's prod stage holds no ARN at all.
- A customer-managed KMS key for the topics (CloudWatch alarms may publish to them; the SLA timer's
  role and the functions may use it through SNS only), the operators' topic the alarms notify.
- The photo bucket: versioned, server access logs to a log bucket, CORS for the presigned POST
  uploads of the school's pages (the rule devtools/local_s3.py applies to the local bucket).
- The gateway: access logs (JSON, 90 days), X-Ray, method metrics and throttling.
- A dead-letter queue for the functions' asynchronous invocations (the schedules).
- The SLA timer: execution history logged (no execution data: the input names tickets and phones)
  and traced; the breaches and escalations it records counted by a metric filter.
- Alarms to the operators' topic: API 5xx and throttled requests, Step Functions failed executions,
  SLA entries per hour (timer + reconciliation) above a threshold, messages in the dead-letter queue.
  The per-function alarms, log groups, DLQ and concurrency are added by infra/functions.py to the
  packaged template, where the functions are known.
"""

from __future__ import annotations

from typing import Any

from devtools.local_s3 import cors_rules

NAMESPACE = "LampCare"  # the app's own metrics (handlers/jobs.METRICS_NAMESPACE)
TIMER_ENTRIES_METRIC = "SlaEntriesRecordedByTimer"
RECONCILED_METRIC = "SlaEntriesReconciled"  # handlers/jobs.RECONCILED_METRIC, one per fault level
API_THROTTLED_METRIC = "ApiThrottledRequests"
TIMER_RECORD_STATE = "Record"  # infra/sla_timer.asl.json: the state that writes a breach or escalation
LOG_RETENTION_DAYS = 365
ACCESS_LOG_RETENTION_DAYS = 90  # callers' IP addresses: kept no longer than an abuse case needs

PARTITION_ARN = "arn:${AWS::Partition}"


def parameters() -> dict[str, Any]:
    return {
        "Stage": {"Type": "String", "Default": "prod", "AllowedPattern": "^[a-z0-9-]+$"},
        "AuthIssuer": {
            "Type": "String",
            "Description": "The OIDC issuer of the stage's ID tokens (their iss claim), e.g. a Cognito user pool "
            "(https://cognito-idp.<region>.amazonaws.com/<pool id>) or a Keycloak realm / Authing app in AWS China",
            "MinLength": 1,
        },
        "AuthAudience": {
            "Type": "String",
            "Description": "The tokens' aud claim: the app client id at the issuer",
            "MinLength": 1,
        },
        "AuthJwksUrl": {
            "Type": "String",
            "Description": "The issuer's JWKS URL (its keys), reachable from the functions",
            "AllowedPattern": "^https://.+",
        },
        "PublicBaseUrl": {
            "Type": "String",
            "Description": "The origin printed on the QR labels and serving the school's pages (no trailing slash); "
            "the photo bucket accepts uploads from it",
            "AllowedPattern": "^https://[^/]+$",
        },
        "SlaEntriesPerHourThreshold": {
            "Type": "Number",
            "Default": 30,
            "MinValue": 1,
            "Description": "Alarm when more SLA breaches and escalations than this are recorded in an hour",
        },
        "ApiReservedConcurrency": {
            "Type": "Number",
            "Default": 50,
            "MinValue": 1,
            "Description": "Concurrent executions reserved for (and limiting) the API's function",
        },
    }


def function_settings() -> dict[str, Any]:
    """The app's settings that depend on the stack (chalicelib/settings.py reads them); function-level
    variables from config.json are merged over these by SAM."""
    return {
        "LAMPCARE_TABLE_PREFIX": {"Fn::Sub": "${Stage}-"},
        "LAMPCARE_PHOTO_BUCKET": {"Ref": "PhotoBucket"},
        "LAMPCARE_NOTIFY_TOPIC_ARN": {"Ref": "NotifyTopic"},
        "LAMPCARE_SLA_STATE_MACHINE_ARN": {"Ref": "SlaTimer"},
        "LAMPCARE_ROLE_TOPIC_ARN_PREFIX": {
            "Fn::Sub": PARTITION_ARN + ":sns:${AWS::Region}:${AWS::AccountId}:lampcare-${Stage}-"
        },
        "LAMPCARE_AUTH_ISSUER": {"Ref": "AuthIssuer"},
        "LAMPCARE_AUTH_AUDIENCE": {"Ref": "AuthAudience"},
        "LAMPCARE_AUTH_JWKS_URL": {"Ref": "AuthJwksUrl"},
        "LAMPCARE_PUBLIC_BASE_URL": {"Ref": "PublicBaseUrl"},
    }


def retained(resource: dict[str, Any]) -> dict[str, Any]:
    """Kept when the stack is deleted or the resource replaced (data)."""
    return {**resource, "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}


def _account_key_policy(*extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Account",  # IAM policies of the account grant its use (policy-prod.json, the timer's role)
                "Effect": "Allow",
                "Principal": {"AWS": {"Fn::Sub": PARTITION_ARN + ":iam::${AWS::AccountId}:root"}},
                "Action": "kms:*",
                "Resource": "*",
            },
            *extra,
        ],
    }


def data_key() -> dict[str, Any]:
    """The tables' key: staff and school contacts' phone numbers and the schools' records."""
    return {
        "DataKey": retained(
            {
                "Type": "AWS::KMS::Key",
                "Properties": {
                    "Description": {"Fn::Sub": "lampcare-${Stage}: DynamoDB tables"},
                    "EnableKeyRotation": True,
                    "KeyPolicy": _account_key_policy(),
                },
            }
        ),
        "DataKeyAlias": {
            "Type": "AWS::KMS::Alias",
            "Properties": {"AliasName": {"Fn::Sub": "alias/lampcare-${Stage}-data"}, "TargetKeyId": {"Ref": "DataKey"}},
        },
    }


def topic_key() -> dict[str, Any]:
    return {
        "TopicKey": retained(
            {
                "Type": "AWS::KMS::Key",
                "Properties": {
                    "Description": {"Fn::Sub": "lampcare-${Stage}: SNS topics (notifications, operators)"},
                    "EnableKeyRotation": True,
                    "KeyPolicy": _account_key_policy(
                        {
                            "Sid": "AlarmsPublish",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            "Resource": "*",
                        }
                    ),
                },
            }
        ),
        "TopicKeyAlias": {
            "Type": "AWS::KMS::Alias",
            "Properties": {
                "AliasName": {"Fn::Sub": "alias/lampcare-${Stage}-topics"},
                "TargetKeyId": {"Ref": "TopicKey"},
            },
        },
    }


def encrypted_topic(name_sub: str) -> dict[str, Any]:
    return {
        "Type": "AWS::SNS::Topic",
        "Properties": {"TopicName": {"Fn::Sub": name_sub}, "KmsMasterKeyId": {"Ref": "TopicKey"}},
    }


def photo_buckets() -> dict[str, Any]:
    [rule] = cors_rules([{"Ref": "PublicBaseUrl"}])["CORSRules"]  # type: ignore[list-item]
    private = {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    sse = {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    return {
        "PhotoBucket": retained(
            {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketName": {"Fn::Sub": "lampcare-${Stage}-photos"},
                    "PublicAccessBlockConfiguration": private,
                    "BucketEncryption": sse,
                    "VersioningConfiguration": {"Status": "Enabled"},
                    "LoggingConfiguration": {
                        "DestinationBucketName": {"Ref": "AccessLogBucket"},
                        "LogFilePrefix": "photos/",
                    },
                    "CorsConfiguration": {
                        "CorsRules": [
                            {
                                "AllowedOrigins": rule["AllowedOrigins"],
                                "AllowedMethods": rule["AllowedMethods"],
                                "AllowedHeaders": rule["AllowedHeaders"],
                                "MaxAge": rule["MaxAgeSeconds"],
                            }
                        ]
                    },
                    "LifecycleConfiguration": {
                        "Rules": [
                            {
                                "Id": "old-versions-and-abandoned-uploads",
                                "Status": "Enabled",
                                "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
                                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                            }
                        ]
                    },
                },
            }
        ),
        "AccessLogBucket": retained(
            {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "PublicAccessBlockConfiguration": private,
                    "BucketEncryption": sse,
                    "VersioningConfiguration": {"Status": "Enabled"},
                    "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                    "LifecycleConfiguration": {
                        "Rules": [
                            {
                                "Id": "expire-logs",
                                "Status": "Enabled",
                                "ExpirationInDays": LOG_RETENTION_DAYS,
                                "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                            }
                        ]
                    },
                },
            }
        ),
        "AccessLogBucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "AccessLogBucket"},
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "S3ServerAccessLogs",
                            "Effect": "Allow",
                            "Principal": {"Service": "logging.s3.amazonaws.com"},
                            "Action": "s3:PutObject",
                            "Resource": {"Fn::Sub": PARTITION_ARN + ":s3:::${AccessLogBucket}/photos/*"},
                            "Condition": {
                                "ArnLike": {
                                    "aws:SourceArn": {"Fn::Sub": PARTITION_ARN + ":s3:::lampcare-${Stage}-photos"}
                                },
                                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                            },
                        },
                        {
                            "Sid": "TlsOnly",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [
                                {"Fn::Sub": PARTITION_ARN + ":s3:::${AccessLogBucket}"},
                                {"Fn::Sub": PARTITION_ARN + ":s3:::${AccessLogBucket}/*"},
                            ],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        },
                    ],
                },
            },
        },
    }


ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","time":"$context.requestTime",'
    '"method":"$context.httpMethod","resource":"$context.resourcePath","status":$context.status,'
    '"bytes":"$context.responseLength","latencyMs":$context.responseLatency,'
    '"principal":"$context.authorizer.principalId","gatewayError":"$context.error.responseType"}'
)


def gateway() -> dict[str, Any]:
    """Deep-merged into chalice's RestAPI (AWS::Serverless::Api) and beside it."""
    return {
        "RestAPI": {
            "DependsOn": ["ApiGatewayAccount"],  # access logs need the account's CloudWatch role first
            "Properties": {
                "Name": {"Fn::Sub": "lampcare-${Stage}"},
                "TracingEnabled": True,
                "AccessLogSetting": {
                    "DestinationArn": {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]},
                    "Format": ACCESS_LOG_FORMAT,
                },
                "MethodSettings": [
                    {
                        "ResourcePath": "/*",
                        "HttpMethod": "*",
                        "MetricsEnabled": True,
                        "LoggingLevel": "ERROR",
                        "DataTraceEnabled": False,  # bodies carry phone numbers
                        "ThrottlingRateLimit": 200,
                        "ThrottlingBurstLimit": 400,
                    }
                ],
            },
        },
        "ApiAccessLogs": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": {"Fn::Sub": "/lampcare/${Stage}/api-access"},
                "RetentionInDays": ACCESS_LOG_RETENTION_DAYS,
            },
        },
        "ApiThrottledFilter": {
            "Type": "AWS::Logs::MetricFilter",
            "Properties": {
                "LogGroupName": {"Ref": "ApiAccessLogs"},
                "FilterPattern": "{ $.status = 429 }",
                "MetricTransformations": [
                    {
                        "MetricNamespace": NAMESPACE,
                        "MetricName": API_THROTTLED_METRIC,
                        "MetricValue": "1",
                        "DefaultValue": 0,
                    }
                ],
            },
        },
        "ApiGatewayLogsRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "apigateway.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "ManagedPolicyArns": [
                    {"Fn::Sub": PARTITION_ARN + ":iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}
                ],
            },
        },
        # One per account and region: API Gateway's role for writing logs (the stage's access logs).
        "ApiGatewayAccount": {
            "Type": "AWS::ApiGateway::Account",
            "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]}},
        },
    }


def dead_letters() -> dict[str, Any]:
    return {
        "FunctionDeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": {"Fn::Sub": "lampcare-${Stage}-dead-letters"},
                "MessageRetentionPeriod": 14 * 24 * 3600,
                "KmsMasterKeyId": "alias/aws/sqs",
            },
        }
    }


def timer_observability() -> dict[str, Any]:
    """The SLA timer's execution history (for the breach count and for operators) and its metric filter."""
    return {
        "SlaTimerLogs": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": {"Fn::Sub": "/aws/vendedlogs/states/lampcare-${Stage}-sla-timer"},
                "RetentionInDays": LOG_RETENTION_DAYS,
            },
        },
        # Each exit of the Record state is one breach or escalation written by a timer: it runs only
        # after the ticket's conditional update succeeded, so an entry the reconciliation wrote first is
        # not counted twice. The reconciliation counts its own (handlers/jobs: SlaEntriesReconciled).
        "SlaTimerEntriesFilter": {
            "Type": "AWS::Logs::MetricFilter",
            "Properties": {
                "LogGroupName": {"Ref": "SlaTimerLogs"},
                "FilterPattern": f'{{ $.type = "TaskStateExited" && $.details.name = "{TIMER_RECORD_STATE}" }}',
                "MetricTransformations": [
                    {
                        "MetricNamespace": NAMESPACE,
                        "MetricName": TIMER_ENTRIES_METRIC,
                        "MetricValue": "1",
                        "DefaultValue": 0,
                    }
                ],
            },
        },
    }


def timer_machine_settings() -> dict[str, Any]:
    """Merged into the SlaTimer state machine's properties."""
    return {
        "LoggingConfiguration": {
            "Level": "ALL",
            "IncludeExecutionData": False,
            "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": ["SlaTimerLogs", "Arn"]}}}],
        },
        "TracingConfiguration": {"Enabled": True},
    }


def timer_role_statements() -> list[dict[str, Any]]:
    """What the SLA timer's role needs besides its tables and topics: the keys, log delivery, X-Ray."""
    return [
        {
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": {"Fn::GetAtt": ["TopicKey", "Arn"]},
        },
        {
            # Step Functions' log delivery API takes no resource-level permission.
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
            ],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
            ],
            "Resource": "*",
        },
    ]


def alarm(
    description: str,
    *,
    metric: dict[str, Any] | None = None,
    metrics: list[dict[str, Any]] | None = None,
    threshold: Any = 1,
    period: int = 300,
    comparison: str = "GreaterThanOrEqualToThreshold",
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "AlarmDescription": description,
        "ActionsEnabled": True,
        "AlarmActions": [{"Ref": "OperatorsTopic"}],
        "OKActions": [{"Ref": "OperatorsTopic"}],
        "ComparisonOperator": comparison,
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "Threshold": threshold,
        "TreatMissingData": "notBreaching",
    }
    if metric is not None:
        properties.update({"Period": period, "Statistic": "Sum", **metric})
    else:
        properties["Metrics"] = metrics
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": properties}


def _stat(identifier: str, namespace: str, name: str, dimensions: list[dict[str, Any]], period: int) -> dict[str, Any]:
    metric: dict[str, Any] = {"Namespace": namespace, "MetricName": name}
    if dimensions:
        metric["Dimensions"] = dimensions
    return {
        "Id": identifier,
        "ReturnData": False,
        "MetricStat": {
            "Metric": metric,
            "Period": period,
            "Stat": "Sum",
        },
    }


def alarms() -> dict[str, Any]:
    from chalicelib.services.sweeps import LEVELS

    hour = 3600
    reconciled = [
        _stat(f"reconciled{level}", NAMESPACE, RECONCILED_METRIC, [{"Name": "level", "Value": str(level)}], hour)
        for level in LEVELS
    ]
    expression = " + ".join(["FILL(timer, 0)", *(f"FILL(reconciled{level}, 0)" for level in LEVELS)])
    return {
        "OperatorsTopic": encrypted_topic("lampcare-${Stage}-operators"),
        "SlaTimerFailedAlarm": alarm(
            "An SLA timer execution failed: its breach or notification may be missing until the reconciliation "
            "catches it (README: replay failed timers)",
            metric={
                "Namespace": "AWS/States",
                "MetricName": "ExecutionsFailed",
                "Dimensions": [{"Name": "StateMachineArn", "Value": {"Ref": "SlaTimer"}}],
            },
        ),
        "SlaTimerTimedOutAlarm": alarm(
            "An SLA timer execution timed out or was aborted by Step Functions",
            metric={
                "Namespace": "AWS/States",
                "MetricName": "ExecutionsTimedOut",
                "Dimensions": [{"Name": "StateMachineArn", "Value": {"Ref": "SlaTimer"}}],
            },
        ),
        "SlaEntriesPerHourAlarm": alarm(
            "More SLA breaches and escalations recorded in an hour (by the timers and by the reconciliation) "
            "than the SlaEntriesPerHourThreshold parameter: faults are piling up",
            metrics=[
                {
                    "Id": "entries",
                    "Label": "SLA breaches and escalations per hour",
                    "Expression": expression,
                    "ReturnData": True,
                },
                _stat("timer", NAMESPACE, TIMER_ENTRIES_METRIC, [], hour),
                *reconciled,
            ],
            threshold={"Ref": "SlaEntriesPerHourThreshold"},
            comparison="GreaterThanThreshold",
        ),
        "SlaReconciledAlarm": alarm(
            "The reconciliation wrote an SLA entry a timer should have written (a timer failed or was late)",
            metrics=[
                {
                    "Id": "reconciled",
                    "Expression": " + ".join(f"FILL(reconciled{lv}, 0)" for lv in LEVELS),
                    "ReturnData": True,
                },
                *[{**r, "MetricStat": {**r["MetricStat"], "Period": 300}} for r in reconciled],
            ],
        ),
        "DeadLetterAlarm": alarm(
            "A scheduled job's invocation failed all its retries and waits in the dead-letter queue",
            metric={
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [
                    {"Name": "QueueName", "Value": {"Fn::GetAtt": ["FunctionDeadLetterQueue", "QueueName"]}}
                ],
                "Statistic": "Maximum",
            },
        ),
        "ApiThrottledAlarm": alarm(
            "Requests answered 429 (the gateway's throttling or the app's abuse limits): 50 or more in 5 minutes",
            metric={"Namespace": NAMESPACE, "MetricName": API_THROTTLED_METRIC},
            threshold=50,
        ),
    }
