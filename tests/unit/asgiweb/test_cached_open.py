"""Opening on the event loop from the kernel's lookup cache (asgiweb/cached_open.py) and
FileResponse's use of it: the same file open_file() would open, or None to leave the
answer to open_file() in a thread; never a wait (a FIFO included)."""

from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path
from typing import Any

import pytest

from asgiweb import cached_open
from asgiweb.fileresponse import _Opened, open_file, open_file_cached

needs_openat2 = pytest.mark.skipif(
    not cached_open.supported(), reason="needs openat2 with RESOLVE_CACHED (Linux 5.12)"
)


def _fields(opened: _Opened) -> tuple[Any, ...]:
    data = opened.file.read()
    opened.file.close()
    return (data, *opened[1:])


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "a.txt").write_bytes(b"plain")
    (tmp_path / "a.txt.gz").write_bytes(b"GZ")
    (tmp_path / "b.txt").write_bytes(b"bee")
    (tmp_path / "b.txt.br").mkdir()  # a sibling that is no file: skipped
    (tmp_path / "c.txt").write_bytes(b"sea")
    (tmp_path / "real.gz").write_bytes(b"REAL")
    os.symlink("real.gz", tmp_path / "c.txt.gz")  # a symlinked sibling: the thread's call
    os.symlink("a.txt", tmp_path / "link.txt")
    (tmp_path / "dir").mkdir()
    os.mkfifo(tmp_path / "fifo")
    return tmp_path


@needs_openat2
@pytest.mark.parametrize(
    "name, codings, decided",
    [
        ("a.txt", frozenset(), True),
        ("a.txt", frozenset({"gzip"}), True),
        ("a.txt", frozenset({"br"}), True),
        ("b.txt", frozenset({"br", "gzip"}), True),
        ("link.txt", frozenset(), True),
        ("c.txt", frozenset({"gzip"}), False),
        ("c.txt", frozenset(), True),
        ("missing.txt", frozenset(), False),
        ("dir", frozenset(), False),
        ("fifo", frozenset(), False),  # never opened for reading: it would wait
    ],
)
def test_the_cached_open_is_open_file_or_leaves_it_the_answer(
    tree: Path, name: str, codings: frozenset[str], decided: bool
) -> None:
    path = str(tree / name)
    try:
        open_file(path, codings).file.close()  # the names it needs, looked up once
    except Exception:
        pass
    cached = open_file_cached(path, codings)
    if not decided:
        assert cached is None
        return
    assert cached is not None
    assert cached.file.name == cached.path
    assert _fields(cached) == _fields(open_file(path, codings))


@needs_openat2
def test_a_cached_name_opens_and_a_cached_absence_is_not_found(tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(b"x")
    fd = cached_open.open_cached(str(tmp_path / "x"), os.O_RDONLY | os.O_CLOEXEC)
    try:
        assert os.read(fd, 1) == b"x"
    finally:
        os.close(fd)
    assert not (tmp_path / "never").exists()  # looked up: a negative entry, cached
    with pytest.raises(FileNotFoundError):
        cached_open.open_cached(str(tmp_path / "never"), os.O_RDONLY)


@needs_openat2
def test_each_kind_of_open_gets_its_own_flags(tmp_path: Path) -> None:
    # FileResponse opens a name twice, O_PATH to look and O_RDONLY to read: the flags of
    # one call must never be those of another, in either order.
    (tmp_path / "x").write_bytes(b"x")
    name = str(tmp_path / "x")
    for flags in (os.O_PATH, os.O_RDONLY, os.O_PATH, os.O_RDONLY):
        fd = cached_open.open_cached(name, flags | os.O_CLOEXEC)
        try:
            if flags == os.O_PATH:
                with pytest.raises(OSError) as caught:
                    os.read(fd, 1)
                assert caught.value.errno == errno.EBADF
            else:
                assert os.read(fd, 1) == b"x"
        finally:
            os.close(fd)


@needs_openat2
def test_a_nul_in_a_name_is_refused_and_undecodable_bytes_round_trip(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValueError):
        cached_open.open_cached(str(tmp_path / "a\x00b"), os.O_RDONLY)
    # Undecodable bytes in a name come back as the bytes they were (surrogateescape).
    raw = os.fsencode(str(tmp_path)) + b"/caf\xe9"
    with open(raw, "wb") as file:
        file.write(b"e")
    fd = cached_open.open_cached(os.fsdecode(raw), os.O_RDONLY | os.O_CLOEXEC)
    try:
        assert os.read(fd, 1) == b"e"
    finally:
        os.close(fd)


def _fake_syscall(code: int) -> Any:
    def syscall(*args: Any) -> int:
        ctypes.set_errno(code)
        return -1

    return syscall


def test_a_kernel_without_it_is_asked_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cached_open, "_syscall", _fake_syscall(errno.ENOSYS))
    with pytest.raises(BlockingIOError):
        cached_open.open_cached(str(tmp_path), os.O_RDONLY)
    assert not cached_open.supported()
    (tmp_path / "a").write_bytes(b"a")
    assert open_file_cached(str(tmp_path / "a"), frozenset()) is None  # the thread, then


def test_not_cached_leaves_the_answer_to_the_thread(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(cached_open, "_syscall", _fake_syscall(errno.EAGAIN))
    with pytest.raises(BlockingIOError):
        cached_open.open_cached(str(tmp_path), os.O_RDONLY)
    assert cached_open.supported()  # asked again next time
    (tmp_path / "a").write_bytes(b"a")
    assert open_file_cached(str(tmp_path / "a"), frozenset()) is None


def test_other_errors_are_those_of_open(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cached_open, "_syscall", _fake_syscall(errno.EACCES))
    with pytest.raises(PermissionError):
        cached_open.open_cached(str(tmp_path), os.O_RDONLY)
    assert cached_open.supported()
