"""`make run`: the whole API on http://127.0.0.1:8000, on an embedded AWS (moto server mode).

Starts moto (DynamoDB, S3, SNS, Step Functions) with every DynamoDB and S3 operation under one
lock and every acknowledged write journaled (`local_aws`), creates the tables from the model
definitions, restores the saved data (snapshot + journal) or loads demo data, prints a token
per demo role and a QR report URL, then serves the Chalice app (`devtools.local_http`).
SIGINT, SIGTERM or SIGHUP stop it; any number of them is safe: the data is on disk already.

SLA timers (issue 10) run here as deployed: moto executes the state machine made from
infra/sla_timer.asl.json (one execution per ticket and SLA version) and publishes to a topic per
role. moto's Step Functions reach its DynamoDB and SNS at localhost:$MOTO_PORT and compare
deadlines with the local clock, so this process sets MOTO_PORT and runs in UTC. moto keeps no
executions across restarts: on start, every ticket with work left gets its timer again. Chalice's
local server runs no schedules, so the reconciliation job (chalicelib/handlers/jobs.py) is run
here every `--reconcile-every` seconds, as EventBridge runs it every minute.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from devtools.local_env import PROJECT_DIR, apply, key_path

if TYPE_CHECKING:
    from local_aws.snapshot import LocalStore

COMPACT_EVERY_SECONDS = 30.0  # fold the journal into the snapshot when writes arrived since the last time
RECONCILE_EVERY_SECONDS = 60.0  # the SLA reconciliation's schedule (EventBridge: every minute)
READ_TIMEOUT_SECONDS = 15.0  # a client silent this long mid-request (or idle between requests) is dropped


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Signals:
    """SIGINT, SIGTERM and SIGHUP only count: no exception can land in the middle of a snapshot or a
    startup step, however many arrive (`make` forwards the terminal's SIGINT and may add a SIGTERM).
    The handler does nothing that takes a lock (an Event's, stdout's): it would run on the main
    thread, possibly while that thread holds the very lock."""

    received = 0

    @classmethod
    def handle(cls, signum: int, frame: FrameType | None) -> None:
        cls.received += 1
        if cls.received > 1:
            os.write(2, b"Already stopping; acknowledged writes are on disk.\n")

    @classmethod
    def install(cls) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, cls.handle)

    @staticmethod
    def ignore() -> None:
        """Once stopped: Python's exit puts back the default handlers (a late SIGTERM would end the
        process with -15), but leaves an ignored signal ignored."""
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="LampCare API on localhost with demo data")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("LAMPCARE_PORT", "8000")))
    parser.add_argument("--moto-port", type=int, default=0, help="default: a free port")
    parser.add_argument("--data-dir", type=Path, default=PROJECT_DIR / ".local")
    parser.add_argument("--fresh", action="store_true", help="discard the saved data and load demo data again")
    parser.add_argument("--compact-every", type=float, default=COMPACT_EVERY_SECONDS, metavar="SECONDS")
    parser.add_argument("--read-timeout", type=float, default=READ_TIMEOUT_SECONDS, metavar="SECONDS")
    parser.add_argument(
        "--reconcile-every", type=float, default=RECONCILE_EVERY_SECONDS, metavar="SECONDS", help="0: never"
    )
    args = parser.parse_args(argv)

    _Signals.install()
    os.chdir(PROJECT_DIR)
    data_dir: Path = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    moto_port = args.moto_port or _free_port()
    base_url = f"http://{args.host}:{args.port}"
    env = apply(data_dir, f"http://127.0.0.1:{moto_port}", base_url)

    from chalicelib.auth import create_local_key

    if not key_path(data_dir).exists():
        create_local_key(str(key_path(data_dir)))

    import logging

    from infra import sla_timer

    sla_timer.use_utc()  # moto's Step Functions compare UTC deadlines with the local clock
    os.environ["MOTO_PORT"] = str(moto_port)  # where moto's Step Functions send their DynamoDB and SNS calls
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # no EMF lines in the console
    # a notification claimed by a timer stopped mid-delivery is sent by the reconciliation after this lease
    os.environ.setdefault("LAMPCARE_NOTIFICATION_LEASE_SECONDS", "15")

    from moto.server import ThreadedMotoServer

    from local_aws.moto_patches import fast_transactions, serialized
    from local_aws.snapshot import LocalStore

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-call access log drowns the output

    with ExitStack() as held:  # the moto patches stay in force until the server has stopped
        held.enter_context(fast_transactions())
        serial = held.enter_context(serialized())
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
        moto.start()
        held.callback(moto.stop)
        _configure_moto(moto_port)

        import boto3

        from chalicelib.models.all import bind_tables, create_all_tables
        from devtools import demo_data
        from devtools.local_s3 import configure_bucket_cors

        bind_tables()
        create_all_tables()
        bucket = env["LAMPCARE_PHOTO_BUCKET"]
        boto3.client("s3").create_bucket(Bucket=bucket)
        configure_bucket_cors(bucket, base_url)  # the report page uploads photos to it from the browser
        topic = boto3.client("sns").create_topic(Name="lampcare-local-notify")["TopicArn"]
        os.environ["LAMPCARE_NOTIFY_TOPIC_ARN"] = topic
        os.environ.update(sla_timer.create_local(env["LAMPCARE_TABLE_PREFIX"], "local"))  # topics per role, the machine

        from chalicelib.handlers._api import reset_caches

        reset_caches()  # the settings were read before the SLA timer's were set

        store = LocalStore(data_dir, bucket, serial)
        if args.fresh:
            store.discard()
        restored = store.restore()
        if restored is None:
            seeded = demo_data.seed()
            first_lamp = seeded["first_lamp"]["report_url"]
            print("Loaded demo data: 1 contract, 2 schools, 64 lamps, one user per role")
        else:
            print(f"Restored {restored[0]} items and {restored[1]} later writes from {data_dir}")
            first_lamp = _any_lamp_url()
        store.start_journal()  # from here on every acknowledged write is on disk before its answer
        held.callback(_close_store, store)  # before moto.stop (callbacks unwind in reverse): a straggling
        # write after the final snapshot finds the journal closed and fails instead of being acknowledged
        store.compact(force=True)  # one snapshot of everything restored or loaded; the old journals go
        if restored is not None:  # moto forgot its executions; the tickets remember what is still due
            from chalicelib.services.sla_timers import rearm_all

            print(f"SLA timers started again for {rearm_all()} tickets with deadlines still watched")

        _print_tokens(data_dir, base_url, first_lamp)

        if os.environ.get("LAMPCARE_FORBID_SCANS") == "1":
            from local_aws.calls import forbid_scans_in_process

            forbid_scans_in_process()

        from chalice.cli.factory import CLIFactory

        from app import app
        from devtools.local_http import local_server

        config = CLIFactory(project_dir=str(PROJECT_DIR)).create_config_obj(chalice_stage_name="local")
        server = local_server(app, config, args.host, args.port, read_timeout=args.read_timeout)
        # the socket listens already; chalice's own serve_forever would print a second banner from
        # that thread, and its line could interleave with ours
        serving = threading.Thread(target=server.server.serve_forever, name="http", daemon=True)

        stop_compacting = threading.Event()

        def compact_periodically() -> None:
            while not stop_compacting.wait(args.compact_every):
                store.compact()

        threading.Thread(target=compact_periodically, name="compact", daemon=True).start()
        held.callback(stop_compacting.set)
        if args.reconcile_every > 0:
            threading.Thread(
                target=_reconcile_periodically, args=(stop_compacting, args.reconcile_every), name="sla", daemon=True
            ).start()
        if not _Signals.received:
            serving.start()
            print(f"LampCare API ready on {base_url}", flush=True)  # the one line tools wait for
        while not _Signals.received:
            time.sleep(0.2)
        print("Stopping...", flush=True)
        if serving.is_alive():
            server.shutdown()  # serve_forever returns; requests in flight finish on their threads
        server.server.server_close()  # new connections are refused
    _Signals.ignore()
    sys.stdout.flush()


def _configure_moto(port: int) -> None:
    """moto executes state machines only when told to (its server's config endpoint)."""
    import json
    import urllib.request

    from infra.sla_timer import MOTO_CONFIG

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/moto-api/config", data=json.dumps(MOTO_CONFIG).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def _reconcile_periodically(stop: threading.Event, every: float) -> None:
    """The SLA reconciliation job, as its EventBridge rule would invoke it: an event whose `time` is the tick."""
    import datetime as dt
    import uuid

    from chalicelib.handlers.inspection_jobs import inspection_escalation
    from chalicelib.handlers.jobs import sla_reconciliation

    while not stop.wait(every):
        tick = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            event = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": "123456789012",
                "time": tick,
                "region": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
                "resources": ["arn:aws:events:local:123456789012:rule/sla_reconciliation"],
                "detail": {},
            }
            sla_reconciliation(event, None)
            rule = "arn:aws:events:local:123456789012:rule/inspection_escalation"
            inspection_escalation({**event, "resources": [rule]}, None)  # issue 12.6: overdue visits
        except Exception as exc:  # noqa: BLE001 - logged by the job's entry; the next tick tries again
            print(f"SLA reconciliation failed: {exc}", file=sys.stderr, flush=True)
        sys.stdout.flush()  # its log lines now, not when a buffer fills (stdout may be a pipe)


def _close_store(store: LocalStore) -> None:
    store.close()
    print(f"Snapshot written to {store.snapshot_path}", flush=True)


def _any_lamp_url() -> str:
    from chalicelib.models.access import SchoolModel, all_lamps_in_school
    from chalicelib.services.registry import report_url

    for school in SchoolModel.by_name.query("school", limit=1):
        for lamp in all_lamps_in_school(school.school_id)[:1]:
            return report_url(lamp.qr_token)
    return "(no lamps yet)"


def _print_tokens(data_dir: Path, base_url: str, qr_url: str) -> None:
    from devtools.demo_data import open311_demo_key
    from devtools.token import DEMO_SUBS, demo_school_staff_line, token_for

    print("\nBearer tokens (valid 12 h; `make token ROLE=<role>` makes more):")
    for role, sub in DEMO_SUBS.items():
        print(f"  {role:<14} {sub:<8} {token_for(role, sub, data_dir)}")
    print(demo_school_staff_line(data_dir))  # a school's staff: its own school only (D-A3)
    print(f"  Open311 api_key (demo partner platform, POST {base_url}/open311/v2/requests.json): {open311_demo_key()}")
    print(f"\nQR report URL (no token needed): {qr_url}")
    print(f"Try: curl -s {base_url}/health\n", flush=True)


if __name__ == "__main__":
    main()
