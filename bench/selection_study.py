"""Why train.keep: best: the default run scored at every validation, on the test windows, as the evaluate stage does.

    python bench/selection_study.py [--params params.yaml] [--every 1000] [--out bench/results/selection_study.md]

Trains the given settings (default: the shipped params.yaml on its built-in data) in a scratch folder, one segment of
`--every` steps at a time (a resumed run repeats an uninterrupted one exactly), keeping the generator of each segment's
end: the network the training validates there. Each is then scored by `rgan evaluate`'s code against the test windows.
The table shows the validation context-FID the training logged beside the test scores, and the step train.keep: best
ships (lowest validation context-FID) against the last. Minutes: the training plus one evaluation per validation.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    parser.add_argument("--every", type=int, default=None, help="steps between validations (default: the params')")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/selection_study.md")
    args = parser.parse_args()

    import csv

    from rgan.config import load_params
    from rgan.errors import RganError
    from rgan.evaluation.evaluate import evaluate
    from rgan.training.trainer import TrainPaths, train

    try:
        params = load_params(args.params)
    except RganError as bad:  # the CLI's one-line refusal, not a traceback
        raise SystemExit(f"--params: {bad}")
    every = args.every or params.train.validate_every
    if every is None or every > params.train.steps:
        raise SystemExit(f"--every {every}: validations every 1 to {params.train.steps} steps are needed")
    rgan = [str(Path(sys.executable).parent / "rgan")]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        shutil.copy(args.params, work / "params.yaml")
        for command in (["make-sines", "--out", "data/raw/sines.parquet"], ["prepare", "--out", "data/prepared"]):
            subprocess.run(rgan + command, cwd=work, check=True, capture_output=True)
        os.chdir(work)
        paths = TrainPaths()
        generators = {}
        for step in range(every, params.train.steps + 1, every):
            segment = params.model_copy(update={"train": params.train.model_copy(
                update={"steps": step, "keep": "last", "validate_every": every})})
            train(segment, "data/prepared", paths, resume=step > every, progress=False)
            generators[step] = work / f"generator_{step}.pt"
            shutil.copy(paths.generator, generators[step])
        with paths.log.open(newline="") as f:
            validation = {int(r["step"]): float(r["val_context_fid"]) for r in csv.DictReader(f, delimiter="\t") if r["val_context_fid"]}
        rows = []
        for step, generator in generators.items():
            metrics = evaluate(params, "data/prepared", generator, work / f"eval_{step}.json", None, progress=False)
            rows.append({"step": step, "val_context_fid": validation[step], **{
                name: metrics[name] for name in ("discriminative", "discriminative_floor", "context_fid", "predictive", "correlational")}})
            print(json.dumps(rows[-1]), flush=True)
    minutes = (time.perf_counter() - started) / 60
    best = min(rows, key=lambda r: (r["val_context_fid"], r["step"]))
    last = rows[-1]
    args.out.write_text(render(rows, best, last, params, every, minutes))
    print(f"keep: best ships step {best['step']} (test discriminative {best['discriminative']['mean']:.4f}); the last step "
          f"{last['step']} scores {last['discriminative']['mean']:.4f}; written to {args.out}")
    return 0


def render(rows: list[dict], best: dict, last: dict, params, every: int, minutes: float) -> str:
    floor = rows[0]["discriminative_floor"]
    lines = [
        "# What the default run ships: the generator at each validation, scored on the test windows",
        "",
        f"`python bench/selection_study.py` ({time.strftime('%Y-%m-%d')}, {minutes:.0f} minutes): the shipped params.yaml "
        f"({params.train.steps:,} steps, validations every {every:,}), each validated generator scored by the evaluate "
        f"stage's code ({params.evaluate.repeats} repeats, mean ± std). Real-vs-real discriminative floor "
        f"{floor['mean']:.4f} ± {floor['std']:.4f}. Lower is better everywhere.",
        "",
        "| step | validation context-FID (training) | test discriminative | test context-FID | predictive | correlational |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        mark = " **(keep: best)**" if r is best else " (last)" if r is last else ""
        lines.append(f"| {r['step']:,}{mark} | {r['val_context_fid']:.4f} | {r['discriminative']['mean']:.4f} ± "
                     f"{r['discriminative']['std']:.4f} | {r['context_fid']['mean']:.4f} | {r['predictive']['mean']:.4f} | "
                     f"{r['correlational']['mean']:.4f} |")
    lowest = min(rows, key=lambda r: r["discriminative"]["mean"])
    lines += ["", f"keep: best ships step {best['step']:,}: test discriminative {best['discriminative']['mean']:.4f} against the "
              f"last step's {last['discriminative']['mean']:.4f}; the lowest test discriminative score of the run is at step "
              f"{lowest['step']:,} ({lowest['discriminative']['mean']:.4f}).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
