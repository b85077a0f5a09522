"""The `rgan` command. DVC stages (and later the KFP components) call these subcommands.

Heavy modules (torch, pandas, sklearn) are imported inside each command, so `rgan --help` stays instant.
"""

from __future__ import annotations

import argparse
import sys

PARAMS_HELP = "settings file (default: params.yaml)"


def _params(args):
    from rgan.config import load_params

    return load_params(args.params)


def cmd_params(args) -> None:
    import yaml

    print(yaml.safe_dump(_params(args).model_dump(), sort_keys=False), end="")


def cmd_make_sines(args) -> None:
    from rgan.data.sines import write_sines

    cfg = _params(args).data.sines
    out = write_sines(cfg, args.out)
    print(f"wrote {cfg.n_sequences} sine sequences x {cfg.length} steps x {cfg.dim} features to {out}", file=sys.stderr)


def cmd_prepare(args) -> None:
    from rgan.data.prepare import prepare

    stats = prepare(_params(args).data, args.out)
    if stats.get("ignored_columns"):
        print(
            f"note: non-numeric columns left out: {', '.join(stats['ignored_columns'])} "
            "(name them in data.columns to get an error showing the offending row)",
            file=sys.stderr,
        )
    w = stats["windows"]
    print(
        f"prepared {stats['rows']} rows x {len(stats['columns'])} columns: "
        f"{w['train']} train / {w['val']} val / {w['test']} test windows in {args.out}",
        file=sys.stderr,
    )


def cmd_train(args) -> None:
    from pathlib import Path

    from rgan.training.trainer import TrainPaths, train

    paths = TrainPaths(Path(args.generator), Path(args.checkpoints), Path(args.log), Path(args.metrics))
    summary = train(_params(args), args.prepared, paths, resume=args.resume, progress=args.progress)
    print(f"trained {summary['steps']} steps on {summary['device']} at {summary['steps_per_s']} steps/s; generator: {args.generator}", file=sys.stderr)


def cmd_evaluate(args) -> None:
    from rgan.evaluation.evaluate import evaluate

    m = evaluate(_params(args), args.prepared, args.generator, args.metrics, args.plots, args.train_log, progress=args.progress)
    print(
        f"discriminative {m['discriminative']['mean']:.4f} ± {m['discriminative']['std']:.4f}, "
        f"predictive {m['predictive']['mean']:.4f} (real data: {m['predictive_real']['mean']:.4f}), "
        f"memorization ratio {m['memorization_ratio']['mean']:.2f} ({'pass' if m['memorization_pass'] else 'FAIL'}); "
        f"written to {args.metrics}",
        file=sys.stderr,
    )


def cmd_sample(args) -> None:
    from rgan.sampling import sample_to_file

    out = sample_to_file(args.generator, args.n, args.seed, args.out, seq_len=args.seq_len, device=args.device)
    print(f"wrote {args.n} sequences to {out}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rgan", description="Recurrent GANs for multivariate time series.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--params", default="params.yaml", help=PARAMS_HELP)
        p.set_defaults(func=func)
        return p

    def progress_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar (default: only on a terminal)")

    command("params", cmd_params, "validate params.yaml and print every setting, defaults filled in")

    p = command("make-sines", cmd_make_sines, "write the built-in sines dataset (params: data.sines)")
    p.add_argument("--out", default="data/raw/sines.parquet")

    p = command("prepare", cmd_prepare, "scale and window the data at data.path into train/val/test splits")
    p.add_argument("--out", default="data/prepared")

    p = command("train", cmd_train, "train the recurrent GAN on prepared data")
    p.add_argument("--prepared", default="data/prepared")
    p.add_argument("--generator", default="models/generator.pt")
    p.add_argument("--checkpoints", default="models/checkpoints")
    p.add_argument("--log", default="metrics/train_log.tsv")
    p.add_argument("--metrics", default="metrics/train.json")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    progress_flag(p)

    p = command("evaluate", cmd_evaluate, "score a generator on held-out windows and draw plots")
    p.add_argument("--prepared", default="data/prepared")
    p.add_argument("--generator", default="models/generator.pt")
    p.add_argument("--train-log", default="metrics/train_log.tsv")
    p.add_argument("--metrics", default="metrics/eval.json")
    p.add_argument("--plots", default="plots")
    progress_flag(p)

    p = sub.add_parser("sample", help="draw sequences in original units to CSV or Parquet (long format)")
    p.add_argument("--generator", default="models/generator.pt")
    p.add_argument("-n", type=int, required=True, help="number of sequences")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output file, .csv or .parquet")
    p.add_argument("--seq-len", type=int, default=None, help="steps per sequence (default: the training seq_len)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    p.set_defaults(func=cmd_sample)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rgan")
    except PackageNotFoundError:
        return "unknown"


def _exit_on_sigterm(signum, frame) -> None:
    # SIGTERM (a killed job) unwinds like Ctrl-C, so atomic writers delete their temporary files.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    import signal

    args = build_parser().parse_args(argv)
    from rgan.errors import RganError

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)

    try:
        args.func(args)
    except RganError as exc:
        print(f"rgan {args.command}: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    except KeyboardInterrupt:
        print(f"rgan {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
