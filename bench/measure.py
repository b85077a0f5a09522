"""What the bench scripts share: a child command's wall time and the CPU time of its processes."""

from __future__ import annotations

import resource
import subprocess
import time


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(command: list[str], **kwargs) -> tuple[subprocess.CompletedProcess, float, float]:
    """`subprocess.run(command, capture_output=True, text=True, **kwargs)` with its wall and CPU seconds."""
    started, cpu = time.perf_counter(), _cpu_of_children()
    proc = subprocess.run(command, capture_output=True, text=True, **kwargs)
    return proc, time.perf_counter() - started, _cpu_of_children() - cpu
