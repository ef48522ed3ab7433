import numpy as np
import pytest

from udfs.diversity import (dpp_order, hard_cap_order, mmr_order, similarity_matrix,
                            soft_cap_order)

# Three items of group a, two of b, one of c; relevance falls with the index.
FEATURES = [{"category:a": 1.0}, {"category:a": 1.0}, {"category:a": 1.0},
            {"category:b": 1.0}, {"category:b": 1.0, "brand:x": 1.0}, {"category:c": 1.0}]
GROUPS = ["a", "a", "a", "b", "b", "c"]
RELEVANCE = np.array([1.0, 0.9, 0.8, 0.7, 0.6, 0.5])


def test_similarity_is_cosine_of_feature_vectors():
    similarity = similarity_matrix(FEATURES)
    assert similarity[0, 1] == pytest.approx(1.0)
    assert similarity[0, 3] == pytest.approx(0.0)
    assert similarity[3, 4] == pytest.approx(1 / np.sqrt(2))
    assert np.allclose(np.diag(similarity), 1.0)


def test_items_without_features_are_only_like_themselves():
    similarity = similarity_matrix([{}, {}, {"category:a": 1.0}])
    assert similarity.tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]


def test_mmr_with_lambda_one_is_relevance_order():
    order, penalties = mmr_order(RELEVANCE, similarity_matrix(FEATURES), 1.0, 6)
    assert order == [0, 1, 2, 3, 4, 5]
    assert penalties == [0.0] * 6


def test_mmr_spreads_groups_and_reports_the_penalty():
    order, penalties = mmr_order(RELEVANCE, similarity_matrix(FEATURES), 0.5, 4)
    # 0; then a-items pay 0.5 (1: .45 - .5), b: .35 -> 3; then 4 pays .5 * .707, c: .25 -> 5;
    # then 1: -.05 beats 4: .3 - .354 and 2: -.1.
    assert order == [0, 3, 5, 1]
    assert penalties == [0.0, 0.0, 0.0, pytest.approx(0.5)]


def brute_force_greedy_dpp(kernel: np.ndarray, steps: int) -> list[int]:
    chosen: list[int] = []
    for _ in range(steps):
        best, best_value = None, -np.inf
        for i in range(len(kernel)):
            if i in chosen:
                continue
            subset = chosen + [i]
            value = np.linalg.det(kernel[np.ix_(subset, subset)])
            if value > best_value + 1e-12:
                best, best_value = i, value
        chosen.append(best)
    return chosen


def test_dpp_greedy_matches_brute_force_log_det_maximisation():
    rng = np.random.default_rng(3)
    vectors = rng.random((8, 5))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = vectors @ vectors.T
    relevance = rng.random(8)
    theta = 0.6
    alpha = theta / (2 * (1 - theta))
    quality = np.exp(alpha * (relevance - relevance.max()))
    kernel = quality[:, None] * similarity * quality[None, :]
    order, gains = dpp_order(relevance, similarity, theta, 5)
    assert order == brute_force_greedy_dpp(kernel, 5)
    chosen = order[:3]
    assert sum(gains[:3]) == pytest.approx(np.log(np.linalg.det(kernel[np.ix_(chosen, chosen)])))


def test_dpp_appends_duplicates_by_relevance_once_the_kernel_is_exhausted():
    order, gains = dpp_order(RELEVANCE, similarity_matrix(FEATURES), 0.7, 6)
    assert set(order[:3]) == {0, 3, 5}  # one of each group first
    assert order[3] == 4                # partly new (brand x): still a gain
    assert order[4:] == [1, 2]          # exact duplicates follow by relevance
    assert len(order) == 6 and len(gains) == 6


@pytest.mark.parametrize("floor, decay, expected", [
    (1.0, 0.5, [0, 1, 2, 3, 4, 5]),  # floor 1: no penalty
    (0.0, 0.5, [0, 3, 5, 1, 4, 2]),  # a: 1, .45, .2; b: .7, .3; c: .5
])
def test_soft_cap_multiplies_the_nth_of_a_group(floor, decay, expected):
    order, multipliers = soft_cap_order(RELEVANCE, GROUPS, floor, decay, 6)
    assert order == expected
    assert multipliers[0] == 1.0


def test_hard_cap_keeps_at_most_m_per_group_in_the_top_k():
    order, kept = hard_cap_order(RELEVANCE, GROUPS, max_per_group=1, top_k=3)
    assert order[:3] == [0, 3, 5]
    assert order[3:] == [1, 2, 4]
    assert kept == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]


def test_hard_cap_fills_the_top_k_when_too_few_groups_exist():
    order, _ = hard_cap_order(RELEVANCE[:3], GROUPS[:3], max_per_group=1, top_k=2)
    assert order == [0, 1, 2]
