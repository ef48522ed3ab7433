import pytest

from conf.settings import DiversitySettings, InterestSettings, RerankOnEventSettings, ScoringSettings
from tests.unit.factories import make_candidate, make_event, make_request
from udfs.scoring import Ranker
from udfs.user_model import DictUserState, UserModel

HOUR_MS = 3_600_000
REQUEST = make_request(make_candidate("book", 0.9, category__books=1.0),
                       make_candidate("shoe", 0.7, category__shoes=1.0),
                       make_candidate("toy", 0.5, category__toys=1.0), ts_ms=10 * HOUR_MS)


def model(interest=None, scoring=None, diversity=None, on_event=None) -> UserModel:
    return UserModel(interest or InterestSettings(dimensions=("category",)),
                     Ranker(scoring or ScoringSettings(), diversity or DiversitySettings()),
                     on_event or RerankOnEventSettings())


def ids(reranked):
    return [item.item_id for item in reranked.items]


def test_cold_start_keeps_the_upstream_order_and_says_why():
    reranked, profile = model().on_request(DictUserState(), REQUEST)
    assert ids(reranked) == ["book", "shoe", "toy"]
    assert reranked.cold_start and not profile.weights
    assert all("cold start" in item.note for item in reranked.items)


def test_events_build_interest_that_reorders():
    m, state = model(), DictUserState()
    m.on_event(state, make_event(item="s9", type="cart", ts_ms=HOUR_MS, keys=["category:shoes"]))
    reranked, profile = m.on_request(state, REQUEST)
    assert ids(reranked) == ["shoe", "book", "toy"]
    assert profile.weights == {"category:shoes": 1.0}


def test_per_dimension_half_life_and_weights():
    interest = InterestSettings(dimensions=("category", "brand"), half_life_ms=HOUR_MS,
                                half_life_ms_by_dimension={"brand": 2 * HOUR_MS},
                                behaviour_weights_by_dimension={"brand": {"view": 3.0}})
    m, state = model(interest=interest), DictUserState()
    m.on_event(state, make_event(type="view", ts_ms=0, keys=["category:a", "brand:x"]))
    profile = m.profile(state, at_ts_ms=2 * HOUR_MS)
    # category: 1 * 1/4; brand: 3 * 1/2 -> weights .25/1.75 and 1.5/1.75
    assert profile.weights == {"category:a": pytest.approx(0.25 / 1.75),
                               "brand:x": pytest.approx(1.5 / 1.75)}


def test_dimensions_are_capped_dropping_the_weakest():
    m, state = model(interest=InterestSettings(dimensions=("category",), max_dimensions=2)), DictUserState()
    m.on_event(state, make_event(type="purchase", ts_ms=0, keys=["category:strong"]))
    m.on_event(state, make_event(type="view", ts_ms=1, keys=["category:weak"]))
    m.on_event(state, make_event(type="cart", ts_ms=2, keys=["category:new"]))
    assert sorted(key for key, _ in state.interest.items()) == ["category:new", "category:strong"]
    assert state.read("dimension_count") == 2


def test_recent_items_are_bounded_and_boost_those_items():
    interest = InterestSettings(dimensions=("category",), recent_items=2)
    m, state = model(interest=interest, scoring=ScoringSettings(recency_weight=1.0)), DictUserState()
    for ts, item in enumerate(["old", "toy", "book"]):
        m.on_event(state, make_event(item=item, ts_ms=ts, keys=[]))
    assert [item for item, _, _ in state.read("recent_items")] == ["toy", "book"]
    reranked, _ = m.on_request(state, REQUEST)
    assert ids(reranked)[0] == "book"
    assert "acted on lately" in reranked.items[0].note


def test_items_bought_lately_are_demoted_for_the_window_only():
    scoring = ScoringSettings(purchased_demotion_ms=HOUR_MS, purchased_demotion_factor=0.1)
    m, state = model(scoring=scoring), DictUserState()
    m.on_event(state, make_event(item="book", type="purchase", ts_ms=9 * HOUR_MS + 1,
                                 keys=["category:books"]))
    reranked, _ = m.on_request(state, REQUEST)
    assert ids(reranked) == ["shoe", "book", "toy"]  # book: (0.5 + 0.5) * 0.1
    assert reranked.items[1].score == pytest.approx(0.1)
    assert "bought within 1 h" in reranked.items[1].note
    later, _ = m.on_request(state, REQUEST._replace(ts_ms=20 * HOUR_MS))
    assert ids(later)[0] == "book"


def test_unknown_items_keep_their_upstream_position_and_say_so():
    m, state = model(), DictUserState()
    m.on_event(state, make_event(ts_ms=0, keys=["category:toys"]))
    request = make_request(make_candidate("book", 0.9, category__books=1.0),
                           make_candidate("mystery", 0.8),
                           make_candidate("toy", 0.6, category__toys=1.0),
                           make_candidate("hat", 0.5, category__hats=1.0))
    reranked, _ = m.on_request(state, request)
    # known items: toy .125 + .5, book .5, hat 0; the unknown one stays second
    assert ids(reranked) == ["toy", "mystery", "book", "hat"]
    mystery = reranked.items[1]
    assert (mystery.rank, mystery.upstream_rank) == (2, 2)
    assert "unknown item" in mystery.note


def test_rerank_on_event_uses_the_last_list_and_is_rate_limited_in_event_time():
    on_event = RerankOnEventSettings(enabled=True, min_interval_ms=1_000)
    m, state = model(on_event=on_event), DictUserState()
    assert m.on_event(state, make_event(ts_ms=0, keys=["category:shoes"])) is None  # no list yet
    m.on_request(state, REQUEST)
    first, profile = m.on_event(state, make_event(ts_ms=10 * HOUR_MS, keys=["category:shoes"]))
    assert profile.weights == {"category:shoes": 1.0}
    assert first.trigger == "event" and first.ts_ms == 10 * HOUR_MS
    assert ids(first)[0] == "shoe"
    assert m.on_event(state, make_event(ts_ms=10 * HOUR_MS + 999, keys=["category:shoes"])) is None
    assert m.on_event(state, make_event(ts_ms=10 * HOUR_MS + 1_000, keys=["category:shoes"])) is not None


def test_diversity_adjustment_is_explained():
    diversity = DiversitySettings(method="mmr", mmr_lambda=0.5)
    m, state = model(diversity=diversity), DictUserState()
    m.on_event(state, make_event(ts_ms=0, keys=["category:books"]))
    request = make_request(make_candidate("b1", 0.9, category__books=1.0),
                           make_candidate("b2", 0.8, category__books=1.0),
                           make_candidate("toy", 0.1, category__toys=1.0), ts_ms=1)
    reranked, _ = m.on_request(state, request)
    assert ids(reranked) == ["b1", "toy", "b2"]
    assert "MMR penalty 0.500, #2 before diversity" in reranked.items[2].note
