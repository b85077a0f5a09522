"""The attribute model: the joint distribution of the static attributes (numeric and categorical) that the generator
is conditioned on, so that sampling draws plausible new attribute combinations, or completes the ones a user fixes.

A mixture with one Gaussian component per combination of categories seen in training, weighted by its share of the
training windows, over the numeric attributes (scaled to [0, 1]): categories are drawn as often as they occur, and
numeric attributes come from a fitted distribution, not copied from training entities. Conditioning is exact for
this model: fixed categories select the components, fixed numeric values reweight them by their likelihood and
condition each Gaussian on them. Stored as plain lists in the generator file (loaded with weights_only=True)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

RIDGE = 1e-4  # added to every covariance's diagonal: a component of identical values stays a proper Gaussian
# Draws outside the training range ([0, 1] scaled) are drawn again up to this many times, then clipped: clipping at
# once would pile draws up on the training extremes, which are real entities' values.
REDRAWS = 20


@dataclass(frozen=True)
class AttributeModel:
    width: int  # columns of an attribute vector (numeric columns and one-hot blocks)
    numeric: list[int]  # positions of the numeric columns in the vector
    groups: list[list[int]]  # [start, stop) of each categorical one-hot block in the vector
    combos: list[list[int]]  # per component: the category index of each block
    weights: list[float]
    means: list[list[float]]  # per component: the numeric columns' mean
    covariances: list[list[list[float]]]

    @classmethod
    def fit(cls, vectors: np.ndarray, groups) -> "AttributeModel":
        """From the attribute vectors of the training windows, (n, width), scaled; `groups`: one-hot blocks."""
        vectors = np.asarray(vectors, dtype=np.float64)
        width = vectors.shape[1]
        in_blocks = {i for a, b in groups for i in range(a, b)}
        numeric = [i for i in range(width) if i not in in_blocks]
        codes = np.stack([vectors[:, a:b].argmax(axis=1) for a, b in groups], axis=1) if groups else np.zeros((len(vectors), 0), int)
        combos, inverse = np.unique(codes, axis=0, return_inverse=True)
        x = vectors[:, numeric]
        p = len(numeric)
        pooled = np.cov(x, rowvar=False).reshape(p, p) if len(x) > 1 and p else np.zeros((p, p))
        means, covariances, weights = [], [], []
        for k in range(len(combos)):
            members = x[inverse.reshape(-1) == k]
            own = np.cov(members, rowvar=False).reshape(p, p) if len(members) > 1 and p else np.zeros((p, p))
            shrink = (p + 1) / (len(members) + p + 1)  # few members: lean on the pooled covariance
            covariances.append(((1 - shrink) * own + shrink * pooled + RIDGE * np.eye(p)).tolist())
            means.append(members.mean(axis=0).tolist() if p else [])
            weights.append(len(members) / len(vectors))
        return cls(width, numeric, [list(g) for g in groups], combos.tolist(), weights, means, covariances)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "AttributeModel":
        return cls(int(data["width"]), [int(i) for i in data["numeric"]], [[int(a), int(b)] for a, b in data["groups"]],
                   [[int(c) for c in combo] for combo in data["combos"]], [float(w) for w in data["weights"]],
                   [[float(v) for v in m] for m in data["means"]], [[[float(v) for v in row] for row in c] for c in data["covariances"]])

    def possible(self, codes: dict[int, int]) -> bool:
        """Whether some training combination has these categories (block index -> category index)."""
        return any(all(combo[g] == c for g, c in codes.items()) for combo in self.combos)

    def sample(self, n: int, rng: np.random.Generator, codes: dict[int, int] | None = None,
               values: dict[int, float] | None = None) -> np.ndarray:
        """(n, width) attribute vectors; `codes`: fixed categories (block index -> category index), `values`: fixed
        numeric attributes (position in `numeric` -> scaled value). Numeric draws stay in the training range, [0, 1]."""
        codes, values = codes or {}, values or {}
        fixed = sorted(values)
        rest = [j for j in range(len(self.numeric)) if j not in values]
        x_fixed = np.array([values[j] for j in fixed])
        log_w, cond_mean, cond_cov = [], [], []
        for combo, w, mean, cov in zip(self.combos, self.weights, self.means, self.covariances):
            if any(combo[g] != c for g, c in codes.items()):
                log_w.append(-np.inf); cond_mean.append(None); cond_cov.append(None)
                continue
            p = len(self.numeric)  # 0 with categorical attributes only: empty lists from JSON, shaped back
            mean, cov = np.asarray(mean, dtype=np.float64).reshape(p), np.asarray(cov, dtype=np.float64).reshape(p, p)
            if fixed:
                s_ff = cov[np.ix_(fixed, fixed)]
                s_rf = cov[np.ix_(rest, fixed)]
                diff = x_fixed - mean[fixed]
                solve = np.linalg.solve(s_ff, diff)
                _, logdet = np.linalg.slogdet(s_ff)
                log_w.append(np.log(w) - 0.5 * (diff @ solve + logdet))
                cond_mean.append(mean[rest] + s_rf @ solve)
                cond_cov.append(cov[np.ix_(rest, rest)] - s_rf @ np.linalg.solve(s_ff, s_rf.T))
            else:
                log_w.append(np.log(w)); cond_mean.append(mean[rest]); cond_cov.append(cov[np.ix_(rest, rest)])
        log_w = np.asarray(log_w)
        probs = np.exp(log_w - log_w.max())
        probs /= probs.sum()
        chosen = rng.choice(len(self.combos), size=n, p=probs)
        out = np.zeros((n, self.width))
        for k in np.unique(chosen):
            rows = np.flatnonzero(chosen == k)
            for g, (a, b) in enumerate(self.groups):
                out[rows, a + self.combos[k][g]] = 1.0
            if rest:
                cov = (cond_cov[k] + cond_cov[k].T) / 2 + 1e-9 * np.eye(len(rest))
                draws = rng.multivariate_normal(cond_mean[k], cov, size=len(rows), method="cholesky")
                for _ in range(REDRAWS):  # truncated to the training range by redrawing, not by clipping
                    outside = np.flatnonzero(((draws < 0) | (draws > 1)).any(axis=1))
                    if not len(outside):
                        break
                    draws[outside] = rng.multivariate_normal(cond_mean[k], cov, size=len(outside), method="cholesky")
                out[np.ix_(rows, [self.numeric[j] for j in rest])] = np.clip(draws, 0.0, 1.0)
        for j in fixed:
            out[:, self.numeric[j]] = values[j]
        return out
