import math

import pytest

from udfs.interest import add_behaviour, decay_factor, decayed_counts, interest_weights

DAY_MS = 86_400_000


@pytest.mark.parametrize("elapsed_ms, expected", [
    (0, 1.0), (DAY_MS, 0.5), (2 * DAY_MS, 0.25), (DAY_MS // 2, math.sqrt(0.5)),
    (-DAY_MS, 1.0),  # a record from the past never makes interest grow
])
def test_decay_halves_every_half_life(elapsed_ms, expected):
    assert decay_factor(elapsed_ms, DAY_MS) == pytest.approx(expected)


def test_first_behaviour_starts_the_entry_at_its_own_time():
    assert add_behaviour(None, 3.0, 1_000, DAY_MS) == (3.0, 1_000)


def test_later_behaviour_decays_the_old_count_then_adds():
    entry = add_behaviour((4.0, 0), 1.0, DAY_MS, DAY_MS)
    assert entry == (pytest.approx(3.0), DAY_MS)


def test_late_behaviour_is_decayed_to_the_entry_time_and_keeps_its_clock():
    entry = add_behaviour((4.0, DAY_MS), 2.0, 0, DAY_MS)
    assert entry == (pytest.approx(5.0), DAY_MS)


def test_replay_in_the_same_order_gives_the_same_entry():
    events = [(1.0, 0), (3.0, 5_000), (1.0, 4_000), (4.0, 90_000_000)]

    def fold():
        entry = None
        for weight, ts in events:
            entry = add_behaviour(entry, weight, ts, DAY_MS)
        return entry

    assert fold() == fold()


def test_counts_are_decayed_to_the_moment_asked_for():
    counts = decayed_counts([("category:a", (8.0, 0)), ("category:b", (2.0, DAY_MS))],
                            at_ts_ms=2 * DAY_MS, half_life_ms=lambda key: DAY_MS)
    assert counts == {"category:a": pytest.approx(2.0), "category:b": pytest.approx(1.0)}


def test_weights_are_counts_over_their_sum():
    weights = interest_weights({"a": 10.0, "b": 5.0, "c": 20.0})
    assert weights == {"a": pytest.approx(10 / 35), "b": pytest.approx(5 / 35),
                       "c": pytest.approx(20 / 35)}
    assert sum(weights.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("counts", [{}, {"a": 0.0}])
def test_no_interest_gives_no_weights(counts):
    assert interest_weights(counts) == {}
