"""Factories for the record types, with defaults that tests override by name."""

from state_schemas.records import BehaviourEvent, Candidate, RerankRequest


def make_event(user="u1", item="i1", type="view", ts_ms=0, keys=("category:c1",)) -> BehaviourEvent:
    return BehaviourEvent(user_id=user, item_id=item, type=type, ts_ms=ts_ms, interest_keys=tuple(keys))


def make_candidate(item="i1", score=1.0, **features: float) -> Candidate:
    return Candidate(item_id=item, upstream_score=score,
                     features={key.replace("__", ":"): value for key, value in features.items()})


def make_request(*candidates: Candidate, user="u1", request_id="r1", ts_ms=0, k=10) -> RerankRequest:
    return RerankRequest(request_id=request_id, user_id=user, ts_ms=ts_ms, k=k,
                         candidates=tuple(candidates))
