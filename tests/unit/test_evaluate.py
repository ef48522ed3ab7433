import json

import numpy as np
import pytest

from jobs import evaluate as ev
from jobs.sample_data import BehaviourLog, generate_rows, write_userbehavior_csv
from state_schemas.records import BehaviourEvent


def make_log(rows) -> BehaviourLog:
    users, items, categories, behaviours, ts = zip(*rows)
    return BehaviourLog(np.array(users), np.array(items), np.array(categories),
                        np.array(behaviours), np.array(ts))


# user 1: items 10, 11, 12, 13, 13, 14 -> requests at its 3rd event (target 13) and 5th
# (target 14); not at the 4th (next is the same item) nor the 6th (no next event).
ROWS = ([(1, 10, 100, "pv", 1), (1, 11, 100, "pv", 2), (1, 12, 101, "cart", 3),
         (1, 13, 102, "pv", 4), (1, 13, 102, "buy", 5), (1, 14, 101, "pv", 6)]
        + [(2, 20 + i, 103, "pv", 10 + i) for i in range(8)])


def test_protocol_requests_follow_the_rules():
    records = list(ev.protocol_records(make_log(ROWS), candidates=5, seed=0))
    requests = [r for r in records if isinstance(r, ev.EvaluationRequest)]
    user_1 = [r for r in requests if r.request.user_id == "1"]
    assert [(r.request.request_id, r.target_item) for r in user_1] == [("1-3", "13"), ("1-5", "14")]
    category_of = {str(item): f"category:{category}" for _, item, category, _, _ in ROWS}
    for r in requests:
        ids = [c.item_id for c in r.request.candidates]
        assert r.target_item in ids and len(set(ids)) == len(ids) == 5
        assert all(c.features == {category_of[c.item_id]: 1.0} for c in r.request.candidates)
    # each request comes right after the event at its timestamp: state holds events 0..i
    position = records.index(user_1[0])
    assert isinstance(records[position - 1], BehaviourEvent)
    assert records[position - 1].ts_ms == user_1[0].request.ts_ms == 3_000


def test_protocol_is_seeded():
    first = [r.request for r in ev.protocol_records(make_log(ROWS), candidates=5, seed=0)
             if isinstance(r, ev.EvaluationRequest)]
    again = [r.request for r in ev.protocol_records(make_log(ROWS), candidates=5, seed=0)
             if isinstance(r, ev.EvaluationRequest)]
    other = [r.request for r in ev.protocol_records(make_log(ROWS), candidates=5, seed=1)
             if isinstance(r, ev.EvaluationRequest)]
    assert first == again != other


@pytest.mark.parametrize("rank, hit, ndcg, rr", [
    (1, 1, 1.0, 1.0), (3, 1, 0.5, 1 / 3), (10, 1, 1 / np.log2(11), 0.1), (11, 0, 0.0, 1 / 11)])
def test_metrics_of_one_request(rank, hit, ndcg, rr):
    items = [f"i{n}" for n in range(1, 21)]
    categories = {item: "same" for item in items}
    metrics = ev.Metrics()
    metrics.add(items, f"i{rank}", categories)
    summary = metrics.summary(categories_total=2)
    assert summary["HR@10"] == hit
    assert (summary["NDCG@10"], summary["MRR"]) == (pytest.approx(ndcg), pytest.approx(rr))
    assert summary["ILD@10"] == 0.0 and summary["coverage"] == 0.5


def test_intra_list_diversity_is_the_share_of_pairs_in_different_categories():
    items = [f"i{n}" for n in range(10)]
    categories = {item: ("a" if n < 5 else "b") for n, item in enumerate(items)}
    metrics = ev.Metrics()
    metrics.add(items, "i0", categories)
    assert metrics.summary(2)["ILD@10"] == pytest.approx(25 / 45)


def test_command_line_prints_a_json_report(tmp_path, capsys):
    path = tmp_path / "log.csv"
    write_userbehavior_csv(generate_rows(users=5, items=300, days=1, seed=1), path)
    assert ev.main(["--events", str(path), "--conf", "conf/test.yaml", "--json",
                    "--candidates", "20", "--progress", "off"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["systems"]) == {"upstream", "seed_formula", "reranker"}
    assert report["requests"] > 0 and report["candidates"] == 20


def test_command_line_names_a_bad_file(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("1,2,3,teleport,5\n")
    assert ev.main(["--events", str(path), "--progress", "off"]) == 2
    assert "unknown behavior value(s) teleport" in capsys.readouterr().err
