"""Run independent post-hoc trainings in worker processes, one torch thread each.

The post-hoc GRUs are tiny: one thread each is faster than sharing threads, and one task per core uses the
machine fully. Every task runs single-threaded, in a worker or in-process, so the numbers do not depend
on the number of workers.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Iterator

import torch
from tqdm import tqdm

from rgan.device import cpu_quota, torch_threads

Task = tuple[str, Callable[..., Any], tuple, dict]


@contextlib.contextmanager
def one_thread():
    """torch, and the BLAS and OpenMP pools of numpy and scikit-learn (t-SNE), on one thread inside the block: these
    tiny networks run fastest per CPU on one, and parallel tasks must not each take every core."""
    from threadpoolctl import threadpool_limits

    with torch_threads(1), threadpool_limits(1):
        yield


def _single_threaded(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    with one_thread():
        return fn(*args, **kwargs)


def worker_count(requested: int | None, tasks: int) -> int:
    """Processes for `tasks` tasks: as requested, else one per CPU this process may use (each runs one thread)."""
    return max(1, min(requested or cpu_quota(), tasks))


def run_tasks(tasks: list[Task], workers: int, progress: bool | None = None) -> Iterator[tuple[str, Any]]:
    """Yield (name, result) for every task, in task order, on `workers` processes (see worker_count)."""
    bar = tqdm(total=len(tasks), desc="evaluate", unit="model", disable=None if progress is None else not progress)
    try:
        if workers <= 1:
            for name, fn, args, kwargs in tasks:
                yield name, _single_threaded(fn, args, kwargs)
                bar.update(1)
            return
        # spawn, not fork: forking a process whose torch thread pool already ran can deadlock
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [(name, pool.submit(_single_threaded, fn, args, kwargs)) for name, fn, args, kwargs in tasks]
            for name, future in futures:
                yield name, future.result()
                bar.update(1)
    finally:
        bar.close()
