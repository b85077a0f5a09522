"""Categorical columns: the one-hot encoding, the scaler that carries their labels, the networks' last activation,
the hardening of sampled rows and the category distance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from rgan.data.loading import encode_categories
from rgan.data.scaler import MinMaxScaler
from rgan.errors import RganError
from rgan.evaluation.distances import category_distance, category_frequencies
from rgan.models.outputs import harden, unit_outputs


def test_encoding_sorts_labels_keeps_codes_as_numbers_and_one_hots_every_row():
    frame = pd.DataFrame({"state": ["run", "idle", "run", "fault"], "code": [3, 1, 3, 2]})
    one_hot, names, categories = encode_categories(frame, ["state", "code"])
    assert categories == {"state": ["fault", "idle", "run"], "code": [1, 2, 3]}
    assert all(isinstance(v, int) for v in categories["code"])
    assert names == ["state=fault", "state=idle", "state=run", "code=1", "code=2", "code=3"]
    assert one_hot.tolist() == [[0, 0, 1, 0, 0, 1], [0, 1, 0, 1, 0, 0], [0, 0, 1, 0, 0, 1], [1, 0, 0, 0, 1, 0]]


def test_scaler_scales_numbers_keeps_one_hots_and_decodes_labels():
    values = np.array([[10.0, 0, 1], [20.0, 1, 0], [30.0, 0, 1]])
    scaler = MinMaxScaler.fit(values[:2], ["x", "s=a", "s=b"], {"s": ["a", "b"]})
    assert scaler.data_min == [10.0, 0.0, 0.0] and scaler.data_max == [20.0, 1.0, 1.0]
    assert scaler.groups == ((1, 3),) and scaler.numeric_columns == ["x"] and scaler.output_columns == ["x", "s"]
    assert scaler.transform(values)[:, 1:].tolist() == values[:, 1:].tolist()
    decoded = scaler.decode(np.array([[15.0, 0.2, 0.8], [11.0, 0.9, 0.1]]))
    assert decoded["x"].tolist() == [15.0, 11.0] and decoded["s"].tolist() == ["b", "a"]
    assert MinMaxScaler.from_dict(scaler.to_dict()) == scaler
    numeric_only = MinMaxScaler.fit(values[:, :1], ["x"])
    assert "categories" not in numeric_only.to_dict()  # a numeric scaler's file reads as it always did
    with pytest.raises(RganError, match="its categories and attributes do not match its columns"):
        MinMaxScaler.from_dict({**scaler.to_dict(), "categories": {"s": ["a", "c"]}})
    with pytest.raises(RganError, match="its categories and attributes do not match its columns"):
        MinMaxScaler.from_dict({**scaler.to_dict(), "attributes": ["region"]})


def test_attributes_follow_the_features_each_a_column_or_a_block():
    columns = ["x", "s=a", "s=b", "size", "region=n", "region=s", "region=w"]
    values = np.array([[1.0, 1, 0, 5.0, 1, 0, 0], [3.0, 0, 1, 7.0, 0, 0, 1]])
    scaler = MinMaxScaler.fit(values, columns, {"s": ["a", "b"], "region": ["n", "s", "w"]}, ["size", "region"])
    assert scaler.feature_width == 3 and scaler.groups == ((1, 3),) and scaler.attribute_groups == ((1, 4),)
    assert scaler.output_columns == ["x", "s", "size", "region"] and scaler.data_min[3] == 5.0
    decoded = scaler.decode(values)
    assert decoded["region"].tolist() == ["n", "w"] and decoded["size"].tolist() == [5.0, 7.0]
    assert MinMaxScaler.from_dict(scaler.to_dict()) == scaler


def test_without_categories_the_activation_is_the_sigmoid_bit_for_bit():
    logits = torch.randn(4, 5, 6, generator=torch.Generator().manual_seed(0))
    assert torch.equal(unit_outputs(logits), torch.sigmoid(logits))
    assert torch.equal(harden(logits, ()), logits)


def test_each_categorical_block_is_a_softmax_and_hardens_to_its_most_likely_category():
    logits = torch.randn(4, 5, 7, generator=torch.Generator().manual_seed(0))
    groups = ((2, 5), (5, 7))
    out = unit_outputs(logits, groups)
    assert torch.equal(out[..., :2], torch.sigmoid(logits[..., :2]))
    for a, b in groups:
        assert torch.allclose(out[..., a:b].sum(-1), torch.ones(4, 5))
        assert torch.equal(out[..., a:b], torch.softmax(logits[..., a:b], dim=-1))
    hard = harden(out, groups)
    assert torch.equal(hard[..., :2], out[..., :2])
    for a, b in groups:
        assert torch.equal(hard[..., a:b].sum(-1), torch.ones(4, 5))
        assert torch.equal(hard[..., a:b].argmax(-1), out[..., a:b].argmax(-1))
    middle = unit_outputs(logits, ((2, 4),))  # numeric columns after a block keep the sigmoid
    assert torch.equal(middle[..., 4:], torch.sigmoid(logits[..., 4:]))


def test_category_distance_is_total_variation_of_the_frequencies():
    a = np.zeros((2, 3, 3)); a[..., 0] = 1  # always the first category
    b = np.zeros((2, 3, 3)); b[..., 1] = 1
    half = np.concatenate([a[:1], b[:1]])
    groups = ((0, 3),)
    assert category_distance(a, a, groups) == 0.0 and category_distance(a, b, groups) == 1.0
    assert category_distance(a, half, groups) == pytest.approx(0.5)
    assert category_frequencies(half, groups)[0].tolist() == [0.5, 0.5, 0.0]


def test_training_outputs_are_one_hot_forward_with_the_softmax_gradient():
    logits = torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(1), requires_grad=True)
    groups = ((1, 5),)
    hard = unit_outputs(logits, groups, hard=True)
    soft = unit_outputs(logits, groups)
    assert torch.equal(hard.detach(), harden(soft.detach(), groups))
    weights = torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(2))
    (grad_hard,) = torch.autograd.grad((hard * weights).sum(), logits)
    (grad_soft,) = torch.autograd.grad((soft * weights).sum(), logits)
    assert torch.allclose(grad_hard, grad_soft)


def attribute_vectors(n: int = 4000, seed: int = 0) -> np.ndarray:
    """[region one-hot (3) | size | weight]: size depends on the region, weight follows size."""
    rng = np.random.default_rng(seed)
    region = rng.choice(3, size=n, p=[0.6, 0.3, 0.1])
    size = np.clip(0.2 + 0.3 * region + 0.05 * rng.normal(size=n), 0, 1)
    weight = np.clip(0.8 * size + 0.02 * rng.normal(size=n), 0, 1)
    return np.concatenate([np.eye(3)[region], size[:, None], weight[:, None]], axis=1)


def test_attribute_model_draws_categories_as_often_as_they_occur_and_numbers_in_range():
    from rgan.models.attributes import AttributeModel

    model = AttributeModel.from_dict(AttributeModel.fit(attribute_vectors(), [(0, 3)]).to_dict())
    draws = model.sample(5000, np.random.default_rng(1))
    assert np.allclose(draws[:, :3].sum(1), 1) and np.abs(draws[:, :3].mean(0) - [0.6, 0.3, 0.1]).max() < 0.03
    assert ((draws[:, 3:] >= 0) & (draws[:, 3:] <= 1)).all()
    assert np.corrcoef(draws[:, 3], draws[:, 4])[0, 1] > 0.9  # the joint distribution, not independent marginals


def test_attribute_model_conditions_on_categories_and_on_numbers():
    from rgan.models.attributes import AttributeModel

    model = AttributeModel.fit(attribute_vectors(), [(0, 3)])
    rng = np.random.default_rng(2)
    given_region = model.sample(500, rng, codes={0: 2})
    assert (given_region[:, 2] == 1).all() and abs(given_region[:, 3].mean() - 0.8) < 0.03
    given_size = model.sample(500, rng, values={0: 0.5})  # numeric position 0: size
    assert (given_size[:, 3] == 0.5).all() and given_size[:, 1].mean() > 0.95  # the region whose sizes are near 0.5
    assert abs(given_size[:, 4].mean() - 0.4) < 0.03  # weight given size, from the conditional Gaussian
    assert model.possible({0: 1}) and model.possible({})
    only_two = attribute_vectors()[attribute_vectors()[:, 2] == 0]
    assert not AttributeModel.fit(only_two, [(0, 3)]).possible({0: 2})


def test_attribute_model_with_categorical_attributes_only_survives_its_file():
    from rgan.models.attributes import AttributeModel

    codes = np.random.default_rng(0).integers(0, 2, 200)
    model = AttributeModel.from_dict(AttributeModel.fit(np.eye(2)[codes], [(0, 2)]).to_dict())
    draws = model.sample(400, np.random.default_rng(1))
    assert np.allclose(draws.sum(1), 1) and abs(draws[:, 1].mean() - codes.mean()) < 0.08
    assert (model.sample(5, np.random.default_rng(1), codes={0: 1})[:, 1] == 1).all()
