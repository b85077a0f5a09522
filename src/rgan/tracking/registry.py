"""The model registry: register evaluated generators, rank them, and move the `champion` alias.

Aliases: `challenger` is the newest registered version, `champion` the one users load
(models:/<name>@champion), `previous` the champion before the last move, so one command rolls back.
Scores travel on each version as tags (score.<name>), so ranking needs nothing but the registry.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rgan.atomic import write_json
from rgan.config import BOOLEAN_SCORES, NUMERIC_SCORES, Params, RegistryConfig
from rgan.errors import RganError
from rgan.tracking.connection import connect, mlflow_error
from rgan.tracking.runs import RunRecord, open_recorded_run

CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous"
SCORE_PREFIX = "score."


def _not_found(exc: Exception) -> bool:
    return getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE")


def score_tags(eval_metrics: dict) -> dict[str, str]:
    tags = {}
    for name in NUMERIC_SCORES:
        if name in eval_metrics:
            tags[f"{SCORE_PREFIX}{name}"] = repr(float(eval_metrics[name]["mean"]))
            tags[f"{SCORE_PREFIX}{name}.std"] = repr(float(eval_metrics[name]["std"]))
    for name in BOOLEAN_SCORES:
        if name in eval_metrics:
            tags[f"{SCORE_PREFIX}{name}"] = str(bool(eval_metrics[name])).lower()
    return tags


def scores_of(version) -> dict:
    """Scores from a model version's tags: floats and booleans; absent ones are missing."""
    out: dict = {}
    for key, value in version.tags.items():
        if not key.startswith(SCORE_PREFIX) or key.endswith(".std"):
            continue
        name = key[len(SCORE_PREFIX) :]
        if name in BOOLEAN_SCORES:
            out[name] = value == "true"
        else:
            try:
                out[name] = float(value)
            except ValueError:
                pass
    return out


def gate_failures(cfg: RegistryConfig, scores: dict) -> list[str]:
    failures = []
    for name, rule in cfg.gates.items():
        value = scores.get(name)
        if value is None:
            failures.append(f"{name} is missing")
        elif isinstance(rule, bool):
            if value != rule:
                failures.append(f"{name} is {str(value).lower()}, the gate wants {str(rule).lower()}")
        else:
            if rule.min is not None and value < rule.min:
                failures.append(f"{name} {value:.4g} is below the gate's min {rule.min:g}")
            if rule.max is not None and value > rule.max:
                failures.append(f"{name} {value:.4g} is above the gate's max {rule.max:g}")
    return failures


def beats(cfg: RegistryConfig, new: float, old: float) -> bool:
    return new < old if cfg.direction == "minimize" else new > old


def _version_by_alias(client, name: str, alias: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if _not_found(exc):
            return None
        raise


def _champion_verdict(cfg: RegistryConfig, version, champion) -> str | None:
    """None when `version` should replace `champion`, else the reason it should not."""
    scores = scores_of(version)
    failures = gate_failures(cfg, scores)
    if failures:
        return "it fails the registry gates: " + "; ".join(failures)
    if champion is None or str(champion.version) == str(version.version):
        return None
    old = scores_of(champion).get(cfg.metric)
    new = scores.get(cfg.metric)
    if new is None:
        return f"it has no {cfg.metric} score"
    if old is None:
        return None  # a champion without the ranking score (set by hand, or another metric before): replace it
    if not beats(cfg, new, old):
        better = "lower" if cfg.direction == "minimize" else "higher"
        return f"its {cfg.metric} {new:.4g} does not beat champion v{champion.version}'s {old:.4g} ({better} is better)"
    return None


def _move_champion(client, name: str, version: str, champion) -> None:
    if champion is not None and str(champion.version) != str(version):
        client.set_registered_model_alias(name, PREVIOUS, champion.version)
    client.set_registered_model_alias(name, CHAMPION, version)


def register(client, cfg: RegistryConfig, record: RunRecord, eval_metrics: dict) -> dict:
    """Register the run's generator, tag it with its scores and lineage, mark it challenger, maybe champion."""
    import mlflow

    if not record.model_uri:
        raise RganError("the run file has no logged model: training's MLflow logging did not finish (see `rgan log`)")
    tags = {**score_tags(eval_metrics), **record.tags, "rgan.run_id": record.run_id}
    version = mlflow.register_model(record.model_uri, cfg.model_name, tags=tags)
    number = version.version
    client.set_registered_model_alias(cfg.model_name, CHALLENGER, number)
    version = client.get_model_version(cfg.model_name, number)

    champion = _version_by_alias(client, cfg.model_name, CHAMPION)
    reason = _champion_verdict(cfg, version, champion)
    if reason is None and not cfg.auto_promote:
        reason = f"registry.auto_promote is false: promote it with `rgan promote --version {number}`"
    promoted = reason is None
    if promoted:
        _move_champion(client, cfg.model_name, number, champion)
        promoted = _settle(client, cfg, version)
        if not promoted:
            reason = "a concurrent registration promoted a better version"
    return {
        "model_name": cfg.model_name,
        "version": int(number),
        "model_uri": f"models:/{cfg.model_name}/{number}",
        "run_id": record.run_id,
        "champion": promoted,
        "reason": reason,
        "scores": scores_of(version),
    }


def _settle(client, cfg: RegistryConfig, version, rounds: int = 3) -> bool:
    """After moving `champion`, check it stayed: a concurrent `register` may have moved it meanwhile. The
    better of the two re-takes it; the alias always ends on a registered version."""
    for _ in range(rounds):
        current = _version_by_alias(client, cfg.model_name, CHAMPION)
        if current is None or str(current.version) == str(version.version):
            return True
        if _champion_verdict(cfg, version, current) is not None:
            return False
        client.set_registered_model_alias(cfg.model_name, CHAMPION, version.version)
    return str(_version_by_alias(client, cfg.model_name, CHAMPION).version) == str(version.version)


def promote(client, cfg: RegistryConfig, version: int | None = None, alias: str | None = None, rollback: bool = False, force: bool = False) -> str:
    """Move `champion` by hand; the old champion becomes `previous`. Returns a one-line account."""
    from mlflow.exceptions import MlflowException

    name = cfg.model_name
    if rollback:
        alias = PREVIOUS
    try:
        if alias is not None:
            target = _version_by_alias(client, name, alias)
            if target is None:
                raise RganError(f"model '{name}' has no version with alias '{alias}'" + (" (nothing to roll back to)" if rollback else ""))
        else:
            target = client.get_model_version(name, str(version))
    except MlflowException as exc:
        if _not_found(exc):
            raise RganError(f"model '{name}' has no version {version} (see `rgan models`)") from None
        raise
    champion = _version_by_alias(client, name, CHAMPION)
    if champion is not None and str(champion.version) == str(target.version):
        return f"v{target.version} is already the champion of '{name}'"
    failures = gate_failures(cfg, scores_of(target))
    if failures and not force:
        raise RganError(f"v{target.version} fails the registry gates ({'; '.join(failures)}); --force promotes it anyway")
    if failures:
        print(f"warning: promoting v{target.version} although it fails the gates: {'; '.join(failures)}", file=sys.stderr)
    _move_champion(client, name, target.version, champion)
    before = f" (previous: v{champion.version})" if champion is not None else ""
    return f"champion of '{name}' is now v{target.version}{before}"


def versions(client, name: str) -> list[dict]:
    from mlflow.exceptions import MlflowException

    try:
        model = client.get_registered_model(name)
    except MlflowException as exc:
        if _not_found(exc):
            raise RganError(f"no registered model '{name}' yet (`rgan register` creates it)") from None
        raise
    aliases: dict[str, list[str]] = {}
    for alias, number in model.aliases.items():
        aliases.setdefault(str(number), []).append(alias)
    rows = []
    for v in client.search_model_versions(f"name='{name}'"):
        rows.append(
            {
                "version": int(v.version),
                "aliases": sorted(aliases.get(str(v.version), [])),
                "created": v.creation_timestamp,
                "scores": scores_of(v),
                "data_md5": v.tags.get("rgan.data_md5", ""),
                "git_commit": v.tags.get("rgan.git_commit", ""),
                "git_dirty": v.tags.get("rgan.git_dirty", ""),
                "run_id": v.run_id or "",
            }
        )
    return sorted(rows, key=lambda r: -r["version"])


def register_stage(params: Params, run_file: str | Path, metrics_path: str | Path, out: str | Path | None) -> dict:
    client = connect(params.mlflow)
    record = open_recorded_run(client, run_file)
    metrics_path = Path(metrics_path)
    if not metrics_path.is_file():
        raise RganError(f"evaluation scores not found: {metrics_path} (written by `rgan evaluate`)")
    eval_metrics = json.loads(metrics_path.read_text())
    try:
        result = register(client, params.registry, record, eval_metrics)
    except RganError:
        raise
    except Exception as exc:
        raise mlflow_error("registering the model", exc) from None
    if out is not None:
        write_json(out, result)
    return result
