"""`make run`: the whole API on http://127.0.0.1:8000, on an embedded AWS (moto server mode).

Starts moto (DynamoDB, S3, SNS, Step Functions), creates the tables from the model
definitions, restores the last snapshot or loads demo data, prints a token per demo
role and a QR report URL, then serves the Chalice app with Chalice's local server.
Ctrl-C writes a snapshot; so does a timer every 30 s.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from types import FrameType

from devtools.local_env import PROJECT_DIR, apply, key_path

SNAPSHOT_EVERY_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="LampCare API on localhost with demo data")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("LAMPCARE_PORT", "8000")))
    parser.add_argument("--moto-port", type=int, default=0, help="default: a free port")
    parser.add_argument("--data-dir", type=Path, default=PROJECT_DIR / ".local")
    parser.add_argument("--fresh", action="store_true", help="ignore the snapshot and load demo data again")
    args = parser.parse_args(argv)

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

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-call access log drowns the output

    from local_aws.moto_patches import fast_transactions

    fast_transactions().__enter__()  # for the server's lifetime: see local_aws/moto_patches
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()

    import boto3

    from chalicelib.models.all import bind_tables, create_all_tables
    from devtools import demo_data
    from local_aws import snapshot

    bind_tables()
    create_all_tables()
    bucket = env["LAMPCARE_PHOTO_BUCKET"]
    boto3.client("s3").create_bucket(Bucket=bucket)
    topic = boto3.client("sns").create_topic(Name="lampcare-local-notify")["TopicArn"]
    os.environ["LAMPCARE_NOTIFY_TOPIC_ARN"] = topic

    snapshot_file = data_dir / "snapshot.json"
    if snapshot_file.exists() and not args.fresh:
        restored = snapshot.load(snapshot_file, bucket)
        print(f"Restored {restored} items from {snapshot_file}")
        first_lamp = _any_lamp_url()
    else:
        seeded = demo_data.seed()
        snapshot.save(snapshot_file, bucket)
        first_lamp = seeded["first_lamp"]["report_url"]
        print("Loaded demo data: 1 contract, 2 schools, 64 lamps, one user per role")

    _print_tokens(data_dir, base_url, first_lamp)

    if os.environ.get("LAMPCARE_FORBID_SCANS") == "1":
        from local_aws.calls import forbid_scans_in_process

        forbid_scans_in_process()

    from chalice.cli.factory import CLIFactory
    from chalice.local import ChaliceRequestHandler, create_local_server

    from app import app

    ChaliceRequestHandler.disable_nagle_algorithm = True  # headers and body go in separate writes
    config = CLIFactory(project_dir=str(PROJECT_DIR)).create_config_obj(chalice_stage_name="local")
    server = create_local_server(app, config, args.host, args.port)

    stop = threading.Event()
    lock = threading.Lock()

    def save_snapshot() -> None:
        with lock:
            snapshot.save(snapshot_file, bucket)

    def periodic() -> None:
        while not stop.wait(SNAPSHOT_EVERY_SECONDS):
            save_snapshot()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    threading.Thread(target=periodic, daemon=True).start()
    print(f"LampCare API ready on {base_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        save_snapshot()
        print(f"Snapshot written to {snapshot_file}", flush=True)
        moto.stop()
        sys.stdout.flush()


def _any_lamp_url() -> str:
    from chalicelib.models.access import SchoolModel, all_lamps_in_school
    from chalicelib.services.registry import report_url

    for school in SchoolModel.by_name.query("school", limit=1):
        for lamp in all_lamps_in_school(school.school_id)[:1]:
            return report_url(lamp.qr_token)
    return "(no lamps yet)"


def _print_tokens(data_dir: Path, base_url: str, qr_url: str) -> None:
    from devtools.token import DEMO_SUBS, token_for

    print("\nBearer tokens (valid 12 h; `make token ROLE=<role>` makes more):")
    for role, sub in DEMO_SUBS.items():
        print(f"  {role:<14} {sub:<8} {token_for(role, sub, data_dir)}")
    print(f"\nQR report URL (no token needed): {qr_url}")
    print(f"Try: curl -s {base_url}/health\n", flush=True)


if __name__ == "__main__":
    main()
