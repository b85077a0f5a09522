"""The registry's rules on plain data, no MLflow: gates, ranking, the champion verdict; and the score tags."""

from __future__ import annotations

import pytest

from rgan.config import RegistryConfig
from rgan.tracking.registry_policy import (
    Candidate,
    beats,
    champion_verdict,
    gate_failures,
)
from rgan.tracking.score_tags import score_tags, scores_from_tags

DEFAULT = RegistryConfig()  # gate: memorization_pass true; rank by discriminative, lower is better
BOUNDED = RegistryConfig(gates={"memorization_pass": True, "discriminative": {"min": 0.05, "max": 0.3}})
MAXIMIZE = RegistryConfig(metric="predictive_ratio", direction="maximize", gates={})
MANUAL = RegistryConfig(auto_promote=False)

GATES = [  # (rules, scores, failures)
    (DEFAULT, {"memorization_pass": True}, []),
    (DEFAULT, {"memorization_pass": False}, ["memorization_pass is false, the gate wants true"]),
    (DEFAULT, {}, ["memorization_pass is missing"]),
    (BOUNDED, {"memorization_pass": True, "discriminative": 0.2}, []),
    (BOUNDED, {"memorization_pass": True, "discriminative": 0.05}, []),  # bounds are inclusive
    (BOUNDED, {"memorization_pass": True, "discriminative": 0.3}, []),
    (BOUNDED, {"memorization_pass": True, "discriminative": 0.31}, ["discriminative 0.31 is above the gate's max 0.3"]),
    (BOUNDED, {"memorization_pass": True, "discriminative": 0.01}, ["discriminative 0.01 is below the gate's min 0.05"]),
    (BOUNDED, {"memorization_pass": False}, ["memorization_pass is false, the gate wants true", "discriminative is missing"]),
    (MAXIMIZE, {}, []),  # no gates: nothing to fail
]


@pytest.mark.parametrize(("cfg", "scores", "failures"), GATES)
def test_gate_failures(cfg, scores, failures):
    assert gate_failures(cfg, scores) == failures


BEATS = [  # (rules, new, old, beats)
    (DEFAULT, 0.1, 0.2, True),
    (DEFAULT, 0.2, 0.1, False),
    (DEFAULT, 0.2, 0.2, False),  # a tie keeps the champion
    (MAXIMIZE, 0.9, 0.8, True),
    (MAXIMIZE, 0.8, 0.9, False),
    (MAXIMIZE, 0.8, 0.8, False),
]


@pytest.mark.parametrize(("cfg", "new", "old", "expected"), BEATS)
def test_beats(cfg, new, old, expected):
    assert beats(cfg, new, old) is expected


def good(version: str, discriminative: float | None = None, **scores) -> Candidate:
    extra = {} if discriminative is None else {"discriminative": discriminative}
    return Candidate(version, {"memorization_pass": True, **extra, **scores})


VERDICTS = [  # (id, rules, candidate, champion, None or a fragment of the reason)
    ("first-version", DEFAULT, good("1", 0.3), None, None),
    ("already-champion", DEFAULT, good("2", 0.3), good("2", 0.3), None),
    ("already-champion-failing-gates", DEFAULT, Candidate("2", {"memorization_pass": False}), Candidate("2", {}), None),
    ("better", DEFAULT, good("2", 0.1), good("1", 0.3), None),
    ("worse", DEFAULT, good("2", 0.4), good("1", 0.3), "its discriminative 0.4 does not beat champion v1's 0.3 (lower is better)"),
    ("tie", DEFAULT, good("2", 0.3), good("1", 0.3), "does not beat champion v1's 0.3"),
    ("best-but-memorizes", DEFAULT, Candidate("2", {"memorization_pass": False, "discriminative": 0.01}), good("1", 0.3),
     "it fails the registry gates: memorization_pass is false, the gate wants true"),
    ("gate-bounds", BOUNDED, good("2", 0.4), None, "it fails the registry gates: discriminative 0.4 is above the gate's max 0.3"),
    ("no-ranking-score", DEFAULT, good("2"), good("1", 0.3), "it has no discriminative score"),
    ("champion-without-ranking-score", DEFAULT, good("2", 0.3), good("1"), None),
    ("maximize-better", MAXIMIZE, Candidate("2", {"predictive_ratio": 0.9}), Candidate("1", {"predictive_ratio": 0.8}), None),
    ("maximize-worse", MAXIMIZE, Candidate("2", {"predictive_ratio": 0.7}), Candidate("1", {"predictive_ratio": 0.8}),
     "(higher is better)"),
    ("manual-mode", MANUAL, good("3", 0.1), good("1", 0.3), "registry.auto_promote is false: promote it with `rgan promote --version 3`"),
    ("manual-mode-gates-first", MANUAL, Candidate("3", {"memorization_pass": False}), None, "it fails the registry gates"),
]


@pytest.mark.parametrize(("cfg", "candidate", "champion", "reason"), [c[1:] for c in VERDICTS], ids=[c[0] for c in VERDICTS])
def test_champion_verdict(cfg, candidate, champion, reason):
    verdict = champion_verdict(cfg, candidate, champion)
    if reason is None:
        assert verdict is None
    else:
        assert verdict is not None and reason in verdict


def test_scores_round_trip_through_version_tags():
    metrics = {"discriminative": {"mean": 0.125, "std": 0.01}, "predictive": {"mean": 0.5, "std": 0.0},
               "memorization_pass": False, "repeats": 3}  # repeats is no score: no tag
    tags = score_tags(metrics)
    assert tags == {"score.discriminative": "0.125", "score.discriminative.std": "0.01", "score.predictive": "0.5",
                    "score.predictive.std": "0.0", "score.memorization_pass": "false"}
    other = {"rgan.data_md5": "abc.dir", "score.predictive": "not a number"}
    assert scores_from_tags({**tags, **other}) == {"discriminative": 0.125, "memorization_pass": False}
