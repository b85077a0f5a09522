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
    numeric, codes = scaler.decode(np.array([[15.0, 0.2, 0.8], [11.0, 0.9, 0.1]]))
    assert numeric.tolist() == [[15.0], [11.0]] and codes[0].tolist() == [1, 0]
    assert MinMaxScaler.from_dict(scaler.to_dict()) == scaler
    numeric_only = MinMaxScaler.fit(values[:, :1], ["x"])
    assert "categories" not in numeric_only.to_dict()  # a numeric scaler's file reads as it always did
    with pytest.raises(RganError, match="its categories do not match its last columns"):
        MinMaxScaler.from_dict({**scaler.to_dict(), "categories": {"s": ["a", "c"]}})


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
