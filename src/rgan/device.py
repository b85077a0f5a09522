"""Pick the torch device (`auto` means CUDA when present, else CPU) and the CPU threads that fit this process."""

from __future__ import annotations

import contextlib
import math
import os
import re
from pathlib import Path

import torch

from rgan.config import DEVICE_CHOICES, DEVICE_PATTERN
from rgan.errors import RganError


def resolve_device(name: str) -> torch.device:
    if not re.fullmatch(DEVICE_PATTERN, name):
        raise RganError(f"device '{name}': {DEVICE_CHOICES}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RganError(f"device '{name}' requested but no CUDA device is available (use auto or cpu)")
    return torch.device(name)


CGROUP = Path("/sys/fs/cgroup")


def _cgroup_cpu_limit(root: Path = CGROUP) -> float | None:
    """The CPU limit of this process's cgroup in CPUs (a container's --cpus, a pod's limits.cpu); None: no limit.
    cgroup v2: cpu.max holds "QUOTA PERIOD" or "max PERIOD"; v1: cpu.cfs_quota_us (-1: none) over cpu.cfs_period_us."""
    try:
        quota, period = (root / "cpu.max").read_text().split()
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    for v1 in (root / "cpu", root / "cpu,cpuacct"):
        try:
            quota, period = int((v1 / "cpu.cfs_quota_us").read_text()), int((v1 / "cpu.cfs_period_us").read_text())
            return None if quota <= 0 or period <= 0 else quota / period
        except (OSError, ValueError):
            continue
    return None


def cpu_quota(root: Path = CGROUP) -> int:
    """The CPUs this process may use: the cores it may run on, lowered by its cgroup's CPU limit, rounded up.
    torch's default thread count is every core of the machine, which in a limited container or pod oversubscribes
    the CPU and makes these small recurrent nets many times slower."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    limit = _cgroup_cpu_limit(root)
    return max(1, min(cores, math.ceil(limit))) if limit else cores


def set_threads(threads: int | None) -> int:
    """Set torch's CPU threads: `threads`, or the CPU quota when None. Returns the number set."""
    used = threads or cpu_quota()
    torch.set_num_threads(used)
    return used


@contextlib.contextmanager
def torch_threads(threads: int):
    """torch's CPU threads set to `threads` inside the block, restored after it."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
