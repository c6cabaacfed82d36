"""Run a worker function in N child processes: restart the ones that die, stop on a signal.

The command line's ``--workers N`` and ``--reload`` use it. Each worker is a fresh
interpreter (the ``spawn`` start method) that imports the application itself, so no
process is ever forked after an event loop exists. The supervisor imports nothing of the
application and runs no event loop: it waits on the workers' sentinels, a signal wake-up
socket and, with ``--reload``, a socket the file watcher thread writes to.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = ["Supervisor"]

logger = logging.getLogger("asgiweb.supervisor")

# A worker that exits before it reports serving, or this soon after, failed to start:
# restart it after a growing delay, and give up after MAX_QUICK_EXITS in a row rather
# than spin. (Time since the process started would not do: imports alone can take
# seconds on a loaded machine.)
QUICK_EXIT = 1.0
MAX_QUICK_EXITS = 5
FIRST_DELAY = 0.25
MAX_DELAY = 4.0
# argparse's status for a bad command line (say, an entry that does not import): starting
# the same worker again cannot help.
USAGE_ERROR = 2
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class _Slot:
    """One worker position: the process filling it now and its recent failures."""

    number: int
    process: BaseProcess | None = None
    # The read end of the pipe the worker reports "serving" on, until it does or dies.
    notify: Connection | None = None
    serving_since: float | None = None
    quick_exits: int = 0
    restart_at: float | None = None
    # --reload: the worker was asked to stop because files changed; start it again at exit.
    reloading: bool = False


class Supervisor:
    """Keep ``workers`` processes running ``target`` until SIGINT or SIGTERM.

    ``target`` must pickle (a module-level function, or a ``functools.partial`` of one
    with picklable arguments): it is sent to freshly spawned interpreters. It receives
    the write end of a pipe and sends one message on it once it serves. With
    ``reload_dirs``, one worker runs and is restarted whenever a ``.py`` file under those
    directories changes.
    """

    def __init__(
        self,
        target: Callable[[Connection], object],
        *,
        workers: int = 1,
        reload_dirs: Sequence[Path] = (),
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if reload_dirs and workers != 1:
            raise ValueError("reload runs exactly one worker")
        self._target = target
        self._context = multiprocessing.get_context("spawn")
        self._slots = [_Slot(number) for number in range(workers)]
        self._reload_dirs = list(reload_dirs)
        self._signals: list[int] = []
        self._changes: set[str] = set()
        self._changes_lock = threading.Lock()
        self._stopping = False
        self._exit_code = 0

    def run(self) -> int:
        """Supervise until stopped; return the exit status for the command line.

        Call it from the main thread: it installs SIGINT and SIGTERM handlers.
        """
        signal_r, signal_w = socket.socketpair()
        change_r, change_w = socket.socketpair()
        for sock in (signal_r, signal_w, change_r, change_w):
            sock.setblocking(False)
        old_wakeup = signal.set_wakeup_fd(signal_w.fileno(), warn_on_full_buffer=False)
        old_handlers = {sig: signal.signal(sig, self._on_signal) for sig in _SIGNALS}
        stop_watching = threading.Event()
        watcher = self._start_watcher(change_w, stop_watching)
        try:
            for slot in self._slots:
                self._start(slot)
            while not self._finished():
                self._step(signal_r, change_r)
        finally:
            # Whatever went wrong here, no worker outlives its supervisor.
            for slot in self._slots:
                if slot.process is not None and slot.process.is_alive():
                    slot.process.kill()
                    slot.process.join()
                if slot.notify is not None:
                    slot.notify.close()
            stop_watching.set()
            if watcher is not None:
                watcher.join()
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in old_handlers.items():
                signal.signal(sig, handler)
            for sock in (signal_r, signal_w, change_r, change_w):
                sock.close()
        return self._exit_code

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals.append(signum)

    def _finished(self) -> bool:
        return self._stopping and all(slot.process is None for slot in self._slots)

    def _running(self) -> list[BaseProcess]:
        return [slot.process for slot in self._slots if slot.process is not None]

    def _step(self, signal_r: socket.socket, change_r: socket.socket) -> None:
        waitables: list[Any] = [signal_r, change_r]
        waitables += [process.sentinel for process in self._running()]
        waitables += [slot.notify for slot in self._slots if slot.notify is not None]
        multiprocessing.connection.wait(waitables, self._timeout())
        _drain(signal_r)
        _drain(change_r)
        self._handle_signals()
        for slot in self._slots:
            self._check_serving(slot)
        for slot in self._slots:
            self._reap(slot)
        self._handle_changes()
        now = time.monotonic()
        for slot in self._slots:
            if not self._stopping and slot.restart_at is not None and slot.restart_at <= now:
                self._start(slot)

    def _timeout(self) -> float | None:
        due = [s.restart_at for s in self._slots if s.restart_at is not None]
        return max(0.0, min(due) - time.monotonic()) if due and not self._stopping else None

    def _handle_signals(self) -> None:
        signals, self._signals = self._signals, []
        for signum in signals:
            if not self._stopping:
                logger.info("Received %s: stopping the workers", signal.Signals(signum).name)
                self._stop_all()
            else:
                # A second Ctrl+C: the user does not want to wait for the drain.
                logger.warning(
                    "Received %s again: killing the workers", signal.Signals(signum).name
                )
                for process in self._running():
                    process.kill()

    def _stop_all(self) -> None:
        self._stopping = True
        for slot in self._slots:
            slot.restart_at = None
            if slot.process is not None:
                # SIGTERM: run_app's graceful shutdown lets in-flight requests finish.
                slot.process.terminate()

    def _start(self, slot: _Slot) -> None:
        notify, notify_w = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=self._target, args=(notify_w,), name=f"asgiweb-worker-{slot.number}"
        )
        process.start()
        notify_w.close()  # the worker holds it now: EOF here means the worker is gone
        slot.process, slot.notify, slot.serving_since = process, notify, None
        slot.restart_at, slot.reloading = None, False
        logger.info("Started worker process %s", process.pid)

    def _check_serving(self, slot: _Slot) -> None:
        notify = slot.notify
        if notify is None or not notify.poll():
            return
        slot.notify = None
        try:
            notify.recv_bytes()
        except EOFError:  # died first: _reap tells
            return
        finally:
            notify.close()
        slot.serving_since = time.monotonic()

    def _reap(self, slot: _Slot) -> None:
        process = slot.process
        if process is None or process.exitcode is None:
            return
        slot.process = None
        code, pid = process.exitcode, process.pid
        process.close()
        self._check_serving(slot)
        if slot.notify is not None:  # exited before writing or closing the pipe
            slot.notify.close()
            slot.notify = None
        assert pid is not None
        if self._stopping:
            logger.info("Worker process %s exited with code %s", pid, code)
        elif slot.reloading:
            self._start(slot)
        elif self._reload_dirs:
            logger.warning(
                "Worker process %s exited with code %s; waiting for file changes to restart it",
                pid, code,
            )  # fmt: skip
        else:
            self._schedule_restart(slot, pid, code)

    def _schedule_restart(self, slot: _Slot, pid: int, code: int) -> None:
        since = slot.serving_since
        quick = since is None or time.monotonic() - since < QUICK_EXIT
        slot.quick_exits = slot.quick_exits + 1 if quick else 0
        if code == USAGE_ERROR or slot.quick_exits >= MAX_QUICK_EXITS:
            logger.error(
                "Worker process %s exited with code %s (%d failed starts in a row); giving up",
                pid, code, slot.quick_exits,
            )  # fmt: skip
            self._exit_code = code if code == USAGE_ERROR else 1
            self._stop_all()
            return
        delay = min(FIRST_DELAY * 2 ** (slot.quick_exits - 1), MAX_DELAY) if quick else 0.0
        logger.warning(
            "Worker process %s exited with code %s; restarting it in %.2f s", pid, code, delay
        )
        slot.restart_at = time.monotonic() + delay

    def _handle_changes(self) -> None:
        with self._changes_lock:
            changes, self._changes = self._changes, set()
        if not changes or self._stopping:
            return
        shown = ", ".join(sorted(changes)[:3]) + (" ..." if len(changes) > 3 else "")
        logger.info("Changes detected in %s: reloading", shown)
        for slot in self._slots:
            if slot.process is not None:
                slot.reloading = True
                slot.process.terminate()
            else:
                self._start(slot)

    def _start_watcher(
        self, change_w: socket.socket, stop: threading.Event
    ) -> threading.Thread | None:
        if not self._reload_dirs:
            return None
        import watchfiles

        # watchfiles logs every idle timeout at DEBUG; we log the changes ourselves.
        logging.getLogger("watchfiles").setLevel(logging.WARNING)
        watch = watchfiles.watch(
            *self._reload_dirs,
            watch_filter=watchfiles.PythonFilter(),
            stop_event=stop,
            debounce=400,
            rust_timeout=500,
        )

        def watch_files() -> None:
            for changes in watch:
                with self._changes_lock:
                    self._changes.update(path for _, path in changes)
                try:
                    change_w.send(b"\0")
                except BlockingIOError:  # a wake-up is already pending
                    pass

        thread = threading.Thread(target=watch_files, name="asgiweb-reload", daemon=True)
        thread.start()
        return thread


def _drain(sock: socket.socket) -> None:
    try:
        while sock.recv(4096):
            pass
    except BlockingIOError:
        pass
