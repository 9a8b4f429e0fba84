"""Run one report with papermill (in a worker process), and the pool that runs them all."""
from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from .._files import TEMP_SUFFIX as _TEMP_SUFFIX, atomic_write, publish, temporary_beside
from ._text import one_line as _one_line
from .manifest import KERNEL_NAME
from .pages import export_html


def _execute(tasks: list[dict], jobs: int | None, record: Callable[[dict, dict], None]) -> None:
    """Run the tasks, calling ``record(task, outcome)`` as each finishes.

    On Ctrl-C no new report starts; the running ones finish and are recorded,
    then KeyboardInterrupt is raised again. A second Ctrl-C stops them at once.
    """
    if not tasks:
        return
    jobs = min(jobs or _cpu_count(), len(tasks))
    if jobs == 1:
        for task in tasks:
            record(task, run_report(task))
        return
    # "spawn": fresh workers, no state forked from a parent holding threads
    # (tqdm's monitor); papermill starts one kernel process per report anyway.
    # Workers ignore Ctrl-C: the parent decides (see above).
    executor = concurrent.futures.ProcessPoolExecutor(
        max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
        initializer=_ignore_interrupts,
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
        # Stop now: ending a worker ends its kernel too (ipykernel polls its parent).
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
        return {"status": "failed", "error": _one_line(f"{type(error).__name__}: {error}"),
                "duration_s": None, "html": None, "executed_notebook": None}


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_report(task: dict) -> dict:
    """Execute one report and write its pages (runs in a worker process).

    Parameters
    ----------
    task : dict
        ``name``, ``notebook_path``, ``parameters`` and ``output_dir``.

    Returns
    -------
    dict
        ``status`` (ok or failed), ``error``, ``duration_s``, ``html`` and
        ``executed_notebook`` (file names in the output folder, or None).
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    name, output_dir = task["name"], Path(task["output_dir"])
    notebook = Path(task["notebook_path"])
    executed_path, page_path = output_dir / f"{name}.ipynb", output_dir / f"{name}.html"
    started = time.perf_counter()
    error: str | None = None
    executed: str | None = None
    html_name: str | None = None
    # papermill writes the notebook as it runs (and with the error cell when a
    # cell raises): let it write a temporary file, moved into place afterwards.
    with temporary_beside(executed_path, suffix=_TEMP_SUFFIX + ".ipynb") as temporary:
        nb = None
        try:
            with _local_kernel() as kernel:
                nb = papermill.execute_notebook(
                    str(notebook), str(temporary), parameters=task["parameters"], kernel_name=KERNEL_NAME,
                    # language: notebooks saved without kernel metadata still get parameters.
                    language="python", cwd=str(notebook.parent), progress_bar=False,
                    log_output=False, km=kernel,
                )
        except PapermillExecutionError as failure:
            error = _one_line(f"{failure.ename}: {failure.evalue}")
        except Exception as failure:  # no kernel, kernel died, unreadable notebook...
            error = _one_line(f"{type(failure).__name__}: {failure}")
        if os.path.getsize(temporary) > 0:
            publish(temporary, executed_path)
            executed = executed_path.name
        if error is None:
            try:
                atomic_write(page_path, export_html(nb, title=name))
                html_name = page_path.name
            except Exception as failure:
                error = _one_line(f"HTML export failed: {type(failure).__name__}: {failure}")
    if error is not None:
        # An old page or notebook would pass for the result of this failed run.
        page_path.unlink(missing_ok=True)
        if executed is None:
            executed_path.unlink(missing_ok=True)
    return {"status": "failed" if error else "ok", "error": error,
            "duration_s": round(time.perf_counter() - started, 3),
            "html": html_name, "executed_notebook": executed}


@contextlib.contextmanager
def _local_kernel():
    """A kernel manager that talks to its kernel over Unix sockets (IPC), not TCP.

    Kernel and build run on the same machine: IPC opens no port, and ipykernel
    stops warning on every start that TCP traffic is unencrypted. The socket
    path must be absolute (kernel and build have different working folders)
    and short (Unix sockets allow about 100 bytes), hence its own temp folder.
    """
    from jupyter_client.manager import KernelManager

    with tempfile.TemporaryDirectory(prefix="oda-kernel-") as folder:
        manager = KernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=os.path.join(folder, "k"))
        try:
            yield manager
        finally:
            # papermill leaves a kernel manager it was given running: stop it here.
            if manager.has_kernel:
                manager.shutdown_kernel(now=True)
