"""Near-duplicate bodies: MinHash signatures (workers) and a greedy, id-ordered decision (parent).

A page is a near-duplicate when the estimated Jaccard similarity of its body's shingles with the
body of an earlier *kept* page (a cluster's head) reaches the threshold; the earliest such head
is its cluster's head. Only the body counts: the header differs between reposts of one article,
and teasers are excerpts of other articles that recur across unrelated pages.

Choices, for Chinese text:

- Shingles of 5 characters (SHINGLE). Chinese has no spaces, so words are not at hand; single
  characters or pairs recur in any two texts on one subject (了解, 党员, 工作), while a run of 5
  characters is rare outside a shared sentence: two unrelated articles of ~2,000 characters
  share almost none, an edit of one character changes at most 5 of ~2,000 shingles. Every
  character counts (punctuation, digits and latin letters too); line breaks between paragraphs
  are part of the text.
- Bodies shorter than MIN_CHARS = 50 characters are not compared (they neither are nor have
  near-duplicates; an exact copy is still a duplicate): with under 46 shingles, one edited
  character moves the similarity by ~0.1, and short bodies are where unrelated pages say the
  same thing (a notice, "正文见附件").
- 128 permutations (PERMUTATIONS): the estimate's standard deviation is sqrt(J(1-J)/128), 0.035
  at J = 0.8. A signature is 128 unsigned 32-bit minima: 512 bytes a page.
- Default threshold 0.8 (DEFAULT_THRESHOLD): reposts with an edited sentence, a changed
  paragraph or a cut tail of ~10% stay above it; two articles on one subject, or of one
  template, share well below half of their 5-shingles.
- LSH with BANDS = 10 bands of r rows: r is the largest (at most 12) for which a pair at the
  threshold becomes a candidate with odds of at least 99% (1 - (1 - t^r)^b). For 0.8 that is
  r = 4: a pair at 0.8 is a candidate with odds 0.995, at 0.9 0.99996, at 0.5 0.48, at 0.3
  0.08, at 0.1 0.001. Every candidate is confirmed on the full signatures (the fraction of the
  128 minima they share), so a false candidate costs a comparison, never a wrong reject.

The MinHash itself is rensa's (Rust): over the same 5-shingle hashes it took ~11 µs a page
against ~740 µs for datasketch 2.0's update_batch (on 2,000 bodies of ~1,900 characters), and
a shingle's hash is FNV-1a over its 5 code points in 32 bits, computed with NumPy for a block
of bodies at once, and each block signed as soon as it is hashed: ~18 µs a page in all (~8 of
them rensa's; ~20 when a batch's hashes were gathered first, ~29 when the NumPy passes ran over
a whole batch of 256 bodies at once; 3,000 pages of the benchmark corpus).

The parent's memory: each band of a head is keyed by 32 bits in one open-addressing table
(uint32 key + uint32 head number: 8 bytes a slot, sized once from the number of files at 3/4
full: ~107 bytes a page for 10 bands) plus the head's position (8 bytes): ~115 bytes a page,
~110 MiB at 1M pages. The signatures of the heads are spilled to a file in the stage (512 bytes
a head, never held) and read back (pread) only for a candidate. A band key keeps the earliest
head that has it (later heads with the same band key are found through their other bands): a
page has at most BANDS candidates, however many pages look alike, so the work per page is
bounded (~4 µs a page in the parent, measured over 1M random signatures: a task's rows
without a candidate become heads together, with array operations).

The decision is made in the parent in id order (pages earlier in id order first; within a task
row by row), so it does not depend on the number of workers, on the engine or on the cache.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

import numpy as np

from .hashtable import HashTable

SHINGLE = 5
MIN_CHARS = 50
PERMUTATIONS = 128
BANDS = 10
MAX_ROWS = 12
SEED = 20240607
#: code points hashed at once (signatures): the NumPy passes over a block stay in the CPU's cache
HASH_BLOCK = 1 << 15
DEFAULT_THRESHOLD = 0.8
#: what --near-dups accepts: reject the near-duplicates (the default) or keep them all
MODES = ("reject", "keep")

_FNV = np.uint32(0x01000193)
_MIX32 = np.uint32(0x85EBCA6B)
_MULT = np.uint64(0x100000001B3)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def reject_detail(kept: str, similarity: str) -> str:
    """The detail of a near_duplicate reject: the kept id and the estimated similarity."""
    return f"near-duplicate of {kept!r} (similarity {similarity})"


def kept_of(detail: str) -> tuple[str, str]:
    """The id and similarity a near_duplicate reject's detail names (see reject_detail); two
    empty strings when the detail is not one."""
    m = re.match(r"near-duplicate of ('.*'|\".*\") \(similarity ([0-9.]+)\)$", detail)
    try:
        kept = ast.literal_eval(m.group(1)) if m else ""
    except (ValueError, SyntaxError):
        kept = ""
    return (kept if isinstance(kept, str) else ""), (m.group(2) if m else "")


def signatures(bodies: list[str]) -> np.ndarray:
    """Return the MinHash signature of each body's shingles: (len(bodies), PERMUTATIONS) uint32
    (a row of 0s for a body under MIN_CHARS characters: not compared).

    The bodies are joined and signed a block of HASH_BLOCK code points at a time (a body longer
    than that alone): each NumPy step and rensa call serves many bodies (per body, their
    overhead was half the cost), and a block's hashes stay in the CPU's cache from the first
    NumPy pass to rensa (over a whole batch of 256 bodies at once, 4 µs a page more). A body's
    tokens run on over the SHINGLE - 1 shingles that cross into the next body, overwritten with
    the body's first shingle: a signature is of a set of shingles, so one repeated changes
    nothing, and no token has to be moved.
    """
    import rensa

    out = np.zeros((len(bodies), PERMUTATIONS), dtype=np.uint32)
    rows = [i for i, b in enumerate(bodies) if len(b) >= MIN_CHARS]
    if not rows:
        return out
    if len(rows) < len(bodies):
        bodies = [bodies[i] for i in rows]
    ends = np.cumsum([len(b) for b in bodies])  # of each body in the bodies joined
    digests: list[list[list[int]]] = []  # each block's signatures
    first = 0
    while first < len(bodies):
        start = int(ends[first - 1]) if first else 0
        last = max(first + 1, int(np.searchsorted(ends, start + HASH_BLOCK, side="right")))
        h = _shingle_hashes("".join(bodies[first:last]))
        stops = ends[first:last] - start  # of the block's bodies in h, but the last one's
        starts = np.concatenate(([0], stops[:-1]))
        h[stops[:-1, None] - (SHINGLE - 1) + np.arange(SHINGLE - 1)] = h[starts[:-1], None]
        matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
            h.astype(np.uint64),
            np.append(starts, len(h)).astype(np.uint64),
            num_perm=PERMUTATIONS,
            seed=SEED,
        )
        digests.append(matrix.to_rows())
        first = last
    n = len(bodies)
    flat = chain.from_iterable(chain.from_iterable(digests))
    signed = np.fromiter(flat, np.uint32, n * PERMUTATIONS).reshape(n, PERMUTATIONS)
    if n == len(out):
        return signed
    out[rows] = signed
    return out


def _shingle_hashes(text: str) -> np.ndarray:
    """Return the hash of every SHINGLE characters of text, in order (uint32).

    A shingle's hash: FNV-1a over its code points, in 32 bits (half the memory traffic of 64;
    two different shingles of two bodies share one by chance about once in 1,000 pairs of
    pages), then mixed.
    """
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    n = len(points) - SHINGLE + 1
    h = points[:n] * _FNV
    for j in range(1, SHINGLE):
        h ^= points[j : j + n]
        if j < SHINGLE - 1:
            h *= _FNV
    h *= _MIX32
    h ^= h >> np.uint32(15)
    return h


def signature(body: str) -> np.ndarray:
    """Return the MinHash signature of one body (see signatures)."""
    one: np.ndarray = signatures([body])[0]
    return one


def similarity_of(a: np.ndarray, b: np.ndarray) -> float:
    """Return the estimated Jaccard similarity of two signatures: the share of equal minima."""
    return float(np.count_nonzero(a == b)) / PERMUTATIONS


def stack(signatures: list[np.ndarray]) -> np.ndarray:
    """Return signatures as one (rows, PERMUTATIONS) uint32 array."""
    if not signatures:
        return np.zeros((0, PERMUTATIONS), np.uint32)
    return np.stack(signatures)


def band_rows(threshold: float) -> int:
    """Return the rows per band: the largest r (<= MAX_ROWS) for which a pair at threshold is a
    candidate in at least 99 of 100 cases with BANDS bands."""
    best = 1
    for r in range(1, MAX_ROWS + 1):
        if 1 - (1 - threshold**r) ** BANDS >= 0.99:
            best = r
    return best


def candidate_odds(similarity: float, threshold: float) -> float:
    """Return the odds that a pair of this similarity becomes a candidate (the S-curve)."""
    r = band_rows(threshold)
    return float(1 - (1 - similarity**r) ** BANDS)


def band_keys(signatures: np.ndarray, rows: int) -> np.ndarray:
    """Return a nonzero 32-bit key per band of each signature: (n, BANDS) uint32. The band's
    number is part of the key, so one table holds every band."""
    n = len(signatures)
    bands = signatures[:, : BANDS * rows].astype(np.uint64).reshape(n, BANDS, rows)
    h = np.broadcast_to(np.arange(1, BANDS + 1, dtype=np.uint64) * _MIX2, (n, BANDS)).copy()
    for j in range(rows):
        h ^= bands[:, :, j]
        h *= _MULT
        h ^= h >> np.uint64(29)
    h *= _MIX1
    h ^= h >> np.uint64(32)
    return (h.astype(np.uint32) | np.uint32(1)).astype(np.uint32)


@dataclass(slots=True)
class Found:
    """A near-duplicate found: its row in the task, its head and their estimated similarity."""

    row: int
    head_pos: int  # the head's position among the export's rows
    similarity: float


@dataclass(slots=True)
class NearDups:
    """The heads seen so far, and the decision for each new page (parent side, in id order)."""

    path: Path  # the heads' signatures, spilled (a file of the stage)
    expected: int  # pages at most (sizes the band table once)
    threshold: float = DEFAULT_THRESHOLD
    rows: int = field(init=False)
    table: HashTable = field(init=False)  # band key → the number of the first head with it
    head_pos: np.ndarray = field(init=False)
    heads: int = 0
    _fd: int = -1

    def __post_init__(self) -> None:
        self.rows = band_rows(self.threshold)
        self.table = HashTable(max(1, self.expected) * BANDS, np.uint32, np.uint32)
        self.head_pos = np.zeros(max(1, self.expected), dtype=np.int64)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)

    def decide(
        self, signatures: np.ndarray, consider: list[bool], start: int, keep_found: bool
    ) -> tuple[list[Found], np.ndarray]:
        """Decide a task's rows, in order → (the near-duplicates found, each row's position
        among the export's rows, -1 for a row not kept).

        Rows not to consider (decided otherwise already: exact duplicates) get no position. The
        others are positioned from `start` on; each is a near-duplicate of an earlier head, or
        becomes a head itself. A near-duplicate is kept (positioned) if keep_found.

        A row with no band key in the table and none shared with another row of the task has
        no candidate: it is a head, decided for all such rows at once. The others are decided
        one by one, in order.
        """
        considered = np.asarray(consider, dtype=np.bool_).reshape(-1)
        todo: np.ndarray = np.flatnonzero(considered & signatures.any(axis=1).reshape(-1))
        kept = considered.copy()  # rows given a position
        found: list[Found] = []
        if len(todo):
            found = self._decide_compared(signatures[todo], todo, kept, keep_found, start)
        positions = np.full(len(considered), -1, dtype=np.int64)
        positions[kept] = np.arange(start, start + int(np.count_nonzero(kept)))
        return found, positions

    def _decide_compared(
        self, sigs: np.ndarray, todo: np.ndarray, kept: np.ndarray, keep_found: bool, start: int
    ) -> list[Found]:
        """Decide the rows `todo` of a task (their signatures: sigs) → the near-duplicates
        found. The rows rejected are cleared in `kept` (decide's: the rows given a position,
        from `start` on); the heads are added to the table."""
        keys = band_keys(sigs, self.rows)
        there, heads, slots = self.table.get(keys.ravel())
        hits = np.where(there, heads, -1).reshape(keys.shape)  # heads of earlier tasks
        slots = slots.reshape(keys.shape)
        # keys that occur twice or more among this task's rows: an earlier row may be a head
        # (only those are looked up in, and added to, `pending`)
        _, inverse, counts = np.unique(keys.ravel(), return_inverse=True, return_counts=True)
        repeated = (counts[inverse] > 1).reshape(keys.shape)
        alone = np.asarray(~(repeated.any(axis=1) | (hits >= 0).any(axis=1)))  # a head
        heads_before: np.ndarray = np.cumsum(alone) - alone  # of the rows without a candidate
        head: np.ndarray = alone.copy()  # which rows become heads
        pending: dict[int, int] = {}  # repeated key → the first head of this task that has it
        local_heads: dict[int, int] = {}  # head number → row in sigs (this task's heads)
        found: list[Found] = []
        complex_heads = 0  # heads so far among the rows with candidates
        for j in np.flatnonzero(~alone).tolist():
            row_keys = keys[j][repeated[j]].tolist()
            cands = set(hits[j][hits[j] >= 0].tolist())
            for k in row_keys:
                if k in pending:
                    cands.add(pending[k])
            best: tuple[int, float] | None = None
            for number in sorted(cands):  # head numbers grow with the id
                other = sigs[local_heads[number]] if number in local_heads else self._read(number)
                sim = similarity_of(other, sigs[j])
                if sim >= self.threshold:
                    best = (number, sim)
                    break
            if best is not None:  # head_pos: the head's number, until the heads are placed
                found.append(Found(int(todo[j]), best[0], best[1]))
                if not keep_found:
                    kept[todo[j]] = False
                continue
            number = self.heads + int(heads_before[j]) + complex_heads
            complex_heads += 1
            head[j] = True
            local_heads[number] = j
            for k in row_keys:
                pending.setdefault(k, number)
        new_heads = np.flatnonzero(head)
        first = self.heads
        self.heads += len(new_heads)
        if self.heads > len(self.head_pos):
            grown = np.zeros(max(self.heads, 2 * len(self.head_pos)), dtype=np.int64)
            grown[: len(self.head_pos)] = self.head_pos
            self.head_pos = grown
        # a head's position: start + the rows kept before it
        self.head_pos[first : self.heads] = start - 1 + np.cumsum(kept)[todo[new_heads]]
        for f in found:
            f.head_pos = int(self.head_pos[f.head_pos])
        if not len(new_heads):
            return found
        numbers = np.arange(first, self.heads, dtype=np.uint32)
        os.pwrite(
            self._fd, np.ascontiguousarray(sigs[new_heads]).tobytes(), first * PERMUTATIONS * 4
        )
        head_keys = keys[new_heads]
        # a key goes to its first head, unless a head of an earlier task has it
        owner = np.repeat(numbers, BANDS)
        flat_keys = head_keys.ravel()
        absent = hits[new_heads].ravel() < 0
        flat_keys, owner = flat_keys[absent], owner[absent]
        flat_slots = slots[new_heads].ravel()[absent]
        flat_keys, first_at = np.unique(flat_keys, return_index=True)
        self.table.set(flat_keys, owner[first_at], flat_slots[first_at])
        return found

    def _read(self, head: int) -> np.ndarray:
        data = os.pread(self._fd, PERMUTATIONS * 4, head * PERMUTATIONS * 4)
        return np.frombuffer(data, dtype=np.uint32)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
