"""Run one report with papermill, and the pool of worker processes that runs them all.

Each report runs in its own kernel, in the notebook's folder. papermill writes
into a temporary file in the build's own temporary folder; the result is moved
into place only when complete: a good run to ``_executed/<name>.ipynb``, a
failed one to ``_executed/_failed/<name>.ipynb`` (so the last good notebook
stays). A report that runs past its ``timeout`` is stopped with its kernel
and fails with "timed out after N s". Workers watch their parent: when the
build process dies (even by ``kill -9``) they stop their kernel and exit
within a second.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

from .._files import publish, temporary_beside
from .._text import one_line
from .manifest import KERNEL_NAME

#: How often a worker checks that the build process is still alive (seconds).
PARENT_POLL_S = 0.25

# Kernels this process has started and not stopped yet (stopped by the watchdog).
_RUNNING_KERNELS: set = set()


def run_report(task: dict) -> dict:
    """Execute one report (in a worker process, or in the build's own with one job).

    Parameters
    ----------
    task : dict
        ``name``, ``notebook_path``, ``parameters``, ``executed`` and
        ``failed_executed`` (final paths), ``temp_dir`` (the build's temporary
        folder), ``env`` (variables the kernel sees changed: a value, or None
        to hide one), ``timeout`` (seconds, optional).

    Returns
    -------
    dict
        ``status`` (ok or failed), ``error`` (one line or None), ``duration_s``,
        ``failed_executed`` (True when the failed run's notebook was kept).
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    notebook = Path(task["notebook_path"])
    executed, failed = Path(task["executed"]), Path(task["failed_executed"])
    started = time.perf_counter()
    error: str | None = None
    kept_failure = False
    timeout, expired = task.get("timeout"), threading.Event()
    with temporary_beside(executed, suffix=".ipynb", folder=task["temp_dir"]) as temporary:
        try:
            with _environment(task.get("env", {})), _local_kernel() as kernel, \
                    _deadline(timeout, kernel, expired):
                papermill.execute_notebook(
                    str(notebook), str(temporary), parameters=task["parameters"],
                    kernel_name=KERNEL_NAME, language="python", cwd=str(notebook.parent),
                    progress_bar=False, log_output=False, km=kernel, execution_timeout=timeout)
        except _TimedOut:
            error = f"timed out after {timeout} s"
        except PapermillExecutionError as failure:
            error = one_line(f"{failure.ename}: {failure.evalue}")
        except Exception as failure:  # no kernel, kernel died, cell timed out, unreadable...
            error = one_line(f"{type(failure).__name__}: {failure}")
            if "Timeout" in type(failure).__name__:
                expired.set()
        if expired.is_set():  # whatever papermill made of the killed kernel
            error = f"timed out after {timeout} s"
        if error is None:
            executed.parent.mkdir(parents=True, exist_ok=True)
            publish(temporary, executed)
            failed.unlink(missing_ok=True)  # an older failure is no longer current
        elif os.path.getsize(temporary) > 0:
            failed.parent.mkdir(parents=True, exist_ok=True)
            publish(temporary, failed)
            kept_failure = True
    return {"status": "failed" if error else "ok", "error": error,
            "duration_s": round(time.perf_counter() - started, 3),
            "failed_executed": kept_failure}


class _TimedOut(BaseException):
    """The report ran past its time (a BaseException: no library's ``except Exception`` eats it)."""


@contextlib.contextmanager
def _deadline(seconds, kernel, expired: threading.Event):
    """Stop the report after ``seconds``: kill its kernel and raise :class:`_TimedOut` here.

    A signal, because nbclient can wait on a dead kernel's socket for ever; without the
    main thread (a build started from a thread) only each cell's limit holds.
    """
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        expired.set()
        _kill(kernel)
        raise _TimedOut

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _environment(changes):
    """Set (a value) or hide (None) environment variables for the kernel started inside."""
    saved = {name: os.environ.get(name) for name in changes}
    _apply(changes)
    try:
        yield
    finally:
        _apply(saved)


def _apply(values):
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextlib.contextmanager
def _local_kernel():
    """A kernel manager that talks to its kernel over Unix sockets (IPC), not TCP.

    IPC opens no port (and ipykernel stops warning that TCP is unencrypted);
    the socket path must be absolute and short, hence its own temporary folder.
    """
    from jupyter_client.manager import KernelManager

    with tempfile.TemporaryDirectory(prefix="oda-kernel-") as folder:
        manager = KernelManager(kernel_name=KERNEL_NAME, transport="ipc",
                                ip=os.path.join(folder, "k"))
        _RUNNING_KERNELS.add(manager)
        try:
            yield manager
        finally:
            _RUNNING_KERNELS.discard(manager)
            # papermill leaves a kernel manager it was given running: stop it here.
            if manager.has_kernel:
                manager.shutdown_kernel(now=True)


# --------------------------------------------------------------------------- the pool


def execute(tasks: list[dict], jobs: int, record: Callable[[dict, dict], None]) -> None:
    """Run the tasks, ``jobs`` at a time, calling ``record(task, outcome)`` as each finishes.

    On Ctrl-C no new report starts; the running ones finish and are recorded,
    then KeyboardInterrupt is raised again. A second Ctrl-C stops them at once.
    """
    if not tasks:
        return
    jobs = min(jobs, len(tasks))
    if jobs == 1:
        for task in tasks:
            record(task, run_report(task))
        return
    # "spawn": fresh workers, no state forked from a parent holding threads.
    executor = concurrent.futures.ProcessPoolExecutor(
        max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker, initargs=(os.getpid(),),
    )
    futures = {executor.submit(run_report, task): task for task in tasks}
    unrecorded, interrupted = set(futures), False
    try:
        while unrecorded:
            try:
                done, _ = concurrent.futures.wait(
                    unrecorded, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    record(futures[future], _outcome(future))
                    unrecorded.discard(future)
            except KeyboardInterrupt:
                if interrupted:
                    raise
                interrupted = True
                # cancel() fails for reports already running or done: those are kept.
                unrecorded = {future for future in unrecorded if not future.cancel()}
                print(f"\ninterrupted: finishing {len(unrecorded)} running report(s); "
                      "Ctrl-C again to stop them at once", file=sys.stderr)
    except BaseException:
        # Stop now: a worker's watchdog ends its kernel when the worker is gone.
        for process in list(getattr(executor, "_processes", {}).values()):
            process.terminate()
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown(wait=True)
    if interrupted:
        raise KeyboardInterrupt


def _outcome(future: concurrent.futures.Future) -> dict:
    try:
        return future.result()
    except Exception as error:  # the worker died (out of memory, killed)
        return {"status": "failed", "error": one_line(f"{type(error).__name__}: {error}"),
                "duration_s": None, "failed_executed": False}


def _start_worker(parent_pid: int) -> None:
    """Worker set-up: Ctrl-C is the parent's decision; exit when the parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: _stop_now())
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True,
                     name="watch-parent").start()


def _watch_parent(parent_pid: int) -> None:
    # A dead parent's children are adopted: getppid() changes (to 1 or a subreaper).
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    _stop_now()


def _kill(manager) -> None:
    """Kill a kernel and its children (jupyter_client starts it in a session of its own)."""
    pid = getattr(getattr(manager, "provisioner", None), "pid", None)
    if pid:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _stop_now() -> None:
    """Kill this worker's kernels, then exit at once."""
    for manager in list(_RUNNING_KERNELS):
        _kill(manager)
    os._exit(1)


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
