"""Each kind's networks and training step in process: shapes, TimeGAN's phases updating exactly their networks,
clipping, no host reads, an undone update equal to a skipped one."""

from __future__ import annotations

import copy
import math
import sys
from pathlib import Path

import pytest
import torch
from conftest import kind_params, tensors_equal

import rgan
from rgan.config import parse_params
from rgan.models import build_sampler
from rgan.notes import plain
from rgan.training.kinds import build_objective
from rgan.training.objective import STEP_VALUES
from rgan.training.timegan_objective import _undone_unless

KINDS = ("timegan", "vaegan")



@pytest.mark.parametrize("kind", ("rgan", *KINDS))
@pytest.mark.parametrize("cell", ("rnn", "lstm", "gru"))
def test_sampler_and_objective_shapes(kind, cell):
    params = parse_params(kind_params(kind, model={"cell": cell, "latent_dim": 6}))
    sampler = build_sampler(params.model, dim=3)
    z = sampler.noise(5, 24, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        x = sampler(z)
    assert x.shape == (5, 24, 3) and float(x.min()) >= 0 and float(x.max()) <= 1
    with torch.no_grad():
        assert sampler(sampler.noise(2, 50)).shape == (2, 50, 3)  # any length
    objective = build_objective(params.model, params.train, dim=3, device=torch.device("cpu"))
    batch = torch.rand(16, 24, 3)
    rng = torch.Generator().manual_seed(0)
    rows = [objective.step(lambda: batch, rng) for _ in range(25)]  # every TimeGAN phase
    assert all(math.isfinite(float(rows[-1][k])) for k in ("d_loss", "g_loss", "d_real", "d_fake"))
    assert set(objective.extra_log_columns) <= set(rows[-1])


@pytest.mark.parametrize("kind", ("rgan", *KINDS))
def test_the_spectral_term_is_in_every_kinds_generator_loss(kind):
    def last_g_loss(weight: float) -> float:
        params = parse_params(kind_params(kind, train={"spectral_weight": weight, "timegan": {"autoencoder_steps": 1, "supervised_steps": 1}}
                                          if kind == "timegan" else {"spectral_weight": weight}))
        torch.manual_seed(0)
        objective = build_objective(params.model, params.train, dim=3, device=torch.device("cpu"))
        batch, rng = torch.rand(16, 24, 3), torch.Generator().manual_seed(0)
        return [float(objective.step(lambda: batch, rng)["g_loss"]) for _ in range(3)][-1]

    assert last_g_loss(0.0) != last_g_loss(5.0)


@pytest.mark.parametrize("kind", ("rgan", *KINDS))
def test_the_feature_matching_term_is_in_every_kinds_generator_loss_and_costs_nothing_when_off(kind):
    def g_losses(weight: float | None) -> list[float]:
        train = {} if weight is None else {"feature_matching_weight": weight}
        if kind == "timegan":
            train["timegan"] = {"autoencoder_steps": 1, "supervised_steps": 1}
        params = parse_params(kind_params(kind, train=train))
        torch.manual_seed(0)
        objective = build_objective(params.model, params.train, dim=3, device=torch.device("cpu"))
        batch, rng = torch.rand(16, 24, 3), torch.Generator().manual_seed(0)
        return [float(objective.step(lambda: batch, rng)["g_loss"]) for _ in range(4)]

    off = g_losses(0.0)  # TimeGAN's first two steps are its autoencoder and supervisor phases: no generator loss (nan)
    assert str(off) == str(g_losses(None))  # off by default, and off is the step as it was
    with_term = g_losses(5.0)
    assert with_term[-1] != off[-1] and math.isfinite(with_term[-1])


@pytest.mark.parametrize("kind", ("rgan", "vaegan"))
@pytest.mark.parametrize("loss", ("bce", "wgan-gp"))
def test_every_scale_of_a_multi_scale_discriminator_learns(kind, loss):
    params = parse_params(kind_params(kind, model={"discriminator_scales": [1, 3]}, train={"loss": loss, "feature_matching_weight": 1.0}))
    torch.manual_seed(0)
    objective = build_objective(params.model, params.train, dim=3, device=torch.device("cpu"))
    before = copy.deepcopy(objective.discriminator.state_dict())
    batch, rng = torch.rand(16, 10, 3), torch.Generator().manual_seed(0)
    rows = [objective.step(lambda: batch, rng) for _ in range(3)]
    assert all(math.isfinite(float(rows[-1][k])) for k in ("d_loss", "g_loss", "gp", "g_grad_norm"))
    after = objective.discriminator.state_dict()
    assert any(k.startswith("coarse.0.") for k in after)
    assert all(not torch.equal(before[k], after[k]) for k in after if k.endswith("weight_ih_l0") or k.endswith("head.weight"))


def test_augmentation_transforms_the_features_of_real_and_generated_windows_alike_and_nothing_else():
    params = parse_params(kind_params("rgan", train={"augment": ["scale", "jitter"]}))
    conditions = 2  # an attribute and `_valid`
    objective = build_objective(params.model, params.train, dim=3 + conditions, device=torch.device("cpu"),
                                conditions=conditions, masked=True)
    valid = (torch.arange(8)[None, :] < torch.tensor([[8], [5], [3], [8]])).float()
    batch = torch.cat([torch.rand(4, 8, 3) * valid[..., None], torch.rand(4, 1, 1).expand(4, 8, 1), valid[..., None]], dim=2)
    out = objective._augmented(batch, torch.Generator().manual_seed(0))
    assert torch.equal(out, objective._augmented(batch, torch.Generator().manual_seed(0)))  # drawn from the training rng
    assert torch.equal(out[..., 3:], batch[..., 3:])  # attributes and the mask as they were
    assert torch.equal(out[..., :3] * (1 - valid[..., None]), torch.zeros(4, 8, 3)) and not torch.equal(out[..., :3], batch[..., :3])
    assert 0.005 < float((out[..., :3] - batch[..., :3])[valid.bool()].std()) < 0.2  # small beside values in [0, 1]
    scale_only = parse_params(kind_params("rgan", train={"augment": ["scale"]}))
    scaled = build_objective(scale_only.model, scale_only.train, dim=3, device=torch.device("cpu"))
    x = torch.rand(4, 8, 3) + 0.5
    ratio = scaled._augmented(x, torch.Generator().manual_seed(1)) / x
    assert torch.allclose(ratio, ratio[:, :1].expand(4, 8, 3))  # one factor per window and feature
    off = build_objective(params.model, parse_params(kind_params("rgan")).train, dim=3, device=torch.device("cpu"))
    assert off._augmented(x, torch.Generator()) is x


@pytest.mark.parametrize("kind", ("rgan", "vaegan"))
def test_augmentation_changes_training_and_costs_nothing_when_off(kind):
    def d_losses(augment) -> list[float]:
        params = parse_params(kind_params(kind, train={} if augment is None else {"augment": augment}))
        torch.manual_seed(0)
        objective = build_objective(params.model, params.train, dim=3, device=torch.device("cpu"))
        batch, rng = torch.rand(16, 24, 3), torch.Generator().manual_seed(0)
        return [float(objective.step(lambda: batch, rng)["d_loss"]) for _ in range(3)]

    assert d_losses(None) == d_losses([])
    augmented = d_losses(["jitter", "scale"])
    assert augmented != d_losses([]) and all(math.isfinite(v) for v in augmented)


NETWORKS = ("embedder", "recovery", "generator", "supervisor", "discriminator")


def timegan(**train):
    params = parse_params(kind_params("timegan", train={"timegan": {"autoencoder_steps": 2, "supervised_steps": 2}, **train}))
    torch.manual_seed(0)
    return build_objective(params.model, params.train, dim=3, device=torch.device("cpu"))


def networks(objective) -> dict[str, torch.nn.Module]:
    n = objective.nets
    return {"embedder": n.embedder, "recovery": n.sampler.recovery, "generator": n.sampler.generator,
            "supervisor": n.sampler.supervisor, "discriminator": n.discriminator}


def changed_networks(objective, update) -> set[str]:
    before = {name: copy.deepcopy(net.state_dict()) for name, net in networks(objective).items()}
    update()
    return {name for name, net in networks(objective).items() if not tensors_equal(before[name], net.state_dict())}


def grad_norm(objective, *names: str) -> float:
    grads = [p.grad for name in names for p in networks(objective)[name].parameters() if p.grad is not None]
    return float(torch.nn.utils.get_total_norm(grads))


BATCH = torch.rand(16, 24, 3, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("phase, done, expected", [
    ("autoencoder", 0, {"embedder", "recovery"}),
    ("supervised", 2, {"supervisor"}),
    ("joint", 4, set(NETWORKS)),
])
def test_each_timegan_phase_updates_exactly_its_networks(phase, done, expected):
    objective = timegan()
    objective.done = done
    rng = torch.Generator().manual_seed(1)
    row = {}
    assert changed_networks(objective, lambda: row.update(objective.step(lambda: BATCH, rng))) == expected, phase
    assert float(row["phase"]) == ("autoencoder", "supervised", "joint").index(phase)


@pytest.mark.parametrize("update, expected", [
    ("_generator_update", {"generator", "supervisor"}),
    ("_embedder_update", {"embedder", "recovery"}),
    ("_discriminator_update", {"discriminator"}),
])
def test_each_joint_update_changes_exactly_its_networks(update, expected):
    objective = timegan()
    rng = torch.Generator().manual_seed(1)
    z = objective.nets.sampler.noise(16, 24, generator=rng)
    args = {"_generator_update": (BATCH, z), "_embedder_update": (BATCH,), "_discriminator_update": (BATCH, z, rng)}[update]
    assert changed_networks(objective, lambda: getattr(objective, update)(*args)) == expected


# phase -> the networks each of its updates changes, and the column reporting its gradient norm
UPDATES = {
    0: [(("embedder", "recovery"), "g_grad_norm")],
    1: [(("supervisor",), "g_grad_norm")],  # its optimiser holds the generator too, which this loss does not reach
    2: [(("generator", "supervisor"), "g_grad_norm"), (("embedder", "recovery"), None), (("discriminator",), "d_grad_norm")],
}


@pytest.mark.parametrize("phase", UPDATES)
def test_timegan_clips_every_network_an_update_changes(phase):
    clip = 1e-3  # well below every update's gradient norm here
    objective = timegan(grad_clip=clip)
    objective.done = 2 * phase
    row = objective.step(lambda: BATCH, torch.Generator().manual_seed(1))
    for names, column in UPDATES[phase]:
        assert grad_norm(objective, *names) <= clip * (1 + 1e-4), names  # left by the update, after clipping
        for name in names:
            assert grad_norm(objective, name) > 0, name  # each network had a gradient to clip
        if column is not None:
            assert float(row[column]) > 10 * clip  # the reported norm is the one before clipping


@pytest.mark.parametrize("phase", UPDATES)
def test_timegan_reports_the_norm_over_all_the_parameters_an_update_changes(phase):
    objective = timegan()
    objective.done = 2 * phase
    row = objective.step(lambda: BATCH, torch.Generator().manual_seed(1))
    for names, column in UPDATES[phase]:
        if column is not None:
            assert float(row[column]) == pytest.approx(grad_norm(objective, *names), rel=1e-6), names


class HostReads:
    """Records reads of a tensor's value on the host (what syncs with an accelerator) made by rgan's own code."""

    METHODS = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__")

    def __init__(self, monkeypatch):
        self.calls: list[str] = []
        root = str(Path(rgan.__file__).parent)
        for name in self.METHODS:
            original = getattr(torch.Tensor, name)

            def spy(tensor, *args, _name=name, _original=original, **kwargs):
                caller = sys._getframe(1).f_code
                if caller.co_filename.startswith(root):
                    self.calls.append(f"{_name} in {caller.co_name} ({Path(caller.co_filename).name})")
                return _original(tensor, *args, **kwargs)

            monkeypatch.setattr(torch.Tensor, name, spy)


@pytest.mark.parametrize("train", [{}, {"loss": "wgan-gp", "d_steps": 2}, {"grad_clip": 0.01}])
def test_timegan_steps_never_read_a_tensor_on_the_host(monkeypatch, train):
    """As on a GPU: there the BCE rule's skip is decided on the device (on the CPU, where a read is free, it reads)."""
    monkeypatch.setattr("rgan.training.timegan_objective.host_reads_are_free", lambda device: False)
    objective = timegan(**train)
    rng = torch.Generator().manual_seed(1)
    reads = HostReads(monkeypatch)
    plain(torch.tensor(1.5))  # the spy sees rgan's reads: notes.plain reads a tensor's value
    assert reads.calls == ["item in plain (notes.py)"]
    reads.calls.clear()
    rows = [objective.step(lambda: BATCH, rng) for _ in range(6)]  # every phase, twice
    assert reads.calls == []
    monkeypatch.undo()
    assert [float(r["phase"]) for r in rows] == [0, 0, 1, 1, 2, 2]
    for row in rows:  # detached tensors, one per log column
        assert set(row) == {*STEP_VALUES, *objective.extra_log_columns}
        assert all(isinstance(v, torch.Tensor) and v.dim() == 0 and not v.requires_grad for v in row.values())


@pytest.mark.parametrize("warm", [False, True], ids=["first step", "later step"])
def test_an_undone_update_is_exactly_a_skipped_one(warm):
    """The BCE discriminator update that is not kept must leave weights and Adam as if it never ran."""
    def setup():
        torch.manual_seed(0)
        net = torch.nn.GRU(3, 4, batch_first=True)
        return net, torch.optim.Adam(net.parameters(), lr=0.1)

    def update(net, opt, x):
        opt.zero_grad(set_to_none=True)
        net(x)[0].square().mean().backward()
        opt.step()

    xs = torch.rand(3, 2, 5, 3, generator=torch.Generator().manual_seed(0))
    (net, opt), (twin, twin_opt) = setup(), setup()
    if warm:
        update(net, opt, xs[0])
        update(twin, twin_opt, xs[0])
    with _undone_unless(torch.tensor(False), opt):
        update(net, opt, xs[1])
    with _undone_unless(torch.tensor(True), opt):
        update(net, opt, xs[2])
    update(twin, twin_opt, xs[2])  # the twin skipped xs[1]
    assert tensors_equal(net.state_dict(), twin.state_dict())
    assert tensors_equal(opt.state_dict()["state"], twin_opt.state_dict()["state"])



@pytest.mark.parametrize("winning", [0.0, 1.386, 10.0])  # never, sometimes (d_loss starts near 2 ln 2), always skipped
def test_timegans_bce_rule_gives_the_same_weights_read_on_the_host_or_decided_on_the_device(monkeypatch, winning):
    monkeypatch.setattr("rgan.training.timegan_objective.BCE_WINNING", winning)
    states = []
    for free in (True, False):
        monkeypatch.setattr("rgan.training.timegan_objective.host_reads_are_free", lambda device, free=free: free)
        objective = timegan(d_steps=2)
        rng = torch.Generator().manual_seed(1)
        for _ in range(10):
            objective.step(lambda: BATCH, rng)
        states.append(objective.state_dict())
    skipped, undone = (state.pop("d_optimizer")["state"] for state in states)
    assert tensors_equal(states[0], states[1])  # every network, every other optimiser
    # the discriminator's Adam: equal, except that state never made (skipped) is state undone to zeros
    for param in set(skipped) | set(undone):
        if param in skipped:
            assert tensors_equal(skipped[param], undone[param])
        else:
            assert all(torch.count_nonzero(t) == 0 for t in undone[param].values())


def test_selection_keeps_the_lowest_score_the_earlier_on_ties_and_survives_its_checkpoint_form():
    from rgan.training.validation import Selection

    selection = Selection()
    assert selection.best_step is None and selection.best_score == float("inf")
    assert selection.record(10, 2.0, {"w": 1}) and not selection.record(20, 2.0, {"w": 2})  # a tie keeps the earlier
    assert selection.record(30, 1.5, {"w": 3}) and not selection.record(40, float("inf"), {"w": 4})
    assert (selection.best_step, selection.best_score, selection.best_payload) == (30, 1.5, {"w": 3})
    again = Selection(selection.state_dict())
    assert again.scores == selection.scores and again.best_step == 30 and again.best_payload == {"w": 3}
    assert Selection(None).scores == {}  # a checkpoint from before validation
