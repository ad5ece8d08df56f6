"""Properties: the duplicate decisions equal a plain row-by-row model of the rules.

Assembler.decide decides a task's exact duplicates and near duplicates with array operations;
the model below walks the rows one at a time, in id order, with dicts for tables. Corpora are
small and crafted to hit the rules' corners: a key twice or more in one task and across tasks,
keys sharing their first 63 bits (the duplicate table's view of a page), near-duplicate chains
inside one task, rows too short to compare (all-zero signatures), every threshold and mode.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus_export.assemble import Assembler
from corpus_export.errors import Reason
from corpus_export.layout import PART_DIR
from corpus_export.neardup import BANDS, PERMUTATIONS, band_keys, band_rows, similarity_of
from corpus_export.process import Parsed


@dataclass
class Model:
    """The rules, one row at a time: what a reader of the docs would implement."""

    threshold: float
    keep_near: bool
    seen: dict[int, int] = field(default_factory=dict)  # first 63 bits → position (-1: rejected)
    bands: dict[int, int] = field(default_factory=dict)  # band key → the first head that had it
    heads: list[tuple[np.ndarray, int]] = field(default_factory=list)  # (signature, position)
    planned: int = 0
    rejects: list[tuple[str, Reason, str, int]] = field(default_factory=list)
    found: list[tuple[int, str, float]] = field(default_factory=list)  # (head position, id, sim)

    def decide(self, ids: list[str], keys: list[bytes], sigs: np.ndarray) -> bytes | None:
        n = len(keys)
        packed = [int.from_bytes(k[:8], "little") | 1 for k in keys]
        exact = [self.seen.get(p, -1) for p in packed]  # the table as it was before the task
        copy_of: dict[int, int] = {}
        first: dict[bytes, int] = {}
        for i in range(n):
            if exact[i] < 0 and (j := first.setdefault(keys[i], i)) != i:
                copy_of[i] = j
        consider = [exact[i] < 0 and i not in copy_of for i in range(n)]
        bkeys = band_keys(sigs, band_rows(self.threshold)).tolist() if n else []
        local: dict[int, int] = {}  # band key → the first head of this task that had it
        new_heads: list[int] = []
        pos: dict[int, int] = {}
        near: dict[int, tuple[int, float]] = {}  # row → (head position, similarity)
        at = self.planned
        for i in range(n):
            if not consider[i]:
                continue
            if sigs[i].any():
                cands = {self.bands[k] for k in bkeys[i] if k in self.bands}
                cands |= {local[k] for k in bkeys[i] if k in local}
                for h in sorted(cands):
                    sim = similarity_of(self.heads[h][0], sigs[i])
                    if sim >= self.threshold:
                        near[i] = (self.heads[h][1], sim)
                        break
                if i in near and not self.keep_near:
                    continue
                if i not in near:
                    for k in bkeys[i]:
                        local.setdefault(k, len(self.heads))
                    self.heads.append((sigs[i], at))
                    new_heads.append(i)
            pos[i] = at
            at += 1
        keep = [True] * n
        for i in range(n):
            r = copy_of.get(i, i)
            dup_of = exact[i] if exact[i] >= 0 else pos.get(r, -1) if r != i else -1
            if dup_of >= 0:
                keep[i] = False
                self.rejects.append((ids[i], Reason.DUPLICATE, "", dup_of))
                continue
            if r in near:
                self.found.append((near[r][0], ids[i], near[r][1]))
            if r == i and i in pos:
                self.seen[packed[i]] = pos[i]
                continue
            keep[i] = False
            self.rejects.append((ids[i], Reason.NEAR_DUPLICATE, f"{near[r][1]:.2f}", near[r][0]))
            if r == i:
                self.seen[packed[i]] = -1
        for h in new_heads:  # a key goes to its first head, unless an earlier task's has it
            for k in bkeys[h]:
                self.bands.setdefault(k, local[k])
        self.planned += sum(keep)
        return None if all(keep) else np.array(keep, dtype=np.bool_).tobytes()


def signature_pool(seed: int, bases: int) -> list[np.ndarray]:
    """Signatures around a few bases: near-duplicates of each other at every similarity."""
    rng = np.random.default_rng(seed)
    pool = [np.zeros(PERMUTATIONS, np.uint32)]  # a body too short to compare
    for _ in range(bases):
        base = rng.integers(1, 2**32, PERMUTATIONS, dtype=np.uint32)
        for changed in (0, 2, 8, 20, 30, 45, 70):
            sig = base.copy()
            at = rng.choice(PERMUTATIONS, changed, replace=False)
            sig[at] = rng.integers(1, 2**32, changed, dtype=np.uint32)
            pool.append(sig)
    return pool


def key_pool(seed: int, count: int) -> list[bytes]:
    """Page keys, with twins the duplicate table sees as one: the same first 63 bits."""
    rng = np.random.default_rng(seed)
    pool = []
    for _ in range(count):
        key = bytearray(rng.bytes(16))
        pool.append(bytes(key))
        key[0] ^= 1  # the bit the table's "never 0" mark overwrites
        pool.append(bytes(key))
        key[12] ^= 0xFF  # and one sharing all 64 bits
        pool.append(bytes(key))
    return pool


rows = st.tuples(st.integers(0, 29), st.integers(0, 1000))  # (key, signature) choices
corpora = st.lists(st.lists(rows, max_size=40), min_size=1, max_size=6)


@settings(max_examples=200)  # (the conftest's profile otherwise)
@given(
    corpora,
    st.integers(0, 2**32 - 1),
    st.sampled_from([0.3, 0.5, 0.8, 0.95, 1.0]),
    st.booleans(),
    st.sampled_from([1, 10_000]),
)
def test_duplicate_decisions_equal_the_row_by_row_rules(
    corpus: list[list[tuple[int, int]]], seed: int, threshold: float, keep: bool, files: int
) -> None:
    keys, sigs = key_pool(seed, 10), signature_pool(seed, 3)
    # a key keeps its signature (the same page), except when drawn as "another body"
    sig_of = {k: sigs[(k * 7 + seed) % len(sigs)] for k in range(len(keys))}
    model = Model(threshold, keep)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / PART_DIR).mkdir()
        # files: 1 makes both hash tables start at their smallest and grow
        assembler = Assembler(
            Path(tmp), files, 1 << 20, near_dups="keep" if keep else "reject", threshold=threshold
        )
        try:
            n = 0
            for index, task in enumerate(corpus):
                ids = [f"{n + i:06d}" for i in range(len(task))]
                n += len(task)
                task_keys = [keys[k] for k, _ in task]
                task_sigs = np.stack(
                    [sig_of[k] if s % 4 else sigs[s % len(sigs)] for k, s in task]
                    or [np.zeros(PERMUTATIONS, np.uint32)]
                )[: len(task)]
                parsed = Parsed(index, ids, [f"{i}.txt" for i in ids], task_keys, [], task_sigs)
                assert assembler.decide(parsed) == model.decide(ids, task_keys, task_sigs)
            got = [
                (r[0].id, r[0].reason, r[0].detail, r[1])
                for r in assembler.rejects
                if isinstance(r, tuple)  # every reject here is a duplicate's: it has a position
            ]
            assert len(got) == len(assembler.rejects)
            assert got == model.rejects
            assert assembler.planned == model.planned
            assert assembler.near_found == len(model.found)
            assert assembler.near_example == (model.found[0] if model.found else None)
            clusters: dict[int, list[str]] = {}
            for head, page, _ in model.found if keep else ():
                clusters.setdefault(head, []).append(page)
            assert assembler.clusters == clusters
        finally:
            assembler.abort()


def test_the_model_sees_what_the_corpora_are_built_for() -> None:
    """The corpora above reach every rule: without this the property could pass vacuously."""
    keys, sigs = key_pool(1, 3), signature_pool(1, 1)
    model = Model(0.8, False)
    # task 1: A, A' (near), A again (exact), a short body, A's 63-bit twin (other full key)
    s = np.stack([sigs[1], sigs[2], sigs[1], sigs[0], sigs[1]])
    model.decide(["a", "b", "c", "d", "e"], [keys[0], keys[3], keys[0], keys[6], keys[1]], s)
    # in its own task the twin is a page of its own (a near-duplicate here), and the table
    # then remembers their 63 bits as rejected: a later twin is decided again, not taken for A
    model.decide(["f", "g"], [keys[1], keys[2]], np.stack([sigs[5], sigs[5]]))
    assert model.rejects == [
        ("b", Reason.NEAR_DUPLICATE, "0.98", 0),
        ("c", Reason.DUPLICATE, "", 0),
        ("e", Reason.NEAR_DUPLICATE, "1.00", 0),
        ("g", Reason.NEAR_DUPLICATE, "1.00", 2),  # of f: 98 of 128 minima like A's
    ]
    assert model.planned == 3 and len(model.heads) == 2  # a, d (too short: no head), f
    assert len(band_keys(s, band_rows(0.8))[0]) == BANDS
