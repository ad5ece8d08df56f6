"""An open-addressing hash table of nonzero integer keys → integer values, vectorised with NumPy.

The build's exact-duplicate table (a page's 64-bit key → its row's position) and its
near-duplicate band table (a 32-bit band key → the first head that had it) are both this: keys
and values are NumPy arrays, looked up and set a batch (a task's rows) at a time. Slots are
probed linearly; 0 marks an empty slot, so a key is never 0; the table is at most three quarters
full and doubles when a batch would fill it more.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class HashTable:
    def __init__(self, expected: int, key: npt.DTypeLike, value: npt.DTypeLike) -> None:
        """A table for `expected` keys (it grows past that) of dtype `key`, values `value`."""
        # odd: keys are often odd (0 marks an empty slot, so callers set the low bit), and an
        # odd key modulo an even size would only ever start at an odd slot
        size = max(1024, max(expected, 1) * 4 // 3 + 1) | 1
        self.keys = np.zeros(size, dtype=key)
        self.values = np.zeros(size, dtype=value)
        self.count = 0

    @property
    def size(self) -> int:
        return len(self.keys)

    def slots(self, keys: np.ndarray) -> np.ndarray:
        """Each key's slot: the one holding it, or the empty slot where its search ended."""
        size = self.size
        slots = (keys % np.uint64(size)).astype(np.int64)
        out = np.empty(len(keys), dtype=np.int64)
        todo = np.arange(len(keys))
        while len(todo):
            at = self.keys[slots]
            done = (at == 0) | (at == keys[todo])
            out[todo[done]] = slots[done]
            todo, slots = todo[~done], slots[~done] + 1
            slots[slots == size] = 0
        return out

    def get(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Look keys up → (which are there, their values (int64; 0 where not there), their
        slots: set's for these keys until the table changes)."""
        slots = self.slots(keys)
        return self.keys[slots] != 0, self.values[slots].astype(np.int64), slots

    def set(self, keys: np.ndarray, values: np.ndarray, slots: np.ndarray | None = None) -> None:
        """Give each key its value, as if one key after the other: of a key given twice, the
        last value stands. `slots`: get's for these keys, if the table has not changed since."""
        if len(keys) > 1 and not (keys[1:] > keys[:-1]).all():  # not sorted: may repeat
            _, last = np.unique(keys[::-1], return_index=True)
            if len(last) != len(keys):
                keep = np.sort(len(keys) - 1 - last)
                keys, values = keys[keep], values[keep]
                slots = slots[keep] if slots is not None else None
        if slots is None:
            slots = self.slots(keys)
        there = self.keys[slots] != 0
        self.values[slots[there]] = values[there]
        keys, values, slots = keys[~there], values[~there], slots[~there]
        if (self.count + len(keys)) * 4 > self.size * 3:
            self._grow(self.count + len(keys))
            slots = self.slots(keys)
        self.count += len(keys)
        while len(keys):  # of the keys aiming at one empty slot, one takes it; the others go on
            self.keys[slots] = keys
            won = self.keys[slots] == keys
            self.values[slots[won]] = values[won]
            keys, values = keys[~won], values[~won]
            slots = self.slots(keys)

    def _grow(self, entries: int) -> None:
        used = self.keys != 0
        keys, values = self.keys[used], self.values[used]
        size = self.size
        while entries * 4 > size * 3:
            size = size * 2 + 1
        self.keys = np.zeros(size, dtype=keys.dtype)
        self.values = np.zeros(size, dtype=values.dtype)
        self.count = 0
        self.set(keys, values)
