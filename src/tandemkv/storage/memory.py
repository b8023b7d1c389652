"""What the keyspace's objects cost in CPython's memory: the model behind `used_memory`.

The keyspace keeps a running total (storage/keyspace.py) instead of asking the allocator,
so every write adjusts it by a few additions. The per-object costs are measured once, at
import, with `sys.getsizeof` on small samples, so they follow the interpreter's layout:

- a bytes object of n bytes costs its header plus n plus, on average, half of pymalloc's
  16-byte rounding (a constant, so a string write adjusts the total by a subtraction);
- a dict or set slot costs its share of the hash table, averaged over the table's growth
  (a table is between 1/3 and 2/3 full, so a fixed point would be off by up to 2x);
- a deque or list slot costs a pointer (a deque's blocks add a little);
- a sorted set member costs a dict slot, a float and a (score, member) tuple in the
  SortedList; a stream entry its id tuple, two ints, a fields tuple and the SortedDict
  slots.

What it leaves out (the allocator's free lists and fragmentation, the interpreter, client
buffers, the log) is why RSS is higher: docs/operations.md ("Memory limit") gives the
measured ratio.
"""

from __future__ import annotations

import sys
from collections import deque

from sortedcontainers import SortedDict, SortedList

from tandemkv.storage.stream import Stream
from tandemkv.storage.zset import SortedSet

ALIGN = 16
BYTES_HEADER = sys.getsizeof(b"")
POINTER = 8


def _mean_slot(make: type[dict[int, None]] | type[set[int]]) -> int:
    """A hash table's cost per entry, averaged over sizes spread evenly on a log scale
    across a whole growth cycle (4x: a set grows 4x while small)."""
    sizes = [int(512 * 2 ** (i / 8)) for i in range(32)]
    total = 0.0
    for n in sizes:
        total += sys.getsizeof(make(range(n)) if make is set else dict.fromkeys(range(n))) / n
    return round(total / len(sizes))


DICT_SLOT = _mean_slot(dict)
SET_SLOT = _mean_slot(set)
DEQUE_SLOT = POINTER + 1  # a 64-slot block holds 512 bytes of pointers plus its links
INT = sys.getsizeof(2**40)
FLOAT = sys.getsizeof(1.0)
PAIR = sys.getsizeof((1, 2))
TUPLE_HEADER = sys.getsizeof(())

# A container's fixed cost, with nothing in it.
EMPTY_HASH = sys.getsizeof({})
EMPTY_LIST = sys.getsizeof(deque())
EMPTY_SET = sys.getsizeof(set())
EMPTY_ZSET = EMPTY_HASH + sys.getsizeof(SortedList()) + 4 * 64  # object, lists, index
EMPTY_STREAM = 3 * PAIR + 2 * INT + sys.getsizeof(SortedDict()) + EMPTY_HASH + 4 * 64

# Per element, beside the bytes objects it holds.
HASH_FIELD = DICT_SLOT
LIST_ITEM = DEQUE_SLOT
SET_MEMBER = SET_SLOT
ZSET_MEMBER = DICT_SLOT + FLOAT + PAIR + POINTER
STREAM_ENTRY = DICT_SLOT + PAIR + 2 * INT + POINTER + TUPLE_HEADER

# Per key, beside its name and value: its slot in the keyspace; with a deadline, its
# slot in the deadline dict, the int and the (deadline, key) heap entry; with an access
# record (LRU/LFU), a slot and an int.
KEY_SLOT = DICT_SLOT
EXPIRY_ENTRY = DICT_SLOT + INT
HEAP_ENTRY = PAIR + POINTER
ACCESS_ENTRY = DICT_SLOT + INT


BLOB = BYTES_HEADER + ALIGN // 2  # a bytes object's cost beside its length


def blob(n: int) -> int:
    """A bytes object of `n` bytes."""
    return n + BLOB


def fields_cost(fields: tuple[bytes, ...]) -> int:
    """A stream entry: its fields tuple's slots and the field and value objects."""
    return STREAM_ENTRY + POINTER * len(fields) + sum(blob(len(f)) for f in fields)


# A snapshot chunk's elements, per element beside the payload's bytes (which stand in for
# the elements' contents): what `load_record` charges without building each one's cost.
CHUNK_ELEMENT = {
    1: HASH_FIELD + 2 * BYTES_HEADER,
    2: LIST_ITEM + BYTES_HEADER,
    3: SET_MEMBER + BYTES_HEADER,
    4: ZSET_MEMBER + BYTES_HEADER,
    5: STREAM_ENTRY + 4 * (BYTES_HEADER + POINTER),
}
EMPTY_OF = {1: EMPTY_HASH, 2: EMPTY_LIST, 3: EMPTY_SET, 4: EMPTY_ZSET, 5: EMPTY_STREAM}


def value_cost(value: object) -> int:
    """A whole value's cost, element by element: what the running total charges for it
    when it is built by mutations (tests check the two agree)."""
    if type(value) is bytes:
        return blob(len(value))
    if type(value) is dict:
        return EMPTY_HASH + sum(HASH_FIELD + blob(len(f)) + blob(len(v)) for f, v in value.items())
    if type(value) is deque:
        return EMPTY_LIST + sum(LIST_ITEM + blob(len(item)) for item in value)
    if type(value) is set:
        return EMPTY_SET + sum(SET_MEMBER + blob(len(member)) for member in value)
    if isinstance(value, SortedSet):
        return EMPTY_ZSET + sum(ZSET_MEMBER + blob(len(member)) for member in value.scores)
    if isinstance(value, Stream):
        return EMPTY_STREAM + sum(fields_cost(fields) for fields in value.entries.values())
    raise TypeError(f"not a value: {type(value).__name__}")
