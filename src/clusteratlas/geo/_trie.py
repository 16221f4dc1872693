"""Compiled longest-match tokenizer behind :mod:`clusteratlas.geo.resolver`.

The resolver's keys (names, former names, short forms) are stored in a character trie in CSR
arrays (children of node ``k`` are ``child_char/child_node[ptr[k]:ptr[k+1]]``, sorted by char);
a Numba kernel walks it over all strings at once (code points in one ``uint32`` buffer with
offsets) and returns, per string, the entry ids of up to ``MAX_TOKENS`` consecutive longest
matches. The rules are exactly those of :meth:`Resolver.parse` (which stays the reference and is
checked against this kernel in the tests): a short form directly followed by a street word is
skipped unless another name starts there; if nothing matches at the start, the first *full* name anywhere starts the chain.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

MAX_TOKENS = 6


class Trie:
    """CSR character trie over ``keys``; ``entry[node]`` is the key id ending there or -1."""

    def __init__(self, keys: list[str]) -> None:
        children: list[dict[int, int]] = [{}]
        entry = [-1]
        for kid, key in enumerate(keys):
            node = 0
            for ch in key:
                nxt = children[node].get(ord(ch))
                if nxt is None:
                    nxt = len(children)
                    children[node][ord(ch)] = nxt
                    children.append({})
                    entry.append(-1)
                node = nxt
            entry[node] = kid
        ptr = np.zeros(len(children) + 1, dtype=np.int64)
        chars: list[int] = []
        nodes: list[int] = []
        for k, ch in enumerate(children):
            for c in sorted(ch):
                chars.append(c)
                nodes.append(ch[c])
            ptr[k + 1] = len(chars)
        self.ptr = ptr
        self.child_char = np.asarray(chars, dtype=np.uint32)
        self.child_node = np.asarray(nodes, dtype=np.int64)
        self.entry = np.asarray(entry, dtype=np.int64)


@numba.njit(cache=True)
def _child(ptr: NDArray, child_char: NDArray, child_node: NDArray, node: int, c: int) -> int:
    lo = ptr[node]
    hi = ptr[node + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        v = child_char[mid]
        if v == c:
            return child_node[mid]
        if v < c:
            lo = mid + 1
        else:
            hi = mid
    return -1


@numba.njit(cache=True)
def _any_key(buf: NDArray, i: int, end: int, ptr: NDArray, child_char: NDArray,
             child_node: NDArray, entry: NDArray) -> bool:
    """Whether some key of 2+ characters starts at ``buf[i]``."""
    node = 0
    j = i
    while j < end:
        node = _child(ptr, child_char, child_node, node, buf[j])
        if node < 0:
            return False
        j += 1
        if entry[node] >= 0 and j - i >= 2:
            return True
    return False


@numba.njit(cache=True)
def _longest(buf: NDArray, i: int, end: int, ptr: NDArray, child_char: NDArray,
             child_node: NDArray, entry: NDArray, is_short: NDArray, is_full: NDArray,
             street: NDArray, full_only: bool) -> tuple[int, int]:
    """(key id, length) of the longest acceptable key at ``buf[i:end]``; (-1, 0) if none."""
    node = 0
    best = -1
    best_len = 0
    j = i
    while j < end:
        node = _child(ptr, child_char, child_node, node, buf[j])
        if node < 0:
            break
        j += 1
        e = entry[node]
        if e >= 0 and j - i >= 2:
            ok = True
            if full_only and not is_full[e]:
                ok = False
            if ok and is_short[e] and j < end:
                c = buf[j]
                for s in range(street.shape[0]):
                    if street[s] == c:
                        # 新丰镇 is a township, but in 江苏镇江 the 镇 starts the next name.
                        ok = _any_key(buf, j, end, ptr, child_char, child_node, entry)
                        break
            if ok:
                best = e
                best_len = j - i
    return best, best_len


@numba.njit(cache=True)
def tokenize(buf: NDArray, offsets: NDArray, ptr: NDArray, child_char: NDArray,
             child_node: NDArray, entry: NDArray, is_short: NDArray, is_full: NDArray,
             street: NDArray) -> tuple[NDArray, NDArray]:
    """Per string: key ids of consecutive longest matches (-1 padded), and whether the first
    match spans the whole string."""
    n = offsets.shape[0] - 1
    toks = np.full((n, MAX_TOKENS), -1, dtype=np.int64)
    whole = np.zeros(n, dtype=np.bool_)
    for r in range(n):
        start = offsets[r]
        end = offsets[r + 1]
        e, ln = _longest(buf, start, end, ptr, child_char, child_node, entry, is_short, is_full,
                         street, False)
        i = start
        if e < 0:
            for j in range(start + 1, end - 1):
                e, ln = _longest(buf, j, end, ptr, child_char, child_node, entry, is_short,
                                 is_full, street, True)
                if e >= 0:
                    i = j
                    break
        if e < 0:
            continue
        whole[r] = i == start and ln == end - start
        t = 0
        while e >= 0 and t < MAX_TOKENS:
            toks[r, t] = e
            t += 1
            i += ln
            if i >= end:
                break
            e, ln = _longest(buf, i, end, ptr, child_char, child_node, entry, is_short, is_full,
                             street, False)
    return toks, whole


def encode(strings: list[str]) -> tuple[NDArray[np.uint32], NDArray[np.int64]]:
    """All strings as one buffer of code points, with offsets (len n + 1)."""
    lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
    offsets = np.zeros(len(strings) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    buf = np.frombuffer("".join(strings).encode("utf-32-le"), dtype=np.uint32)
    return buf, offsets
