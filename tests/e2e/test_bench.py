"""The bench scripts run and print their figures (at tiny sizes; the real figures come from running them by hand)."""

import json
import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT, TINY, cli_env, write_params


def test_prepare_throughput_prints_rows_per_second_and_peak_memory():
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench/prepare_throughput.py"), "--rows", "5000", "--columns", "3"],
        env=cli_env(), capture_output=True, text=True, check=True,
    ).stdout
    match = re.search(r"prepare: ([0-9.]+)s, ([0-9,]+) rows/s, peak memory ([0-9,]+) MiB", out)
    assert match, out
    seconds, rate, peak = float(match[1]), float(match[2].replace(",", "")), float(match[3].replace(",", ""))
    assert seconds > 0 and abs(5000 / rate - seconds) <= 0.051  # the rate is the rows over the time (printed to 0.1 s)
    assert 10 < peak < 4096  # a real child's resident memory in MiB, not a placeholder


def test_train_speed_prints_steps_per_second(tmp_path):
    params = write_params(tmp_path / "params.yaml", TINY)
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench/train_speed.py"), "--params", str(params), "--steps", "5"],
        env=cli_env(), capture_output=True, text=True, check=True,
    ).stdout
    match = re.search(r"device cpu: ([0-9.]+) steps/s; train.steps = 20 would take ([0-9.]+) min", out)
    assert match, out
    rate, minutes = float(match[1]), float(match[2])
    assert rate > 0 and abs(minutes - 20 / rate / 60) <= 0.051  # the projection is train.steps at the measured rate


def test_timegan_benchmark_smoke_run_writes_the_table(tmp_path):
    """Every kind through the whole script on tiny sines, two at a time (the real run: by hand, hours); Stocks
    skipped with a message when its CSV is missing; rows measured earlier (here a Stocks row) are kept; a peer
    whose environment is missing gets its row with the reason; the published rows are there."""
    out = tmp_path / "table.md"
    earlier = {"dataset": "stocks", "kind": "rgan", "steps": 123, "wall_s": 60.0, "repeats": 2, "budget_min": 1.0, "threads": 2,
               "measured": "2026-01-02", "target_range": 1.0, "scores": {k: {"mean": 0.25, "std": 0.01} for k in ("discriminative", "predictive", "predictive_real")}}
    earlier["scores"]["windows"] = 732
    tried = {**earlier, "dataset": "sines", "overrides": "train.spectral_weight=1", "target_range": 0.49}  # a recipe tried: a row of its own
    out.with_suffix(".json").write_text(json.dumps([earlier, tried]))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench/timegan_benchmark.py"), "--smoke", "--budget-min", "0.15", "--jobs", "2", "--datasets", "sines",
         "stocks", "entities", "--stocks", str(tmp_path / "no-such.csv"), "--out", str(out), "--kinds", "rgan", "timegan", "vaegan", "dgan",
         "--peer-venvs", str(tmp_path / "no-venvs")], check=False, env=cli_env(), capture_output=True,
        text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    for kind in ("rgan", "timegan", "vaegan"):
        assert f"| Sines | {kind} (ours, 1 repeats) |" in text
    assert "| Stocks | rgan (ours, 2 repeats) | test (732) | 0.250 ± 0.010 |" in text and "| 123 | 2026-01-02 |" in text
    assert f"| Sines | dgan (gretel-synthetics 0.22.20, DGAN, the library's defaults) | | not run: dgan: not installed ({tmp_path / 'no-venvs'}/dgan/bin/python absent" in text
    assert "Skipped: entities dgan: the peers' scripts take plain windows" in text
    assert len(json.loads(out.with_suffix(".json").read_text())) == 9
    assert "| Sines | rgan (ours, train.spectral_weight=1, 2 repeats) | test (732) | 0.250 ± 0.010 |" in text
    entities = text.split("## Entities: own lengths, conditions, categories")[1]
    assert all(f"| {kind} (ours, 1 repeats) |" in entities for kind in ("rgan", "timegan", "vaegan"))
    assert "| Sines | TimeGAN (Yoon et al., NeurIPS 2019) | all | .011 ± .008 | | | .093 ± .019 |" in text
    assert "| Stocks | Diffusion-TS (Yuan & Qiao, ICLR 2024) | all | .067 ± .015 | | | .036 ± .000 | | .147 ± .025 | .004 ± .001 |" in text
    sines_rgan = next(line for line in text.splitlines() if line.startswith("| Sines | rgan (ours, 1 repeats)"))
    assert re.search(r"\| [0-9.]+ ± [0-9.]+ \([0-9.]+ ± [0-9.]+\) \| [0-9.]+ ± [0-9.]+ \| 0.15 min \|", sines_rgan), sines_rgan  # context-FID (floor), correlational
    sines = [r for r in json.loads(out.with_suffix(".json").read_text()) if r["dataset"] == "sines" and "unavailable" not in r]
    assert len(sines) == 4 and all(0.45 < r["target_range"] <= 0.5 for r in sines)  # the paper's sines lie in [0.5, 1]
    assert "Skipped: stocks:" in text and "no-such.csv not found" in proc.stderr
    assert (tmp_path / "table_minutes.png").read_bytes()[:4] == b"\x89PNG"  # the score-against-minutes plot


def test_timegan_benchmark_scores_snapshots_of_one_training_as_rows_of_their_budgets(tmp_path):
    """--snapshots-min: rgan's kinds scored as they stood at each mark of the same training (a row per mark, of
    that budget, fewer steps than the whole run), the peers not (their schedules follow their budget)."""
    out = tmp_path / "t.md"
    proc = subprocess.run([sys.executable, str(ROOT / "bench/timegan_benchmark.py"), "--smoke", "--budget-min", "0.3", "--snapshots-min", "0.15",
                           "--jobs", "2", "--datasets", "sines", "--kinds", "rgan", "dgan", "--peer-venvs", str(tmp_path / "no-venvs"),
                           "--out", str(out)], env=cli_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {(r["kind"], r["budget_min"]): r for r in json.loads(out.with_suffix(".json").read_text())}
    assert sorted(rows) == [("dgan", 0.3), ("rgan", 0.15), ("rgan", 0.3)]
    whole, snapshot = rows["rgan", 0.3], rows["rgan", 0.15]
    assert 0 < snapshot["steps"] < whole["steps"] and snapshot["wall_s"] < whole["wall_s"] and snapshot["snapshot_of"] == 0.3
    # a generator of its own, scored: read on the marginal distance, which reads the generated values directly (the
    # smoke run's post-hoc models barely train, so its predictive score can be the same for two generators, as a slow
    # landing machine showed); equal only where validation (train.keep: best) shipped the same step in both
    assert snapshot["shipped_step"] <= snapshot["steps"]
    same_generator = snapshot["shipped_step"] == whole["shipped_step"]
    assert (snapshot["scores"]["marginal_w1"] == whole["scores"]["marginal_w1"]) == same_generator, (snapshot, whole)
    assert "| 0.15 min (of a 0.3-min run) |" in out.read_text()


@pytest.mark.skipif(not (ROOT / "bench/peers/.venvs/dgan/bin/python").is_file(), reason="DGAN's environment not installed (bash bench/peers/install.sh dgan)")
def test_timegan_benchmark_scores_dgan_snapshots_as_rows_of_their_budgets(tmp_path):
    """DGAN's training is not tied to its budget, so it is snapshotted as rgan's kinds are: a row per mark, with the
    steps and wall time reached by then, its own windows scored."""
    out = tmp_path / "t.md"
    proc = subprocess.run([sys.executable, str(ROOT / "bench/timegan_benchmark.py"), "--smoke", "--budget-min", "0.3", "--snapshots-min", "0.05",
                           "--datasets", "sines", "--kinds", "dgan", "--out", str(out)], env=cli_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["budget_min"]: r for r in json.loads(out.with_suffix(".json").read_text())}
    assert sorted(rows) == [0.05, 0.3] and rows[0.05]["snapshot_of"] == 0.3 and "snapshot_of" not in rows[0.3]
    assert 0 < rows[0.05]["steps"] < rows[0.3]["steps"] and 3 <= rows[0.05]["wall_s"] < rows[0.3]["wall_s"]
    assert rows[0.05]["scores"]["context_fid"] != rows[0.3]["scores"]["context_fid"]  # windows of its own generator
    assert "| 0.05 min (of a 0.3-min run) |" in out.read_text()


@pytest.mark.parametrize("arguments, message", [
    (["--budget-min", "1", "--snapshots-min", "0.5", "1"], "--snapshots-min 1: each mark must lie inside the budget (more than 0 and less than --budget-min 1)"),
    (["--budget-min", "1", "--snapshots-min", "-2"], "--snapshots-min -2: each mark must lie inside the budget (more than 0 and less than --budget-min 1)"),
    (["--datasets", "sines", "co2", "fertility"], "--datasets co2 fertility: statsmodels and vega_datasets cannot be imported (bench-only: pip install statsmodels vega_datasets)"),
])
def test_timegan_benchmark_refuses_bad_arguments_before_training(tmp_path, arguments, message):
    for package in ("statsmodels", "vega_datasets"):  # packages that fail to import, whether or not the real ones are installed
        (tmp_path / "site" / package).mkdir(parents=True)
        (tmp_path / "site" / package / "__init__.py").write_text("raise ImportError('broken for the test')\n")
    out = tmp_path / "out" / "t.md"
    env = {**cli_env(), "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path / "site"), cli_env().get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, str(ROOT / "bench/timegan_benchmark.py"), *arguments, "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and proc.stdout == "" and "Traceback" not in proc.stderr and not out.parent.exists()
    assert proc.stderr.strip().splitlines()[-1] == message


def test_timegan_benchmark_refuses_a_malformed_setting_before_training(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "bench/timegan_benchmark.py"), "--set", "spectral_weight", "--out", str(tmp_path / "t.md")],
                          env=cli_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and proc.stdout == "" and not list(tmp_path.iterdir())
    assert proc.stderr.strip() == "--set 'spectral_weight': expected SECTION.KEY=VALUE, e.g. train.spectral_weight=1"


def test_timegan_benchmark_reports_failed_rows_and_keeps_the_measured_ones(tmp_path):
    out = tmp_path / "t.md"
    kept = [{"dataset": "stocks", "kind": "rgan", "budget_min": 1.0, "unavailable": "measured earlier", "measured": "2026-01-02"}]
    out.with_suffix(".json").write_text(json.dumps(kept))
    proc = subprocess.run([sys.executable, str(ROOT / "bench/timegan_benchmark.py"), "--smoke", "--budget-min", "0.1", "--jobs", "2",
                           "--datasets", "sines", "--kinds", "rgan", "timegan", "--set", "model.hidden=0", "--out", str(out)],
                          env=cli_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.stderr.count("model.hidden") >= 2 and f"2 of 2 rows failed (above); the others are in {out.with_suffix('.json')}" in proc.stderr
    assert json.loads(out.with_suffix(".json").read_text()) == kept


def test_sample_memory_prints_peak_memory_per_n_within_the_limit():
    proc = subprocess.run([sys.executable, str(ROOT / "bench/sample_memory.py"), "--quick", "--format", "csv"],
                          env=cli_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines() if line.strip().startswith(("10,000", "100,000"))]
    assert [r[0] for r in rows] == ["10,000", "100,000"] and all(r[2] == "csv" for r in rows), proc.stdout
    assert all(0 < float(r[4]) < 1024 for r in rows)  # peak MiB of each `rgan sample` child


def test_recipe_study_and_fidelity_table_smoke_runs(tmp_path):
    """The recipe study and the fidelity table end to end on the built-in sines (the real datasets need bench-only
    packages; the real run: by hand)."""
    study = tmp_path / "study.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench/recipe_study.py"), "--smoke", "--datasets", "sines", "--recipes", "shipped",
                           "ttur", "--jobs", "1", "--out", str(study)], env=cli_env(), capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(study.read_text())
    assert {r["recipe"] for r in rows} == {"shipped", "ttur"} and all("ratio" in r and "health_chance_share" in r for r in rows)
    table = tmp_path / "fidelity.md"
    proc = subprocess.run([sys.executable, str(ROOT / "bench/fidelity_table.py"), "--smoke", "--datasets", "sines", "--jobs", "1",
                           "--out", str(table)], env=cli_env(), capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (row,) = json.loads(table.with_suffix(".json").read_text())
    assert {"before", "after", "tuned"} <= set(row) and row["tuned_settings"]
    assert "| sines |" in table.read_text()
