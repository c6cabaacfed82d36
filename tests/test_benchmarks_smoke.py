"""Every benchmark contender starts as the driver starts it, answers each endpoint right, and
stops on SIGTERM: the benchmark suite cannot rot unnoticed. Each runs on asyncio, plus
asgiweb's native server on uvloop (the uvloop variants differ only by a loop option)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `benchmarks` is not installed; it lives next to `tests`
    sys.path.insert(0, str(ROOT))

from benchmarks.contenders import (  # noqa: E402
    CONTENDERS,
    ENDPOINTS,
    HOST,
    Contender,
    Endpoint,
    RunningServer,
    running,
)


def _check_websocket(server: RunningServer, endpoint: Endpoint) -> None:
    """One text and one binary message echoed, through an independent client library."""
    from websockets.sync.client import connect

    # The library offers permessage-deflate, so this also covers the compressed path
    # that the benchmark's own client (which offers nothing) never takes.
    with connect(f"ws://{HOST}:{server.port}{endpoint.path}", open_timeout=10) as ws:
        text = endpoint.body.decode()
        ws.send(text)
        assert ws.recv(timeout=10) == text, f"{endpoint.name}: text echo"
        ws.send(endpoint.body)
        assert ws.recv(timeout=10) == endpoint.body, f"{endpoint.name}: binary echo"


def _runs_uvloop(server: RunningServer) -> bool:
    """Whether uvloop's extension is loaded in the server process: never, unless it serves on it."""
    maps = Path(f"/proc/{server.process.pid}/maps").read_text()
    return any("/uvloop/loop." in line for line in maps.splitlines())


SMOKED = [c for c in CONTENDERS if c.loop == "asyncio" or c.name == "asgiweb-native-uvloop"]


@pytest.mark.parametrize("contender", SMOKED, ids=lambda c: c.name)
def test_contender_serves_every_endpoint(contender: Contender) -> None:
    for module in contender.needs:  # aiohttp and Starlette are bench-only dependencies
        pytest.importorskip(module)
    pytest.importorskip("websockets")
    with running(contender) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        if sys.platform.startswith("linux"):
            assert _runs_uvloop(server) == (contender.loop == "uvloop"), contender.name
        for endpoint in ENDPOINTS:
            if endpoint.websocket:
                _check_websocket(server, endpoint)
                continue
            response = client.request(
                endpoint.method, endpoint.path, content=endpoint.request_body() or None
            )
            problem = endpoint.check(
                response.status_code, response.headers.get("content-type", ""), response.content
            )
            assert problem is None, f"{endpoint.name}: {problem}"
    # uvicorn re-raises the SIGTERM it handled; anything else means a crash or a SIGKILL.
    assert server.process.returncode in (0, -signal.SIGTERM), server.output()


def test_ws_load_generator() -> None:
    """The driver's WebSocket preflight and a short ws_load run, as the driver makes them."""
    from benchmarks.contenders import probe
    from benchmarks.run import load

    endpoint = next(e for e in ENDPOINTS if e.websocket)
    with running(CONTENDERS[0], cpu=None) as server:
        assert endpoint.check(*probe(server.port, endpoint)) is None
        out = load(server, endpoint, None, 1, 4)
    assert out["requests"] > 0, out
    assert out["socket_errors"] == out["bad_status"] == 0, out
    assert 0.9 < out["duration_us"] / 1e6 < 1.5, out


def test_ratios_are_to_the_baseline_on_the_same_loop() -> None:
    """A uvloop row is divided by aiohttp on uvloop, never by aiohttp on asyncio."""
    from benchmarks import report
    from benchmarks.run import Run, select_contenders, summarise

    contenders = select_contenders("aiohttp-native,asgiweb-native", "both")
    assert [c.name for c in contenders] == [
        "asgiweb-native-asyncio", "aiohttp-native-asyncio",
        "asgiweb-native-uvloop", "aiohttp-native-uvloop",
    ]  # fmt: skip
    rps = {
        "aiohttp-native-asyncio": 100, "asgiweb-native-asyncio": 150,
        "aiohttp-native-uvloop": 200, "asgiweb-native-uvloop": 300,
    }  # fmt: skip
    runs = [Run("plaintext", name, 1, n, 1.0, 0.01, 0, 0, 100.0, 900.0) for name, n in rps.items()]
    peak_rss = {("plaintext", name): 1024 for name in rps}
    endpoints = [e for e in ENDPOINTS if e.name == "plaintext"]
    summaries = summarise(runs, peak_rss, endpoints, contenders)
    ratios = {(s.contender, s.loop): s.ratio for s in summaries}
    assert ratios == {
        ("asgiweb-native-asyncio", "asyncio"): 1.5,
        ("aiohttp-native-asyncio", "asyncio"): 1.0,
        ("asgiweb-native-uvloop", "uvloop"): 1.5,
        ("aiohttp-native-uvloop", "uvloop"): 1.0,
    }
    meta = report.RunMetadata("stamp", "date", "command", 1, 1, 1, 64, True, {}, "0.0", notes=[])
    text = report.markdown(meta, summaries, contenders, endpoints)
    assert "| endpoint | loop | asgiweb native | aiohttp native |" in text
    assert "| plaintext | asyncio | 1.50× | 1.00× |" in text
    assert "| plaintext | uvloop | 1.50× | 1.00× |" in text
    assert "| asgiweb native | uvloop | 300 | 300–300 | 1.50× |" in text


def test_floor_table_sets_each_framework_against_its_servers_bare_app() -> None:
    from benchmarks import report
    from benchmarks.run import Run, select_contenders, summarise

    contenders = select_contenders(
        "aiohttp-native,asgiweb-uvicorn,starlette-uvicorn,floor-uvicorn", "asyncio"
    )
    # CPU per request: 80 us bare, asgiweb 110, Starlette 120 (100 requests each).
    cpu_us = {"aiohttp-native": 100, "floor-uvicorn": 80, "asgiweb-uvicorn": 110,
              "starlette-uvicorn": 120}  # fmt: skip
    runs = [
        Run("plaintext", f"{family}-asyncio", 1, 100, 1.0, us * 100 / 1e6, 0, 0, 100.0, 900.0)
        for family, us in cpu_us.items()
    ]
    peak_rss = {("plaintext", run.contender): 1024 for run in runs}
    endpoints = [e for e in ENDPOINTS if e.name == "plaintext"]
    summaries = summarise(runs, peak_rss, endpoints, contenders)
    lines = report.floor_table(summaries, endpoints)
    assert lines[2:] == [
        "| bare ASGI + uvicorn | plaintext | asyncio | 80.0 | +30.0 | +40.0 | 1.50× |"
    ]


def test_only_one_loop_leaves_the_other_out() -> None:
    from benchmarks.run import select_contenders

    names = [c.name for c in select_contenders("aiohttp-native,asgiweb-native-uvloop", "uvloop")]
    assert names == ["asgiweb-native-uvloop", "aiohttp-native-uvloop"]
    with pytest.raises(SystemExit, match="unknown: nginx"):
        select_contenders("nginx", "both")


def test_idle_connections_are_measured_and_reported() -> None:
    """The idle-memory measurement runs against a real server (every connection answered
    and held), and the report divides aiohttp's figure by each on the same loop."""
    from benchmarks import report
    from benchmarks.idle import idle_kib_per_connection, usable_connections
    from benchmarks.run import select_contenders

    connections = usable_connections(50)
    assert connections == 50
    with running(CONTENDERS[0], cpu=None) as server:
        kib = idle_kib_per_connection(server, connections)
        assert server.process.poll() is None, server.output()
    assert isinstance(kib, float) and kib < 64, kib  # 50 connections: a coarse figure

    contenders = select_contenders("aiohttp-native,asgiweb-native", "both")
    meta = report.RunMetadata("stamp", "date", "command", 1, 1, 1, 64, True, {}, "0.0")
    meta.idle_connections = 1000
    meta.idle_kib = {
        "asgiweb-native-asyncio": 3.2, "aiohttp-native-asyncio": 8.0,
        "asgiweb-native-uvloop": 4.0, "aiohttp-native-uvloop": 6.0,
    }  # fmt: skip
    lines = report.idle_table(meta, contenders)
    assert "| asgiweb native | asyncio | 3.2 | 2.50× |" in lines
    assert "| asgiweb native | uvloop | 4.0 | 1.50× |" in lines
    assert "| aiohttp native | uvloop | 6.0 | 1.00× |" in lines
