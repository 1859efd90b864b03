"""Session timelines: compact (key id, client time) tokens appended at ingest.

A token is three little-endian uint32 words: key id, ets low 32 bits, ets high 32 bits,
i.e. 12 bytes, i.e. exactly 16 base64 characters. Because every token is a multiple of
3 bytes, base64 chunks can be appended with SQL ``||`` and the concatenation is still
valid base64; a reader decodes a whole session with one C call and slices the key ids
out with ``array[0::3]`` without touching Python per token.
"""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Iterable

WORDS = 3
TOKEN_CHARS = 16
# At most this many tokens are kept per (session, learner): beyond it a session is a
# bot or a forgotten tab, and rewriting a longer row on every append would cost more.
MAX_TOKENS = 5000
MAX_CHARS = MAX_TOKENS * TOKEN_CHARS
_MAX_ETS = (1 << 63) - 1
_SWAP = sys.byteorder != "little"


def encode(tokens: Iterable[tuple[int, int]]) -> str:
    """Base64 of ``(ets, key_id)`` pairs, in the order given."""
    words = array("I")
    for ets, key_id in tokens:
        ets = min(max(ets, 0), _MAX_ETS)
        words.extend((key_id, ets & 0xFFFFFFFF, ets >> 32))
    if _SWAP:
        words.byteswap()
    return base64.b64encode(words.tobytes()).decode("ascii")


def decode(text: str) -> array[int]:
    """The uint32 words of a timeline (a broken tail, if any, is dropped)."""
    raw = base64.b64decode(text[: len(text) - len(text) % TOKEN_CHARS])
    words = array("I")
    words.frombytes(raw)
    if _SWAP:
        words.byteswap()
    return words


def key_ids(words: array[int]) -> array[int]:
    """Key id of every token, in stored order."""
    return words[0::WORDS]


def ets_at(words: array[int], index: int) -> int:
    """Client time (ms) of token ``index``."""
    base = index * WORDS
    return words[base + 1] | (words[base + 2] << 32)


def all_ets(words: array[int]) -> list[int]:
    """Client time of every token, in stored order."""
    return [lo | (hi << 32) for lo, hi in zip(words[1::WORDS], words[2::WORDS], strict=True)]


def time_order(words: array[int], in_order: bool) -> list[int]:
    """Token indexes in client-time order (stable: arrival order breaks ties)."""
    count = len(words) // WORDS
    if in_order:
        return list(range(count))
    times = all_ets(words)
    return sorted(range(count), key=times.__getitem__)
