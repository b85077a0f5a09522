"""Threads that fit the process: the cores it may run on, lowered by its cgroup's CPU limit (v2 cpu.max, v1 CFS)."""

import os

import pytest

from rgan.device import _cgroup_cpu_limit, cpu_quota

CORES = len(os.sched_getaffinity(0))


def cgroup(tmp_path, files: dict) -> object:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize("files, limit", [
    ({"cpu.max": "max 100000\n"}, None),
    ({"cpu.max": "150000 100000\n"}, 1.5),
    ({"cpu.max": "50000 100000\n"}, 0.5),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),
    ({"cpu,cpuacct/cpu.cfs_quota_us": "100000\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"}, 1.0),
    ({"cpu.max": "garbage\n"}, None),
    ({}, None),
])
def test_cgroup_cpu_limit(tmp_path, files, limit):
    assert _cgroup_cpu_limit(cgroup(tmp_path, files)) == limit


def test_quota_is_the_cores_lowered_by_the_limit_and_rounded_up(tmp_path):
    assert cpu_quota(cgroup(tmp_path, {})) == CORES
    assert cpu_quota(cgroup(tmp_path / "a", {"cpu.max": "50000 100000"})) == 1  # half a CPU: one thread
    assert cpu_quota(cgroup(tmp_path / "b", {"cpu.max": f"{100000 * (CORES + 4)} 100000"})) == CORES  # never above the cores
