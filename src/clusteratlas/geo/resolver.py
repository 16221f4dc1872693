"""Resolve place names and free-text addresses to region codes with one dictionary.

All names are put once into a dictionary ``key -> (candidate codes, method, confidence)`` in
tiers, the first tier holding a key keeping it:

1. ``exact``   -- current official names (and current codes written as digits);
2. ``history`` -- former names and codes, mapped forward to the current code(s); a former name
   used by several units pools their current codes, dropping any inside another (莱芜市, county
   then prefecture -> 济南市), so a name that meant different places stays ambiguous;
3. ``alias``   -- short forms of current names (suffix and ethnic names dropped: 镇沅, 焉耆, 延边州);
4. ``history`` (lower confidence) -- short forms of former names.

A string is parsed by longest match from its start: the longest key at position 0, then the longest
key where that one ends, and so on, each token narrowing the candidates to descendants of the
previous ones ("江苏省" then "大丰市" -> 320904). A short form directly followed by a street or
township word (路, 街, 镇, 乡, 村 …) is not taken as a place (新丰镇 is not 新丰县) unless another
name starts there (江苏镇江, 永州道县). If nothing matches
at the start, the first full name anywhere starts the parse. If nothing matches at all, a trailing
generic suffix is dropped and the rest looked up (``fuzzy``). Past the start, only a full official
or former name may open a parse (a short form inside a word is too risky: 新丰镇 is not 丰镇市). Only unique strings are parsed, and
each parse costs a few dictionary look-ups per token, so resolution scales to millions of rows.

Ambiguity is never guessed away: when more than one candidate survives (朝阳区 in Beijing and in
Changchun), ``region_code`` is NA and ``candidates`` lists them; a hint or a province/city earlier
in the string narrows them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from clusteratlas.errors import InputError
from clusteratlas.geo._trie import MAX_TOKENS, Trie, encode, tokenize

if TYPE_CHECKING:
    from clusteratlas.geo.gazetteer import Gazetteer

Entry = tuple[tuple[str, ...], str, float]

CONFIDENCE = {"exact": 1.0, "history": 0.95, "alias": 0.9, "history-alias": 0.8, "fuzzy": 0.7}
# Characters after which a short form is part of a street or township name, not a region.
_STREET_NEXT = frozenset("路街镇乡村巷号弄道")
_NOISE_PREFIXES = ("中华人民共和国", "中国")
_WHITESPACE = np.array([9, 10, 11, 12, 13, 32, 0x3000, 0xA0], dtype=np.uint32)
_SHORT_TIERS = frozenset({"alias", "history-alias"})
_FULL_TIERS = frozenset({"exact", "history"})
_FUZZY_SUFFIXES = ("自治县", "自治州", "自治旗", "地区", "省", "市", "县", "区", "旗", "州", "盟")


class Resolver:
    """The name dictionary of a :class:`Gazetteer` and the parser over it."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        reg = gazetteer.detail
        codes = reg["region_code"].astype(str).tolist()
        self.name_of = dict(zip(codes, reg["name"].astype(str), strict=True))
        self.level_of = dict(zip(codes, reg["level"].astype(str), strict=True))
        parent = dict(zip(codes, reg["parent_code"].astype(object).where(
            reg["parent_code"].notna(), None), strict=True))
        # Ancestors including self: the chain of parents.
        self.lineage: dict[str, frozenset[str]] = {}
        for c in codes:
            chain, p = [c], parent.get(c)
            while p is not None and len(chain) < 10:
                chain.append(p)
                p = parent.get(p)
            self.lineage[c] = frozenset(chain)

        table: dict[str, Entry] = {}
        tiers: list[tuple[str, dict[str, set[str]]]] = [
            ("exact", _group(zip(reg["name"].astype(str), codes, strict=True))),
        ]
        exact_codes = {c: {c} for c in codes}
        hist = gazetteer.history
        hist_names: dict[str, set[str]] = {}
        hist_codes: dict[str, set[str]] = {}
        hist_short: dict[str, set[str]] = {}
        # A former name or code may have been used by several units (莱芜市 was a county, then a
        # prefecture; two cities had a 东市区). Their current codes are pooled, and a code inside
        # another pooled code is dropped: 莱芜市 -> 济南市 (its old districts lie inside), while
        # 东市区 stays ambiguous between 合肥 and 蚌埠.
        hist = hist[hist["current_codes"].astype(str) != ""]
        for old_name, old_code, cur in zip(hist["name"], hist["code"], hist["current_codes"],
                                           strict=True):
            targets = {c for c in str(cur).split(";") if c in self.name_of}
            if targets:
                hist_names.setdefault(str(old_name), set()).update(targets)
                for s in gazetteer.short_forms(str(old_name)):
                    hist_short.setdefault(s, set()).update(targets)
                if old_code not in exact_codes:
                    hist_codes.setdefault(str(old_code), set()).update(targets)
        for mapping in (hist_names, hist_short, hist_codes):
            for key, targets in mapping.items():
                mapping[key] = {c for c in targets
                                if not (self.lineage[c] - {c}) & targets}
        aliases: dict[str, set[str]] = {}
        for name, c in zip(reg["name"].astype(str), codes, strict=True):
            for s in gazetteer.short_forms(name):
                aliases.setdefault(s, set()).add(c)
        if gazetteer.extra_aliases is not None:
            for a, c in zip(gazetteer.extra_aliases["alias"].astype(str),
                            gazetteer.extra_aliases["region_code"].astype(str), strict=True):
                aliases.setdefault(a, set()).add(c)
        tiers += [("history", hist_names), ("alias", aliases), ("history-alias", hist_short)]
        for method, mapping in tiers:
            for key, cands in mapping.items():
                if len(key) >= 2 and key not in table:
                    table[key] = (tuple(sorted(cands)), method, CONFIDENCE[method])
        self.table = table
        self.code_table: dict[str, Entry] = {c: ((c,), "exact", 1.0) for c in codes}
        for k, v in hist_codes.items():
            self.code_table[k] = (tuple(sorted(v)), "history", CONFIDENCE["history"])
        # Lengths of keys by their first two characters, longest first: at most a handful of
        # look-ups per position.
        by_head: dict[str, set[int]] = {}
        for key in table:
            by_head.setdefault(key[:2], set()).add(len(key))
        self.by_head = {h: sorted(v, reverse=True) for h, v in by_head.items()}
        self._steps: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[str, ...]] = {}
        if len(table) >= 2**16 - 1:
            raise InputError(f"gazetteer has {len(table)} names and aliases; at most 65,534 "
                             "are supported by the compiled matcher")
        self._compiled()

    # -- one string ---------------------------------------------------------------------------
    def _longest(self, s: str, i: int, n: int, full_only: bool = False
                 ) -> tuple[int, Entry] | None:
        """Length and entry of the longest key at ``s[i:]`` (short forms not before a street)."""
        lens = self.by_head.get(s[i:i + 2])
        if lens is None:
            return None
        table = self.table
        for ln in lens:
            end = i + ln
            if end <= n:
                entry = table.get(s[i:end])
                if entry is not None:
                    if full_only and entry[1] not in _FULL_TIERS:
                        continue
                    if end < n and entry[1] in _SHORT_TIERS and s[end] in _STREET_NEXT \
                            and not self._any_key(s, end, n):
                        continue
                    return ln, entry
        return None

    def _any_key(self, s: str, i: int, n: int) -> bool:
        """Whether some key starts at ``s[i]`` (then a street word there is a place name)."""
        lens = self.by_head.get(s[i:i + 2])
        return lens is not None and any(i + ln <= n and s[i:i + ln] in self.table for ln in lens)

    def _narrow(self, cands: Iterable[str], context: frozenset[str] | None) -> tuple[str, ...]:
        if context is None:
            return tuple(cands)
        return tuple(c for c in cands if self.lineage[c] & context)

    def _step(self, current: tuple[str, ...], cands: tuple[str, ...]) -> tuple[str, ...]:
        """Candidates of the next token that lie inside the current ones (memoised)."""
        key = (current, cands)
        out = self._steps.get(key)
        if out is None:
            out = self._narrow(cands, frozenset(current))
            self._steps[key] = out
        return out

    def parse(self, text: str, hint: frozenset[str] | None = None
              ) -> tuple[tuple[str, ...], str | None, float]:
        """``(candidates, method, confidence)`` for one string: resolved if one candidate.

        The reference, pure-Python path; :meth:`resolve` runs the same rules compiled.
        """
        s = _normalise(text)
        if not s:
            return (), None, 0.0
        if s in self.code_table or s.isdigit():
            return self._code(s)
        entries, whole = self._tokens(s)
        if not entries:
            return self._fuzzy(s, hint)
        return self._finish(tuple(entries), whole, hint)

    def _code(self, s: str) -> tuple[tuple[str, ...], str | None, float]:
        """A current or former code; GB/T 2260 codes may come padded to 9 or 12 digits."""
        entry = self.code_table.get(s)
        if entry is None and s.isdigit() and len(s) in (9, 12):
            entry = self.code_table.get(s[:6])
        if entry is None:
            return (), None, 0.0
        return entry[0], entry[1], entry[2]

    def _tokens(self, s: str) -> tuple[list[Entry], bool]:
        """Entries of consecutive longest matches, and whether the first spans all of ``s``."""
        i, n = 0, len(s)
        hit = self._longest(s, 0, n)
        if hit is None:
            # Text before the first place name (a firm's name, "位于"): only a full official or
            # former name may start the parse there; a short form inside a word is too risky.
            for j in range(1, n - 1):
                hit = self._longest(s, j, n, full_only=True)
                if hit is not None:
                    i = j
                    break
        if hit is None:
            return [], False
        whole = i == 0 and hit[0] == n
        out: list[Entry] = []
        while hit is not None and len(out) < MAX_TOKENS:
            out.append(hit[1])
            i += hit[0]
            if i >= n:
                break
            hit = self._longest(s, i, n)
        return out, whole

    def _finish(self, entries: tuple[Entry, ...], whole: bool, hint: frozenset[str] | None
                ) -> tuple[tuple[str, ...], str | None, float]:
        """Narrow the candidates token by token; stop at the first token outside the others."""
        current: tuple[str, ...] = ()
        method, conf, tokens = "", 0.0, 0
        for cands, tier, tconf in entries:
            narrowed = self._step(current, cands) if tokens else cands
            if not narrowed:
                break
            current, tokens = narrowed, tokens + 1
            method, conf = tier, tconf
        if not whole:
            method = "address-parse"
            conf = round(min(conf, 0.95) * (1.0 if tokens > 1 else 0.9), 3)
        if method == "history-alias":
            method = "history"
        if hint is not None and len(current) > 1:
            narrowed = self._narrow(current, hint)
            if narrowed:
                current = narrowed
        return current, method, conf

    def _fuzzy(self, s: str, hint: frozenset[str] | None
               ) -> tuple[tuple[str, ...], str | None, float]:
        for suf in _FUZZY_SUFFIXES:
            if s.endswith(suf) and len(s) - len(suf) >= 2:
                entry = self.table.get(s[: -len(suf)])
                if entry is not None:
                    cands = entry[0]
                    if hint is not None and len(cands) > 1:
                        cands = self._narrow(cands, hint) or cands
                    return cands, "fuzzy", CONFIDENCE["fuzzy"]
        return (), None, 0.0

    def hint_codes(self, hint: Any) -> frozenset[str] | None:
        """Codes a hint (province or city name, or code) may mean; None if it means nothing."""
        if hint is None or (not isinstance(hint, str) and pd.isna(hint)):
            return None
        cands = self.parse(str(hint))[0]
        return frozenset(cands) if cands else None

    # -- many strings -------------------------------------------------------------------------
    def resolve(self, names: Iterable[Any] | pd.Series, hint: Any = None) -> pd.DataFrame:
        values = _as_series(names, "names")
        n = len(values)
        if hint is None or isinstance(hint, str):
            hints = pd.Series([hint] * n, dtype=object)
        else:
            hints = _as_series(hint, "hint")
            if len(hints) != n:
                raise InputError(f"hint: expected one hint per name ({n}); got {len(hints)}")
        texts = values.astype(object).where(values.notna(), None).to_numpy()
        t_idx, t_uni = pd.factorize(texts)  # NA rows get -1
        if hint is None:
            h_idx, h_uni = np.full(n, -1, dtype=np.int64), np.array([], dtype=object)
        else:
            h_idx, h_uni = pd.factorize(hints.astype(object).where(hints.notna(), None).to_numpy())
        hint_sets = [self.hint_codes(h) for h in h_uni]
        n_h = len(h_uni) + 1

        # Tokenize every unique string at once (compiled), then decide once per distinct chain
        # of tokens (and hint): thousands of decisions for millions of rows.
        norm = self._normalise_many(t_uni)
        toks, whole = self._tokenize(norm)
        has_tok = toks[:, 0] >= 0 if len(norm) else np.zeros(0, dtype=bool)
        combo_of_text = np.full(len(norm), -1, dtype=np.int64)
        combos: list[tuple[tuple[int, ...], bool]] = []
        if has_tok.any():
            packed = self._pack(toks[has_tok], whole[has_tok])
            c_idx, c_first = _factorize_rows(packed)
            combo_of_text[np.flatnonzero(has_tok)] = c_idx
            rows_tok = toks[has_tok][c_first]
            rows_whole = whole[has_tok][c_first]
            combos = [(tuple(int(e) for e in r if e >= 0), bool(w))
                      for r, w in zip(rows_tok, rows_whole, strict=True)]

        valid = t_idx >= 0
        tok_row = np.zeros(n, dtype=bool)
        tok_row[valid] = has_tok[t_idx[valid]]
        key = np.full(n, -1, dtype=np.int64)
        key[tok_row] = combo_of_text[t_idx[tok_row]] * n_h + h_idx[tok_row] + 1
        other = valid & ~tok_row
        key[other] = -(t_idx[other] * n_h + h_idx[other] + 1) - 2
        k_idx, k_uni = pd.factorize(key)

        na = pd.NA
        entries = self._entries
        results: list[tuple[Any, Any, float, Any, Any, Any]] = []
        for k in k_uni:
            k = int(k)
            if k == -1:
                results.append((na, na, 0.0, na, na, na))
                continue
            if k >= 0:
                combo, w = combos[k // n_h]
                hs = hint_sets[k % n_h - 1] if k % n_h else None
                cands, method, conf = self._finish(tuple(entries[e] for e in combo), w, hs)
            else:
                j = -(k + 2)
                hs = hint_sets[j % n_h - 1] if j % n_h else None
                cands, method, conf = self.parse(norm[j // n_h], hs)
            results.append(self._row(cands, method, conf))
        take = pa.array(np.asarray(k_idx))
        cols = list(zip(*results, strict=True)) if results else [()] * 6

        def column(j: int) -> pd.api.extensions.ExtensionArray:
            vals = pa.array([None if v is na else v for v in cols[j]], type=pa.string())
            return pd.arrays.ArrowStringArray(vals.take(take))

        inputs = pa.array(t_uni.tolist(), type=pa.string()).take(
            pa.array(t_idx, mask=t_idx < 0))
        return pd.DataFrame({
            "input": pd.arrays.ArrowStringArray(inputs),
            "region_code": column(0),
            "level": column(4),
            "matched_name": column(5),
            "method": column(1),
            "confidence": np.asarray(cols[2], dtype=float)[np.asarray(k_idx)] if results
            else np.zeros(0),
            "candidates": column(3),
        }, index=values.index)

    def _row(self, cands: tuple[str, ...], method: str | None, conf: float
             ) -> tuple[Any, Any, float, Any, Any, Any]:
        na = pd.NA
        if len(cands) == 1:
            c = cands[0]
            return c, method, conf, na, self.level_of[c], self.name_of[c]
        if cands:
            return na, method, 0.0, ";".join(f"{c} {self.name_of[c]}" for c in cands), na, na
        return na, na, 0.0, na, na, na

    # -- compiled path ------------------------------------------------------------------------
    def _compiled(self) -> None:
        keys = list(self.table)
        self._entries = [self.table[k] for k in keys]
        self._trie = Trie(keys)
        self._is_short = np.array([e[1] in _SHORT_TIERS for e in self._entries], dtype=bool)
        self._is_full = np.array([e[1] in _FULL_TIERS for e in self._entries], dtype=bool)
        self._street = np.array(sorted(ord(c) for c in _STREET_NEXT), dtype=np.uint32)

    def _normalise_many(self, strings: np.ndarray) -> list[str]:
        """Whitespace and a leading 中国/中华人民共和国 removed; Python only for the rows that need it."""
        out: list[str] = strings.tolist()
        if not out:
            return out
        buf, offsets = encode(out)
        flags = np.zeros(len(out), dtype=bool)
        ws = np.isin(buf, _WHITESPACE)
        if ws.any():
            flags[np.searchsorted(offsets, np.flatnonzero(ws), side="right") - 1] = True
        starts = offsets[:-1]
        long_enough = (offsets[1:] - starts) > 2
        first = np.zeros(len(out), dtype=np.uint32)
        second = np.zeros(len(out), dtype=np.uint32)
        first[long_enough] = buf[starts[long_enough]]
        second[long_enough] = buf[starts[long_enough] + 1]
        flags |= (first == ord("中")) & ((second == ord("国")) | (second == ord("华")))
        for i in np.flatnonzero(flags):
            out[i] = _normalise(out[i])
        return out

    def _tokenize(self, norm: list[str]) -> tuple[np.ndarray, np.ndarray]:
        if not norm:
            return np.zeros((0, MAX_TOKENS), dtype=np.int64), np.zeros(0, dtype=bool)
        t = self._trie
        buf, offsets = encode(norm)
        if len(buf) == 0:
            buf = np.zeros(1, dtype=np.uint32)
        return tokenize(buf, offsets, t.ptr, t.child_char, t.child_node, t.entry,
                        self._is_short, self._is_full, self._street)

    @staticmethod
    def _pack(toks: np.ndarray, whole: np.ndarray) -> np.ndarray:
        """Token rows and the whole-flag as one (n, 2) int64 array, 16 bits per token."""
        t = toks + 1
        a = t[:, 0] | (t[:, 1] << 16) | (t[:, 2] << 32) | (t[:, 3] << 48)
        b = t[:, 4] | (t[:, 5] << 16) | (whole.astype(np.int64) << 32)
        return np.stack([a, b], axis=1)


def _factorize_rows(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group ids of the rows of an (n, 2) int64 array and the first row of each group."""
    a_idx, _ = pd.factorize(packed[:, 0])
    b_idx, b_uni = pd.factorize(packed[:, 1])
    idx, uni = pd.factorize(a_idx.astype(np.int64) * len(b_uni) + b_idx)
    first = np.full(len(uni), -1, dtype=np.int64)
    first[idx[::-1]] = np.arange(len(idx))[::-1]
    return idx, first


def _normalise(text: str) -> str:
    s = "".join(text.split())
    for p in _NOISE_PREFIXES:
        if s.startswith(p) and len(s) > len(p):
            return s[len(p):]
    return s


def _group(pairs: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for k, v in pairs:
        out.setdefault(k, set()).add(v)
    return out


def _as_series(values: Any, what: str) -> pd.Series:
    if isinstance(values, pd.Series):
        return values
    if isinstance(values, str):
        return pd.Series([values], dtype=object)
    if isinstance(values, pd.DataFrame):
        raise InputError(f"{what}: expected a list or Series of strings; got a DataFrame "
                         f"(pass one column, e.g. frame['address'])")
    try:
        return pd.Series(list(values), dtype=object)
    except TypeError:
        raise InputError(f"{what}: expected a list or Series of strings; got "
                         f"{type(values).__name__}") from None
