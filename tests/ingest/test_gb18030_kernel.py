from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clusteratlas.ingest.gb18030_kernel import code_point_tables, gb18030_to_utf8

# characters whose GB18030 forms take 1, 2 and 4 bytes (4-byte: in the BMP and beyond it)
CHARS = "aZ09,\n\"_ 苏州华新电子有限公司€·—　、ー丂乢￥\u00e9\u0101\u20ac\u2e81\u4dae\U00020000\U0002a6d6"


def _run(data: bytes) -> tuple[bytes, int]:
    src = np.frombuffer(data, dtype=np.uint8)
    out = np.zeros(len(data) * 3 // 2 + 1, dtype=np.uint8)
    written, stop = gb18030_to_utf8(src, out)
    return out[:written].tobytes(), stop


def test_hand_worked_sequences() -> None:
    # ASCII; 苏 = CB D5 (2 bytes, U+82CF); € = A2 E3 (U+20AC); U+0080 = 81 30 81 30 (4 bytes, BMP);
    # U+10000 = 90 30 81 30 (4 bytes, supplementary)
    assert _run(b"ab") == (b"ab", -1)
    assert _run(b"\xcb\xd5") == ("苏".encode(), -1)
    assert _run(b"\xa2\xe3") == ("€".encode(), -1)
    assert _run(b"\x81\x30\x81\x30") == ("\u0080".encode(), -1)
    assert _run(b"x\x90\x30\x81\x30") == (b"x" + "\U00010000".encode(), -1)
    # stops at the first sequence it does not decode, having written what came before
    assert _run(b"ab\x80cd") == (b"ab", 2)
    assert _run(b"a\xcb") == (b"a", 1)                     # cut after the lead byte
    assert _run(b"a\x81\x30\x81") == (b"a", 1)             # 4-byte sequence cut short
    assert _run(b"\xe3\x32\x9a\x36") == (b"", 0)           # beyond U+10FFFF
    assert _run(b"\x85\x30\x81\x30") == (b"", 0)           # lead 0x85-0x8F: no 4-byte range


def test_tables_match_the_codec() -> None:
    two, four = code_point_tables()
    assert two.shape == (126 * 191,) and four.shape == (4 * 10 * 126 * 10,)
    assert two[(0xCB - 0x81) * 191 + 0xD5 - 0x40] == ord("苏") == 0x82CF
    assert two[(0x81 - 0x81) * 191 + 0x7F - 0x40] == -1  # 0x7F is never a second byte


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=CHARS, max_size=60))
def test_valid_text_decodes_as_the_codec_does(text: str) -> None:
    assert _run(text.encode("gb18030")) == (text.encode("utf-8"), -1)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=24))
def test_never_differs_from_the_codec(data: bytes) -> None:
    # any bytes: what the kernel decodes whole, the codec decodes the same; where it stops, the
    # codec either fails too or is left to decide (the caller hands such files to the codec)
    out, stop = _run(data)
    if stop == -1:
        assert out == data.decode("gb18030").encode("utf-8")
    else:
        assert out == data[:stop].decode("gb18030").encode("utf-8")


def test_refuses_a_short_output_or_wrong_types() -> None:
    src = np.frombuffer("苏州".encode("gb18030"), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"1\.5 times"):
        gb18030_to_utf8(src, np.zeros(5, dtype=np.uint8))
    with pytest.raises(TypeError):
        gb18030_to_utf8(src.astype(np.int16), np.zeros(8, dtype=np.uint8))
