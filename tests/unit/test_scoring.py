import pytest

from tests.unit.factories import make_candidate, make_request
from udfs.interest import interest_weights
from udfs.scoring import interest_score, min_max_normalise, rerank

H_G1 = {"k1": 1.0, "k2": 0.5, "k3": 0.3}
H_G2 = {"k1": 0.2, "k2": 0.3, "k3": 0.5}


class TestDesignDocumentWorkedExample:
    """The design document's example: f = (10, 5, 20), h(g1) = (1, .5, .3), h(g2) = (.2, .3, .5).

    The document's own numbers do not agree with each other: f = (10, 5, 20) normalises to
    (0.286, 0.143, 0.571), not (0.3, 0.2, 0.5); w = (0.3, 0.2, 0.5) gives R = 0.55 and 0.37;
    and R = 0.57 and 0.35 come from w = (0.3, 0.3, 0.4). Each step is checked here exactly as the
    formulas define it, and its conclusion - g1 ranks above g2 - holds in every reading.
    """

    def test_weights_from_counts(self):
        weights = interest_weights({"k1": 10.0, "k2": 5.0, "k3": 20.0})
        assert [weights[k] for k in ("k1", "k2", "k3")] == pytest.approx([2 / 7, 1 / 7, 4 / 7])

    @pytest.mark.parametrize("weights, r_g1, r_g2", [
        ({"k1": 10 / 35, "k2": 5 / 35, "k3": 20 / 35}, 18.5 / 35, 13.5 / 35),  # w from f
        ({"k1": 0.3, "k2": 0.2, "k3": 0.5}, 0.55, 0.37),                       # the stated w
        ({"k1": 0.3, "k2": 0.3, "k3": 0.4}, 0.57, 0.35),                       # the stated R
    ])
    def test_interest_score_and_order(self, weights, r_g1, r_g2):
        assert interest_score(weights, H_G1) == pytest.approx(r_g1)
        assert interest_score(weights, H_G2) == pytest.approx(r_g2)
        ranked = rerank(make_request(make_candidate("g2", 1.0, **H_G2),
                                     make_candidate("g1", 1.0, **H_G1)), weights, interest_weight=1.0)
        assert [item.item_id for item in ranked.items] == ["g1", "g2"]


def test_min_max_normalise_spans_zero_to_one_and_flat_lists_are_all_one():
    assert min_max_normalise([2.0, 4.0, 3.0]).tolist() == [0.0, 1.0, 0.5]
    assert min_max_normalise([7.0, 7.0]).tolist() == [1.0, 1.0]


def test_cold_start_keeps_the_upstream_order_and_says_so():
    request = make_request(make_candidate("a", 0.2, category__x=1.0), make_candidate("b", 0.9),
                           make_candidate("c", 0.5))
    ranked = rerank(request, weights={}, interest_weight=0.5)
    assert [i.item_id for i in ranked.items] == ["b", "c", "a"]
    assert ranked.cold_start is True
    assert [i.upstream_rank for i in ranked.items] == [1, 2, 3]


def test_interest_lifts_a_matching_item_and_explains_why():
    request = make_request(make_candidate("a", 0.9, category__books=1.0),
                           make_candidate("b", 0.5, category__hats=1.0),
                           make_candidate("c", 0.4, category__shoes=1.0))
    ranked = rerank(request, {"category:hats": 0.8, "category:shoes": 0.2}, interest_weight=0.5)
    assert [i.item_id for i in ranked.items] == ["b", "a", "c"]
    top = ranked.items[0]
    assert (top.rank, top.upstream_rank) == (1, 2)
    assert top.because == (("category:hats", pytest.approx(0.8)),)
    assert top.score == pytest.approx(0.5 * 0.2 + 0.5 * 1.0)


@pytest.mark.parametrize("interest_weight, expected", [
    (0.0, ["a", "b", "c"]),   # upstream only
    (1.0, ["c", "b", "a"]),   # interest only
])
def test_interest_weight_moves_between_upstream_and_interest(interest_weight, expected):
    request = make_request(make_candidate("a", 3.0, k__a=1.0), make_candidate("b", 2.0, k__b=1.0),
                           make_candidate("c", 1.0, k__c=1.0))
    ranked = rerank(request, {"k:a": 0.1, "k:b": 0.3, "k:c": 0.6}, interest_weight)
    assert [i.item_id for i in ranked.items] == expected


def test_ties_keep_the_upstream_order():
    request = make_request(make_candidate("a", 1.0), make_candidate("b", 1.0), make_candidate("c", 1.0))
    ranked = rerank(request, {"category:z": 1.0}, interest_weight=0.5)
    assert [i.item_id for i in ranked.items] == ["a", "b", "c"]


def test_top_k_and_repeated_candidates():
    request = make_request(make_candidate("a", 3.0), make_candidate("b", 2.0),
                           make_candidate("a", 9.0), make_candidate("c", 1.0), k=2)
    ranked = rerank(request, {}, interest_weight=0.5)
    assert [i.item_id for i in ranked.items] == ["a", "b"]
    assert ranked.items[0].upstream_score == 3.0  # the first occurrence is kept


def test_k_larger_than_the_list_returns_every_candidate():
    ranked = rerank(make_request(make_candidate("a"), k=50), {}, interest_weight=0.5)
    assert len(ranked.items) == 1
