"""Resolve place names and free-text addresses to region codes with one dictionary.

All names are put once into a dictionary ``key -> (candidate codes, method, confidence)`` in
tiers, the first tier holding a key keeping it:

1. ``exact``   -- current official names (and current codes written as digits);
2. ``history`` -- former names and codes, mapped forward to the current code(s);
3. ``alias``   -- short forms of current names (suffix and ethnic names dropped: 镇沅, 焉耆, 延边州);
4. ``history`` (lower confidence) -- short forms of former names.

A string is parsed by longest match from its start: the longest key at position 0, then the longest
key where that one ends, and so on, each token narrowing the candidates to descendants of the
previous ones ("江苏省" then "大丰市" -> 320904). A short form directly followed by a street or
township word (路, 街, 镇, 乡, 村 …) is not taken as a place (新丰镇 is not 新丰县). If nothing matches
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

from clusteratlas.errors import InputError

if TYPE_CHECKING:
    from clusteratlas.geo.gazetteer import Gazetteer

Entry = tuple[tuple[str, ...], str, float]

CONFIDENCE = {"exact": 1.0, "history": 0.95, "alias": 0.9, "history-alias": 0.8, "fuzzy": 0.7}
# Characters after which a short form is part of a street or township name, not a region.
_STREET_NEXT = frozenset("路街镇乡村巷号弄道")
_NOISE_PREFIXES = ("中华人民共和国", "中国")
_FUZZY_SUFFIXES = ("自治县", "自治州", "自治旗", "地区", "省", "市", "县", "区", "旗", "州", "盟")
RESULT_COLUMNS = ["input", "region_code", "level", "matched_name", "method", "confidence",
                  "candidates"]


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
        for old_code, old_name, cur in zip(hist["code"], hist["name"], hist["current_codes"],
                                           strict=True):
            targets = {c for c in str(cur).split(";") if c in self.name_of}
            if not targets:
                continue
            hist_names.setdefault(str(old_name), set()).update(targets)
            if old_code not in exact_codes:
                hist_codes.setdefault(str(old_code), set()).update(targets)
            for s in gazetteer.short_forms(str(old_name)):
                hist_short.setdefault(s, set()).update(targets)
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

    # -- one string ---------------------------------------------------------------------------
    def _longest(self, s: str, i: int) -> tuple[str, Entry] | None:
        lens = self.by_head.get(s[i:i + 2])
        if lens is None:
            return None
        n = len(s)
        for ln in lens:
            if i + ln <= n:
                key = s[i:i + ln]
                entry = self.table.get(key)
                if entry is not None:
                    if entry[1] in ("alias", "history-alias") and i + ln < n and \
                            s[i + ln] in _STREET_NEXT:
                        continue
                    return key, entry
        return None

    def _narrow(self, cands: Iterable[str], context: frozenset[str] | None) -> tuple[str, ...]:
        if context is None:
            return tuple(cands)
        return tuple(c for c in cands if self.lineage[c] & context)

    def parse(self, text: str, hint: frozenset[str] | None = None
              ) -> tuple[tuple[str, ...], str | None, float]:
        """``(candidates, method, confidence)`` for one string: resolved if one candidate."""
        s = "".join(text.split())
        if not s:
            return (), None, 0.0
        if s.isdigit():
            entry = self.code_table.get(s[:6]) if len(s) in (6, 9, 12) else None
            if entry is None:
                return (), None, 0.0
            return entry[0], entry[1], entry[2]
        for p in _NOISE_PREFIXES:
            if s.startswith(p) and len(s) > len(p):
                s = s[len(p):]
                break
        i, n = 0, len(s)
        hit = self._longest(s, 0)
        if hit is None:
            # Text before the first place name (a firm's name, "位于"): only a full official or
            # former name may start the parse there; a short form inside a word is too risky.
            for j in range(1, n - 1):
                hit = self._longest(s, j)
                if hit is not None and hit[1][1] in ("exact", "history"):
                    i = j
                    break
                hit = None
        if hit is None:
            return self._fuzzy(s, hint)
        current: tuple[str, ...] = ()
        method, conf, tokens, key = "", 0.0, 0, ""
        while hit is not None:
            key, (cands, tier, tconf) = hit
            narrowed = self._narrow(cands, frozenset(current)) if current else cands
            if not narrowed:
                break
            current, tokens = narrowed, tokens + 1
            method, conf = tier, tconf
            i += len(key)
            if i >= n:
                break
            hit = self._longest(s, i)
        whole = tokens == 1 and i == n and len(key) == n
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
        texts = values.astype(object).where(values.notna(), None)
        keys = pd.MultiIndex.from_arrays([texts.to_numpy(), hints.astype(object).where(
            hints.notna(), None).to_numpy()])
        codes_idx, uniques = pd.factorize(keys)
        hint_cache: dict[Any, frozenset[str] | None] = {}
        u_code: list[Any] = []
        u_method: list[Any] = []
        u_conf: list[float] = []
        u_cands: list[Any] = []
        for text, h in uniques:
            if text is None or not isinstance(text, str):
                u_code.append(pd.NA)
                u_method.append(pd.NA)
                u_conf.append(0.0)
                u_cands.append(pd.NA)
                continue
            if h not in hint_cache:
                hint_cache[h] = self.hint_codes(h)
            cands, method, conf = self.parse(text, hint_cache[h])
            if len(cands) == 1:
                u_code.append(cands[0])
                u_method.append(method)
                u_conf.append(conf)
                u_cands.append(pd.NA)
            else:
                u_code.append(pd.NA)
                u_method.append(method if cands else pd.NA)
                u_conf.append(0.0)
                pool = cands or ()
                u_cands.append(";".join(f"{c} {self.name_of[c]}" for c in pool) if pool
                               else pd.NA)
        take = np.asarray(codes_idx)
        region = pd.array(np.asarray(u_code, dtype=object)[take], dtype="string")
        out = pd.DataFrame({
            "input": pd.array(texts.to_numpy(), dtype="string"),
            "region_code": region,
        })
        out["level"] = out["region_code"].map(self.level_of).astype("string")
        out["matched_name"] = out["region_code"].map(self.name_of).astype("string")
        out["method"] = pd.array(np.asarray(u_method, dtype=object)[take], dtype="string")
        out["confidence"] = np.asarray(u_conf, dtype=float)[take]
        out["candidates"] = pd.array(np.asarray(u_cands, dtype=object)[take], dtype="string")
        out.index = values.index
        return out


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
