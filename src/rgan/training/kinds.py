"""The training objective of each model kind (`model.kind`)."""

from __future__ import annotations

import torch

from rgan.config import ModelConfig, TrainConfig
from rgan.models.outputs import Groups
from rgan.training.objective import AdversarialObjective, RecurrentGanObjective
from rgan.training.timegan_objective import TimeGanObjective
from rgan.training.vaegan_objective import VaeGanObjective

OBJECTIVES: dict[str, type[AdversarialObjective]] = {"rgan": RecurrentGanObjective, "timegan": TimeGanObjective, "vaegan": VaeGanObjective}


def build_objective(model_cfg: ModelConfig, train_cfg: TrainConfig, dim: int, device: torch.device,
                    groups: Groups = (), conditions: int = 0, masked: bool = False) -> AdversarialObjective:
    """The objective of `model.kind`; `groups`: the categorical one-hot blocks among the dim features; `conditions`:
    attribute columns, the last of dim; `masked`: sequences mode, the last column `_valid` masks every loss."""
    return OBJECTIVES[model_cfg.kind](model_cfg, train_cfg, dim, device, groups, conditions, masked)
