"""Search (``q``) on a cached answer (issue 17): the labels' index gives exactly the
options and total a label-by-label test gives, for narrow and broad searches, labels
with the separator or any case, and pages of it."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from connect_plugin.caching.answer import CachedAnswer, LabelIndex
from connect_plugin.connected_items.options import select_page


def naive(labels: list[str], needle: str) -> list[int]:
    return [index for index, label in enumerate(labels) if needle.casefold() in label.casefold()]


def answer(labels: list[str]) -> CachedAnswer:
    return CachedAnswer([(f"v{index}", label) for index, label in enumerate(labels)], time.time())


LABELS = [f"{word} {i} of team {i % 97}" for i, word in enumerate(["Laptop", "Phone", "Monitor", "Dock"] * 500)]


def test_narrow_and_broad_searches_find_what_a_label_by_label_test_finds():
    built = answer(LABELS)
    for needle in ("team 42", "PHONE 77", "of team", "o", "zzz", "4 of", "m 9\x00"):
        expected = naive(LABELS, needle)
        for offset, limit in ((0, 50), (10, 5), (len(expected), 50)):
            page = select_page(built, query_text=needle, filter_by_label=True, limit=limit, offset=offset,
                               cached=True)
            assert page.total == len(expected), needle
            assert [option[1] for option in page.options] == [LABELS[i] for i in expected[offset:offset + limit]]


def test_a_label_with_the_separator_is_still_found():
    labels = ["a\x00b", "ab", "b"]
    assert LabelIndex(labels).matching("a\x00b", 10) == (1, [0])
    assert LabelIndex(labels).matching("b", 10) == (3, [0, 1, 2])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="aAbß\x00 İ", max_size=6), max_size=40), st.text(alphabet="aAbß\x00 İ", min_size=1, max_size=3),
       st.integers(1, 5))
def test_the_index_agrees_with_a_label_by_label_test(labels, needle, first):
    total, indexes = LabelIndex(labels).matching(needle.casefold(), first)
    expected = naive(labels, needle)
    assert (total, indexes) == (len(expected), expected[:first])
