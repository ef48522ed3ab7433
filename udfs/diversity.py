"""Diversity re-ordering of a scored list, vectorised with numpy. Pure: no Flink.

Every function takes relevance scores (higher is better) and returns the chosen order, best
first, as indices into the input, plus one number per chosen item that explains its adjustment:

- `mmr_order`: Maximal Marginal Relevance (Carbonell and Goldstein, 1998): at each step the item
  maximising lambda * relevance - (1 - lambda) * its largest similarity to the items already
  chosen. Adjustment: the similarity penalty paid, (1 - lambda) * max similarity.
- `dpp_order`: fast greedy MAP inference for a determinantal point process (Chen, Zhang and
  Zhou, NeurIPS 2018, Algorithm 1): kernel L = diag(q) S diag(q) with q = exp(alpha * relevance),
  alpha = theta / (2 (1 - theta)); incremental Cholesky updates, O(N M^2) for M picks of N.
  Adjustment: the item's marginal gain log d_j^2 when picked. Once the kernel is exhausted
  (all further gains ~0: every remaining item duplicates a chosen one) the rest follow by relevance.
- `soft_cap_order`: the n-th item of a group (n = 0 for its first) has its score multiplied by
  (1 - floor) * decay^n + floor. Adjustment: that multiplier.
- `hard_cap_order`: at most m items of a group in the top k; the overflow follows after the
  top k in relevance order. Adjustment: 1.0 kept, 0.0 pushed below the top k.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

DPP_EPSILON = 1e-10


def similarity_matrix(features: Sequence[Mapping[str, float]], scale: float = 1.0) -> np.ndarray:
    """scale * cosine similarity of the items' feature vectors, 1 on the diagonal; an item
    without features is only like itself."""
    columns: dict[str, int] = {}
    for item in features:
        for key in item:
            columns.setdefault(key, len(columns))
    matrix = np.zeros((len(features), max(1, len(columns))))
    for row, item in enumerate(features):
        for key, value in item.items():
            matrix[row, columns[key]] = value
    norms = np.linalg.norm(matrix, axis=1)
    matrix[norms > 0] /= norms[norms > 0, None]
    similarity = scale * (matrix @ matrix.T)
    np.fill_diagonal(similarity, 1.0)
    return similarity


def mmr_order(relevance: np.ndarray, similarity: np.ndarray, lam: float,
              limit: int) -> tuple[list[int], list[float]]:
    n = len(relevance)
    chosen, penalties = [], []
    available = np.ones(n, dtype=bool)
    max_similarity = np.zeros(n)
    for _ in range(min(limit, n)):
        marginal = lam * relevance - (1.0 - lam) * max_similarity
        marginal[~available] = -np.inf
        pick = int(np.argmax(marginal))  # first maximum: ties keep the incoming order
        chosen.append(pick)
        penalties.append(float((1.0 - lam) * max_similarity[pick]))
        available[pick] = False
        np.maximum(max_similarity, similarity[pick], out=max_similarity)
    return chosen, penalties


def dpp_order(relevance: np.ndarray, similarity: np.ndarray, theta: float,
              limit: int) -> tuple[list[int], list[float]]:
    n = len(relevance)
    alpha = theta / (2.0 * (1.0 - theta))
    quality = np.exp(alpha * (relevance - relevance.max()))  # shifted: same order, no overflow
    kernel = quality[:, None] * similarity * quality[None, :]
    steps = min(limit, n)
    cholesky = np.zeros((steps, n))
    gains = np.diag(kernel).copy()  # d_i^2
    chosen, adjustments = [], []
    available = np.ones(n, dtype=bool)
    while len(chosen) < steps:
        candidates = np.where(available, gains, -np.inf)
        pick = int(np.argmax(candidates))
        if gains[pick] < DPP_EPSILON:
            break
        chosen.append(pick)
        adjustments.append(float(np.log(gains[pick])))
        available[pick] = False
        step = len(chosen) - 1
        e = (kernel[pick] - cholesky[:step].T @ cholesky[:step, pick]) / np.sqrt(gains[pick])
        cholesky[step] = e
        gains = gains - e ** 2
    rest = [int(i) for i in np.argsort(-relevance, kind="stable") if available[i]]
    chosen += rest[:steps - len(chosen)]
    adjustments += [0.0] * (len(chosen) - len(adjustments))
    return chosen, adjustments


def soft_cap_order(relevance: np.ndarray, groups: Sequence[str], floor: float, decay: float,
                   limit: int) -> tuple[list[int], list[float]]:
    n = len(relevance)
    group_ids = np.unique(np.asarray(groups, dtype=object), return_inverse=True)[1]
    placed_per_group = np.zeros(group_ids.max() + 1 if n else 0, dtype=int)
    available = np.ones(n, dtype=bool)
    chosen, multipliers = [], []
    for _ in range(min(limit, n)):
        multiplier = (1.0 - floor) * decay ** placed_per_group[group_ids] + floor
        adjusted = np.where(available, relevance * multiplier, -np.inf)
        pick = int(np.argmax(adjusted))
        chosen.append(pick)
        multipliers.append(float(multiplier[pick]))
        available[pick] = False
        placed_per_group[group_ids[pick]] += 1
    return chosen, multipliers


def hard_cap_order(relevance: np.ndarray, groups: Sequence[str], max_per_group: int,
                   top_k: int) -> tuple[list[int], list[float]]:
    order = np.argsort(-relevance, kind="stable")
    kept, overflow, per_group = [], [], {}
    for index in order.tolist():
        group = groups[index]
        if len(kept) < top_k and per_group.get(group, 0) < max_per_group:
            kept.append(index)
            per_group[group] = per_group.get(group, 0) + 1
        else:
            overflow.append(index)
    # The top k may be short when too few groups exist: fill it from the overflow, in order.
    while len(kept) < top_k and overflow:
        kept.append(overflow.pop(0))
    return kept + overflow, [1.0] * len(kept) + [0.0] * len(overflow)
