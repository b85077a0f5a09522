"""The model registry in MLflow: register evaluated generators, and move the `champion` alias as
registry_policy decides.

Aliases: `challenger` is the newest registered version, `champion` the one users load
(models:/<name>@champion), `previous` the champion before the last move, so one command rolls back.
"""

from __future__ import annotations

import sys
import time

from rgan.config import RegistryConfig
from rgan.errors import RganError
from rgan.tracking.connection.failures import tracking_errors
from rgan.tracking.registry_lock import registry_lock
from rgan.tracking.registry_policy import Candidate, champion_verdict, gate_failures
from rgan.tracking.runs import RunRecord
from rgan.tracking.score_tags import score_tags, scores_from_tags

CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous"
SETTLE_S = 0.5  # wait before re-checking an alias moved on a server, where no lock is available
SETTLE_ROUNDS = 4


def _not_found(exc: Exception) -> bool:
    return getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE")


def _candidate(version) -> Candidate:
    return Candidate(str(version.version), scores_from_tags(version.tags))


def version_by_alias(client, name: str, alias: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if _not_found(exc):
            return None
        raise


def _set_alias(client, name: str, alias: str, version) -> None:
    """Point `alias` at `version`. MLflow's server sets an alias by reading it and then inserting or updating: two
    registers setting a new alias at once can both insert, and the second is refused (a UNIQUE constraint). The
    alias exists by then, so setting it again updates it."""
    from mlflow.exceptions import MlflowException

    for attempt in range(SETTLE_ROUNDS):
        try:
            return client.set_registered_model_alias(name, alias, version)
        except MlflowException as exc:
            if "UNIQUE constraint" not in str(exc) or attempt == SETTLE_ROUNDS - 1:
                raise
            time.sleep(SETTLE_S)


def _move_champion(client, name: str, version: str, champion, keep_previous: bool = False) -> None:
    if champion is not None and str(champion.version) != str(version) and not keep_previous:
        _set_alias(client, name, PREVIOUS, champion.version)
    _set_alias(client, name, CHAMPION, version)


def _promote(client, cfg: RegistryConfig, version, locked: bool) -> str | None:
    """Make `version` champion if the policy says so; None when it is, else why not.

    Under the lock (a SQLite store) one look suffices. A server has no lock, and the processes racing may
    run on different machines, where no file lock reaches: a concurrent `register` may move the alias between
    our read and our move. So after moving we wait a moment and look again, and the better of the two takes
    it back, keeping `previous` on the champion from before both."""
    name = cfg.model_name
    candidate = _candidate(version)
    for attempt in range(SETTLE_ROUNDS):
        champion = version_by_alias(client, name, CHAMPION)
        reason = champion_verdict(cfg, candidate, None if champion is None else _candidate(champion))
        if reason is not None:
            return reason if attempt == 0 else f"a concurrent registration promoted a better version: {reason}"
        if champion is not None and str(champion.version) == candidate.version:
            return None
        _move_champion(client, name, candidate.version, champion, keep_previous=attempt > 0)
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


@tracking_errors("registering the model")
def register(client, cfg: RegistryConfig, record: RunRecord, eval_metrics: dict) -> dict:
    """Register the run's generator, tag it with its scores and lineage, mark it challenger, maybe champion.
    Registering the same run again (new scores, new gates) updates its version instead of adding one."""
    import mlflow

    if not record.model_uri:
        raise RganError("the run file has no logged model: training's MLflow logging did not finish (see `rgan log`)")
    name = cfg.model_name
    tags = {**score_tags(eval_metrics), **record.tags, "rgan.run_id": record.run_id}
    with registry_lock(name) as locked:
        version = _existing_version(client, name, record)
        if version is None:
            version = mlflow.register_model(record.model_uri, name, tags=tags)
        else:
            for key, value in tags.items():
                client.set_model_version_tag(name, version.version, key, value)
            print(f"run {record.run_id} is already registered as v{version.version}: updated its scores", file=sys.stderr)
        number = version.version
        _set_alias(client, name, CHALLENGER, number)
        version = client.get_model_version(name, number)
        if cfg.auto_promote:
            reason = _promote(client, cfg, version, locked)
        else:
            reason = champion_verdict(cfg, _candidate(version), None)
        champion = version_by_alias(client, name, CHAMPION)
    is_champion = champion is not None and str(champion.version) == str(number)
    return {
        "model_name": name,
        "version": int(number),
        "model_uri": f"models:/{name}/{number}",
        "run_id": record.run_id,
        "champion": is_champion,
        "reason": None if is_champion else reason,
        "scores": scores_from_tags(version.tags),
    }


@tracking_errors("promoting")
def promote(client, cfg: RegistryConfig, version: int | None = None, alias: str | None = None, rollback: bool = False, force: bool = False) -> str:
    """Move `champion` by hand; the old champion becomes `previous`. Returns a one-line account."""
    from mlflow.exceptions import MlflowException

    name = cfg.model_name
    if rollback:
        alias = PREVIOUS
    try:
        if alias is not None:
            target = version_by_alias(client, name, alias)
            if target is None:
                raise RganError(f"model '{name}' has no version with alias '{alias}'" + (" (nothing to roll back to)" if rollback else ""))
        else:
            target = client.get_model_version(name, str(version))
    except MlflowException as exc:
        if _not_found(exc):
            raise RganError(f"model '{name}' has no version {version} (see `rgan models`)") from None
        raise
    failures = gate_failures(cfg, scores_from_tags(target.tags))
    if failures and not force:
        raise RganError(f"v{target.version} fails the registry gates ({'; '.join(failures)}); --force promotes it anyway")
    with registry_lock(name):
        champion = version_by_alias(client, name, CHAMPION)
        if champion is not None and str(champion.version) == str(target.version):
            return f"v{target.version} is already the champion of '{name}'"
        if failures:
            print(f"warning: promoting v{target.version} although it fails the gates: {'; '.join(failures)}", file=sys.stderr)
        _move_champion(client, name, target.version, champion)
    before = f" (previous: v{champion.version})" if champion is not None else ""
    return f"champion of '{name}' is now v{target.version}{before}"


@tracking_errors("listing the registered versions")
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
                "scores": scores_from_tags(v.tags),
                "data_md5": v.tags.get("rgan.data_md5", ""),
                "git_commit": v.tags.get("rgan.git_commit", ""),
                "git_dirty": v.tags.get("rgan.git_dirty", ""),
                "run_id": v.run_id or "",
            }
        )
    return sorted(rows, key=lambda r: -r["version"])
