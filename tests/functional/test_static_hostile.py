"""Hostile requests to static files (issue 16), on every path over raw loopback sockets.

A secret planted beside the served root must never come back, whatever the encoding of
the traversal, whatever symlink or pre-compressed sibling leads to it; a path outside
is answered the same whether it exists or not; directory listings escape the names they
show; hostile Range headers are answered as aiohttp 3.13 answers them, cheaply.

Targets go out as raw request lines: an HTTP client would normalise the dot segments.
"""

from __future__ import annotations

import html
import os
import re
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from asgiweb import web

SECRET = b"HOSTILE-SECRET-3b1f-never-served"
SECRET_GZ = b"HOSTILE-SECRET-GZ-never-served"
SECRET_BR = b"HOSTILE-SECRET-BR-never-served"
# File names only found outside the root: they must never show up in a listing.
PARENT_MARKER = "PARENT-LISTING-MARKER"
OUTSIDE_MARKER = "OUTSIDE-LISTING-MARKER"
NEVER = (b"HOSTILE-SECRET", PARENT_MARKER.encode(), b"root:x:0:0")
# Hostile names for the listing; Linux allows every byte in a name but "/" and NUL.
HOSTILE_NAMES = (
    "<img src=x onerror=alert(1)>.txt",
    "\"quoted\" & 'single'.txt",
    "a&amp;b.txt",
    "ünïcødé-ß-日本.txt",
    "pct%41%2e%2e.txt",
    "hash#frag?q=1.txt",
    "sp ace.txt",
    "new\nline.txt",
)
HOSTILE_DIR = 'd<i>r&"ü'


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """``root`` and ``follow`` are served; everything else under tmp_path is outside."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "secret.txt.gz").write_bytes(SECRET_GZ)
    (tmp_path / "secret.txt.br").write_bytes(SECRET_BR)
    (tmp_path / PARENT_MARKER).write_bytes(SECRET)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "inner-secret.txt").write_bytes(SECRET)
    (outside / OUTSIDE_MARKER).write_bytes(SECRET)
    (outside / "public.txt").write_bytes(b"public outside")

    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"file a")
    (root / "b.txt").write_bytes(b"file b")
    (root / "c.txt").write_bytes(b"file c")
    (root / "c.txt.gz").write_bytes(b"c, gzipped inside")  # a sibling that may be chosen
    (root / "e.txt").write_bytes(b"file e")
    (root / "big.bin").write_bytes(bytes(range(256)) * 1024)
    (root / "sub" / "s.txt").write_bytes(b"file s")
    # Symlinks leading out: files, directories, dangling, absolute, looping.
    os.symlink("../secret.txt", root / "link_out")
    os.symlink(tmp_path / "secret.txt", root / "abs_out")
    os.symlink("../missing.txt", root / "dangling_out")
    os.symlink("../outside", root / "dirlink_out")
    os.symlink("../no-such-dir", root / "dirlink_dangling")
    os.symlink("sub", root / "dirlink_in")
    os.symlink("loop", root / "loop")
    # Pre-compressed siblings leading out, by each way a symlink can.
    os.symlink("../secret.txt.gz", root / "a.txt.gz")
    os.symlink("../secret.txt.br", root / "a.txt.br")
    os.symlink(tmp_path / "secret.txt.gz", root / "b.txt.gz")
    os.symlink(tmp_path / "secret.txt.br", root / "b.txt.br")
    os.symlink("hop.gz", root / "e.txt.gz")  # a chain: inside first, then out
    os.symlink("../secret.txt.gz", root / "hop.gz")
    os.symlink("dirlink_out/inner-secret.txt", root / "e.txt.br")  # via a directory link
    os.symlink("../secret.txt.gz", root / "ghost.txt.gz")  # the file itself is missing
    names = root / "names"
    names.mkdir()
    for name in HOSTILE_NAMES:
        (names / name).write_bytes(name.encode())
    (names / os.fsdecode(b"bad-\xff\xfe-utf8.txt")).write_bytes(b"not utf-8")
    (names / HOSTILE_DIR).mkdir()
    (names / HOSTILE_DIR / "inner.txt").write_bytes(b"inner")

    follow = tmp_path / "follow"
    follow.mkdir()
    (follow / "f.txt").write_bytes(b"file f")
    os.symlink("../secret.txt.gz", follow / "f.txt.gz")
    os.symlink("../secret.txt.br", follow / "f.txt.br")
    os.symlink("../outside", follow / "outlink")  # followed by design
    os.symlink("loop", follow / "loop")
    return tmp_path


def static_app(tree: Path) -> web.Application:
    app = web.Application()
    app.router.add_static("/static", tree / "root", show_index=True, follow_symlinks=False)
    app.router.add_static("/ver", tree / "root", show_index=True, append_version=True)
    app.router.add_static("/follow", tree / "follow", show_index=True, follow_symlinks=True)
    return app


class Answer:
    """One raw HTTP/1.1 response."""

    def __init__(self, raw: bytes) -> None:
        assert raw.startswith(b"HTTP/1."), raw[:200]
        self.raw = raw
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        self.status = int(lines[0].split(b" ", 2)[1])
        self.headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            self.headers[name.strip().lower()] = value.strip()

    def comparable(self) -> tuple[int, list[tuple[str, str]], bytes]:
        """Everything but the Date header, which changes by the second."""
        fields = sorted((k, v) for k, v in self.headers.items() if k != "date")
        return self.status, fields, self.body


def request(port: int, target: bytes, headers: bytes = b"", method: bytes = b"GET") -> Answer:
    """Send ``target`` exactly as given, read the answer to the connection's end."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(method + b" " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     + headers + b"\r\n")  # fmt: skip
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return Answer(b"".join(chunks))


def assert_nothing_outside(answer: Answer, target: bytes) -> None:
    for marker in NEVER:
        assert marker not in answer.raw, (target, answer.raw[:300])


# Appended to each prefix; every one tries to reach <tmp>/secret.txt (or /etc/passwd).
TRAVERSALS = [
    b"/../secret.txt",
    b"/../../secret.txt",
    b"/..",
    b"/../",
    b"/../../",
    b"/sub/../../secret.txt",
    b"/%2e%2e/secret.txt",
    b"/%2E%2E/secret.txt",
    b"/%2E%2e/secret.txt",
    b"/.%2e/secret.txt",
    b"/%2e./secret.txt",
    b"/%2e%2e/",
    b"/%2e%2e%2fsecret.txt",
    b"/%2E%2E%2Fsecret.txt",
    b"/..%2fsecret.txt",
    b"/..%2Fsecret.txt",
    b"/sub%2f..%2f..%2fsecret.txt",
    b"/sub/..%2F..%2Fsecret.txt",
    b"/%252e%252e/secret.txt",
    b"/%252e%252e%252fsecret.txt",
    b"/..%252fsecret.txt",
    b"/%25%32%65%25%32%65/secret.txt",
    b"/..\\secret.txt",
    b"/sub\\..\\..\\secret.txt",
    b"/..%5csecret.txt",
    b"/..%5Csecret.txt",
    b"/%2e%2e%5csecret.txt",
    b"/..%255csecret.txt",
    b"/..%00/secret.txt",
    b"/%00/../secret.txt",
    b"/secret.txt%00",
    b"/a.txt%00/../../secret.txt",
    b"/%c0%ae%c0%ae/secret.txt",
    b"/%c0%ae%c0%ae%c0%afsecret.txt",
    b"/%e0%80%ae%e0%80%ae/secret.txt",
    b"/..%c0%afsecret.txt",
    b"/..%c1%9csecret.txt",
    b"/%u002e%u002e/secret.txt",
    b"/..;/secret.txt",
    b"/.../secret.txt",
    b"/./../secret.txt",
    b"/dirlink_in/../../secret.txt",
    b"/dirlink_in/..%2F..%2Fsecret.txt",
    b"/a.txt/../../secret.txt",
    b"//etc/passwd",
    b"///etc/passwd",
    b"/%2fetc%2fpasswd",
    b"/%2Fetc/passwd",
    b"/../../../../../../../../etc/passwd",
    b"/..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    b"/C:/Windows/win.ini",
    b"/C:%5cWindows%5cwin.ini",
    b"/c:..\\secret.txt",
    b"/C:%2f..%2f..%2fsecret.txt",
    b"/\\\\?\\C:\\secret.txt",
    b"/%5c%5c?%5cC:%5csecret.txt",
]
PREFIXES = (b"/static", b"/ver", b"/follow")
VARIANTS = (b"", b"Accept-Encoding: gzip, br\r\n", b"Range: bytes=0-\r\n")


def absolute_targets(tree: Path) -> list[bytes]:
    secret = os.fsencode(tree / "secret.txt")
    targets = []
    for prefix in PREFIXES:
        targets += [
            prefix + b"/" + secret,  # "/static//tmp/.../secret.txt"
            prefix + b"/" + secret.replace(b"/", b"%2F"),
            prefix + b"/%2e%2e" + secret,
            b"http://x" + prefix + b"/../secret.txt",  # absolute-form request target
            b"http://x" + prefix + b"/%2e%2e/secret.txt",
        ]
    return targets


def test_encoded_traversal_never_serves_outside_bytes(serve_app: Any, tree: Path) -> None:
    targets = [prefix + t for prefix in PREFIXES for t in TRAVERSALS] + absolute_targets(tree)
    with serve_app(static_app(tree)) as server:
        for target in targets:
            for variant in VARIANTS:
                answer = request(server.port, target, variant)
                assert_nothing_outside(answer, target)
                # 404 as aiohttp; 400 where the server refused the request line itself.
                assert answer.status in (400, 404), (target, variant, answer.raw[:200])
            answer = request(server.port, target, method=b"HEAD")
            assert answer.status in (400, 404), (target, answer.raw[:200])
            assert answer.headers.get("content-length") != str(len(SECRET)), target
        # Dot segments that stay inside the root are fine, as in aiohttp.
        for target in (b"/static/sub/../a.txt", b"/static/sub/%2e%2e/a.txt", b"/follow/./f.txt"):
            answer = request(server.port, target)
            assert answer.status == 200 and answer.body.startswith(b"file "), target


# Pairs of paths outside the root, the first existing and the second not: each pair must
# get the same answer, or the server is an oracle for the file system beside it.
EXISTENCE_PAIRS = [
    (b"/static/../secret.txt", b"/static/../missing.txt"),
    (b"/static/%2e%2e/secret.txt", b"/static/%2e%2e/missing.txt"),
    (b"/static/..%2fsecret.txt", b"/static/..%2fmissing.txt"),
    (b"/static/..%2foutside%2f", b"/static/..%2fno-such-dir%2f"),
    (b"/static/..%2foutside", b"/static/..%2fno-such-dir"),
    (b"/static/link_out", b"/static/dangling_out"),
    (b"/static/dirlink_out", b"/static/dirlink_dangling"),
    (b"/static/dirlink_out/", b"/static/dirlink_dangling/"),
    (b"/static/dirlink_out/inner-secret.txt", b"/static/dirlink_out/missing.txt"),
    (b"/static/dirlink_out/%2e%2e/secret.txt", b"/static/dirlink_out/%2e%2e/missing.txt"),
    (b"/static/sub/..%2f..%2fsecret.txt", b"/static/sub/..%2f..%2fmissing.txt"),
    (b"/ver/..%2fsecret.txt?v=1", b"/ver/..%2fmissing.txt?v=1"),
    (b"/follow/../secret.txt", b"/follow/../missing.txt"),
    (b"/follow/..%2fsecret.txt", b"/follow/..%2fmissing.txt"),
    (b"/follow/..%2foutside%2f", b"/follow/..%2fno-such-dir%2f"),
    (b"/follow/outlink/..%2fsecret.txt", b"/follow/outlink/..%2fmissing.txt"),
    (b"/follow/outlink/../secret.txt", b"/follow/outlink/../missing.txt"),
    (b"/static/ghost.txt", b"/static/ghost2.txt"),  # only a sibling out exists
]


def test_outside_existence_is_not_revealed(serve_app: Any, tree: Path) -> None:
    secret, missing = os.fsencode(tree / "secret.txt"), os.fsencode(tree / "missing.txt")
    pairs = EXISTENCE_PAIRS + [
        (b"/static/" + secret, b"/static/" + missing),
        (b"/static/" + secret.replace(b"/", b"%2f"), b"/static/" + missing.replace(b"/", b"%2f")),
    ]
    with serve_app(static_app(tree)) as server:
        for present, absent in pairs:
            for method in (b"GET", b"HEAD"):
                for variant in VARIANTS:
                    one = request(server.port, present, variant, method)
                    other = request(server.port, absent, variant, method)
                    assert_nothing_outside(one, present)
                    assert one.status in (400, 404), (present, one.raw[:200])
                    assert one.comparable() == other.comparable(), (present, absent, variant)
        # The listing of the root does not look through links it would not follow: a
        # directory outside and a dangling link are listed alike (no "/").
        for prefix in ("/static", "/ver"):
            page = request(server.port, prefix.encode() + b"/").body.decode()
            assert f'<a href="{prefix}/dirlink_out">dirlink_out</a>' in page, page
            assert f'<a href="{prefix}/dirlink_dangling">dirlink_dangling</a>' in page
            assert f'<a href="{prefix}/dirlink_in">dirlink_in/</a>' in page


def test_symlinks_out_of_the_root(serve_app: Any, tree: Path) -> None:
    with serve_app(static_app(tree)) as server:

        def get(target: bytes) -> Answer:
            answer = request(server.port, target)
            assert_nothing_outside(answer, target)
            return answer

        # follow_symlinks=False: no symlink leads out, to a file or a directory.
        for target in (
            b"/static/link_out",
            b"/static/abs_out",
            b"/static/dangling_out",
            b"/static/dirlink_out",
            b"/static/dirlink_out/",
            b"/static/dirlink_out/inner-secret.txt",
            b"/static/dirlink_out/public.txt",
            b"/static/dirlink_out%2fpublic.txt",
            b"/ver/dirlink_out/",
            b"/ver/link_out",
        ):
            answer = get(target)
            assert answer.status == 404, (target, answer.raw[:200])
            assert OUTSIDE_MARKER.encode() not in answer.body and b"public" not in answer.body
        # A symlink looping on itself is a missing file, not a 500.
        for target in (b"/static/loop", b"/static/loop/x", b"/follow/loop", b"/follow/loop/"):
            assert get(target).status == 404, target
        # Links that stay inside work, so the 404s above are the defence, not a broken tree.
        assert get(b"/static/dirlink_in/s.txt").body == b"file s"
        # The listing names the real directory, as aiohttp's (it lists the resolved path).
        assert b'href="/static/sub/s.txt"' in get(b"/static/dirlink_in/").body
        # follow_symlinks=True: a link leads out by design (listing included); ".." not.
        assert get(b"/follow/outlink/public.txt").body == b"public outside"
        assert OUTSIDE_MARKER.encode() in get(b"/follow/outlink/").body
        assert get(b"/follow/outlink/..%2fsecret.txt").status == 404


@pytest.mark.parametrize(
    "codings", ["gzip, br", "br", "gzip", "GZIP, BR", "x-gzip", "br;q=0.5, gzip;q=1, *"]
)
def test_precompressed_siblings_never_lead_out(serve_app: Any, tree: Path, codings: str) -> None:
    header = f"Accept-Encoding: {codings}\r\n".encode()
    cases = [
        (b"/static/a.txt", b"file a"),  # relative links out: a.txt.gz, a.txt.br
        (b"/static/b.txt", b"file b"),  # absolute links out
        (b"/static/e.txt", b"file e"),  # a chain through a link inside; a directory link
        (b"/ver/a.txt?v=x", b"file a"),
        (b"/ver/b.txt", b"file b"),
        (b"/follow/f.txt", b"file f"),  # follow_symlinks: still not the siblings
    ]
    with serve_app(static_app(tree)) as server:
        for target, content in cases:
            for method in (b"GET", b"HEAD", b"GET"):
                ranged = b"Range: bytes=0-3\r\n" if method == b"GET" else b""
                answer = request(server.port, target, header + ranged, method)
                assert_nothing_outside(answer, target)
                assert "content-encoding" not in answer.headers, (target, answer.raw[:300])
                assert answer.status in (200, 206), (target, answer.raw[:300])
                if method == b"GET":
                    assert answer.body == (content[:4] if ranged else content), target
                else:
                    assert answer.headers["content-length"] == str(len(content)), target
        # A missing file whose only sibling leads out is missing.
        answer = request(server.port, b"/static/ghost.txt", header)
        assert answer.status == 404 and SECRET_GZ not in answer.raw
        # A real sibling inside is chosen when gzip is acceptable: the mechanism is live.
        answer = request(server.port, b"/static/c.txt", header)
        if "gzip" in codings.lower():
            assert answer.headers.get("content-encoding") == "gzip"
            assert answer.body == b"c, gzipped inside"
        else:
            assert answer.body == b"file c"


HREF_RE = re.compile(r'<li><a href="([^"]*)">([^<]*)</a></li>')


def test_index_escapes_hostile_names(serve_app: Any, tree: Path) -> None:
    with serve_app(static_app(tree)) as server:
        for prefix in (b"/static", b"/ver"):
            answer = request(server.port, prefix + b"/names/")
            assert answer.status == 200, answer.raw[:500]
            page = answer.body.decode("utf-8")
            assert "<img" not in page and "<i>" not in page  # names are never markup
            links = dict((html.unescape(label), href) for href, label in HREF_RE.findall(page))
            for name in HOSTILE_NAMES:
                assert html.escape(name) in page, name
                href = html.unescape(links[name])
                # A link is plain URL text: ASCII, quoted ("&" and "'" may stay, as
                # sub-delims, HTML-escaped in the attribute); the round trip proves it.
                assert href.isascii() and not set(href) & set(' "<>#?\n\\'), href
                fetched = request(server.port, href.encode("ascii"))
                assert fetched.status == 200 and fetched.body == name.encode(), name
            # A name that is not UTF-8 is shown, not a 500: replacement characters in
            # the text, its very bytes percent-encoded in the link.
            assert (
                links["bad-\ufffd\ufffd-utf8.txt"] == prefix.decode() + "/names/bad-%FF%FE-utf8.txt"
            )
            # A directory with a hostile name: escaped in the title, quoted in the links.
            label = html.escape(HOSTILE_DIR + "/")
            assert f">{label}</a>" in page
            answer = request(server.port, html.unescape(links[HOSTILE_DIR + "/"]).encode())
            sub = answer.body.decode("utf-8")
            assert f"<title>Index of /names/{html.escape(HOSTILE_DIR)}</title>" in sub
            inner = html.unescape(HREF_RE.findall(sub)[0][0])
            assert inner.isascii() and request(server.port, inner.encode()).body == b"inner"


def big_content(tree: Path) -> bytes:
    return (tree / "root" / "big.bin").read_bytes()


# (Range value, status, Content-Range, body slice) on big.bin, as aiohttp 3.13 answers.
SIZE = 256 * 1024
RANGES: list[tuple[bytes, int, str | None, slice | None]] = [
    (b"bytes=" + b",".join([b"0-0"] * 1500), 416, f"bytes */{SIZE}", None),
    (b"bytes=0-1,2-3", 416, f"bytes */{SIZE}", None),
    (b"bytes=" + b"0-0, " * 1000 + b"0-0", 416, f"bytes */{SIZE}", None),
    (b"bytes=-0", 206, f"bytes 0-{SIZE - 1}/{SIZE}", slice(0, SIZE)),
    (b"bytes=0-0", 206, f"bytes 0-0/{SIZE}", slice(0, 1)),
    (b"bytes=-1", 206, f"bytes {SIZE - 1}-{SIZE - 1}/{SIZE}", slice(SIZE - 1, SIZE)),
    (b"bytes=99999999999999999999999999-", 416, f"bytes */{SIZE}", None),
    (b"bytes=0-99999999999999999999999999", 206, f"bytes 0-{SIZE - 1}/{SIZE}", slice(0, SIZE)),
    (b"bytes=-99999999999999999999999999", 206, f"bytes 0-{SIZE - 1}/{SIZE}", slice(0, SIZE)),
    (b"bytes=" + b"9" * 5000 + b"-", 416, f"bytes */{SIZE}", None),  # past int()'s 4300 digits
    (b"bytes=1-" + b"1" * 5000, 416, f"bytes */{SIZE}", None),
    (b"bytes=" + "١٢".encode() + b"-", 416, f"bytes */{SIZE}", None),  # Arabic-Indic digits
    (b"bytes=0-" + "９".encode(), 416, f"bytes */{SIZE}", None),  # a fullwidth nine
    (b"bytes=\xb9-\xb2", 416, f"bytes */{SIZE}", None),  # superscripts, as latin-1
    (b"bytes=5-1", 416, f"bytes */{SIZE}", None),
    (b"bytes=-", 416, f"bytes */{SIZE}", None),
    (b"bytes=+1-2", 416, f"bytes */{SIZE}", None),
    (b"bytes=0x10-0x20", 416, f"bytes */{SIZE}", None),
    (b"bytes=1_0-2_0", 416, f"bytes */{SIZE}", None),
    (b"bytes=-1-2", 416, f"bytes */{SIZE}", None),
    (b"items=0-1", 416, f"bytes */{SIZE}", None),
    (b"bytes=262144-", 416, f"bytes */{SIZE}", None),
    (b"bytes=262143-", 206, f"bytes {SIZE - 1}-{SIZE - 1}/{SIZE}", slice(SIZE - 1, SIZE)),
]


def test_hostile_ranges(serve_app: Any, tree: Path) -> None:
    content = big_content(tree)
    with serve_app(static_app(tree)) as server:
        for value, status, content_range, part in RANGES:
            for method in (b"GET", b"HEAD"):
                started = time.monotonic()
                answer = request(
                    server.port, b"/static/big.bin", b"Range: " + value + b"\r\n", method
                )
                assert time.monotonic() - started < 2, value[:40]  # no work per range
                assert answer.status == status, (value[:40], method, answer.raw[:200])
                assert answer.headers.get("content-range") == content_range, value[:40]
                expected = b"" if part is None else content[part]
                assert answer.headers["content-length"] == str(len(expected)), value[:40]
                assert answer.body == (expected if method == b"GET" else b""), value[:40]
        # The connection-level answer to a hostile Range leaves the server serving.
        answer = request(server.port, b"/static/a.txt", method=b"HEAD")
        assert answer.status == 200 and answer.headers["content-length"] == "6"
        assert answer.body == b""
