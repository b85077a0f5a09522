"""Protocol fidelity: rgan's discriminative and predictive scores against a literal transcription of the TimeGAN
reference code (jsyoon0823/TimeGAN, metrics/discriminative_metrics.py and predictive_metrics.py, TensorFlow 1),
step by step in torch: its GRUCell (reset gate applied to the state before the candidate's matrix product, gate
bias 1, Glorot-uniform kernels), its train/test divide and batches (permutations: batches without replacement), its
loss (the sum of the real and the synthetic mean cross-entropies; the L1 loss), Adam with TF's defaults, its
accuracy and MAE. Two different implementations of the same trainings cannot agree to the bit (different GRU
variants, initialisations and random streams), so each case checks they agree within the scores' own spread over
seeds and that both separate what they should; the benchmark's header lists what else differs (which windows)."""

import numpy as np
import pytest
import torch
from conftest import sine_windows

from rgan.evaluation import posthoc

CPU = torch.device("cpu")


class _TfGRU(torch.nn.Module):
    """tf.nn.rnn_cell.GRUCell + dynamic_rnn, followed by fully_connected(..., 1) on the outputs."""

    def __init__(self, inputs: int, hidden: int):
        super().__init__()
        glorot = lambda fan_in, fan_out: torch.nn.Parameter(torch.empty(fan_in, fan_out).uniform_(-1, 1) * np.sqrt(6 / (fan_in + fan_out)))
        self.gate_kernel, self.gate_bias = glorot(inputs + hidden, 2 * hidden), torch.nn.Parameter(torch.ones(2 * hidden))
        self.candidate_kernel, self.candidate_bias = glorot(inputs + hidden, hidden), torch.nn.Parameter(torch.zeros(hidden))
        self.dense, self.dense_bias = glorot(hidden, 1), torch.nn.Parameter(torch.zeros(1))
        self.hidden = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, steps, inputs) -> logits (batch, steps)
        state, outputs = x.new_zeros(len(x), self.hidden), []
        for t in range(x.shape[1]):
            r, u = torch.sigmoid(torch.cat([x[:, t], state], 1) @ self.gate_kernel + self.gate_bias).chunk(2, dim=1)
            c = torch.tanh(torch.cat([x[:, t], r * state], 1) @ self.candidate_kernel + self.candidate_bias)
            state = u * state + (1 - u) * c
            outputs.append(state)
        return (torch.stack(outputs, 1) @ self.dense + self.dense_bias).squeeze(-1)


def _adam(params):
    return torch.optim.Adam(params, lr=0.001, betas=(0.9, 0.999), eps=1e-8)  # tf.train.AdamOptimizer()


def reference_discriminative(ori: np.ndarray, generated: np.ndarray, iterations: int, seed: int) -> float:
    np.random.seed(seed)
    torch.manual_seed(seed)
    no, seq_len, dim = ori.shape
    model = _TfGRU(dim, int(dim / 2))
    solver = _adam(model.parameters())
    # train_test_divide(train_rate=0.8)
    idx = np.random.permutation(len(ori))
    train_x, test_x = ori[idx[:int(len(ori) * 0.8)]], ori[idx[int(len(ori) * 0.8):]]
    idx = np.random.permutation(len(generated))
    train_x_hat, test_x_hat = generated[idx[:int(len(generated) * 0.8)]], generated[idx[int(len(generated) * 0.8):]]
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    for _ in range(iterations):
        x_mb = torch.tensor(train_x[np.random.permutation(len(train_x))[:128]])  # batch_generator
        x_hat_mb = torch.tensor(train_x_hat[np.random.permutation(len(train_x_hat))[:128]])
        real, fake = model(x_mb)[:, -1], model(x_hat_mb)[:, -1]  # d_last_states -> fully_connected
        d_loss = bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake))
        solver.zero_grad()
        d_loss.backward()
        solver.step()
    with torch.no_grad():
        y_pred = torch.sigmoid(torch.cat([model(torch.tensor(test_x))[:, -1], model(torch.tensor(test_x_hat))[:, -1]])).numpy()
    labels = np.concatenate([np.ones(len(test_x)), np.zeros(len(test_x_hat))])
    return float(np.abs(0.5 - np.mean(labels == (y_pred > 0.5))))


def reference_predictive(ori: np.ndarray, generated: np.ndarray, iterations: int, seed: int) -> float:
    np.random.seed(seed)
    torch.manual_seed(seed)
    no, seq_len, dim = ori.shape
    model = _TfGRU(dim - 1, int(dim / 2))
    solver = _adam(model.parameters())
    for _ in range(iterations):
        train_idx = np.random.permutation(len(generated))[:128]
        x_mb = torch.tensor(generated[train_idx][:, :-1, :dim - 1])
        y_mb = torch.tensor(generated[train_idx][:, 1:, dim - 1])
        p_loss = (torch.sigmoid(model(x_mb)) - y_mb).abs().mean()  # tf.losses.absolute_difference
        solver.zero_grad()
        p_loss.backward()
        solver.step()
    with torch.no_grad():
        pred = torch.sigmoid(model(torch.tensor(ori[:, :-1, :dim - 1]))).numpy()
    return float(np.mean([np.mean(np.abs(ori[i, 1:, dim - 1] - pred[i])) for i in range(no)]))  # MAE per window, averaged


@pytest.fixture(scope="module")
def windows():
    real = sine_windows(500, seed=0)
    return {"real": real, "same": sine_windows(500, seed=1),
            "damped": sine_windows(500, seed=2) * 0.6 + 0.2,  # the same shapes in a smaller range: told apart, not trivially
            "noise": np.random.default_rng(0).uniform(size=real.shape).astype(np.float32)}


SEEDS = (0, 1)


def _agree(ours: list[float], theirs: list[float], floor: float) -> bool:
    return abs(np.mean(ours) - np.mean(theirs)) <= max(floor, 2 * max(np.ptp(ours), np.ptp(theirs)))


def test_discriminative_score_agrees_with_the_reference_transcription(windows):
    """At the protocol's 2000 iterations on a set told apart but not trivially (measured: reference 0.41, 0.375,
    0.38 over seeds 0-2; ours 0.405, 0.38, 0.295, 0.385 over seeds 0-3), and on a set from the same source. At 500
    iterations the reference's classifier learns sooner (TF's gate bias of 1): ours scored 0.0-0.38 there, so a
    shortened protocol would flatter a generator; evaluate's default is the protocol's 2000."""
    torch.set_num_threads(1)
    real = windows["real"]
    ours = [posthoc.discriminative_score(real, windows["damped"], iterations=2000, batch_size=128, seed=s, device=CPU) for s in SEEDS]
    theirs = [reference_discriminative(real, windows["damped"], iterations=2000, seed=s) for s in SEEDS]
    assert _agree(ours, theirs, floor=0.05) and min(ours + theirs) > 0.25, (ours, theirs)
    ours = [posthoc.discriminative_score(real, windows["same"], iterations=500, batch_size=128, seed=s, device=CPU) for s in SEEDS]
    theirs = [reference_discriminative(real, windows["same"], iterations=500, seed=s) for s in SEEDS]
    assert max(ours + theirs) < 0.1, (ours, theirs)


def test_predictive_score_agrees_with_the_reference_transcription(windows):
    torch.set_num_threads(1)
    real = windows["real"]
    scores = {}
    for other in ("same", "noise"):
        ours = [posthoc.predictive_score(windows[other], real, iterations=600, batch_size=128, seed=s, device=CPU) for s in SEEDS]
        theirs = [reference_predictive(real, windows[other], iterations=600, seed=s) for s in SEEDS]
        assert _agree(ours, theirs, floor=0.01), (other, ours, theirs)
        scores[other] = ours + theirs
    assert max(scores["same"]) < min(scores["noise"])  # both prefer a forecaster trained on data like the real
