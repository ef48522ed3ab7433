import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.unit.factories import make_candidate, make_request
from udfs.catalogue import load_catalogue, with_resolved_features


@pytest.fixture
def catalogue(tmp_path):
    path = tmp_path / "items.parquet"
    pq.write_table(pa.table({"item_id": ["a", "b", "c"], "category": ["cat-a", "cat-b", None],
                             "brand": ["x", None, None], "price": [1.0, 2.0, 3.0]}), path)
    return load_catalogue(path, ["category", "brand"])


def test_catalogue_rows_become_features_of_the_configured_dimensions(catalogue):
    assert catalogue == {"a": {"category:cat-a": 1.0, "brand:x": 1.0},
                         "b": {"category:cat-b": 1.0}, "c": {}}


def test_catalogue_without_item_id_is_refused(tmp_path):
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"id": ["a"]}), path)
    with pytest.raises(ValueError, match="no item_id column"):
        load_catalogue(path, ["category"])


def test_precedence_is_request_then_item_update_then_catalogue(catalogue):
    updates = {"b": {"category:updated": 1.0}}
    request = make_request(make_candidate("a", 1.0, category__own=1.0),  # own fields win
                           make_candidate("b", 1.0),                      # update over catalogue
                           make_candidate("a2", 1.0),                     # found nowhere
                           make_candidate("c", 1.0))                      # catalogue row, no values
    resolved = with_resolved_features(request, updates.get, catalogue)
    assert [c.features for c in resolved.candidates] == [
        {"category:own": 1.0}, {"category:updated": 1.0}, {}, {}]
    fallback = with_resolved_features(make_request(make_candidate("b", 1.0)), {}.get, catalogue)
    assert fallback.candidates[0].features == {"category:cat-b": 1.0}
