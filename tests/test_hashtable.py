"""The duplicate and near-duplicate tables: batches looked up and set must act as one key at a
time would, through growth, clashing keys, probe runs past the last slot, repeated keys."""

from __future__ import annotations

import numpy as np
import pytest

from corpus_export.hashtable import HashTable


def check_against_dict(table: HashTable, batches: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Set each batch at the slots get gave for it, checking get against a dict first."""
    model: dict[int, int] = {}
    for keys, values in batches:
        there, got, slots = table.get(keys)
        for k, t, v in zip(keys.tolist(), there.tolist(), got.tolist(), strict=True):
            assert t == (k in model) and (not t or v == model[k])
        table.set(keys, values, slots)
        for k, v in zip(keys.tolist(), values.tolist(), strict=True):
            model[k] = v  # one after the other: the last value of a key stands
    keys = np.array(sorted(model), dtype=table.keys.dtype)
    there, got, _ = table.get(keys)
    assert there.all() and got.tolist() == [model[k] for k in keys.tolist()]
    assert table.count == len(model) and table.count * 4 <= table.size * 3
    assert table.size % 2 == 1  # odd, grown or not: an odd key may start at any slot
    assert np.count_nonzero(table.keys) == len(model)


@pytest.mark.parametrize(("key", "value"), [(np.uint64, np.int64), (np.uint32, np.uint32)])
def test_batches_act_as_one_key_at_a_time_through_growth(key: type, value: type) -> None:
    rng = np.random.default_rng(0)
    table = HashTable(10, key, value)  # sized for 10: it grows several times
    size = table.size
    fresh = rng.integers(1, 2**31, 6000).astype(key) | key(1)
    # keys of one home slot and of neighbouring ones: long runs, several keys per empty slot
    clash = np.array([s + k * size for k in range(1, 60) for s in (5, 6, 9)], dtype=key) | key(1)
    pool = np.concatenate([fresh, clash])
    batches = []
    for b in range(30):
        new = pool[b * 200 : (b + 1) * 200]
        old = pool[: b * 200 : 7]  # keys set before: their values change
        keys = np.concatenate([new, old, new[:3]])  # and keys given twice in one batch
        values = rng.integers(0, 2**31, len(keys)).astype(value)
        batches.append((keys, values))
    check_against_dict(table, batches)


def test_probe_runs_wrap_past_the_last_slot_to_the_first() -> None:
    table = HashTable(3000, np.uint64, np.int64)
    size = table.size
    # every key's home is one of the last two slots
    keys = np.array([k * size - s for k in range(2, 80) for s in (1, 2)], dtype=np.uint64)
    keys = keys[:48]
    assert {int(k) % size for k in keys} <= {size - 2, size - 1}
    check_against_dict(table, [(keys[:30], np.arange(30)), (keys, np.arange(48) + 100)])
    assert (table.keys[:40] != 0).all()  # the runs went on at slot 0


def test_a_batch_in_increasing_order_with_a_repeat_is_not_taken_as_distinct() -> None:
    table = HashTable(10, np.uint32, np.uint32)
    keys = np.array([3, 5, 5, 7], dtype=np.uint32)  # sorted, but not strictly
    table.set(keys, np.array([1, 2, 3, 4], dtype=np.uint32))
    there, got, _ = table.get(np.array([3, 5, 7], dtype=np.uint32))
    assert there.all() and got.tolist() == [1, 3, 4] and table.count == 3
