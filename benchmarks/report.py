"""Turn benchmark summaries into docs/benchmarks/results.md and results.png."""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shlex
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .contenders import BASELINE, CONTENDERS, LOOPS, ROOT, Contender, Endpoint, baseline
from .instructions import markdown as instruction_table

if TYPE_CHECKING:
    from .run import Summary

__all__ = ["RunMetadata", "run_metadata", "text_table", "write_all"]

# websockets and wsproto: uvicorn's WebSocket implementation (auto picks websockets when
# installed) and hypercorn's; they, not the framework, frame every /ws message there.
_PACKAGES = (
    "asgiweb", "aiohttp", "starlette", "uvicorn", "hypercorn", "httptools", "websockets",
    "wsproto", "uvloop",
)  # fmt: skip


@dataclass
class RunMetadata:
    """When, where and how a run was made."""

    stamp: str
    date: str
    command: str
    rounds: int
    duration: int
    warmup: int
    connections: int
    quick: bool
    machine: dict[str, str]
    load_before: str
    load_after: str = ""
    elapsed_s: float = 0.0
    peak_rss_reset: bool = True
    notes: list[str] = field(default_factory=list)
    # benchmarks/idle.py: KiB of RSS per idle keep-alive connection, by contender name.
    idle_connections: int = 0
    idle_kib: dict[str, float] = field(default_factory=dict)
    # benchmarks/instructions.py: instructions per request in-process, family -> endpoint.
    instructions: dict[str, dict[str, float]] = field(default_factory=dict)

    def finish(self, elapsed_s: float, peak_rss_reset: bool) -> None:
        self.elapsed_s = elapsed_s
        self.peak_rss_reset = peak_rss_reset
        self.load_after = _loadavg()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _proc_value(path: str, key: str) -> str:
    for line in Path(path).read_text().splitlines():
        if line.startswith(key):
            return line.partition(":")[2].strip()
    return "unknown"


def _run(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=10)
    except OSError:
        return ""
    return (out.stdout or out.stderr).strip()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _accelerator() -> str:
    """Whether asgiweb's native server runs its compiled functions (the servers inherit
    this process's environment, ASGIWEB_NO_EXTENSIONS included)."""
    from native_server.wire import accel

    return "in use" if accel.ENABLED else "not in use: pure Python (not built, or disabled)"


def machine_description() -> dict[str, str]:
    """CPU, memory, OS, Python and the versions of everything measured."""
    try:
        distro = platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except OSError:
        distro = ""
    mem_kib = int(_proc_value("/proc/meminfo", "MemTotal").split()[0])
    commit = _run(["git", "rev-parse", "--short", "HEAD"]) or "unknown"
    if _run(["git", "status", "--porcelain", "--", "asgiweb", "native_server"]):
        commit += " (asgiweb/ or native_server/ has uncommitted changes)"
    info = {
        "CPU": f"{_proc_value('/proc/cpuinfo', 'model name')}, {os.cpu_count()} logical cores",
        "Memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "OS": f"{distro or platform.system()}, kernel {platform.release()}",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "asgiweb commit": commit,
        "asgiweb C accelerator": _accelerator(),
        "wrk": _run(["wrk", "-v"]).splitlines()[0] if _run(["wrk", "-v"]) else "unknown",
    }
    info.update({package: _version(package) for package in _PACKAGES})
    return info


def _command() -> str:
    def short(path: str) -> str:
        try:
            return str(Path(path).absolute().relative_to(ROOT))
        except ValueError:
            return path

    # Relative to the repository, so the line works on another checkout. No resolve():
    # the venv's python is a symlink out of the repository.
    return shlex.join([short(sys.executable), short(sys.argv[0]), *sys.argv[1:]])


def run_metadata(args: argparse.Namespace) -> RunMetadata:
    now = datetime.now(UTC)
    return RunMetadata(
        stamp=now.strftime("%Y%m%d-%H%M%S"),
        date=now.strftime("%Y-%m-%d %H:%M UTC"),
        command=_command(),
        rounds=args.rounds,
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        quick=args.quick,
        machine=machine_description(),
        load_before=_loadavg(),
    )


# -- tables ---------------------------------------------------------------------------------
def _contender(name: str) -> Contender:
    return next(c for c in CONTENDERS if c.name == name)


def _label(name: str) -> str:
    return _contender(name).label


def _family_label(family: str) -> str:
    return next(c.label for c in CONTENDERS if c.family == family)


def _families(contenders: list[Contender]) -> list[str]:
    return list(dict.fromkeys(c.family for c in contenders))


def _loops(contenders: list[Contender]) -> list[str]:
    return [loop for loop in LOOPS if any(c.loop == loop for c in contenders)]


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def _rate(endpoint: Endpoint) -> str:
    return "msgs/s" if endpoint.websocket else "req/s"


def _by_key(summaries: list[Summary]) -> dict[tuple[str, str], Summary]:
    return {(s.endpoint, s.contender): s for s in summaries}


def ratio_table(
    summaries: list[Summary], contenders: list[Contender], endpoints: list[Endpoint]
) -> list[str]:
    """Endpoints and loops down, frameworks and servers across; in the cells, ratios to the
    baseline's median on the row's loop."""
    table = _by_key(summaries)
    families = _families(contenders)
    lines = [
        "| endpoint | loop | " + " | ".join(_family_label(f) for f in families) + " |",
        "|---|---|" + "---:|" * len(families),
    ]
    for endpoint in endpoints:
        for loop in _loops(contenders):
            rows = [table.get((endpoint.name, f"{family}-{loop}")) for family in families]
            cells = [_ratio(row.ratio) if row else "—" for row in rows]
            lines.append(f"| {endpoint.name} | {loop} | " + " | ".join(cells) + " |")
    return lines


# Pairs on the same ASGI server: the framework is the only difference between them.
SAME_SERVER_PAIRS = (
    ("asgiweb-uvicorn", "starlette-uvicorn"),
    ("asgiweb-hypercorn", "starlette-hypercorn"),
)


def same_server_table(summaries: list[Summary], endpoints: list[Endpoint]) -> list[str]:
    """asgiweb against Starlette under the same ASGI server and loop: req/s and CPU per
    request."""
    table = _by_key(summaries)
    lines: list[str] = []
    for ours, theirs in SAME_SERVER_PAIRS:
        rows = []
        for endpoint in endpoints:
            for loop in LOOPS:
                a = table.get((endpoint.name, f"{ours}-{loop}"))
                b = table.get((endpoint.name, f"{theirs}-{loop}"))
                if a is None or b is None or not b.median_rps or not a.cpu_us_per_request:
                    continue
                rows.append(
                    f"| {endpoint.name} | {loop} | {a.median_rps / b.median_rps:.2f}× "
                    f"| {b.cpu_us_per_request / a.cpu_us_per_request:.2f}× |"
                )
        if rows:
            lines += [
                f"| endpoint | loop | {_family_label(ours)} req/s ÷ {_family_label(theirs)} "
                "| CPU per request, theirs ÷ ours |",
                "|---|---|---:|---:|",
                *rows,
                "",
            ]
    return lines[:-1]  # the page adds the blank line after the last table


# Each ASGI server's floor (a bare application), and the frameworks measured on it.
FLOORS = (
    ("floor-uvicorn", ("asgiweb-uvicorn", "starlette-uvicorn")),
    ("floor-hypercorn", ("asgiweb-hypercorn", "starlette-hypercorn")),
)


def floor_table(summaries: list[Summary], endpoints: list[Endpoint]) -> list[str]:
    """Server CPU per request of a bare ASGI application, what each framework adds to it
    on the same server and loop, and the ratio to Starlette that an application costing
    nothing would reach: the ceiling of any "faster than Starlette" target there."""
    table = _by_key(summaries)
    rows = []
    for floor, (ours, theirs) in FLOORS:
        for endpoint in endpoints:
            for loop in LOOPS:
                base = table.get((endpoint.name, f"{floor}-{loop}"))
                a = table.get((endpoint.name, f"{ours}-{loop}"))
                b = table.get((endpoint.name, f"{theirs}-{loop}"))
                if base is None or a is None or b is None or not base.cpu_us_per_request:
                    continue
                bare = base.cpu_us_per_request
                rows.append(
                    f"| {_family_label(floor)} | {endpoint.name} | {loop} | {bare:.1f} "
                    f"| {a.cpu_us_per_request - bare:+.1f} | {b.cpu_us_per_request - bare:+.1f} "
                    f"| {b.cpu_us_per_request / bare:.2f}× |"
                )
    if not rows:
        return []
    return [
        "| server | endpoint | loop | bare app, CPU µs/op | asgiweb adds | Starlette adds "
        "| ceiling vs Starlette |",
        "|---|---|---|---:|---:|---:|---:|",
        *rows,
    ]


def endpoint_table(summaries: list[Summary], endpoint: Endpoint) -> list[str]:
    """One endpoint: every contender's numbers."""
    lines = [
        f"### {endpoint.name}: {endpoint.title}",
        "",
        f"| contender | loop | {_rate(endpoint)} (median) | min–max "
        f"| vs {_family_label(BASELINE)} on the same loop "
        f"| CPU µs/{endpoint.unit} | p99 latency ms | peak RSS MiB | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    cpu_format = ".1f" if endpoint.websocket else ".0f"  # ~10 µs a message: keep a decimal
    for s in summaries:
        if s.endpoint != endpoint.name:
            continue
        lines.append(
            f"| {_label(s.contender)} | {s.loop} | {s.median_rps:,.0f} "
            f"| {s.min_rps:,.0f}–{s.max_rps:,.0f} "
            f"| {_ratio(s.ratio)} | {s.cpu_us_per_request:{cpu_format}} | {s.p99_ms:.1f} "
            f"| {s.peak_rss_mib:.0f} | {s.errors} |"
        )
    return lines


def idle_table(meta: RunMetadata, contenders: list[Contender]) -> list[str]:
    """KiB per idle keep-alive connection, and aiohttp native's figure on the same loop
    divided by it (above 1: less memory than aiohttp)."""
    if not meta.idle_kib:
        return []
    lines = [
        "## Memory per idle keep-alive connection",
        "",
        f"{meta.idle_connections} connections, each after one `GET /plaintext`, held open: the "
        "server's RSS with them less before, per connection (benchmarks/idle.py). Kernel "
        "socket buffers are in no process's RSS.",
        "",
        "| contender | loop | KiB per connection | aiohttp native ÷ this |",
        "|---|---|---:|---:|",
    ]
    for c in contenders:
        kib = meta.idle_kib.get(c.name)
        if kib is None:
            continue
        base = meta.idle_kib.get(baseline(c.loop))
        ratio = base / kib if base is not None and kib > 0 else None
        lines.append(f"| {c.label} | {c.loop} | {kib:.1f} | {_ratio(ratio)} |")
    return [*lines, ""]


def text_table(
    summaries: list[Summary], contenders: list[Contender], endpoints: list[Endpoint]
) -> str:
    """The summary for the terminal; an op is a request, or an echoed message on ws."""
    rows = [
        f"{'endpoint':10} {'contender':20} {'loop':7} {'ops/s':>9} {'min-max':>15} {'ratio':>6} "
        f"{'us/op':>7} {'p99 ms':>7} {'RSS MiB':>8} {'errors':>6}"
    ]
    for s in summaries:
        spread = f"{s.min_rps:.0f}-{s.max_rps:.0f}"
        ratio = "-" if s.ratio is None else f"{s.ratio:.2f}"
        rows.append(
            f"{s.endpoint:10} {_label(s.contender):20} {s.loop:7} {s.median_rps:9.0f} {spread:>15} "
            f"{ratio:>6} {s.cpu_us_per_request:7.0f} {s.p99_ms:7.1f} {s.peak_rss_mib:8.0f} "
            f"{s.errors:6}"
        )
    return "\n".join(rows)


def _notes(
    meta: RunMetadata,
    summaries: list[Summary],
    contenders: list[Contender],
    endpoints: list[Endpoint],
) -> list[str]:
    from asgiweb import web

    from .apps.aiohttp_style import file_handler_kind

    if hasattr(web, "FileResponse"):
        file_note = "`GET /file`: every framework's own `FileResponse`."
    else:
        file_note = (
            f"`GET /file` on asgiweb: `{file_handler_kind(web)}`, as asgiweb has no "
            "`FileResponse`; aiohttp and Starlette use their `FileResponse`."
        )
    notes = [file_note]
    for endpoint in endpoints:
        if not endpoint.websocket:
            continue
        busiest = max(s.client_cpu_share for s in summaries if s.endpoint == endpoint.name)
        if busiest < 0.8:
            pace = "well below all of it, so the servers set the pace."
        else:
            pace = (
                "close to all of it, so the load generator may have held the fastest "
                "contenders back: read their msgs/s as a floor and compare CPU µs/msg."
            )
        notes += [
            f"WebSocket `{endpoint.path}`: `benchmarks/ws_load.py` (raw asyncio, pinned to "
            f"core 1) holds {meta.connections} connections open, each sending a "
            f"{len(endpoint.body)}-byte text message and waiting for its echo before the "
            "next, as wrk does with requests. msgs/s counts echoes, each checked byte for "
            "byte; the handshakes happen before the clock starts. Every server runs its "
            "defaults (no heartbeat, no compression: the client offers none). Under uvicorn "
            "(`--ws auto`) the `websockets` package frames the messages, under hypercorn "
            "`wsproto`.",
            f"ws_load's busiest round used {busiest:.0%} of its core: {pace}",
        ]
    notes += [
        "CPU µs/req (µs/msg on WebSocket): user + system CPU time of the server process "
        "over a run, from `/proc/PID/stat`, divided by the requests wrk completed (the "
        "messages ws_load got back). It does not depend on how fast the load generator "
        "is, so it is the steadier number on a busy machine.",
        "Peak RSS: `VmHWM` from `/proc/PID/status` "
        + (
            "after each endpoint, reset (`clear_refs`) before its warm-up."
            if meta.peak_rss_reset
            else "since the process started: it could not be reset, so it only grows."
        ),
        "Errors: wrk socket errors plus non-2xx responses, over all rounds; on WebSocket, "
        "connections that failed or broke plus echoes that differed from what was sent.",
    ]
    for loop in _loops(contenders):
        if not any(c.name == baseline(loop) for c in contenders):
            notes.append(f"{baseline(loop)} did not run, so the {loop} rows have no ratios.")
    return notes + meta.notes


def markdown(
    meta: RunMetadata,
    summaries: list[Summary],
    contenders: list[Contender],
    endpoints: list[Endpoint],
) -> str:
    """The whole results page."""
    lines = [
        "# Benchmark results",
        "",
        "Written by `benchmarks/run.py`; do not edit by hand. How it measures and how to "
        "read it: [benchmarks/README.md](../../benchmarks/README.md).",
        "",
    ]
    if meta.quick:
        lines += ["> **Quick run** — too short to quote; it proves the driver works.", ""]
    generators = []
    if any(not e.websocket for e in endpoints):
        generators.append(f"`wrk -t1 -c{meta.connections}`")
    if any(e.websocket for e in endpoints):
        generators.append(f"`ws_load.py -c{meta.connections}` (WebSocket)")
    lines += [
        f"* Date: {meta.date}",
        f"* Command: `{meta.command}`",
        f"* Load: {' and '.join(generators)}, {meta.rounds} round(s) of {meta.duration} s "
        f"per contender and endpoint after a {meta.warmup} s warm-up, contenders interleaved; "
        "each server pinned to core 0 (`taskset -c 0`), the load generator to core 1.",
        f"* Wall time {meta.elapsed_s / 60:.1f} min; load average {meta.load_before} before, "
        f"{meta.load_after} after (anything else running on the machine adds noise).",
        "",
        "## Requests per second, relative to aiohttp native on the same loop",
        "",
        "Median over rounds divided by aiohttp native's median on the same event loop "
        "(asyncio rows by aiohttp on asyncio, uvloop rows by aiohttp on uvloop): above 1 is "
        "faster. On WebSocket (`ws`), echoed messages per second.",
        "",
        *ratio_table(summaries, contenders, endpoints),
        "",
        "![Requests per second relative to aiohttp native](results.png)",
        "",
    ]
    same_server = same_server_table(summaries, endpoints)
    if same_server:
        lines += [
            "## asgiweb and Starlette on the same ASGI server",
            "",
            "Medians of the same rounds, on the same loop; above 1 asgiweb is faster.",
            "",
            *same_server,
            "",
        ]
    floors = floor_table(summaries, endpoints)
    if floors:
        lines += [
            "## What the ASGI server alone costs",
            "",
            "A bare ASGI application (benchmarks/apps/floor_app.py: canned answers, no "
            "framework) under the same server and loop, and the CPU per request each framework "
            "adds to it (negative: below the floor, which is noise). The last column is "
            "Starlette's CPU per request divided by the bare application's: what a framework "
            "that cost nothing would score against Starlette there.",
            "",
            *floors,
            "",
        ]
    if meta.instructions:
        lines += [
            "## Instructions per request, counted in-process",
            "",
            "Each server's protocol and framework fed requests over a fake transport, under "
            "valgrind (benchmarks/instructions.py): the instructions one request (or "
            "WebSocket message) costs above the socket, thousands, on asyncio. The same on "
            "every run, where the wall-clock figures above move by 15-20% between runs; "
            "what it leaves out (system calls, the kernel's TCP work, the loop's polling) "
            "costs every contender alike, so wall-clock ratios sit nearer 1 than these.",
            "",
            *instruction_table(meta.instructions),
            "",
        ]
    lines += idle_table(meta, contenders)
    lines += [
        "## Per endpoint",
        "",
    ]
    for endpoint in endpoints:
        lines += [*endpoint_table(summaries, endpoint), ""]
    notes = _notes(meta, summaries, contenders, endpoints)
    lines += ["## Notes", "", *(f"* {note}" for note in notes), ""]
    lines += ["## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in meta.machine.items()]
    lines += ["", "## Contenders", ""]
    lines += ["| contender | loop | command (each under `taskset -c 0`) |", "|---|---|---|"]
    for c in contenders:
        command = shlex.join(["python", *c.argv("PORT")[1:]])
        lines.append(f"| {c.label} | {c.loop} | `{command}` |")
    return "\n".join(lines) + "\n"


# -- chart ----------------------------------------------------------------------------------
def chart(
    path: Path,
    summaries: list[Summary],
    contenders: list[Contender],
    endpoints: list[Endpoint],
    quick: bool = False,
) -> None:
    """Grouped bars: per endpoint, each contender's median req/s over the baseline's."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render straight to a file
    import matplotlib.pyplot as plt

    table = _by_key(summaries)
    families = _families(contenders)
    width = 0.8 / len(contenders)
    fig, ax = plt.subplots(figsize=(11 if len(contenders) <= 5 else 14, 5.5), dpi=120)
    top = 1.0
    for i, contender in enumerate(contenders):
        xs, heights, low, high = [], [], [], []
        for j, endpoint in enumerate(endpoints):
            s = table[(endpoint.name, contender.name)]
            if s.ratio is None:
                continue
            scale = s.ratio / s.median_rps  # req/s -> ratio, so the whiskers span min..max
            xs.append(j - 0.4 + width * (i + 0.5))
            heights.append(s.ratio)
            # max(0, ...): with one round min == median, and rounding can leave -1e-17,
            # which matplotlib refuses as an error bar.
            low.append(max(0.0, s.ratio - s.min_rps * scale))
            high.append(max(0.0, s.max_rps * scale - s.ratio))
        # A framework keeps its colour on both loops; uvloop's bars are hatched.
        ax.bar(
            xs, heights, width, label=f"{contender.label} ({contender.loop})",
            color=f"C{families.index(contender.family)}",
            hatch="//" if contender.loop == "uvloop" else None, yerr=[low, high], capsize=2,
        )  # fmt: skip
        for x, height, up in zip(xs, heights, high, strict=True):
            # Above the whisker, not the bar, so the number never sits on the line.
            ax.text(x, height + up + 0.01, f"{height:.2f}", ha="center", va="bottom", fontsize=6)
            top = max(top, height + up)
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    ticks = [f"{e.name}\n{'WebSocket' if e.websocket else e.method} {e.path}" for e in endpoints]
    ax.set_xticks(range(len(endpoints)), ticks)
    ax.set_ylabel(
        f"req/s (msgs/s) relative to {_family_label(BASELINE)}\non the same loop (higher is better)"
    )
    title = (
        "Median req/s (WebSocket: msgs/s) relative to aiohttp native on the same event loop; "
        "whiskers: min–max of rounds"
    )
    ax.set_title(title + (" (quick run)" if quick else ""), fontsize=10)
    # The legend fills column by column: a framework's loops one above the other.
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(contenders)), key=lambda i: families.index(contenders[i].family))
    ax.legend(
        [handles[i] for i in order], [labels[i] for i in order], fontsize=8,
        ncols=len(families), loc="upper center", bbox_to_anchor=(0.5, -0.15),
    )  # fmt: skip
    ax.set_ylim(0, top * 1.12)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_all(
    directory: Path,
    meta: RunMetadata,
    summaries: list[Summary],
    contenders: list[Contender],
    endpoints: list[Endpoint],
) -> list[Path]:
    """Write results.md and, if there is a baseline to compare with, results.png."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    if not any(s.ratio is not None for s in summaries):
        meta.notes.append("No chart: the baseline did not run.")
    elif importlib.util.find_spec("matplotlib") is None:
        meta.notes.append("No chart: matplotlib is not installed.")
    else:
        png = directory / "results.png"
        chart(png, summaries, contenders, endpoints, meta.quick)
        written.append(png)
    md = directory / "results.md"
    md.write_text(markdown(meta, summaries, contenders, endpoints))
    written.insert(0, md)
    return written
