"""What every way into the service shares, whatever carries the request.

An HTTP route (`handlers/_api.py`), a scheduled job (`handlers/jobs.py`), and the Step Functions
tasks, S3 events and DynamoDB stream records the next issues add, all need the same few steps
around one service call. Each step is a module here, usable alone:

- `auth`: a bearer token to a `Principal`, and the role check.
- `validation`: raw JSON bytes, a decoded event payload or a query string to a pydantic model,
  within limits, with every problem as a `FieldProblem` (at most `MAX_DETAILS` of them).
- `failures`: a `DomainError` to our one error body, with an HTTP status for routes and a
  structured log record for everything else.
- `idempotency`: run a create once per (operation, caller, key), whatever supplies the key.
- `jsonable`: results (datetimes, Decimals, `*Out` models) to JSON-ready values.
- `events`: the wrapper for a non-HTTP entry point (logging keys, payload, failure record).

A package beside `handlers/`, not inside it, because nothing here knows HTTP: it never imports
chalice, so it can be unit-tested alone and a non-HTTP handler reuses it without the route
machinery. Like the handlers it must never import pynamodb or boto3, and it keeps pydantic,
jwt and Powertools' idempotency out of `import app` (each loads on first use).
"""
