"""Session timelines: compact (key id, client time) tokens appended at ingest.

A token is three little-endian uint32 words: key id, ets low 32 bits, ets high 32 bits
(12 bytes). Chunks are appended with SQL ``||`` on a BLOB column (``bytea`` on
PostgreSQL), so a reader loads a whole session with one ``array.frombytes`` and slices
the key ids out with ``words[0::3]``, all in C, without touching Python per token.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Container
from itertools import compress

WORDS = 3
TOKEN_BYTES = 12
# At most this many tokens are kept per (session, learner): beyond it a session is a
# bot or a forgotten tab, and rewriting a longer row on every append would cost more.
MAX_TOKENS = 5000
MAX_BYTES = MAX_TOKENS * TOKEN_BYTES
_MAX_ETS = (1 << 63) - 1
_SWAP = sys.byteorder != "little"


def encode(tokens: list[tuple[int, int]]) -> bytes:
    """The bytes of ``(ets, key_id)`` pairs sorted by ets, in that order."""
    if tokens and (tokens[0][0] < 0 or tokens[-1][0] > _MAX_ETS):  # absurd client clocks
        tokens = [(min(max(ets, 0), _MAX_ETS), key_id) for ets, key_id in tokens]
    words = array("I", [v for ets, key_id in tokens
                        for v in (key_id, ets & 0xFFFFFFFF, ets >> 32)])
    if _SWAP:
        words.byteswap()
    return words.tobytes()


def decode(raw: bytes) -> array[int]:
    """The uint32 words of a timeline (a torn tail, if any, is dropped)."""
    words = array("I")
    words.frombytes(raw[: len(raw) - len(raw) % TOKEN_BYTES])
    if _SWAP:
        words.byteswap()
    return words


def key_ids(words: array[int]) -> array[int]:
    """Key id of every token, in stored order."""
    return words[0::WORDS]


def all_ets(words: array[int]) -> list[int]:
    """Client time of every token, in stored order."""
    return [lo | (hi << 32) for lo, hi in zip(words[1::WORDS], words[2::WORDS], strict=True)]


def ets_of(words: array[int], indexes: list[int]) -> list[int]:
    """Client times of the tokens at ``indexes``."""
    low, high = words[1::WORDS], words[2::WORDS]
    if high.count(high[0]) == len(high):  # one 2^32 ms (49-day) span: the usual case
        base = high[0] << 32
        return [low[i] + base for i in indexes]
    return [low[i] | (high[i] << 32) for i in indexes]


def positions(ids: array[int], wanted: Container[int]) -> list[int]:
    """Indexes of the tokens whose key is in ``wanted`` (the scan runs in C)."""
    return list(compress(range(len(ids)), map(wanted.__contains__, ids)))


def time_order(words: array[int], in_order: bool) -> list[int]:
    """Token indexes in client-time order (stable: arrival order breaks ties)."""
    count = len(words) // WORDS
    if in_order:
        return list(range(count))
    times = all_ets(words)
    return sorted(range(count), key=times.__getitem__)
