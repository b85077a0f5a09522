"""Divergence is caught at the logged step it happens."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("row, diverged", [
    ({"d_loss": 1.3, "g_loss": 0.7}, False),
    ({"d_loss": float("nan"), "g_loss": 0.7, "recon": 0.1}, False),  # NaN: a loss this phase does not compute
    ({"d_loss": float("nan"), "g_loss": float("nan")}, True),
    ({"d_loss": 1.3, "g_loss": float("inf")}, True),
])
def test_divergence_is_caught_at_the_logged_step(row, diverged):
    from rgan.errors import RganError
    from rgan.training.trainer import _check_finite

    if diverged:
        with pytest.raises(RganError, match="training diverged at step 7: .*Lower train.g_lr"):
            _check_finite(row, 7)
    else:
        _check_finite(row, 7)

