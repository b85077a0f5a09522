"""The TimeGAN paper's benchmark (Yoon, Jarrett & van der Schaar, "Time-series Generative Adversarial Networks",
NeurIPS 2019): discriminative and predictive scores (post-hoc GRUs, 2000 / 5000 iterations, mean and std over
repeats, sequence length 24) for every model kind on Sines (built in, 10,000 x 24 x 5) and Stocks (Google daily
prices, 6 columns, read from ../shared/data/timegan/stock_data.csv when present; never copied into the project); and a
row beyond the paper: Entities, the built-in per-entity dataset in sequences mode (own lengths, conditioned on
attributes, a categorical state; rgan only), with its conditional scores (condition accuracy, lengths, categories).

    python bench/timegan_benchmark.py [--budget-min 30] [--snapshots-min 5 10 20] [--kinds rgan timegan vaegan dgan dgan-example ydata-timegan]
                                      [--datasets sines stocks entities seattle-temps ...] [--jobs N] [--repeats N] [--out bench/results/timegan_table.md] [--stocks CSV] [--smoke]

Each (dataset, kind) trains with its committed config bench/configs/<dataset>-<kind>.yaml (params.yaml settings)
for at most the budget of wall time: training is stopped at the budget (SIGTERM, which checkpoints) and the
generator written from that checkpoint. Then `rgan evaluate` scores it. --jobs N trains N models at once, each on
cores / N torch threads (these small recurrent nets run as fast on one thread as on two, so --jobs 2 on 2 cores
halves the wall time of the benchmark without slowing a model). The rows go to --out's .json beside it (a run
replaces the rows of the (dataset, kind, budget) it measured and keeps the others, so kinds can be measured at
different times and budgets) and the table to --out with the published rows beside ours.
Peers (--kinds dgan dgan-example ydata-timegan; bench/peers/, installed by bench/peers/install.sh in environments of their own)
train on the same prepared training windows within the same budget; rgan's evaluation scores their windows with
the settings of the dataset's rgan config. Not on Entities (their scripts take plain windows, no attributes).
The real datasets of bench/datasets.py (the fidelity table's; `pip install statsmodels vega_datasets`) train with
the shipped params.yaml and bench/configs/real.yaml over it. --snapshots-min M ...: rgan's kinds and DGAN are also
scored as they stood at M minutes of the same training (a row per mark, of budget M), so one run gives the
score-against-minutes curve; ydata's TimeGAN needs a run per budget (its phases are shares of the budget).
--smoke: tiny data, budget and iterations, to check the script end to end.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets as real_data  # noqa: E402  (bench/datasets.py: the real datasets of the fidelity table)

from rgan.atomic import atomic_path, write_json
from rgan.config import load_params
from rgan.data.prepare import load_prepared
from rgan.training.trainer import CHECKPOINT_NAME, PUBLISHED_LOG_NAME, WORKING_LOG_NAME, TrainPaths  # where `rgan train` keeps its checkpoints and live log

ROOT = Path(__file__).resolve().parents[1]
REAL = real_data.REAL  # public real tables (bench/datasets.py), read as a user's CSV: the shipped recipe, no config of their own
BUILT_IN = ["sines", "stocks", "entities"]  # the default run's datasets: the real ones are asked for by name
DATASETS = [*BUILT_IN, *REAL]
REAL_CONFIG = ROOT / "bench" / "configs" / "real.yaml"  # over params.yaml for REAL (the evaluation's protocol, a step ceiling)
CONDITIONAL = {"entities"}  # datasets of entities with attributes and sequences of their own length: a table of their own
KINDS = ["rgan", "timegan", "vaegan"]
# Peer libraries (bench/peers/): each installed in its own environment by bench/peers/install.sh, trained by its
# script there on the same training windows within the same budget, scored here by rgan's evaluation.
PEER_DIR = ROOT / "bench" / "peers"
PEER_VENVS = PEER_DIR / ".venvs"  # where install.sh puts them; --peer-venvs elsewhere
# name: venv, script and its arguments, label
PEERS = {"dgan": ("dgan", ["dgan_peer.py", "--settings", "defaults"], "gretel-synthetics 0.22.20, DGAN, the library's defaults"),
         "dgan-example": ("dgan", ["dgan_peer.py", "--settings", "example"], "gretel-synthetics 0.22.20, DGAN, its example's settings"),
         "ydata-timegan": ("ydata", ["ydata_timegan_peer.py"], "ydata-synthetic 1.4.0, TimeGAN")}
# Peers whose script takes --snapshots-s: nothing in their training depends on the budget (DGAN: unbounded epochs,
# constant learning rates). ydata's TimeGAN splits its budget into phases, so minute m of a longer run is not what a
# run of m minutes ends with: a run per budget.
SNAPSHOTTING_PEERS = {"dgan", "dgan-example"}
MODELS = KINDS + list(PEERS)
STOCKS = ROOT.parent / "shared" / "data" / "timegan" / "stock_data.csv"
# Published rows, as printed: discriminative, predictive (the paper's units), context-FID, correlational; mean ± std.
# TimeGAN: Yoon et al., NeurIPS 2019, Table 2 (context-FID and correlational of TimeGAN: Diffusion-TS's Table 1).
# Diffusion-TS: Yuan & Qiao, ICLR 2024, Table 1 (length 24), read from the table in their repository's README.
# ImagenTime: Naiman et al., NeurIPS 2024 (arXiv 2410.19538): its own table was not reachable from here. Its Stocks
# row (discriminative .037 ± .006, predictive .036 ± .000) is as quoted in issue 17 and printed in a third party's
# table that reports baselines "from the original publications" ("Time Series As Videos: Spectro-Temporal Generative
# Diffusion", under review, Table 1, length 24), which gives no Sines, context-FID or correlational scores for it.
DIFFUSION_TS = "Diffusion-TS (Yuan & Qiao, ICLR 2024)"
PAPER = [
    ("Sines", "TimeGAN (Yoon et al., NeurIPS 2019)", ".011 ± .008", ".093 ± .019", ".101 ± .014", ".045 ± .010"),
    ("Sines", DIFFUSION_TS, ".006 ± .007", ".093 ± .000", ".006 ± .000", ".015 ± .004"),
    ("Sines", "Original data (Yoon et al.)", "", ".094", "", ""),
    ("Stocks", "TimeGAN (Yoon et al., NeurIPS 2019)", ".102 ± .021", ".038 ± .001", ".103 ± .013", ".063 ± .005"),
    ("Stocks", DIFFUSION_TS, ".067 ± .015", ".036 ± .000", ".147 ± .025", ".004 ± .001"),
    ("Stocks", "ImagenTime (Naiman et al., NeurIPS 2024; as quoted by a third party)", ".037 ± .006", ".036 ± .000", "", ""),
    ("Stocks", "Original data (Yoon et al.)", "", ".036", "", ""),
]
SMOKE = {
    "data": {"sines": {"n_sequences": 200, "length": 24, "dim": 3}, "entities": {"n_entities": 60}},
    "train": {"batch_size": 16, "log_every": 5, "checkpoint_every": 10, "validate_iterations": 10},
    "evaluate": {"repeats": 1, "discriminative_iterations": 10, "predictive_iterations": 10, "context_fid_iterations": 10,
                 "plot_samples": 20, "workers": 1},
}


def merge(base: dict, over: dict) -> dict:
    return {**base, **{k: merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v for k, v in over.items()}}


def rgan(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rgan", *args], cwd=cwd, stderr=subprocess.PIPE, text=True)


def check(proc: subprocess.Popen, what: str) -> str:
    err = proc.communicate()[1]
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed:\n{err}")
    return err


def _wait_for_first_steps(proc: subprocess.Popen, workdir: Path, grace_s: float = 300.0) -> None:
    """Until the training has logged its first steps (or ended, or grace_s passed): a budget shorter than the
    start-up (a smoke run on a busy machine) still ends with a checkpoint to score. The wall time reported counts it."""
    live = workdir / TrainPaths.checkpoints / WORKING_LOG_NAME
    deadline = time.monotonic() + grace_s
    while proc.poll() is None and time.monotonic() < deadline:
        if live.is_file() and len(live.read_text().splitlines()) > 1:
            return
        time.sleep(0.2)


def train_within(workdir: Path, budget_s: float, snapshots_s: tuple[float, ...] = ()) -> dict:
    """Train for at most budget_s (or until its first logged steps, if start-up took longer): stop with SIGTERM at
    the budget (the trainer checkpoints), then write the generator from that checkpoint by resuming with
    train.steps set to the step reached. At each of snapshots_s (seconds within the budget) the last checkpoint and
    its log are copied to snapshots/<minutes> (see snapshot_rows)."""
    start = time.monotonic()
    proc = rgan("train", "--no-mlflow", "--no-progress", cwd=workdir)
    marks = sorted(s for s in snapshots_s if 0 < s < budget_s)
    while True:
        try:
            proc.wait(timeout=max(0.0, start + (marks[0] if marks else budget_s) - time.monotonic()))
            break  # ended by itself (train.steps reached)
        except subprocess.TimeoutExpired:
            if marks:
                _snapshot(workdir, marks.pop(0), time.monotonic() - start)
                continue
            _wait_for_first_steps(proc, workdir)
            proc.send_signal(signal.SIGTERM)
            break
    err = proc.communicate()[1]
    wall = time.monotonic() - start
    if proc.returncode != 0:
        if "interrupted" not in err and proc.returncode != 128 + signal.SIGTERM:
            raise SystemExit(f"training failed:\n{err}")
        last = workdir / TrainPaths.checkpoints / CHECKPOINT_NAME
        if not last.is_file():
            raise SystemExit(f"the budget of {budget_s:.0f} s ended before training reached its first step")
        _finish_at(workdir, int(torch.load(last, weights_only=True)["step"]))
    return {**_trained_steps(workdir), "wall_s": wall}


def _trained_steps(workdir: Path) -> dict:
    """The steps trained, and the step of the generator shipped (train.keep: best may ship an earlier one)."""
    summary = json.loads((workdir / "metrics/train.json").read_text())
    return {"steps": summary["steps"], "shipped_step": summary.get("generator_step", summary["steps"])}


def _finish_at(workdir: Path, step: int) -> None:
    """Write the generator of the checkpoint at `step`: resume with train.steps = step (no step is trained)."""
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["train"]["steps"] = step
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    check(rgan("train", "--no-mlflow", "--no-progress", "--resume", cwd=workdir), "finishing training")


SNAPSHOTS = "snapshots"  # in a row's work folder: <minutes>/ with a checkpoint, its log and when it was taken


def _snapshot(workdir: Path, at_s: float, wall_s: float) -> None:
    """The training's state at the mark: its last checkpoint (written every train.checkpoint_every steps, atomically)
    and then its published log (which reaches at least the checkpoint's step; later rows are dropped on resume)."""
    source = workdir / TrainPaths.checkpoints
    if not (source / CHECKPOINT_NAME).is_file():
        print(f"{workdir.name}: no checkpoint yet at {at_s / 60:g} min: no snapshot", file=sys.stderr, flush=True)
        return
    dest = workdir / SNAPSHOTS / f"{at_s / 60:g}"
    dest.mkdir(parents=True)
    shutil.copy2(source / CHECKPOINT_NAME, dest / CHECKPOINT_NAME)
    shutil.copy2(source / PUBLISHED_LOG_NAME, dest / PUBLISHED_LOG_NAME)
    shutil.copy2(source / WORKING_LOG_NAME, dest / WORKING_LOG_NAME)  # where the training was at the mark
    (dest / "taken.json").write_text(json.dumps({"minutes": at_s / 60, "wall_s": wall_s}))


def snapshot_rows(workdir: Path, row: dict) -> list[dict]:
    """A row per snapshot of the training in workdir, scored as the row was: its generator written from the
    snapshot's checkpoint in a copy of the work folder, then `rgan evaluate`. rgan's kinds have no schedule tied to
    the budget, so the state at minute m of a longer run is the state a run of budget m would have shipped (to
    within train.checkpoint_every steps: the step and the wall time are the checkpoint's)."""
    rows = []
    for taken in sorted((workdir / SNAPSHOTS).glob("*/taken.json"), key=lambda t: float(t.parent.name)):
        when = json.loads(taken.read_text())
        copy = workdir.with_name(f"{workdir.name}@{taken.parent.name}min")
        shutil.copytree(workdir, copy, ignore=shutil.ignore_patterns(SNAPSHOTS))
        for output in (TrainPaths.checkpoints, TrainPaths.generator, Path("metrics")):
            shutil.rmtree(copy / output) if (copy / output).is_dir() else (copy / output).unlink(missing_ok=True)
        (copy / TrainPaths.checkpoints).mkdir(parents=True)
        for name in (CHECKPOINT_NAME, PUBLISHED_LOG_NAME):
            shutil.copy2(taken.parent / name, copy / TrainPaths.checkpoints / name)
        step = int(torch.load(copy / TrainPaths.checkpoints / CHECKPOINT_NAME, weights_only=True)["step"])
        _finish_at(copy, step)
        check(rgan("evaluate", "--no-mlflow", "--no-progress", cwd=copy), f"evaluate (snapshot at {when['minutes']:g} min)")
        # the wall time at the checkpoint's step: the mark's, less the steps trained after it at the run's mean rate
        wall = when["wall_s"] * min(1.0, step / max(1, _steps_at(workdir / SNAPSHOTS / taken.parent.name)))
        rows.append({**snapshot_row(row, when["minutes"]), **_trained_steps(copy), "wall_s": wall,
                     "scores": json.loads((copy / "metrics/eval.json").read_text())})
    return rows


def snapshot_row(row: dict, minutes: float) -> dict:
    """The row of a snapshot taken at `minutes` of the training whose row is `row` (its own steps, wall time and
    scores go over it): a budget of those minutes, and the run it was taken from."""
    return {**row, "budget_min": minutes, "snapshot_of": row["budget_min"]}


def _steps_at(snapshot: Path) -> int:
    """The last step the live log had reached at the mark (its checkpoint may be a little older); its last line
    may have been half written."""
    rows = [line.split("\t")[0] for line in (snapshot / WORKING_LOG_NAME).read_text().split("\n")[1:-1]]
    return int(rows[-1]) if rows else 1


def peer_within(workdir: Path, peer: str, train: np.ndarray, budget_s: float, threads: int, n: int, seed: int,
                venvs: Path = PEER_VENVS, snapshots_s: tuple[float, ...] = ()) -> dict:
    """Train a peer on the prepared training windows `train` within budget_s in its own environment; write n synthetic
    windows to synthetic.npy (and, for SNAPSHOTTING_PEERS, n from its generator at each of snapshots_s: the result's
    `snapshots`). Raises PeerUnavailable when its environment is not installed."""
    venv, (script, *script_args), _ = PEERS[peer]
    python = venvs / venv / "bin" / "python"
    if not python.is_file():
        raise PeerUnavailable(f"{peer}: not installed ({python} absent: bash bench/peers/install.sh {venv})")
    np.save(workdir / "train.npy", train)
    proc = subprocess.run([str(python), str(PEER_DIR / script), *script_args, "--train", "train.npy", "--out", "synthetic.npy",
                           "--n", str(n), "--budget-s", str(budget_s), "--seed", str(seed), "--threads", str(threads),
                           *(["--snapshots-s", *map(str, snapshots_s)] if peer in SNAPSHOTTING_PEERS and snapshots_s else [])],
                          cwd=workdir, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    if proc.returncode != 0:
        raise PeerUnavailable(f"{peer} failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


class PeerUnavailable(Exception):
    pass


def run_one(dataset: str, kind: str, budget_s: float, repeats: int | None, threads: int, smoke: bool, scratch: Path,
            stocks: Path, peer_venvs: Path = PEER_VENVS, overrides: tuple[str, ...] = (), snapshots_s: tuple[float, ...] = ()) -> list[dict]:
    """Train one model kind or peer on one dataset within the budget and score it; its row, then a row per snapshot
    (rgan's kinds and SNAPSHOTTING_PEERS: the generator at each of snapshots_s, scored the same way). `overrides`:
    KEY=VALUE settings over the committed config (a recipe tried against it)."""
    config = committed_config(dataset, "rgan" if kind in PEERS else kind)
    config = merge(config, {"train": {"threads": threads}, "evaluate": {"workers": threads}})
    for setting in overrides:
        config = merge(config, override(setting))
    if smoke:
        config = merge(config, SMOKE)
    if repeats:
        config = merge(config, {"evaluate": {"repeats": repeats}})
    workdir = scratch / f"{dataset}-{kind}"
    workdir.mkdir(parents=True)
    if dataset == "stocks":
        config = merge(config, {"data": {"path": str(stocks.resolve())}})
    if dataset in REAL:  # its table written as a CSV, with the data settings a user would give it
        config = merge(config, {"data": real_data.write(dataset, workdir / "data" / "raw")})
    (workdir / "params.yaml").write_text(yaml.safe_dump(config))
    if dataset in ("sines", "entities"):
        check(rgan(f"make-{dataset}", "--out", config["data"]["path"], cwd=workdir), f"make-{dataset}")
    check(rgan("prepare", cwd=workdir), "prepare")
    scaler = json.loads((workdir / "data/prepared/scaler.json").read_text())
    if kind in PEERS:  # the same data and settings as rgan's row; the peer's windows scored by rgan's evaluation
        params, prepared = load_params(workdir / "params.yaml"), load_prepared(workdir / "data/prepared")
        real = prepared.count(params.evaluate.real_windows)  # the windows evaluate scores against
        trained = peer_within(workdir, kind, prepared.windows("train"), budget_s, threads, seed=params.train.seed,
                              n=params.evaluate.repeats * min(real, params.evaluate.max_windows), venvs=peer_venvs, snapshots_s=snapshots_s)
        snapshots = trained.pop("snapshots", [])
        for snapshot in snapshots:
            snapshot["scores"] = score_peer(workdir, kind, snapshot.pop("out"))
        scores = score_peer(workdir, kind, "synthetic.npy")
    else:
        trained = train_within(workdir, budget_s, snapshots_s)
        check(rgan("evaluate", "--no-mlflow", "--no-progress", cwd=workdir), "evaluate")
        scores = json.loads((workdir / "metrics/eval.json").read_text())
    row = {"dataset": dataset, "kind": kind, **trained, "scores": scores, "repeats": config["evaluate"]["repeats"],
           "budget_min": budget_s / 60, "threads": threads, "real_windows": config["evaluate"].get("real_windows", "test"),
           "target_range": scaler["data_max"][-1] - scaler["data_min"][-1], "features": len(scaler["data_max"])}
    if kind in PEERS:
        return [row, *({**snapshot_row(row, snapshot.pop("minutes")), **snapshot} for snapshot in snapshots)]
    return [row, *snapshot_rows(workdir, row)]


def score_peer(workdir: Path, peer: str, windows: str) -> dict:
    """rgan's evaluation of a peer's synthetic windows (bench/peers/score.py, in the row's work folder)."""
    check(subprocess.Popen([sys.executable, str(PEER_DIR / "score.py"), windows], cwd=workdir, stderr=subprocess.PIPE, text=True),
          f"scoring {peer} ({windows})")
    return json.loads((workdir / "metrics/eval.json").read_text())


def committed_config(dataset: str, kind: str) -> dict:
    """The params.yaml settings a (dataset, kind) row trains and scores with: bench/configs/<dataset>-<kind>.yaml,
    or for a real dataset the shipped params.yaml (what a user gets) with bench/configs/real.yaml over it."""
    if dataset in REAL:
        return merge(merge(yaml.safe_load((ROOT / "params.yaml").read_text()), yaml.safe_load(REAL_CONFIG.read_text())),
                     {"model": {"kind": kind}})
    return yaml.safe_load((ROOT / "bench" / "configs" / f"{dataset}-{kind}.yaml").read_text())


def override(setting: str) -> dict:
    """`train.spectral_weight=1` -> {"train": {"spectral_weight": 1}} (the value read as YAML)."""
    key, sep, value = setting.partition("=")
    if not sep or not key or any(not part for part in key.split(".")):
        raise SystemExit(f"--set {setting!r}: expected SECTION.KEY=VALUE, e.g. train.spectral_weight=1")
    nested: object = yaml.safe_load(value)
    for part in reversed(key.split(".")):
        nested = {part: nested}
    return nested


def with_floor(scores: dict, name: str) -> str:
    """A score with its real-vs-real floor in brackets, where the evaluation wrote one."""
    return fmt(scores[name]) + (f" ({fmt(scores[f'{name}_floor'])})" if f"{name}_floor" in scores else "")


def correlational(row: dict) -> str:
    """The correlational score's cell: none for one feature (its only correlation is with itself: 0 by definition)."""
    if row.get("features") == 1:
        return "- (1 feature)"
    return fmt(row["scores"]["correlational"]) if "correlational" in row["scores"] else "-"


def steps(row: dict) -> str:
    """The steps cell: rgan's generator is that of an earlier step when its validation chose one (train.keep: best)."""
    shipped = row.get("shipped_step", row["steps"])
    return f"{row['steps']}" + (f" (ships {shipped})" if shipped != row["steps"] else "")


def budget(row: dict) -> str:
    """The budget cell: a snapshot's says which longer run it was taken from."""
    return f"{row['budget_min']:g} min" + (f" (of a {row['snapshot_of']:g}-min run)" if "snapshot_of" in row else "")


def title(dataset: str) -> str:
    """Sines, Stocks (the paper's names, as its rows spell them); a real dataset by its bench/datasets.py name."""
    return dataset if dataset in REAL else dataset.capitalize()


def fmt(score: dict, scale: float = 1.0) -> str:
    return f"{score['mean'] * scale:.3f} ± {score['std'] * scale:.3f}"


def paper_units(row: dict) -> float:
    """Factor from our min-max units to the paper's for the predictive MAE (linear in the target's scale). The
    paper scores Sines as generated, in [0.5, 1], and Stocks min-max scaled, as its code loads them; we score
    every dataset min-max scaled, so Sines MAEs are multiplied by the predicted (last) feature's range."""
    return row["target_range"] if row["dataset"] == "sines" else 1.0


def table(rows: list[dict], machine: str, skipped: list[str]) -> str:
    lines = [
        "# Our model kinds against the TimeGAN paper",
        "",
        "Protocol of Yoon, Jarrett & van der Schaar, \"Time-series Generative Adversarial Networks\", NeurIPS 2019:",
        "post-hoc GRU discriminator (2000 iterations; score = |accuracy - 0.5|) and next-step predictor trained on",
        "synthetic, tested on real (5000 iterations; MAE), sequence length 24, mean ± std over repeats. The paper's rows",
        "are quoted as published. Ours: `python bench/timegan_benchmark.py`, configs in `bench/configs/`, scores in our",
        "min-max [0, 1] units, and predictive scores also in the paper's units (Sines as generated, in [0.5, 1]: our",
        "MAE times the predicted feature's range; Stocks min-max scaled as the paper's code loads it: the same number).",
        "",
        "The real side (`real windows`, with their number): `all` = every window of the dataset, as the reference code",
        "(jsyoon0823/TimeGAN, metrics/) scores, with as many synthetic windows (`evaluate.real_windows: all`, the configs'",
        "setting since 2026-12-07; comparable with the published rows); `test` = rgan's held-out test windows only (rgan's",
        "default; fewer windows, so a higher noise floor: about 0.5/sqrt(0.4 x windows)). The real-vs-real floors (in",
        "brackets after the discriminative score and context-FID; every score here is lower-is-better) score training windows as if generated: with `all` these are part of the real side (all of them in",
        "every repeat when fewer than the real windows), the score a copier of the training data would get. Other differences from the",
        "reference: scaling is min-max over the training split, not the whole series, and Stocks is not",
        "reversed in time; torch's GRU (reset gate after the state's product, its initialisation) in place of TF's",
        "GRUCell, batches drawn with replacement, the two cross-entropies averaged rather than summed. Steps, sizes,",
        "iterations, the 80/20 divide inside the score and the score formulas are the reference's.",
        "`tests/integration/test_protocol.py` checks our scores against a literal transcription of the reference on",
        "fixed seeds (they agree within the scores' spread over seeds at the protocol's 2000 iterations; at fewer, the",
        "reference's classifier learns sooner).",
        "",
        f"Machine: {machine}. Training: stopped at the row's budget of wall time; `threads` = torch threads it had",
        "(with --jobs 2 two models train at once, one core each). Settings after a model's name (e.g.",
        "`train.spectral_weight=1`) are a recipe tried over its committed config (`--set KEY=VALUE`).",
        "",
        "Peers (`bench/peers/`, each in its own environment: `bash bench/peers/install.sh`) train on the same training",
        "windows within the same budget and are scored by the same evaluation in the same run (`--kinds dgan dgan-example",
        "ydata-timegan`; DGAN with the library's defaults and with the settings of its own example notebook, ydata's TimeGAN",
        "with those of its own example); `steps` is theirs (DGAN: batches; TimeGAN: joint iterations). Context-FID and the correlational score as in",
        "Diffusion-TS (Yuan & Qiao, ICLR 2024), in our min-max units; `-`: a row measured before these scores existed.",
        "",
        f"The real datasets (bench/datasets.py: {', '.join(REAL)}; public tables",
        "that ship in statsmodels and vega_datasets, read as a user's CSV) train with the shipped params.yaml, not a config",
        "tuned for them (bench/configs/real.yaml sets only the step ceiling and the all-windows protocol); nothing is",
        "published on them. A budget `M min (of a N-min run)` is a snapshot: the same training scored as it stood at M.",
        "rgan's `steps (ships S)`: the generator shipped is that of step S, the lowest validation context-FID (train.keep: best).",
        "",
        "| dataset | model | real windows | discriminative (real-vs-real) | predictive (lower is better) | real-data predictive | predictive, paper's units | real-data predictive, paper's units | context-FID (real-vs-real) | correlational | budget | training | threads | steps | measured |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted((r for r in rows if r["dataset"] not in CONDITIONAL),
                    key=lambda r: (DATASETS.index(r["dataset"]), r.get("real_windows", "test"), MODELS.index(r["kind"]), r.get("overrides", ""), r["budget_min"])):
        model = f"{r['kind']} (ours" if r["kind"] in KINDS else f"{r['kind']} ({PEERS[r['kind']][2]}"
        model += f", {r['overrides']}" if r.get("overrides") else ""
        if "unavailable" in r:
            lines.append(f"| {title(r['dataset'])} | {model}) | | not run: {r['unavailable']} | | | | | | | {r['budget_min']:g} min | | | | {r['measured']} |")
            continue
        s = r["scores"]
        fid = with_floor(s, "context_fid") if "context_fid" in s else "-"
        lines.append(f"| {title(r['dataset'])} | {model}, {r['repeats']} repeats) | {r.get('real_windows', 'test')} ({s['windows']}) | {with_floor(s, 'discriminative')} | "
                     f"{fmt(s['predictive'])} | {fmt(s['predictive_real'])} | {fmt(s['predictive'], paper_units(r))} | "
                     f"{fmt(s['predictive_real'], paper_units(r))} | {fid} | {correlational(r)} | "
                     f"{budget(r)} | {r['wall_s'] / 60:.1f} min | {r['threads']} | {steps(r)} | {r['measured']} |")
    for dataset, model, disc, pred, fid, corr in PAPER:
        lines.append(f"| {dataset} | {model} | all | {disc or '-'} | | | {pred or '-'} | | {fid or '-'} | {corr or '-'} | | | | | published |")
    conditional = [r for r in rows if r["dataset"] in CONDITIONAL]
    if conditional:
        lines += [
            "", "## Entities: own lengths, conditions, categories", "",
            "The built-in per-entity dataset (`rgan make-entities`: 600 machines of three classes, 10-60 steps depending on",
            "the class, a numeric size, a categorical state) in sequences mode (`bench/configs/entities-<kind>.yaml`). Condition",
            "accuracy: a classifier trained on real windows to tell the class from the features, scored on real test",
            "sequences and on sequences generated with their attributes (chance: the commonest class). Lengths: Wasserstein-1",
            "between real and generated lengths, in steps, overall and per class (generated without conditions).",
            "",
            "| model | discriminative | real-vs-real floor | predictive (real) | class accuracy: generated / real / chance | length W1 | length W1 per class | category TV | attribute distance | training | threads | steps | measured |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in sorted(conditional, key=lambda r: KINDS.index(r["kind"])):
            s = r["scores"]
            accuracy = s["condition_accuracy"]["class"]
            per_class = ", ".join(f"{k} {v['w1']:.1f}" for k, v in s["length_w1_by"]["class"].items())
            lines.append(f"| {r['kind']} (ours, {r['repeats']} repeats) | {fmt(s['discriminative'])} | {fmt(s['discriminative_floor'])} | "
                         f"{fmt(s['predictive'])} ({fmt(s['predictive_real'])}) | {accuracy['synthetic']:.3f} / {accuracy['real']:.3f} / "
                         f"{accuracy['chance']:.3f} | {fmt(s['length_w1'])} | {per_class} | {fmt(s['category_tv'])} | "
                         f"{fmt(s['attribute_distance'])} | {r['wall_s'] / 60:.1f} min | {r['threads']} | {steps(r)} | {r['measured']} |")
    lines += ["", *(f"Skipped: {s}" for s in skipped)]
    return "\n".join(lines).rstrip() + "\n"


def _key(row: dict) -> tuple:
    """A row is replaced only by a run of the same dataset, model, settings over its config, budget and real side."""
    # minutes rounded: a snapshot's (seconds / 60) and a budget given in minutes may differ in the last bits
    return row["dataset"], row["kind"], row.get("overrides", ""), round(row["budget_min"], 6), row.get("real_windows", "test")


def _published_discriminative(dataset: str) -> list[tuple[str, float]]:
    return [(model.split(" (")[0], float(disc.split(" ")[0])) for d, model, disc, *_ in PAPER if d.lower() == dataset and disc]


PUBLISHED_DASHES = [(6, 2), (2, 2), (6, 2, 2, 2)]  # one grey line per published row, told apart by its dashes


def minutes_plot(rows: list[dict], path: Path) -> None:
    """Per dataset: each kind's and peer's discriminative score (mean ± std over repeats) against its training
    minutes (the budget: training stops at it), one point per budget measured; the published scores as dashed lines,
    the real-vs-real floor against all windows as a dotted one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # the committed configs only: a recipe tried (--set) is one point of one budget, in the table; on the plot it
    # would hide the curves behind a legend of single points
    scored = [r for r in rows if "scores" in r and r["dataset"] not in CONDITIONAL and not r.get("overrides")]
    datasets = [d for d in DATASETS if any(r["dataset"] == d for r in scored)]
    if not datasets:
        return
    columns = min(2, len(datasets))
    rows_of_plots = -(-len(datasets) // columns)
    fig, axes = plt.subplots(rows_of_plots, columns, figsize=(9.5 * columns, 4.5 * rows_of_plots), squeeze=False)
    for ax in axes.flat[len(datasets):]:
        ax.set_visible(False)
    # one colour per model (kind or peer) in every panel; the older test-window rows dashed
    # with hollow markers beside the all-window ones
    models = sorted({r["kind"] for r in scored}, key=MODELS.index)
    colours = {kind: plt.get_cmap("tab10" if len(models) <= 10 else "tab20")(i % 20) for i, kind in enumerate(models)}
    for ax, dataset in zip(axes.flat, datasets):
        for kind in sorted({r["kind"] for r in scored if r["dataset"] == dataset}, key=MODELS.index):
            for real_windows, style in (("test", {"linestyle": "--", "marker": "o", "markerfacecolor": "none", "alpha": 0.6}),
                                        ("all", {"linestyle": "-", "marker": "s"})):
                points = sorted((r["budget_min"], r["scores"]["discriminative"]["mean"], r["scores"]["discriminative"]["std"])
                                for r in scored if r["dataset"] == dataset and r["kind"] == kind
                                and r.get("real_windows", "test") == real_windows)
                if points:
                    x, y, err = zip(*points)
                    label = f"{kind}{'' if kind in KINDS else ' (peer)'}, {real_windows} windows"
                    ax.errorbar(x, y, yerr=err, capsize=3, color=colours[kind], label=label, **style)
        for i, (model, disc) in enumerate(_published_discriminative(dataset)):
            ax.axhline(disc, linestyle=(0, PUBLISHED_DASHES[i % len(PUBLISHED_DASHES)]), linewidth=1.2, color="0.35", label=f"{model} (published)")
        floors = [r["scores"]["discriminative_floor"]["mean"] for r in scored
                  if r["dataset"] == dataset and r.get("real_windows") == "all" and "discriminative_floor" in r["scores"]]
        if floors:  # the same data gives the same floor in every row: the latest row's
            ax.axhline(floors[-1], linestyle=":", linewidth=1.5, color="black", label="real-vs-real floor, all windows")
        ax.set_xlim(0, 1.1 * max(r["budget_min"] for r in scored if r["dataset"] == dataset))
        ax.set(title=title(dataset), xlabel="training minutes (2-core CPU)", ylabel="discriminative score (lower is better; log)")
        # log: the scores span 0.5 (chance) to below the real-vs-real floor, and the rows that matter sit near the floor
        ax.set_yscale("log", nonpositive="clip")
        lowest = min((r["scores"]["discriminative"]["mean"] for r in scored if r["dataset"] == dataset and r["scores"]["discriminative"]["mean"] > 0), default=0.002)
        ax.set_ylim(min(0.002, lowest / 2), 0.6)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)  # beside the panel, off the points
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def write_outputs(out: Path, rows: list[dict], machine: str, skipped: list[str]) -> None:
    """The table and the minutes plot beside it (the .json is written by the caller)."""
    with atomic_path(out) as tmp:
        tmp.write_text(table(rows, machine, skipped))
    minutes_plot(rows, out.with_name(f"{out.stem}_minutes.png"))


def refuse_bad_arguments(args: argparse.Namespace) -> None:
    """One line and exit 1, before any training, for marks outside the budget or real datasets whose packages are
    missing; a note on stderr when some models will not be snapshotted."""
    outside = [m for m in args.snapshots_min if not 0 < m < args.budget_min]
    if outside:
        raise SystemExit(f"--snapshots-min {' '.join(f'{m:g}' for m in outside)}: each mark must lie inside the budget "
                         f"(more than 0 and less than --budget-min {args.budget_min:g})")
    real = [d for d in args.datasets if d in REAL]
    missing = real_data.unavailable_packages() if real and not args.render else []
    if missing:
        raise SystemExit(f"--datasets {' '.join(real)}: {' and '.join(missing)} cannot be imported "
                         f"(bench-only: pip install {' '.join(real_data.PACKAGES)})")
    peers = [k for k in args.kinds if k in PEERS and k not in SNAPSHOTTING_PEERS]
    if args.snapshots_min and peers:
        print(f"--snapshots-min: {', '.join(peers)} scored at the budget only (its schedule follows its budget)", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget-min", type=float, default=30.0, help="training wall time per model and dataset")
    parser.add_argument("--kinds", nargs="+", choices=MODELS, default=KINDS, help=f"rgan's kinds and peers ({', '.join(PEERS)})")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=BUILT_IN)
    parser.add_argument("--jobs", type=int, default=1, help="models trained at once, each on cores / jobs threads")
    parser.add_argument("--repeats", type=int, help="evaluation repeats (default: the config's)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "timegan_table.md"))
    parser.add_argument("--stocks", type=Path, default=STOCKS, help=f"the Stocks CSV (default: {STOCKS})")
    parser.add_argument("--smoke", action="store_true", help="tiny data and iterations: checks the script, measures nothing")
    parser.add_argument("--peer-venvs", type=Path, default=PEER_VENVS, help="the peers' environments (bench/peers/install.sh)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting over every committed config, e.g. train.spectral_weight=1 (a recipe tried: its own rows)")
    parser.add_argument("--snapshots-min", nargs="+", type=float, default=[], metavar="MIN",
                        help="also score rgan's kinds and DGAN at these minutes of their training (rows of those budgets; not ydata's TimeGAN, whose phases follow its budget)")
    parser.add_argument("--render", action="store_true", help="only write the table again from --out's .json")
    args = parser.parse_args()

    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, no GPU" if not torch.cuda.is_available() \
        else f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    for setting in args.overrides:
        override(setting)  # refused here, before any training, when malformed
    refuse_bad_arguments(args)
    pairs, skipped = [], []
    for dataset in args.datasets:
        if dataset == "stocks" and not args.stocks.is_file():
            message = f"stocks: {args.stocks} not found (the TimeGAN paper's stock_data.csv; see shared/data/timegan/SOURCE.md)"
            print(message, file=sys.stderr)
            skipped.append(message)
            continue
        for kind in args.kinds:
            if dataset in CONDITIONAL and kind in PEERS:
                skipped.append(f"{dataset} {kind}: the peers' scripts take plain windows, without attributes or own lengths")
            else:
                pairs.append((dataset, kind))

    out = Path(args.out)
    results = out.with_suffix(".json")
    rows = {_key(r): r for r in (json.loads(results.read_text()) if results.is_file() else [])}
    if args.render:
        write_outputs(out, list(rows.values()), machine, skipped)
        print(f"wrote {out}")
        return
    with tempfile.TemporaryDirectory() as scratch, ThreadPoolExecutor(args.jobs) as pool:

        # a recipe tried (--set) is part of each row's key and label
        tried = {"overrides": " ".join(args.overrides)} if args.overrides else {}

        def measure(pair: tuple[str, str]) -> list[dict]:
            today = datetime.date.today().isoformat()
            try:
                measured = run_one(*pair, args.budget_min * 60, args.repeats, threads, args.smoke, Path(scratch), args.stocks, args.peer_venvs,
                                   tuple(args.overrides), tuple(m * 60 for m in args.snapshots_min))
            except PeerUnavailable as reason:  # a peer that cannot be installed or run here: its row says why
                print(f"{pair[0]} {pair[1]}: {reason}", file=sys.stderr, flush=True)
                return [{"dataset": pair[0], "kind": pair[1], "budget_min": args.budget_min, "unavailable": str(reason), "measured": today, **tried}]
            for row in measured:
                s = row["scores"]
                print(f"{pair[0]} {pair[1]}: discriminative {fmt(s['discriminative'])}, predictive {fmt(s['predictive'])} "
                      f"(real {fmt(s['predictive_real'])}), {row['steps']} steps in {row['wall_s'] / 60:.1f} min", flush=True)
            return [{**row, "measured": today, **tried} for row in measured]

        failed = []
        for done in as_completed([pool.submit(measure, pair) for pair in pairs]):
            try:
                measured = done.result()
            except SystemExit as failure:  # one model's failure: the others running beside it still finish and are kept
                print(failure, file=sys.stderr, flush=True)
                failed.append(failure)
                continue
            rows.update((_key(row), row) for row in measured)
            # written after every row, so a failure later keeps what was measured
            write_json(results, list(rows.values()))
            write_outputs(out, list(rows.values()), machine, skipped)
    if failed:
        raise SystemExit(f"{len(failed)} of {len(pairs)} rows failed (above); the others are in {results}")
    print(f"wrote {out} and {results}")


if __name__ == "__main__":
    main()
