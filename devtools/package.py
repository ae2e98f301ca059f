"""One deployable package per stage and region: `make package STAGE=prod REGION=cn-north-1`.

1. `chalice package --stage STAGE --merge-template infra/resources.json out/REGION/` (the region is only
   chalice's requirement: the template names no partition, region or account).
2. infra/functions.finish: each function's dead-letter queue, reserved concurrency, log group, alarms.
3. The function's zip holds the app and its fonts; the requirements are one layer every function
   shares (config.json: automatic_layer). The layer is made smaller: without what the Lambda runtime
   provides (boto3, botocore and their dependencies: the runtime's own boto3 must not meet another
   botocore) and fontTools' compiled speed-ups that have a pure-Python twin. A smoke test then imports
   the app and draws a Chinese PDF, a chart, a workbook and a signed token from the unpacked zip and
   layer alone plus the runtime's packages, laid out as Lambda does.
4. With --lint: cfn-lint for that region (any error fails) and checkov (any failed check not in
   infra/checkov-skips.yaml fails), both from their own pinned environment (.venv/infra-checks,
   infra/requirements-checks.txt), installed on first use.

Writes out/REGION/sam.json, deployment.zip, layer-deployment.zip and package.json (sizes). `--lint-only` lints what is there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHECKS_VENV = ROOT / ".venv" / "infra-checks"
CHECKS_REQUIREMENTS = ROOT / "infra" / "requirements-checks.txt"
CHECKOV_SKIPS = ROOT / "infra" / "checkov-skips.yaml"
BUDGET_BYTES = 25 * 1000 * 1000  # zipped (issue 14: at most 25 MB, aim for 10)

# In every Python Lambda runtime (AWS and AWS China): boto3 and what it brings.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


LAYER_PREFIX = "python/lib/python3.11/site-packages/"  # where a layer's packages sit (/opt/python/...)


def _top_level(name: str) -> str:
    """The importable name an archive member belongs to: `botocore/x.py` and `botocore-1.2.dist-info/..`
    -> botocore; `six.py` -> six; `python_dateutil-2.9.dist-info` -> python_dateutil."""
    first = name.removeprefix(LAYER_PREFIX).split("/", 1)[0]
    for suffix in (".dist-info", ".data"):
        if first.endswith(suffix):
            return first[: -len(suffix)].rsplit("-", 1)[0].lower()
    return first.removesuffix(".py")


def dropped(name: str, names: set[str]) -> bool:
    """Whether an archive member stays out of the deployment package."""
    top = _top_level(name)
    if top in RUNTIME_PROVIDED or top == "python_dateutil":
        return True
    if "/__pycache__/" in name or name.endswith(".pyc"):
        return True
    # fontTools' Cython speed-ups of outline maths (fpdf2 never draws outlines), each beside its
    # pure-Python module, which fontTools falls back to by itself: 3.4 MB.
    inner = name.removeprefix(LAYER_PREFIX)
    folder, _, file = name.rpartition("/")
    module = f"{folder}/{file.split('.', 1)[0]}"  # fontTools/cu2qu/cu2qu.cpython-311-...so -> .../cu2qu
    if inner.startswith("fontTools/") and name.endswith(".so") and module + ".py" in names:
        return True
    return inner.startswith("fonttools-") and ".data/" in inner  # its man page and scripts


def shrink(zip_path: Path) -> dict[str, int]:
    """Rewrites the zip without what `dropped` names; returns the sizes before and after."""
    before = zip_path.stat().st_size
    smaller = zip_path.with_suffix(".tmp")
    unpacked = 0
    with (
        zipfile.ZipFile(zip_path) as source,
        zipfile.ZipFile(smaller, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out,
    ):
        names = set(source.namelist())
        for info in source.infolist():
            if dropped(info.filename, names):
                continue
            out.writestr(info, source.read(info.filename), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
            unpacked += info.file_size
    smaller.replace(zip_path)
    return {"zipped_before": before, "zipped": zip_path.stat().st_size, "unpacked": unpacked}


SMOKE = r"""
import os, sys
os.environ.update({"LAMPCARE_STAGE": "prod", "LAMPCARE_TABLE_PREFIX": "prod-", "LAMPCARE_PHOTO_BUCKET": "b",
    "LAMPCARE_AUTH_ISSUER": "https://id.example", "LAMPCARE_AUTH_AUDIENCE": "a",
    "LAMPCARE_AUTH_JWKS_URL": "https://id.example/jwks", "AWS_DEFAULT_REGION": "cn-north-1",
    "LAMPCARE_GATEWAY_AUTHORIZER": "jwt", "AWS_XRAY_SDK_ENABLED": "false", "POWERTOOLS_TRACE_DISABLED": "true"})
import app  # the handler Lambda imports
import chalicelib.handlers.gateway_auth  # the authorizer's handler module
from fpdf import FPDF
from chalicelib.services import pdf_fonts
pdf = FPDF()
pdf_fonts.use_fonts(pdf)
pdf.set_fallback_fonts(["cjk"], exact_match=False)
pdf.set_font("main", size=12)
pdf.add_page()
pdf.cell(text="Lamp 3 / 教室 201 灯具故障")
assert bytes(pdf.output()).startswith(b"%PDF")
import pygal, openpyxl, segno, jinja2, jwt
from cryptography.hazmat.primitives.asymmetric import rsa
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
assert jwt.decode(jwt.encode({"a": 1}, key, algorithm="RS256"), key.public_key(), algorithms=["RS256"]) == {"a": 1}
pygal.Bar().render()
openpyxl.Workbook()
import chalicelib.schemas
loaded = sorted({m.split(".")[0] for m in sys.modules} & {"botocore", "boto3"})
print("smoke ok; from the runtime:", loaded)
"""


def smoke(zip_path: Path, layer_path: Path | None = None) -> None:
    """Imports and runs from the unpacked package (and layer, as Lambda lays them out: /var/task, then
    /opt/python/...) plus only the runtime-provided packages of this venv."""
    import importlib.util

    with tempfile.TemporaryDirectory() as tmp:
        code, runtime, opt = Path(tmp, "task"), Path(tmp, "runtime"), Path(tmp, "opt")
        runtime.mkdir()
        with zipfile.ZipFile(zip_path) as z:
            z.extractall(code)
        layer_dirs = []
        if layer_path is not None:
            with zipfile.ZipFile(layer_path) as z:
                z.extractall(opt)
            layer_dirs = [str(opt / LAYER_PREFIX.rstrip("/")), str(opt / "python")]
        for name in RUNTIME_PROVIDED:
            spec = importlib.util.find_spec(name)
            if spec is None or spec.origin is None:
                continue
            origin = Path(spec.origin)
            source = origin.parent if origin.name == "__init__.py" else origin
            (runtime / source.name).symlink_to(source)
        stdlib = [
            p
            for p in sys.path
            if p and "site-packages" not in p and Path(p).exists() and not Path(p).resolve().is_relative_to(ROOT)
        ]
        path = os.pathsep.join([str(code), *layer_dirs, *stdlib, str(runtime)])
        subprocess.run(
            [sys.executable, "-I", "-S", "-c", f"import sys; sys.path[:] = {path.split(os.pathsep)!r}\n{SMOKE}"],
            check=True,
            cwd=code,
        )


def package(stage: str, region: str, out: Path) -> dict[str, Any]:
    from infra import functions

    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    chalice = Path(sys.executable).with_name("chalice")
    started = time.perf_counter()
    subprocess.run(
        [str(chalice), "package", "--stage", stage, "--merge-template", "infra/resources.json", str(out)],
        check=True,
        cwd=ROOT,
        env={**os.environ, "AWS_DEFAULT_REGION": region},
    )
    template_path = out / "sam.json"
    template = functions.finish(json.loads(template_path.read_text()))
    template_path.write_text(json.dumps(template, indent=2, sort_keys=True) + "\n")
    sizes = shrink(out / "deployment.zip")
    layer = out / "layer-deployment.zip"  # automatic_layer: the requirements, shared by every function
    layer_sizes = shrink(layer) if layer.exists() else {"zipped_before": 0, "zipped": 0, "unpacked": 0}
    smoke(out / "deployment.zip", layer if layer.exists() else None)
    report = {
        "stage": stage,
        "region": region,
        **sizes,
        "layer": layer_sizes,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / "package.json").write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"{out}: deployment.zip {sizes['zipped'] / 1e6:.1f} MB zipped, {sizes['unpacked'] / 2**20:.0f} MiB unpacked "
        f"(budget {BUDGET_BYTES / 1e6:.0f} MB); its layer {layer_sizes['zipped'] / 1e6:.1f} MB zipped "
        f"(chalice's own: {layer_sizes['zipped_before'] / 1e6:.1f}), {layer_sizes['unpacked'] / 2**20:.0f} MiB unpacked"
    )
    if sizes["zipped"] > BUDGET_BYTES:
        raise SystemExit(f"the deployment package is over its budget of {BUDGET_BYTES} bytes")
    return report


def measured(region: str = "cn-north-1") -> tuple[dict[str, Any], str]:
    """The package's sizes for the benchmark: out/<region>/package.json when it is newer than what decides
    its size (the requirements, the trimming, the fonts), else a fresh package (minutes the first time;
    chalice then reuses its downloaded dependencies)."""
    report = ROOT / "out" / region / "package.json"
    newest_input = max(
        p.stat().st_mtime
        for p in [
            ROOT / "requirements.txt",
            ROOT / ".chalice" / "config.json",
            Path(__file__),
            *ROOT.joinpath("chalicelib", "fonts").iterdir(),
        ]
    )
    if report.exists() and report.stat().st_mtime >= newest_input:
        return json.loads(report.read_text()), f"read from {report.relative_to(ROOT)}"
    return package("prod", region, ROOT / "out" / region), "packaged now"


def bench_row() -> tuple[str, str, bool]:
    """(measurement, sizes, met) for devtools/bench.py's package row."""
    sizes, source = measured()
    layer = sizes.get("layer") or {"zipped": 0, "unpacked": 0, "zipped_before": 0}
    text = (
        f"{sizes['zipped'] / 1e6:.1f} MB zipped · {sizes['unpacked'] / 2**20:.0f} MiB unpacked; its dependencies' "
        f"layer {layer['zipped'] / 1e6:.1f} MB zipped · {layer['unpacked'] / 2**20:.0f} MiB "
        f"(chalice's own: {(sizes['zipped_before'] + layer['zipped_before']) / 1e6:.1f} MB in all)"
    )
    measurement = f"the function's deployment.zip, prod stage, {sizes['region']} (`make package`; {source})"
    return measurement, text, sizes["zipped"] <= BUDGET_BYTES


def checks_venv() -> Path:
    """checkov and cfn-lint in their own environment (checkov pins many packages), from the pinned list."""
    stamp = CHECKS_VENV / ".installed"
    wanted = CHECKS_REQUIREMENTS.read_text()
    if not stamp.exists() or stamp.read_text() != wanted:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(CHECKS_VENV)], check=True)
        subprocess.run(
            [str(CHECKS_VENV / "bin" / "pip"), "install", "-q", "-r", str(CHECKS_REQUIREMENTS)],
            check=True,
        )
        stamp.write_text(wanted)
    return CHECKS_VENV / "bin"


def skipped_checks() -> dict[str, str]:
    """check id -> reason: skipped everywhere."""
    return _skips()["skip"]


def skipped_for_resources() -> dict[str, dict[str, str]]:
    """check id -> {logical id -> reason}: skipped for those resources only."""
    return _skips().get("skip_for", {})


def _skips() -> dict[str, Any]:
    import yaml

    skips: dict[str, Any] = yaml.safe_load(CHECKOV_SKIPS.read_text())
    reasons = [("", c, r) for c, r in skips["skip"].items()] + [
        (resource, check, reason)
        for check, resources in skips.get("skip_for", {}).items()
        for resource, reason in resources.items()
    ]
    missing = [f"{check} {resource}".strip() for resource, check, reason in reasons if not str(reason or "").strip()]
    if missing:
        raise SystemExit(f"{CHECKOV_SKIPS.name}: give each skipped check its reason: {missing}")
    return skips


def lint(region: str, out: Path) -> None:
    tools = checks_venv()
    template = out / "sam.json"
    started = time.perf_counter()
    # cfn-lint's exit status is a bit field: 2 errors, 4 warnings, 8 informational. Errors fail.
    linted = subprocess.run([str(tools / "cfn-lint"), "--regions", region, "--", str(template)], check=False)
    if linted.returncode & 2:
        raise SystemExit(f"cfn-lint: errors in {template} for {region}")
    print(
        f"cfn-lint {region}: 0 errors, {'some' if linted.returncode & 4 else '0'} warnings "
        f"(exit status {linted.returncode})"
    )
    skips = skipped_checks()
    scanned = subprocess.run(
        [
            str(tools / "checkov"),
            "--file",
            str(template),
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--quiet",
            "--compact",
            "--skip-download",
            "--skip-check",
            ",".join(sorted(skips)),
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    reports = json.loads(scanned.stdout or "{}")
    reports = reports if isinstance(reports, list) else [reports]
    failed = [check for report in reports for check in report.get("results", {}).get("failed_checks", [])]
    for_resources = skipped_for_resources()
    excused = [c for c in failed if c["resource"].split(".")[-1] in for_resources.get(c["check_id"], {})]
    failed = [c for c in failed if c not in excused]
    summary = [report.get("summary", {}) for report in reports]
    for check in failed:
        print(f"checkov FAILED {check['check_id']} {check['resource']}: {check['check_name']}")
    passed = sum(s.get("passed", 0) for s in summary)
    print(
        f"checkov {region}: {passed} passed, {len(failed)} failed; skipped as {CHECKOV_SKIPS.relative_to(ROOT)} "
        f"says: {len(skips)} checks everywhere, {len(excused)} results for named resources; "
        f"{time.perf_counter() - started:.0f} s"
    )
    if failed or (scanned.returncode not in (0, 1)):
        if scanned.returncode not in (0, 1):
            print(scanned.stderr[-4000:])
        raise SystemExit("checkov: failed checks outside infra/checkov-skips.yaml")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="prod")
    parser.add_argument(
        "--region",
        action="append",
        required=True,
        help="e.g. cn-north-1, cn-northwest-1, eu-central-1; repeated: packaged once (the template names no "
        "region), copied to out/<region> and linted for each",
    )
    parser.add_argument("--out", type=Path, help="default: out/<region> (one region only)")
    parser.add_argument("--lint", action="store_true", help="then cfn-lint and checkov the template")
    parser.add_argument("--lint-only", action="store_true", help="lint the package already in out/<region>")
    args = parser.parse_args(argv)
    if args.out and len(args.region) > 1:
        parser.error("--out takes one --region")
    outs = {region: (args.out or ROOT / "out" / region).resolve() for region in args.region}
    first, *others = args.region
    if not args.lint_only:
        package(args.stage, first, outs[first])
        for region in others:
            if outs[region].exists():
                shutil.rmtree(outs[region])
            shutil.copytree(outs[first], outs[region])
    if args.lint or args.lint_only:
        for region in args.region:
            lint(region, outs[region])


if __name__ == "__main__":
    main()
