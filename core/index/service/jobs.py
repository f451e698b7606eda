"""Builds that run in the background, and where each stands: at most one job per name, its status
(state, progress, message, result) safe to read from any thread.

Jobs run on one bounded pool of worker threads (`WORKERS`, never a thread per job): a job submitted
while every worker is busy waits, RUNNING with its message, until one is free.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from core.errors import SiglipProjectsError
from core.progress import ProgressCallback

log = logging.getLogger(__name__)


class JobState(str, Enum):
    IDLE = "idle"
    OFF = "off"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class JobStatus:
    """Where a background build stands: its state, progress (done of total), a message (why it failed,
    or what it waits for) and, once done, what its work returned."""

    state: JobState = JobState.IDLE
    done: int = 0
    total: int = 0
    message: str = ""
    started: float = 0.0
    result: Any = None


#: A job's work: builds with the progress callback it is given, returns the build's report.
Work = Callable[[ProgressCallback], Any]
#: Worker threads of the process's jobs: the gallery's build and one collection build at a time
#: (`core.index.service.collections` runs collection builds one at a time) run side by side.
WORKERS = 2


class JobHandle:
    """A submitted job, joined like a thread."""

    def __init__(self, future: Future) -> None:
        self._future = future

    def join(self, timeout: float | None = None) -> None:
        wait([self._future], timeout)

    def is_alive(self) -> bool:
        return not self._future.done()


class Jobs:
    """Background builds by name: at most one running per name; their status, safe to read anytime."""

    def __init__(self, workers: int = WORKERS) -> None:
        self._status: dict[str, JobStatus] = {}
        self._threads: dict[str, JobHandle] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="job")

    def in_flight(self) -> list[str]:
        """The names of the jobs running or waiting for a worker."""
        with self._lock:
            return [name for name, status in self._status.items() if status.state == JobState.RUNNING]

    def status(self, name: str) -> JobStatus:
        with self._lock:
            return self._status.get(name, JobStatus())

    def running(self, name: str) -> bool:
        return self.status(name).state == JobState.RUNNING

    def follow(self, name: str, every: float = 0.25) -> Iterator[JobStatus]:
        """The status of job `name` every `every` seconds while it runs, then its last status."""
        while True:
            status = self.status(name)
            yield status
            if status.state != JobState.RUNNING:
                return
            time.sleep(every)

    def set(self, name: str, **changes: Any) -> None:
        with self._lock:
            self._status[name] = replace(self._status.get(name, JobStatus()), **changes)

    def forget(self, name: str) -> None:
        """Drop a finished job's status (a running job keeps running)."""
        with self._lock:
            if self._status.get(name, JobStatus()).state != JobState.RUNNING:
                self._status.pop(name, None)

    def start(self, name: str, work: Work, total: int = 0, message: str = "") -> JobHandle:
        """Run `work` on the pool unless a job `name` is running (then return that one's handle).

        The job's status follows the progress `work` reports; it ends DONE with the report's count, or
        FAILED with the error's message (a bug is logged with its traceback, never lost).
        """
        with self._lock:
            handle = self._threads.get(name)
            if handle is not None and handle.is_alive():
                return handle
            self._status[name] = JobStatus(JobState.RUNNING, 0, total, message, time.monotonic())
            handle = JobHandle(self._pool.submit(self._run, name, work, total))
            self._threads[name] = handle
        return handle

    def _run(self, name: str, work: Work, total: int) -> None:
        last_log = [0.0]

        def progress(done: int, expected: int) -> None:
            self.set(name, done=done, total=expected or total)
            if time.monotonic() - last_log[0] > 10 or done >= (expected or total):
                last_log[0] = time.monotonic()
                log.info("Job %s: %d/%d", name, done, expected or total)

        try:
            report = work(progress)
        except SiglipProjectsError as error:
            log.warning("Background build %s failed: %s", name, error)
            self.set(name, state=JobState.FAILED, message=str(error))
            return
        except Exception as error:  # a background thread must report, never die silently
            log.exception("Background build %s failed", name)
            self.set(name, state=JobState.FAILED, message=f"{type(error).__name__}: {error}")
            return
        count = getattr(report, "count", 0)
        self.set(name, state=JobState.DONE, done=count, total=count, message="", result=report)


#: The process's background builds.
jobs = Jobs()
