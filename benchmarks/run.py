"""Benchmark asgiweb against aiohttp and Starlette; see benchmarks/README.md.

    .venv/bin/python benchmarks/run.py              # ~8.5 minutes: 3 rounds of 5 s
    .venv/bin/python benchmarks/run.py --quick      # ~2 minutes: a smoke run, not for quoting

Every contender runs in its own process pinned to core 0, the load generator (wrk, or
``ws_load.py`` for the WebSocket endpoint) to core 1, and the contenders take turns
(A B C D E, A B C D E, ...) so that a burst of noise from the rest of the machine lands
on all of them rather than on one.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(ROOT))

from benchmarks import inprocess, instructions, report  # noqa: E402
from benchmarks.contenders import (  # noqa: E402
    CONTENDERS,
    ENDPOINTS,
    HOST,
    LOOPS,
    Contender,
    Endpoint,
    RunningServer,
    baseline,
    probe,
    start,
)
from benchmarks.idle import (  # noqa: E402
    DEFAULT_CONNECTIONS,
    idle_kib_per_connection,
    usable_connections,
)

WRK_CPU = "1"  # the core of every load generator, wrk and ws_load alike
WS_LOAD = ROOT / "benchmarks" / "ws_load.py"
# module -> distribution, for everything the driver imports or starts.
BENCH_MODULES = {
    "aiohttp": "aiohttp",
    "starlette": "starlette",
    "uvicorn": "uvicorn",
    "hypercorn": "hypercorn",
    "matplotlib": "matplotlib",
    "uvloop": "uvloop",
}
# wrk's done() hook prints exact counts; parsing its human summary ("12.5k") loses digits.
_LUA_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {\\"requests\\":%.0f,\\"duration_us\\":%.0f,\\"socket_errors\\":%.0f," ..
    "\\"bad_status\\":%.0f,\\"p50_us\\":%.0f,\\"p99_us\\":%.0f}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    e.status, latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass
class Run:
    """One wrk run against one contender."""

    endpoint: str
    contender: str
    round: int
    requests: int
    seconds: float
    cpu_seconds: float
    socket_errors: int
    bad_status: int
    p50_us: float
    p99_us: float
    # The load generator's own CPU time: near ``seconds``, it and not the server was the limit.
    client_cpu_seconds: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_seconds / self.requests * 1e6 if self.requests else 0.0

    @property
    def client_cpu_share(self) -> float:
        return self.client_cpu_seconds / self.seconds if self.seconds else 0.0


@dataclass
class Summary:
    """One contender on one endpoint, across rounds (requests are messages on WebSocket)."""

    endpoint: str
    contender: str  # the name, loop included: "asgiweb-native-uvloop"
    median_rps: float
    min_rps: float
    max_rps: float
    ratio: float | None  # to the baseline's median on the same loop; None without one
    cpu_us_per_request: float
    p99_ms: float
    peak_rss_mib: float
    errors: int
    client_cpu_share: float = 0.0  # the load generator's busiest round, of one core
    loop: str = "asyncio"


# -- setup ----------------------------------------------------------------------------------
def ensure_wrk() -> str:
    """The path of wrk, installed with apt-get if missing."""
    found = shutil.which("wrk")
    if found:
        return found
    prefix = ["sudo"] if os.geteuid() != 0 and shutil.which("sudo") else []
    print("wrk is missing: apt-get install -y wrk", flush=True)
    install = [*prefix, "apt-get", "install", "-y", "wrk"]
    if subprocess.run(install).returncode != 0:  # a fresh image has no package lists yet
        subprocess.run([*prefix, "apt-get", "update"], check=False)
        subprocess.run(install, check=False)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed and apt-get could not install it")
    return found


def _bench_requirements() -> dict[str, str]:
    """The `bench` extra of pyproject.toml, by distribution name."""
    with open(ROOT / "pyproject.toml", "rb") as file:
        extra = tomllib.load(file)["project"]["optional-dependencies"]["bench"]
    return {re.split(r"[\[<>=!~; ]", req, maxsplit=1)[0].lower(): req for req in extra}


def ensure_bench_deps() -> None:
    """pip install whatever the driver needs from the `bench` extra and cannot import."""
    missing = [m for m in BENCH_MODULES if importlib.util.find_spec(m) is None]
    if not missing:
        return
    wanted = _bench_requirements()
    reqs = [wanted.get(BENCH_MODULES[m], BENCH_MODULES[m]) for m in missing]
    print(f"installing {' '.join(reqs)}", flush=True)
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *reqs])
    if pip.returncode != 0:  # carry on: what still cannot be imported is skipped and noted
        print("pip install failed; running without what it could not install", flush=True)
    importlib.invalidate_caches()


def preflight(servers: list[RunningServer], endpoints: list[Endpoint]) -> None:
    """Refuse to benchmark a contender that answers any endpoint wrongly."""
    problems = []
    for server in servers:
        for endpoint in endpoints:
            try:
                status, content_type, body = probe(server.port, endpoint)
            except OSError as exc:  # a broken WebSocket handshake or echo, say
                problems.append(f"{server.contender.name} {endpoint.name}: {exc!r}")
                continue
            problem = endpoint.check(status, content_type, body)
            if problem:
                problems.append(f"{server.contender.name} {endpoint.name}: {problem}")
    if problems:
        raise SystemExit("contenders disagree with the spec:\n  " + "\n  ".join(problems))


# -- measuring ------------------------------------------------------------------------------
def write_scripts(directory: Path) -> dict[str, Path]:
    """A wrk Lua script per HTTP endpoint: the done() reporter, plus the POST body for echo."""
    scripts = {}
    for endpoint in ENDPOINTS:
        if endpoint.websocket:
            continue  # ws_load's job
        text = _LUA_DONE
        if endpoint.method != "GET":
            text = (
                f'wrk.method = "{endpoint.method}"\n'
                f'wrk.body = string.rep("x", {endpoint.request_size})\n'
                'wrk.headers["Content-Type"] = "application/octet-stream"\n' + text
            )
        path = directory / f"{endpoint.name}.lua"
        path.write_text(text)
        scripts[endpoint.name] = path
    return scripts


def load(
    server: RunningServer, endpoint: Endpoint, script: Path | None, seconds: int, conns: int
) -> dict[str, float]:
    """Run the load generator once, pinned to its own core: wrk, or ws_load for a WebSocket
    endpoint. Its BENCH_JSON numbers, plus ``generator_cpu_s``, the CPU time it used."""
    if endpoint.websocket:
        argv = [sys.executable, str(WS_LOAD), "--host", HOST, "--port", str(server.port)]
        argv += ["--path", endpoint.path, f"-c{conns}", f"-d{seconds}"]
        argv += ["--size", str(len(endpoint.body))]
    else:
        assert script is not None
        url = server.url + endpoint.path
        argv = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "-s", str(script), url]
    if shutil.which("taskset"):
        argv = ["taskset", "-c", WRK_CPU, *argv]
    # The generator is the only child reaped meanwhile (taskset execs it): the children's
    # rusage delta is its CPU time, measured the same way for wrk and ws_load.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    for line in result.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            out = dict(json.loads(line.removeprefix("BENCH_JSON ")))
            out["generator_cpu_s"] = (after.ru_utime - before.ru_utime) + (
                after.ru_stime - before.ru_stime
            )
            return out
    name = "ws_load" if endpoint.websocket else "wrk"
    raise RuntimeError(f"{name} failed ({result.returncode}): {result.stdout}{result.stderr}")


def measure(
    server: RunningServer,
    endpoint: Endpoint,
    script: Path | None,
    rnd: int,
    seconds: int,
    conns: int,
) -> Run:
    """One measured load run, with the server's CPU time over it."""
    before = server.cpu_seconds()
    out = load(server, endpoint, script, seconds, conns)
    time.sleep(0.1)  # let the server finish closing the connections: that work counts too
    cpu = server.cpu_seconds() - before
    if server.process.poll() is not None:
        raise RuntimeError(f"{server.contender.name} died:\n{server.output()[-3000:]}")
    return Run(
        endpoint.name,
        server.contender.name,
        rnd,
        int(out["requests"]),
        out["duration_us"] / 1e6,
        cpu,
        int(out["socket_errors"]),
        int(out["bad_status"]),
        out["p50_us"],
        out["p99_us"],
        out["generator_cpu_s"],
    )


def benchmark(
    servers: list[RunningServer], endpoints: list[Endpoint], args: argparse.Namespace, tmp: Path
) -> tuple[list[Run], dict[tuple[str, str], int], bool]:
    """Every endpoint: warm up each contender, then ``rounds`` interleaved passes."""
    scripts = write_scripts(tmp)
    runs: list[Run] = []
    peak_rss: dict[tuple[str, str], int] = {}
    reset_ok = True
    total = len(endpoints) * args.rounds * len(servers)
    for endpoint in endpoints:
        script = scripts.get(endpoint.name)
        for server in servers:
            reset_ok = server.reset_peak_rss() and reset_ok
            load(server, endpoint, script, args.warmup, args.connections)
        for rnd in range(1, args.rounds + 1):
            for server in servers:
                run = measure(server, endpoint, script, rnd, args.duration, args.connections)
                runs.append(run)
                errors = run.socket_errors + run.bad_status
                print(
                    f"[{len(runs):3}/{total}] {endpoint.name:9} round {rnd} "
                    f"{server.contender.name:18} {run.rps:9.0f} {endpoint.unit}/s "
                    f"{run.cpu_us_per_request:7.1f} us CPU/{endpoint.unit}, "
                    f"client {run.client_cpu_share:4.0%} CPU"
                    + (f"  {errors} ERRORS" if errors else ""),
                    flush=True,
                )
        for server in servers:
            peak_rss[(endpoint.name, server.contender.name)] = server.peak_rss_kib()
    return runs, peak_rss, reset_ok


def summarise(
    runs: list[Run],
    peak_rss: dict[tuple[str, str], int],
    endpoints: list[Endpoint],
    contenders: list[Contender],
) -> list[Summary]:
    """Medians and spreads per endpoint and contender, with ratios to the baseline on the
    contender's own loop."""
    summaries = []
    for endpoint in endpoints:
        mine = [r for r in runs if r.endpoint == endpoint.name]
        for contender in contenders:
            base = [r.rps for r in mine if r.contender == baseline(contender.loop)]
            base_median = statistics.median(base) if base else None
            theirs = [r for r in mine if r.contender == contender.name]
            rps = [r.rps for r in theirs]
            median = statistics.median(rps)
            summaries.append(
                Summary(
                    endpoint.name,
                    contender.name,
                    median,
                    min(rps),
                    max(rps),
                    median / base_median if base_median else None,
                    statistics.median(r.cpu_us_per_request for r in theirs),
                    statistics.median(r.p99_us for r in theirs) / 1000,
                    peak_rss[(endpoint.name, contender.name)] / 1024,
                    sum(r.socket_errors + r.bad_status for r in theirs),
                    max(r.client_cpu_share for r in theirs),
                    contender.loop,
                )
            )
    return summaries


# -- command line ---------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 1 s: a smoke run")
    parser.add_argument("--rounds", type=int, help="measured runs per contender and endpoint")
    parser.add_argument("--duration", type=int, help="seconds per measured run (whole)")
    parser.add_argument("--warmup", type=int, help="seconds of warm-up per contender/endpoint")
    parser.add_argument(
        "--connections", type=int, default=64, help="wrk -c, and ws_load's (default 64)"
    )
    parser.add_argument(
        "--contenders",
        help="comma-separated subset, e.g. asgiweb-native (on each --loop) or "
        "asgiweb-native-uvloop (on that loop only)",
    )
    parser.add_argument(
        "--loop",
        choices=(*LOOPS, "both"),
        default="both",
        help="the event loop every contender runs on; both: each contender on each, ratios "
        "to aiohttp native on the same loop (default both)",
    )
    parser.add_argument("--endpoints", help="comma-separated subset, e.g. plaintext,json,ws")
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=ROOT / "docs" / "benchmarks",
        help="where results.md and results.png go (default docs/benchmarks)",
    )
    parser.add_argument(
        "--idle",
        type=int,
        default=DEFAULT_CONNECTIONS,
        help="idle keep-alive connections opened to measure memory per connection, after the "
        "endpoints (default %(default)s; 0 skips it)",
    )
    parser.add_argument(
        "--instructions",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also count instructions per request in-process under valgrind "
        "(benchmarks/instructions.py, 7-8 minutes); default: when valgrind is installed "
        "and the run is not --quick",
    )
    parser.add_argument("--no-install", action="store_true", help="do not install wrk or deps")
    parser.add_argument(
        "--from-json",
        type=Path,
        help="measure nothing: write the report again from a run's benchmarks/results/*.json",
    )
    args = parser.parse_args(argv)
    if args.instructions is None:
        args.instructions = not args.quick and shutil.which("valgrind") is not None
    elif args.instructions and shutil.which("valgrind") is None:
        # Now, not after half an hour of wall-clock rounds.
        parser.error("--instructions needs valgrind (apt-get install -y valgrind)")
    defaults = (2, 1, 1) if args.quick else (3, 5, 1)
    for name, default in zip(("rounds", "duration", "warmup"), defaults, strict=True):
        if getattr(args, name) is None:
            setattr(args, name, default)
    return args


def _select_endpoints(names: str | None) -> list[Endpoint]:
    if not names:
        return list(ENDPOINTS)
    wanted = names.split(",")
    unknown = set(wanted) - {endpoint.name for endpoint in ENDPOINTS}
    if unknown:
        raise SystemExit(f"unknown: {', '.join(sorted(unknown))}")
    return [endpoint for endpoint in ENDPOINTS if endpoint.name in wanted]


def select_contenders(names: str | None, loop: str) -> list[Contender]:
    """The contenders ``--contenders`` (families or full names) and ``--loop`` ask for."""
    loops = LOOPS if loop == "both" else (loop,)
    wanted = names.split(",") if names else None
    if wanted is not None:
        known = {c.family for c in CONTENDERS} | {c.name for c in CONTENDERS}
        unknown = set(wanted) - known
        if unknown:
            raise SystemExit(f"unknown: {', '.join(sorted(unknown))}")
    return [
        c
        for c in CONTENDERS
        if c.loop in loops and (wanted is None or c.family in wanted or c.name in wanted)
    ]


def count_instructions(
    contenders: list[Contender], endpoints: list[Endpoint]
) -> dict[str, dict[str, float]]:
    """Instructions per request in-process for the families and endpoints measured, of
    those benchmarks/inprocess.py can drive; after the servers stop, both cores in use."""
    families = [f for f in inprocess.FAMILIES if any(c.family == f for c in contenders)]
    names = [e.name for e in endpoints if e.name in inprocess.ENDPOINT_NAMES]
    if not families or not names:
        return {}
    print(f"counting instructions: {len(families)} families x {len(names)} endpoints", flush=True)
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed (apt-get install -y valgrind)")
    return instructions.measure_all(families, names, os.cpu_count() or 1, valgrind)


def rerender(path: Path, output_dir: Path) -> list[Path]:
    """The report of an earlier run, from its raw JSON (after a change to the report)."""
    raw = json.loads(path.read_text())
    meta = report.RunMetadata(**raw["meta"])
    for summary in raw["summaries"]:
        if "loop" not in summary:  # from before uvloop was measured: all ran on asyncio
            summary["contender"] += "-asyncio"
    summaries = [Summary(**summary) for summary in raw["summaries"]]
    ran = {(s.endpoint, s.contender) for s in summaries}
    endpoints = [e for e in ENDPOINTS if any(key[0] == e.name for key in ran)]
    contenders = [c for c in CONTENDERS if any(key[1] == c.name for key in ran)]
    return report.write_all(output_dir, meta, summaries, contenders, endpoints)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.from_json is not None:
        written = rerender(args.from_json, args.output_dir)
        print("wrote " + ", ".join(os.path.relpath(path) for path in written))
        return
    endpoints = _select_endpoints(args.endpoints)
    need_wrk = any(not endpoint.websocket for endpoint in endpoints)  # ws_load is ours
    if not args.no_install:
        if need_wrk:
            ensure_wrk()
        ensure_bench_deps()
    elif need_wrk and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (drop --no-install to install it)")
    contenders, skipped = [], []
    for contender in select_contenders(args.contenders, args.loop):
        if contender.available():
            contenders.append(contender)
        else:
            skipped.append(contender.name)
            print(f"skipping {contender.name}: cannot import {', '.join(contender.needs)}")
    runs_each = args.warmup + args.rounds * (args.duration + 0.2)
    eta = len(endpoints) * len(contenders) * runs_each
    print(
        f"{len(contenders)} contenders x {len(endpoints)} endpoints x {args.rounds} rounds "
        f"of {args.duration} s: about {eta / 60:.1f} minutes",
        flush=True,
    )

    meta = report.run_metadata(args)
    meta.notes += [f"Skipped, as it cannot be imported: {name}." for name in skipped]
    started = time.monotonic()
    servers: list[RunningServer] = []
    try:
        for contender in contenders:
            servers.append(start(contender))
        preflight(servers, endpoints)
        with tempfile.TemporaryDirectory(prefix="asgiweb-bench-") as tmp:
            runs, peak_rss, reset_ok = benchmark(servers, endpoints, args, Path(tmp))
        idle = usable_connections(args.idle)
        if idle < args.idle:
            meta.notes.append(f"Idle connections: {idle}, as many as the descriptor limit allows.")
        if idle:
            meta.idle_connections = idle
            for server in servers:
                kib = idle_kib_per_connection(server, idle)
                meta.idle_kib[server.contender.name] = kib
                print(f"idle      {server.contender.name:18} {kib:6.2f} KiB per connection")
    finally:
        for server in servers:
            server.stop()
    if args.instructions:
        meta.instructions = count_instructions(contenders, endpoints)
    meta.finish(time.monotonic() - started, reset_ok)
    summaries = summarise(runs, peak_rss, endpoints, contenders)
    print()
    print(report.text_table(summaries, contenders, endpoints))
    written = report.write_all(args.output_dir, meta, summaries, contenders, endpoints)
    raw = ROOT / "benchmarks" / "results" / f"run-{meta.stamp}.json"
    raw.parent.mkdir(parents=True, exist_ok=True)  # git-ignored: raw numbers for later digging
    raw.write_text(
        json.dumps(
            {
                "meta": meta.as_dict(),
                "summaries": [asdict(summary) for summary in summaries],
                "runs": [asdict(run) for run in runs],
            },
            indent=1,
        )
    )
    print("\nwrote " + ", ".join(os.path.relpath(path) for path in [*written, raw]))


if __name__ == "__main__":
    main()
