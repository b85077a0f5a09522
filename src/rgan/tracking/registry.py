"""The model registry: register evaluated generators, rank them, and move the `champion` alias.

Aliases: `challenger` is the newest registered version, `champion` the one users load
(models:/<name>@champion), `previous` the champion before the last move, so one command rolls back.
Scores travel on each version as tags (score.<name>), so ranking needs nothing but the registry.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import sys
import time
from pathlib import Path

from rgan.atomic import write_json
from rgan.config import BOOLEAN_SCORES, NUMERIC_SCORES, Params, RegistryConfig
from rgan.errors import RganError
from rgan.tracking.connection.connect import connect
from rgan.tracking.connection.failures import tracking_error
from rgan.tracking.connection.uri import tracking_uri
from rgan.tracking.runs import RunRecord, open_recorded_run

CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous"
SETTLE_S = 0.5  # wait before re-checking an alias moved on a server, where no lock is available
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


def _move_champion(client, name: str, version: str, champion, keep_previous: bool = False) -> None:
    if champion is not None and str(champion.version) != str(version) and not keep_previous:
        client.set_registered_model_alias(name, PREVIOUS, champion.version)
    client.set_registered_model_alias(name, CHAMPION, version)


@contextlib.contextmanager
def _registry_lock(name: str):
    """Serialise alias moves. A SQLite store is local: a file lock beside it makes read-decide-move atomic.
    A server offers no lock; there `_promote` re-checks after moving (see there)."""
    uri = tracking_uri()
    if not uri.startswith("sqlite:///"):
        yield False
        return
    lock_path = Path(uri.removeprefix("sqlite:///") + f".{name}.lock")
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _promote(client, cfg: RegistryConfig, version, locked: bool) -> str | None:
    """Make `version` champion if it beats the champion and passes the gates; None when it is, else why not.

    Without a lock, a concurrent `register` may move the alias between our read and our move: after moving
    we wait a moment and look again, and the better of the two takes it back, keeping `previous` on the
    champion from before both."""
    name = cfg.model_name
    for attempt in range(4):
        champion = _version_by_alias(client, name, CHAMPION)
        if champion is not None and str(champion.version) == str(version.version):
            return None
        reason = _champion_verdict(cfg, version, champion)
        if reason is not None:
            return reason if attempt == 0 else f"a concurrent registration promoted a better version: {reason}"
        _move_champion(client, name, version.version, champion, keep_previous=attempt > 0)
        if locked:
            return None
        time.sleep(SETTLE_S)
    return "the champion alias kept moving under concurrent registrations: check `rgan models`"


def _existing_version(client, name: str, record: RunRecord):
    """The version already registered from this run's logged model, if any: registering is idempotent."""
    from mlflow.exceptions import MlflowException

    try:
        found = client.search_model_versions(f"name='{name}' and run_id='{record.run_id}'")
    except MlflowException as exc:
        if _not_found(exc):
            return None
        raise
    same = [v for v in found if v.source == record.model_uri or getattr(v, "model_id", None) == record.model_id]
    return min(same, key=lambda v: int(v.version)) if same else None


def register(client, cfg: RegistryConfig, record: RunRecord, eval_metrics: dict) -> dict:
    """Register the run's generator, tag it with its scores and lineage, mark it challenger, maybe champion.
    Registering the same run again (new scores, new gates) updates its version instead of adding one."""
    import mlflow

    if not record.model_uri:
        raise RganError("the run file has no logged model: training's MLflow logging did not finish (see `rgan log`)")
    name = cfg.model_name
    tags = {**score_tags(eval_metrics), **record.tags, "rgan.run_id": record.run_id}
    with _registry_lock(name) as locked:
        version = _existing_version(client, name, record)
        if version is None:
            version = mlflow.register_model(record.model_uri, name, tags=tags)
        else:
            for key, value in tags.items():
                client.set_model_version_tag(name, version.version, key, value)
            print(f"run {record.run_id} is already registered as v{version.version}: updated its scores", file=sys.stderr)
        number = version.version
        client.set_registered_model_alias(name, CHALLENGER, number)
        version = client.get_model_version(name, number)
        reason = _champion_verdict(cfg, version, None) if not cfg.auto_promote else _promote(client, cfg, version, locked)
        if reason is None and not cfg.auto_promote:
            reason = f"registry.auto_promote is false: promote it with `rgan promote --version {number}`"
        champion = _version_by_alias(client, name, CHAMPION)
    is_champion = champion is not None and str(champion.version) == str(number)
    return {
        "model_name": name,
        "version": int(number),
        "model_uri": f"models:/{name}/{number}",
        "run_id": record.run_id,
        "champion": is_champion,
        "reason": None if is_champion else reason,
        "scores": scores_of(version),
    }


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
    failures = gate_failures(cfg, scores_of(target))
    if failures and not force:
        raise RganError(f"v{target.version} fails the registry gates ({'; '.join(failures)}); --force promotes it anyway")
    with _registry_lock(name):
        champion = _version_by_alias(client, name, CHAMPION)
        if champion is not None and str(champion.version) == str(target.version):
            return f"v{target.version} is already the champion of '{name}'"
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
    client = connect(params.mlflow, create=False)
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
        raise tracking_error("registering the model", exc) from None
    if out is not None:
        write_json(out, result)
    return result
