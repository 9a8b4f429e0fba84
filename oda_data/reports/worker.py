"""Run one report with papermill in its own kernel, and the pool of worker processes.

A run is moved into place only when complete (a failed one beside it, so the last good notebook stays); workers stop
their kernels and exit when the build process dies.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import multiprocessing
import os
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable
from unittest import mock

from .._files import publish, temporary_beside
from .._text import one_line
from .manifest import KERNEL_NAME

#: How often a worker checks that the build process is still alive (seconds).
PARENT_POLL_S = 0.25

# nbclient's log lines ("Timeout waiting for execute reply") are the build's to report.
logging.getLogger("papermill").addHandler(logging.NullHandler())
# Kernels this process has started and not stopped yet (stopped by the watchdog).
_RUNNING_KERNELS: set = set()


def run_report(task: dict) -> dict:
    """Execute one report task (see ``build._Build._plan``); its outcome for ``_Build._finish``."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    notebook, executed, failed = (Path(task[key]) for key in ("notebook_path", "executed", "failed_executed"))
    started, error, kept_failure, timeout = time.perf_counter(), None, False, task["timeout"]
    with temporary_beside(executed, suffix=".ipynb", folder=task["temp_dir"]) as temporary:
        try:
            with mock.patch.dict(os.environ), _local_kernel() as kernel:
                for name, value in task["env"].items():  # None hides a variable
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value
                # nbclient's own cell timeout, as what is left of the report's time
                papermill.execute_notebook(
                    str(notebook), str(temporary), parameters=task["parameters"], kernel_name=KERNEL_NAME,
                    language="python", cwd=str(notebook.parent), progress_bar=False, log_output=False, km=kernel,
                    timeout_func=lambda cell: max(started + timeout - time.perf_counter(), 0.01))
        except PapermillExecutionError as failure:
            error = one_line(f"{failure.ename}: {failure.evalue}")
        except Exception as failure:  # no kernel, kernel died, timed out, unreadable...
            timed_out = time.perf_counter() >= started + timeout
            error = f"timed out after {timeout} s" if timed_out else one_line(f"{type(failure).__name__}: {failure}")
        if error is None:
            executed.parent.mkdir(parents=True, exist_ok=True)
            publish(temporary, executed)
            failed.unlink(missing_ok=True)  # an older failure is no longer current
        elif os.path.getsize(temporary) > 0:
            failed.parent.mkdir(parents=True, exist_ok=True)
            publish(temporary, failed)
            kept_failure = True
    return {"status": "failed" if error else "ok", "error": error, "failed_executed": kept_failure,
            "duration_s": round(time.perf_counter() - started, 3)}


@contextlib.contextmanager
def _local_kernel():
    """A kernel over Unix sockets (no TCP port opened; the socket path must be short). Async:
    a blocking client would hold nbclient's event loop, and its timeout, while a cell runs."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    with tempfile.TemporaryDirectory(prefix="oda-kernel-") as folder:
        manager = AsyncKernelManager(kernel_name=KERNEL_NAME, transport="ipc",
                                ip=os.path.join(folder, "k"))
        _RUNNING_KERNELS.add(manager)
        try:
            yield manager
        finally:
            _RUNNING_KERNELS.discard(manager)
            # papermill leaves a kernel manager it was given running (a timed-out one too)
            if manager.has_kernel:
                run_sync(manager.shutdown_kernel)(now=True)


def execute(tasks: list[dict], jobs: int, record: Callable[[dict, dict], None]) -> None:
    """Run the tasks ``jobs`` at a time, calling ``record(task, outcome)`` as each finishes; on
    Ctrl-C the running reports stop at once, with their kernels (what finished is recorded)."""
    jobs = min(jobs, len(tasks))
    if jobs <= 1:
        for task in tasks:
            record(task, run_report(task))
        return
    # "spawn": fresh workers, no state forked from a parent holding threads.
    executor = concurrent.futures.ProcessPoolExecutor(
        max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker, initargs=(os.getpid(),))
    futures = {executor.submit(run_report, task): task for task in tasks}
    try:
        for future in concurrent.futures.as_completed(futures):
            try:
                outcome = future.result()
            except Exception as error:  # the worker died (out of memory, killed)
                outcome = {"status": "failed", "error": one_line(f"{type(error).__name__}: {error}"),
                           "duration_s": None, "failed_executed": False}
            record(futures[future], outcome)
    except BaseException:
        # A worker's watchdog (SIGTERM) ends its kernel before it exits.
        for process in list(getattr(executor, "_processes", {}).values()):
            process.terminate()
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown(wait=True)


def _start_worker(parent_pid: int) -> None:
    """Ctrl-C is the parent's decision; a worker exits when its parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: _stop_now())
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    # A dead parent's children are adopted: getppid() changes (to 1 or a subreaper).
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    _stop_now()


def _stop_now() -> None:
    """Kill this worker's kernels and their children (each kernel leads a session), then exit."""
    for manager in list(_RUNNING_KERNELS):
        pid = getattr(getattr(manager, "provisioner", None), "pid", None)
        for kill in (os.killpg, os.kill) if pid else ():
            with contextlib.suppress(OSError):
                kill(pid, signal.SIGKILL)
    os._exit(1)
