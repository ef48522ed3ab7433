"""A user's interest: behaviour-weighted, exponentially decayed counts per interest dimension.

Each dimension ("category:12", "brand:acme") keeps one entry `(count, as_of_ts_ms)`: the decayed
count as it stood at `as_of_ts_ms`. An event touches only the entries of its own dimensions, so a
state update costs one read and one write per dimension whatever the profile's size; reading the
profile decays every entry to the moment asked for. Time always comes from the records (event
time), never from a clock, so a replay of the same log gives the same numbers.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

InterestEntry = tuple[float, int]  # (decayed count, as of epoch ms)


def decay_factor(elapsed_ms: float, half_life_ms: float) -> float:
    """2^(-elapsed / half_life); no growth for negative elapsed time (out-of-order records)."""
    if elapsed_ms <= 0:
        return 1.0
    return 0.5 ** (elapsed_ms / half_life_ms)


def add_behaviour(entry: InterestEntry | None, weight: float, ts_ms: int,
                  half_life_ms: float) -> InterestEntry:
    """The entry after one behaviour of `weight` at `ts_ms`.

    An event older than the entry (late data) is decayed to the entry's time and added there,
    so the entry's clock never runs backwards.
    """
    if entry is None:
        return weight, ts_ms
    count, as_of_ms = entry
    if ts_ms >= as_of_ms:
        return count * decay_factor(ts_ms - as_of_ms, half_life_ms) + weight, ts_ms
    return count + weight * decay_factor(as_of_ms - ts_ms, half_life_ms), as_of_ms


def decayed_counts(entries: Iterable[tuple[str, InterestEntry]], at_ts_ms: int,
                   half_life_ms: Callable[[str], float]) -> dict[str, float]:
    """f(u, k) for every dimension k, decayed to `at_ts_ms` with the half-life of k."""
    return {key: count * decay_factor(at_ts_ms - as_of_ms, half_life_ms(key))
            for key, (count, as_of_ms) in entries}


def interest_weights(counts: Mapping[str, float]) -> dict[str, float]:
    """w_uk = f(u,k) / sum_j f(u,j); empty when the user has no positive interest."""
    total = sum(counts.values())
    if total <= 0:
        return {}
    return {key: count / total for key, count in counts.items()}
