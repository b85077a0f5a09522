"""The `rgan` command. DVC stages (and later the KFP components) call these subcommands.

Heavy modules (torch, pandas, sklearn) are imported inside each command, so `rgan --help` stays instant.
"""

from __future__ import annotations

import argparse
import sys

from rgan.stages import ENTITIES, EVALUATE, PREPARE, REGISTER, SINES, TRAIN, Stage

PARAMS_HELP = "settings file (default: params.yaml)"
RUN_FILE = TRAIN.path("--run-file")


def _params(args):
    from rgan.config import load_params

    return load_params(args.params)


def cmd_params(args) -> None:
    import yaml

    params = _params(args)
    if args.kind:
        params = params.for_kind(args.kind)
    print(yaml.safe_dump(params.model_dump(), sort_keys=False), end="")


def cmd_make_entities(args) -> None:
    from rgan.data.entities import write_entities

    cfg = _params(args).data.entities
    out = write_entities(cfg, args.out)
    print(f"wrote {cfg.n_entities} machines of their own length to {out}", file=sys.stderr)


def cmd_make_sines(args) -> None:
    from rgan.data.sines import write_sines

    cfg = _params(args).data.sines
    out = write_sines(cfg, args.out)
    print(f"wrote {cfg.n_sequences} sine sequences x {cfg.length} steps x {cfg.dim} features to {out}", file=sys.stderr)


def cmd_prepare(args) -> None:
    from rgan.data.prepare import prepare

    stats = prepare(_params(args).data, args.out)
    w = stats["windows"]
    print(
        f"prepared {stats['rows']} rows x {len(stats['columns'])} columns: "
        f"{w['train']} train / {w['val']} val / {w['test']} test {stats.get('mode', 'windows')} in {args.out}",
        file=sys.stderr,
    )


def _train_paths(args):
    from pathlib import Path

    from rgan.training.trainer import TrainPaths

    return TrainPaths(Path(args.generator), Path(args.checkpoints), Path(args.log), Path(args.metrics))


def cmd_train(args) -> None:
    from rgan.tracking.train_stage import tracked_train, untracked_train

    params, paths = _params(args), _train_paths(args)
    stage = tracked_train if args.mlflow else untracked_train
    summary = stage(params, args.prepared, paths, args.run_file, resume=args.resume, progress=args.progress)
    print(f"trained {summary['steps']} steps on {summary['device']} ({summary['threads']} CPU threads) at {summary['steps_per_s']} steps/s; "
          f"generator: {args.generator}", file=sys.stderr)


def cmd_log(args) -> None:
    from rgan.tracking.train_stage import log_training

    record = log_training(_params(args), _train_paths(args), args.run_file, prepared_dir=args.prepared)
    print(f"logged training to MLflow run {record.run_id} ({record.tracking_uri}); model {record.model_uri}; run file {args.run_file}", file=sys.stderr)


def cmd_evaluate(args) -> None:
    params = _params(args)
    plots = None if args.no_plots else args.plots
    if args.mlflow:
        from rgan.tracking.evaluate_stage import tracked_evaluate

        m = tracked_evaluate(params, args.prepared, args.generator, args.metrics, plots, args.train_log, args.run_file, progress=args.progress)
    else:
        from rgan.evaluation.evaluate import evaluate

        m = evaluate(params, args.prepared, args.generator, args.metrics, plots, args.train_log, progress=args.progress)
    print(
        f"discriminative {m['discriminative']['mean']:.4f} ± {m['discriminative']['std']:.4f} "
        f"({m['discriminative_ratio']['mean']:.1f}x the real-data floor {m['discriminative_floor']['mean']:.4f}), "
        f"predictive {m['predictive']['mean']:.4f} (real data: {m['predictive_real']['mean']:.4f}), "
        f"memorization ratio {m['memorization_ratio']['mean']:.2f} ({'pass' if m['memorization_pass'] else 'FAIL'}); "
        f"scored in {m['seconds']} s on {m['workers']} processes of 1 thread, real-data reference {m['reference']}; written to {args.metrics}",
        file=sys.stderr,
    )


def cmd_tune(args) -> None:
    from rgan.tuning.tune import tune

    params = _params(args)
    if args.trials is not None:
        params = params.with_overrides({"tune": {"trials": args.trials}})
    if args.budget_min is not None and not 0 < args.budget_min <= 100_000:
        from rgan.errors import RganError

        raise RganError(f"--budget-min {args.budget_min:g}: allowed 0 < minutes <= 100000")
    out = args.out or args.params
    result = tune(params, args.params, args.prepared, out, budget_min=args.budget_min, track=args.mlflow)
    print("\n".join(f"{'*' if t is result['best'] else ' '} trial {t['number'] + 1}: {t['validation']['ratio']:.2f}x the floor "
                    f"(discriminative {t['validation']['discriminative']:.4f}) {t['overrides']}" for t in result["trials"]), file=sys.stderr)
    print(f"best: trial {result['best']['number'] + 1}, {result['best']['validation']['ratio']:.2f}x the validation floor "
          f"{result['floor']:.4f}; its settings written to {out}" + ("; `dvc repro` trains with them" if out == "params.yaml" else ""),
          file=sys.stderr)


def cmd_sample(args) -> None:
    from rgan.errors import RganError
    from rgan.sampling import check_sample_bounds, output_kind, sample_to_file

    output_kind(args.out)  # before a model is downloaded
    if (args.n is None) == (args.conditions is None):
        raise RganError("give -n (how many sequences) or --conditions FILE (one sequence per row), not both" if args.n is not None
                        else "-n is required (how many sequences), unless --conditions FILE gives one sequence per row")
    if args.conditions is not None and args.condition:
        raise RganError("--condition and --conditions: give the conditions one way (a column of the file for all rows)")
    check_sample_bounds(1 if args.n is None else args.n, args.seq_len, args.seed, args.threads)
    conditions = {}
    for text in args.condition:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise RganError(f"--condition {text}: expected ATTRIBUTE=VALUE, e.g. --condition region=north")
        if name.strip() in conditions:
            raise RganError(f"--condition {name.strip()} is given twice")
        conditions[name.strip()] = value.strip()

    if args.model is not None:
        import tempfile

        from rgan.tracking.fetch import download_generator

        with tempfile.TemporaryDirectory() as scratch:
            path = download_generator(args.model, scratch)
            out = sample_to_file(path, args.n, args.seed, args.out, seq_len=args.seq_len, device=args.device, threads=args.threads,
                                 conditions=conditions, conditions_file=args.conditions)
    else:
        out = sample_to_file(args.generator, args.n, args.seed, args.out, seq_len=args.seq_len, device=args.device, threads=args.threads,
                             conditions=conditions, conditions_file=args.conditions)
    print(f"wrote {args.n} sequences to {out}" if args.n is not None else f"wrote one sequence per row of {args.conditions} to {out}",
          file=sys.stderr)


def cmd_register(args) -> None:
    from rgan.tracking.register_stage import register_stage

    result = register_stage(_params(args), args.run_file, args.metrics, args.out)
    name, number = result["model_name"], result["version"]
    print(f"registered {name} v{number} (alias challenger)", file=sys.stderr)
    if result["champion"]:
        print(f"v{number} is the champion: load it as models:/{name}@champion", file=sys.stderr)
    else:
        print(f"champion not moved: {result['reason']}", file=sys.stderr)


def _registry_client(args):
    from rgan.tracking.connection.connect import connect

    params = _params(args)
    return connect(params.mlflow, create=False), params.registry


def cmd_promote(args) -> None:
    from rgan.tracking.registry import promote

    client, cfg = _registry_client(args)
    print(promote(client, cfg, version=args.version, alias=args.alias, rollback=args.rollback, force=args.force), file=sys.stderr)


def cmd_kserve(args) -> None:
    from rgan.tracking.connection.connect import connect
    from rgan.tracking.kserve import render

    params = _params(args)
    print(render(connect(params.mlflow, create=False), params, args.alias, args.image), end="")


def cmd_models(args) -> None:
    from rgan.tracking.registry import versions

    client, cfg = _registry_client(args)
    rows = versions(client, cfg.model_name)
    print(format_versions(cfg.model_name, rows, cfg.metric))


def format_versions(name: str, rows: list[dict], metric: str) -> str:
    import datetime

    header = ["version", "aliases", "created", metric, "x floor", "predictive", "memorization", "data (dvc md5)", "git commit", "run"]
    table = [header]
    for r in rows:
        s = r["scores"]
        mem = s.get("memorization_pass")
        commit = r["git_commit"][:10] + ("+dirty" if r["git_dirty"] == "true" else "")
        table.append([
            f"v{r['version']}",
            ",".join(r["aliases"]) or "-",
            datetime.datetime.fromtimestamp(r["created"] / 1000).strftime("%Y-%m-%d %H:%M"),
            f"{s[metric]:.4f}" if metric in s else "-",
            f"{s['discriminative_ratio']:.2f}" if "discriminative_ratio" in s else "-",  # the discriminative score / its floor
            f"{s['predictive']:.4f}" if "predictive" in s else "-",
            "-" if mem is None else ("pass" if mem else "FAIL"),
            r["data_md5"][:12] or "-",
            commit or "-",
            r["run_id"][:12] or "-",
        ])
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    return f"registered model '{name}'\n" + "\n".join(lines)


def _pipeline_args(args):
    from rgan.kubeflow.pipeline import apply_overrides

    return apply_overrides(_params(args), args.param, args.sweep)


def cmd_pipeline_compile(args) -> None:
    from rgan.kubeflow.pipeline import compile_pipeline

    params, _ = _pipeline_args(args)
    out = compile_pipeline(params, args.out, sweep=args.sweep, image=args.image)
    print(f"compiled the {'sweep ' if args.sweep else ''}pipeline to {out} (image {args.image or params.kubeflow.image})", file=sys.stderr)


def cmd_pipeline_run_local(args) -> None:
    from rgan.kubeflow.pipeline import run_local

    params, arguments = _pipeline_args(args)
    result = run_local(params, arguments, sweep=args.sweep, root=args.root, image=args.image)
    print(f"local pipeline run registered {result['model_name']} v{result['version']} "
          + ("(champion)" if result["champion"] else f"(champion not moved: {result['reason']})"), file=sys.stderr)


def cmd_pipeline_submit(args) -> None:
    from rgan.kubeflow.submit import submit

    params, arguments = _pipeline_args(args)
    result = submit(params, arguments, args.sweep, args.host, namespace=args.namespace, experiment=args.experiment,
                    run_name=args.run_name, image=args.image)
    print(f"submitted {result['pipeline']} run {result['run_id']}", file=sys.stderr)
    print(result["url"])


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

    p = command("params", cmd_params, "validate params.yaml and print every setting, defaults filled in")
    p.add_argument("--kind", choices=("rgan", "timegan", "vaegan"),
                   help="print them as they would be for this model kind: its own settings at their defaults, the others dropped")

    def paths(p: argparse.ArgumentParser, stage: Stage, *options: str, help: dict | None = None) -> None:
        # default paths are the stage contract's (rgan.stages), the same ones dvc.yaml spells out
        for option in options:
            p.add_argument(option, default=stage.path(option), help=(help or {}).get(option, f"default: {stage.path(option)}"))

    p = command("make-sines", cmd_make_sines, "write the built-in sines dataset (params: data.sines)")
    paths(p, SINES, "--out")

    p = command("make-entities", cmd_make_entities, "write the built-in per-entity dataset (params: data.entities)")
    paths(p, ENTITIES, "--out")

    p = command("prepare", cmd_prepare, "scale and window the data at data.path into train/val/test splits")
    paths(p, PREPARE, "--out")

    def mlflow_flags(p: argparse.ArgumentParser, writes: bool) -> None:
        paths(p, TRAIN, "--run-file", help={"--run-file": f"MLflow run id and model, {'written' if writes else 'read'} here (default: {RUN_FILE})"})
        p.add_argument("--mlflow", action=argparse.BooleanOptionalAction, default=True, help="track in MLflow (default: on)")

    def train_outputs(p: argparse.ArgumentParser) -> None:
        paths(p, TRAIN, "--generator", "--checkpoints", "--log", "--metrics")

    p = command("train", cmd_train, "train the recurrent GAN on prepared data; track the run in MLflow")
    paths(p, TRAIN, "--prepared")
    train_outputs(p)
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint (and its MLflow run)")
    mlflow_flags(p, writes=True)
    progress_flag(p)

    p = command("log", cmd_log, "log a finished training's outputs to MLflow (after a tracking outage)")
    train_outputs(p)
    paths(p, TRAIN, "--run-file", "--prepared", help={"--run-file": f"written here (default: {RUN_FILE})",
                                                      "--prepared": "the training data, hashed when the run has no record yet"})

    p = command("evaluate", cmd_evaluate, "score a generator on held-out windows, draw plots, log both to its MLflow run")
    paths(p, EVALUATE, "--prepared", "--generator", "--train-log", "--metrics", "--plots")
    p.add_argument("--no-plots", action="store_true", help="scores only: no figures (t-SNE is the slow one)")
    mlflow_flags(p, writes=False)
    progress_flag(p)

    p = command("register", cmd_register, "register the trained generator; make it champion if it beats the champion and passes the gates")
    paths(p, REGISTER, "--run-file", "--metrics", "--out", help={"--metrics": f"evaluation scores (default: {EVALUATE.path('--metrics')})",
                                                              "--out": f"the outcome as JSON (default: {REGISTER.path('--out')})"})

    p = command("promote", cmd_promote, "move the champion alias by hand; the old champion becomes `previous`")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--version", type=int, help="version number")
    target.add_argument("--alias", help="e.g. challenger")
    target.add_argument("--rollback", action="store_true", help="restore the previous champion")
    p.add_argument("--force", action="store_true", help="promote even if the version fails the registry gates")

    command("models", cmd_models, "list registered versions with aliases, scores, data hash and git commit")

    p = command("kserve", cmd_kserve, "print a KServe InferenceService that serves the version behind an alias (the project "
                "image running `mlflow models serve`)")
    p.add_argument("--alias", default="champion", help="the version to serve (default: champion), pinned in the manifest")
    p.add_argument("--image", help="the serving image (default: kubeflow.image)")

    p = command("tune", cmd_tune, "search the recipe (params `tune`) on the prepared data, scored on validation windows; "
                "write the best settings into a params file")
    paths(p, TRAIN, "--prepared")
    p.add_argument("--out", default=None, help="params file to write (default: the --params file, updated in place)")
    p.add_argument("--trials", type=int, default=None, help="override tune.trials")
    p.add_argument("--budget-min", type=float, default=None, help="start no trial after this many minutes (results then "
                   "depend on the machine's speed)")
    p.add_argument("--mlflow", action=argparse.BooleanOptionalAction, default=True, help="track trials in MLflow (default: on)")

    p = sub.add_parser("pipeline", help="the Kubeflow pipeline: compile, run here with kfp.local, submit to a cluster",
                       description="the Kubeflow pipeline: compile, run here with kfp.local, submit to a cluster")
    pipeline_sub = p.add_subparsers(dest="pipeline_command", required=True, metavar="ACTION")

    def pipeline_command(name: str, func, help: str) -> argparse.ArgumentParser:
        q = pipeline_sub.add_parser(name, help=help, description=help)
        q.add_argument("--params", default="params.yaml", help=PARAMS_HELP)
        q.add_argument("--sweep", action="store_true", help="the sweep: the `tune` search's trials in parallel, register the best")
        q.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                       help="override a pipeline parameter: SECTION.KEY=VALUE (train.steps=500, source.uri=s3://b/d.csv), "
                            "tune.KEY=VALUE with --sweep; repeatable")
        q.set_defaults(func=func, command=f"pipeline {name}")
        return q

    q = pipeline_command("compile", cmd_pipeline_compile, "compile the pipeline to a KFP YAML package")
    q.add_argument("--out", required=True, help="e.g. pipeline.yaml")
    q.add_argument("--image", help="project image for every step (default: kubeflow.image)")
    q = pipeline_command("run-local", cmd_pipeline_run_local, "run the whole pipeline on this machine with kfp.local: each step in "
                         "a subprocess, or with --image in that image through a Docker-compatible engine (DOCKER_HOST)")
    q.add_argument("--root", default="kfp-local", help="where step outputs go (default: kfp-local)")
    q.add_argument("--image", help="run every step in this image (e.g. the one `bash .ci/image` prints), as a cluster would")
    q = pipeline_command("submit", cmd_pipeline_submit, "compile and start a run on a Kubeflow Pipelines endpoint; prints its URL")
    q.add_argument("--host", required=True, help="KFP API endpoint, e.g. https://kubeflow.example.com/pipeline (token: KFP_TOKEN)")
    q.add_argument("--namespace", help="Kubeflow profile namespace (multi-user clusters)")
    q.add_argument("--experiment", help="KFP experiment (default: kubeflow.pipeline_name)")
    q.add_argument("--run-name", help="default: PIPELINE-YYYYmmdd-HHMMSS")
    q.add_argument("--image", help="project image for every step (default: kubeflow.image)")

    p = sub.add_parser("sample", help="draw sequences in original units to CSV or Parquet (long format)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--generator", default=TRAIN.path("--generator"), help=f"generator file (default: {TRAIN.path('--generator')})")
    source.add_argument("--model", help="an MLflow model instead, e.g. models:/rgan-generator@champion")
    p.add_argument("-n", type=int, default=None, help="number of sequences (required unless --conditions)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output file, .csv or .parquet")
    p.add_argument("--seq-len", type=int, default=None, help="steps per sequence (default: the training seq_len)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for generation (default 1: the fastest for these networks)")
    p.add_argument("--condition", action="append", default=[], metavar="ATTRIBUTE=VALUE",
                   help="fix an attribute of every sequence (repeatable); the others are drawn given it")
    p.add_argument("--conditions", default=None, metavar="FILE",
                   help="CSV with attribute columns: one sequence per row, on that row's conditions (empty cells drawn)")
    p.set_defaults(func=cmd_sample)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rgan")
    except PackageNotFoundError:
        return "unknown"


def _environment_error(exc: BaseException) -> str | None:
    """One line for failures of the machine (memory, disk), not bugs; None for a bug. Tracking and cluster
    failures arrive as RganError: their modules convert them where they call MLflow or Kubeflow."""
    if isinstance(exc, MemoryError) or _out_of_memory(exc):
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else "MemoryError"
        return f"out of memory ({detail}): lower model.hidden, train.batch_size, data.seq_len or -n"
    if isinstance(exc, OSError):
        # a full disk, a read-only or vanished folder, no permission
        from rgan.tracking.connection.redaction import (
            redact,  # an OSError may name a URL
        )

        where = f": {exc.filename}" if exc.filename else ""
        return redact(f"{exc.strerror or exc}{where}")
    return None


def _out_of_memory(exc: BaseException) -> bool:
    # torch raises RuntimeError ("DefaultCPUAllocator: can't allocate memory") or torch.OutOfMemoryError
    return type(exc).__name__ == "OutOfMemoryError" or (
        isinstance(exc, RuntimeError) and ("can't allocate memory" in str(exc) or "out of memory" in str(exc)))


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
    except (Exception, MemoryError) as exc:
        message = _environment_error(exc)
        if message is None:
            raise  # anything else is a bug and keeps its traceback
        print(f"rgan {args.command}: error: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
