"""Opening a path on the event loop without waiting for the disk, where Linux allows it.

``openat2(2)`` with ``RESOLVE_CACHED`` (Linux 5.12) resolves a path only from the
kernel's lookup cache: where a component would have to be read from the disk (or
revalidated, as on NFS), it fails at once with ``EAGAIN`` instead. A file served again and
again is opened that way on the loop; anything else goes to a thread as before, so a
slow disk still never blocks the loop. (Reading the file's bytes is the same idea:
``preadv2(RWF_NOWAIT)`` in :func:`asgiweb.streams.copy_file`.)
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys

__all__ = ["open_cached", "supported"]

_AT_FDCWD = -100
_RESOLVE_CACHED = 0x20
# openat2 has the same number on every architecture Linux numbers anew since 5.1
# (alpha, which offsets its table, has no Python wheels to speak of).
_SYS_OPENAT2 = 437
# The kernel answers these when it lacks openat2 or RESOLVE_CACHED, or a sandbox forbids
# the call: then it is never tried again.
_UNSUPPORTED = frozenset({errno.ENOSYS, errno.EINVAL, errno.EPERM, errno.EOPNOTSUPP})


class _OpenHow(ctypes.Structure):
    _fields_ = (
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    )


def _load() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    if not sys.platform.startswith("linux"):
        return None
    try:
        syscall = ctypes.CDLL(None, use_errno=True).syscall
    except (OSError, AttributeError):
        return None
    syscall.restype = ctypes.c_long
    syscall.argtypes = (
        ctypes.c_long,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.POINTER(_OpenHow),
        ctypes.c_size_t,
    )
    return syscall


_syscall = _load()
_HOW_SIZE = ctypes.sizeof(_OpenHow)
# The kernel only reads them, so one per set of flags serves every call, in any thread.
_HOWS: dict[int, _OpenHow] = {}
_FS_ENCODING = sys.getfilesystemencoding()
_FS_ERRORS = sys.getfilesystemencodeerrors()


def supported() -> bool:
    """True while :func:`open_cached` may open anything (Linux 5.12 and later)."""
    return _syscall is not None


def open_cached(path: str, flags: int) -> int:
    """``os.open(path, flags)`` resolved from the kernel's lookup cache only; the
    descriptor. Raises :class:`BlockingIOError` where the lookup would wait for the disk
    (and always once unsupported), or the :class:`OSError` ``os.open`` would raise."""
    global _syscall
    syscall = _syscall
    if syscall is None:
        raise BlockingIOError(errno.EAGAIN, "openat2 with RESOLVE_CACHED is not available")
    how = _HOWS.get(flags)
    if how is None:
        how = _HOWS[flags] = _OpenHow(flags, 0, _RESOLVE_CACHED)
    # os.fsencode's own steps, inline: it is a Python call on every file response.
    name = path.encode(_FS_ENCODING, _FS_ERRORS)
    if b"\0" in name:
        # ctypes would pass the name cut at the NUL, another file's: refuse as os.open does.
        raise ValueError("embedded null byte")
    fd: int = syscall(_SYS_OPENAT2, _AT_FDCWD, name, how, _HOW_SIZE)
    if fd >= 0:
        return fd
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        _syscall = None
        raise BlockingIOError(errno.EAGAIN, "openat2 with RESOLVE_CACHED is not available")
    raise OSError(code, os.strerror(code), path)
