"""Cold start: `import app` against `import boto3`, each in a fresh interpreter with a Lambda-like env.

Both imports are timed inside `python -c` (interpreter start-up is the same for both and
is left out), interleaved run by run so that a noisy neighbour hits both alike, after one
untimed run of each (which also writes any missing .pyc files). Each run reports wall
time and CPU time (user + system); the import is CPU-bound (files come from the page
cache), so CPU time is the same quantity without the waits for a core that other
processes on a shared machine add to wall time. One more run of
`import app` under `-X importtime` says which packages the app pulls in and what each
costs.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent

# What the Lambda runtime sets (no LAMPCARE_* variables: settings are read on the first request).
LAMBDA_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
    "AWS_REGION": "cn-north-1",
    "AWS_DEFAULT_REGION": "cn-north-1",
    "AWS_ACCESS_KEY_ID": "ASIABENCHBENCHBENCH0",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
    "AWS_LAMBDA_FUNCTION_NAME": "lampcare-prod",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/lampcare-prod",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
    "LAMBDA_TASK_ROOT": str(PROJECT_DIR),
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
    "_HANDLER": "app.app",
    "POWERTOOLS_SERVICE_NAME": "lampcare",  # from .chalice/config.json, all stages
}

# Packages the app needs only on some requests; `import app` must not load them.
MUST_NOT_LOAD = [
    "aws_xray_sdk",
    "segno",
    "fpdf",
    "openpyxl",
    "jwt",
    "cryptography",
    "boto3",
    "PIL",
    "fontTools",
    "email_validator",
    "moto",
    "jinja2",  # the public report pages only (chalicelib/handlers/_pages.py)
    "pygal",  # report charts only (chalicelib/services/report_charts.py)
]

_TIMED = """
import time
wall, cpu = time.perf_counter(), time.process_time()
import {module}
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
import json, sys
print(json.dumps({{"wall_ms": wall * 1000, "cpu_ms": cpu * 1000, "modules": sorted({{m.split(".")[0] for m in sys.modules}})}}))
"""


@dataclass
class Timing:
    wall_ms: float
    cpu_ms: float  # user + system time of the interpreter: what the import costs, whatever else runs


@dataclass
class ColdImport:
    app: list[Timing]
    boto3: list[Timing]
    app_loads: list[str]  # top-level modules present after `import app`
    app_packages_ms: dict[str, float]  # top-level package -> ms in its own modules (importtime self times)

    @staticmethod
    def median(runs: list[Timing], clock: str) -> float:
        return statistics.median(getattr(t, clock) for t in runs)

    def ratio(self, clock: str) -> float:
        return self.median(self.app, clock) / self.median(self.boto3, clock)

    @property
    def forbidden_loaded(self) -> list[str]:
        return [name for name in MUST_NOT_LOAD if name in self.app_loads]


def _run(module: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-c", _TIMED.format(module=module)],
        cwd=PROJECT_DIR,
        env=LAMBDA_ENV,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )


def _timed(module: str) -> tuple[Timing, list[str]]:
    data = json.loads(_run(module).stdout)
    return Timing(float(data["wall_ms"]), float(data["cpu_ms"])), list(data["modules"])


def _package_times() -> dict[str, float]:
    """ms spent in each top-level package's own modules (sum of `-X importtime` self times), largest first.

    Self times add up to the whole import, so the split is exact: a package's figure does not
    include the packages it imports in turn. The standard library and the app are grouped.
    """
    stderr = _run("app", "-X", "importtime").stderr
    stdlib = set(sys.stdlib_module_names)
    times: dict[str, float] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, _, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        root = name.split(".")[0]
        group = "(app: app, chalicelib)" if root in ("app", "chalicelib") else "(stdlib)" if root in stdlib else root
        times[group] = times.get(group, 0.0) + int(self_us) / 1000
    return dict(sorted(times.items(), key=lambda kv: -kv[1]))


def measure(runs: int = 5) -> ColdImport:
    _timed("app")
    _timed("boto3")
    app: list[Timing] = []
    boto3: list[Timing] = []
    loads: list[str] = []
    for n in range(runs):
        order = ["app", "boto3"] if n % 2 == 0 else ["boto3", "app"]
        for module in order:
            timing, modules = _timed(module)
            if module == "app":
                app.append(timing)
                loads = modules
            else:
                boto3.append(timing)
    return ColdImport(app, boto3, loads, _package_times())


if __name__ == "__main__":  # a quick look without the rest of the benchmark
    result = measure()
    for clock in ("wall_ms", "cpu_ms"):
        print(
            f"{clock}: app {result.median(result.app, clock):.0f}, boto3 {result.median(result.boto3, clock):.0f}, "
            f"ratio {result.ratio(clock):.2f}",
            file=sys.stderr,
        )
    print(f"packages {result.app_packages_ms}; forbidden loaded {result.forbidden_loaded}", file=sys.stderr)
