"""A cached answer kept as the row loop's dict (value -> label) serves exactly what
the same options as a list of tuples serve: pages, search hits, the option of a
stored value, labels, size, and a round trip through the shared backend; and a first
load keeps the dict without building a tuple per option."""

from __future__ import annotations

import pickle

from hypothesis import given
from hypothesis import strategies as st

from connect_plugin.caching.answer import CachedAnswer
from connect_plugin.connected_items.mapping import OptionCollector, compile_mapping
from connect_plugin.connected_items.options import select_page

texts = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=6)


def both(by_value: dict[str, str]) -> tuple[CachedAnswer, CachedAnswer]:
    return CachedAnswer(dict(by_value), 1.0), CachedAnswer(list(by_value.items()), 1.0)


@given(st.dictionaries(texts, texts, max_size=40), st.integers(0, 45), st.integers(1, 10), texts)
def test_a_dict_answer_serves_what_the_list_serves(by_value, offset, limit, needle):
    kept, listed = both(by_value)
    assert len(kept) == len(listed) == len(by_value)
    for q in (None, needle, needle[:1]):
        assert select_page(kept, query_text=q, filter_by_label=True, limit=limit, offset=offset, cached=True) \
            == select_page(listed, query_text=q, filter_by_label=True, limit=limit, offset=offset, cached=True)
    for value in [*by_value, needle]:
        assert kept.offered(value) == listed.offered(value)
    assert kept.options == listed.options
    assert kept.sample(4) == listed.sample(4)


def test_the_shared_backend_gives_back_the_same_kind_of_answer():
    kept = pickle.loads(pickle.dumps(CachedAnswer({"1": "One", "2": "Two"}, 5.0, truncated=True)))
    assert kept.page(0, 10) == [("1", "One"), ("2", "Two")] and kept.truncated is True and kept.fetched_at == 5.0
    assert kept._options is None  # still the dict: its pages build no list of every option
    details = pickle.loads(pickle.dumps(CachedAnswer([("1", "One", {"Room": "R1"})], 5.0)))
    assert details.options == [("1", "One", {"Room": "R1"})] and details.offered("1") == ("1", "One", {"Room": "R1"})


def test_a_first_load_keeps_the_row_loops_dict_and_serves_its_first_page_from_it():
    mapping = compile_mapping("$.items[*]", "${row.id}", "${row.name}")
    collector = OptionCollector(mapping, "Assets")
    collector.add([{"id": f"A-{i}", "name": f"Asset {i}"} for i in range(500)])
    answer = CachedAnswer(collector.kept_options(), 1.0)
    page = select_page(answer, query_text=None, filter_by_label=True, limit=3, offset=0, cached=False)
    assert page.options == [("A-0", "Asset 0"), ("A-1", "Asset 1"), ("A-2", "Asset 2")] and page.total == 500
    assert answer.offered("A-7") == ("A-7", "Asset 7")
    assert answer._options is None


def test_an_item_with_details_keeps_its_list():
    mapping = compile_mapping("$.items[*]", "${row.id}", "${row.name}", (("Room", "${row.room}"),))
    collector = OptionCollector(mapping, "Assets")
    collector.add([{"id": "A", "name": "a", "room": "R1"}])
    assert collector.kept_options() == [("A", "a", {"Room": "R1"})]
