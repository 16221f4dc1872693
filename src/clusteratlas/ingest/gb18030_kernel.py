"""GB18030 to UTF-8, compiled: the kernel behind :func:`clusteratlas.ingest.readers.utf8_copy`.

The kernel is written in LLVM IR and compiled once per process with llvmlite (Numba's code
generator, a dependency of the package anyway). Numba itself would do, and did: but its first
call in a process loads every typing and lowering registry of its CPU target, which imports
``scipy.linalg`` for its BLAS check, 0.44-0.55 s on this machine before the first byte is decoded.
That was most of what a GB18030 file cost to ingest beyond its UTF-8 twin. Parsing and
compiling this module's IR takes ~0.01 s, importing llvmlite ~0.05 s.

The decoding is GB 18030-2005's, with the code points of the 2-byte sequences and of the
4-byte sequences of the BMP read off Python's own codec (:func:`code_point_tables`), so
that the result is what Python's codec gives; the tests check it against the codec for all
23,940 two-byte and 39,420 four-byte BMP sequences and a sample of the supplementary ones.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from collections.abc import Callable

import numpy as np

# One pass over the bytes. ``i`` reads, ``j`` writes; a byte below 0x80 is copied. A lead byte
# (0x81-0xFE) with a second byte 0x40-0xFE other than 0x7F is a 2-byte sequence, looked up in
# ``two`` at (b1 - 0x81) * 191 + b2 - 0x40; with a digit second byte it is a 4-byte sequence
# b1 b2 b3 b4 (b3 0x81-0xFE, b4 a digit), whose last three bytes index
# tail = ((b2 - 0x30) * 126 + b3 - 0x81) * 10 + b4 - 0x30 (0..12599): in the BMP (b1 <= 0x84)
# it is looked up in ``four`` at (b1 - 0x81) * 12600 + tail, and for b1 0x90-0xE3 it is
# U+10000 + (b1 - 0x90) * 12600 + tail (GB 18030-2005, 9.3), up to U+10FFFF. The code point is
# written as UTF-8. Anything else, a code point of -1 in a table, or a sequence cut by the end
# of ``src``, stops the pass: ``*stop`` gets its offset (else -1) and the return value is the
# number of bytes written. ``out`` needs 1.5 times ``n`` bytes: no sequence grows more than that.
_IR = r"""
define i64 @gb18030_to_utf8(ptr noalias nocapture readonly %src, i64 %n,
                            ptr noalias nocapture readonly %two,
                            ptr noalias nocapture readonly %four,
                            ptr noalias nocapture %out, ptr noalias nocapture %stop) nounwind {
entry:
  br label %loop

loop:
  %i = phi i64 [ 0, %entry ], [ %i.a, %ascii ], [ %i.next, %put ]
  %j = phi i64 [ 0, %entry ], [ %j.a, %ascii ], [ %j.next, %put ]
  %more = icmp ult i64 %i, %n
  br i1 %more, label %byte, label %done

byte:
  %p.b = getelementptr inbounds i8, ptr %src, i64 %i
  %b.8 = load i8, ptr %p.b
  %b = zext i8 %b.8 to i32
  %is.ascii = icmp ult i32 %b, 128
  br i1 %is.ascii, label %ascii, label %lead

ascii:
  %p.oa = getelementptr inbounds i8, ptr %out, i64 %j
  store i8 %b.8, ptr %p.oa
  %i.a = add i64 %i, 1
  %j.a = add i64 %j, 1
  br label %loop

lead:                                   ; 0x80 and 0xFF lead nothing; a lead needs a second byte
  %i1 = add i64 %i, 1
  %is.80 = icmp eq i32 %b, 128
  %is.ff = icmp eq i32 %b, 255
  %end1 = icmp uge i64 %i1, %n
  %x1 = or i1 %is.80, %is.ff
  %bad1 = or i1 %x1, %end1
  br i1 %bad1, label %fail, label %second

second:
  %p.b2 = getelementptr inbounds i8, ptr %src, i64 %i1
  %b2.8 = load i8, ptr %p.b2
  %b2 = zext i8 %b2.8 to i32
  %d2 = sub i32 %b2, 48
  %is.digit = icmp ult i32 %d2, 10
  br i1 %is.digit, label %four.len, label %two.check

two.check:                              ; second byte 0x40-0xFE, not 0x7F
  %t2 = sub i32 %b2, 64
  %in2 = icmp ult i32 %t2, 191
  %not.7f = icmp ne i32 %b2, 127
  %ok2 = and i1 %in2, %not.7f
  br i1 %ok2, label %two.look, label %fail

two.look:
  %l2 = sub i32 %b, 129
  %k2.a = mul i32 %l2, 191
  %k2 = add i32 %k2.a, %t2
  %k2.w = zext i32 %k2 to i64
  %p.two = getelementptr inbounds i32, ptr %two, i64 %k2.w
  %cp2 = load i32, ptr %p.two
  br label %have

four.len:
  %i3 = add i64 %i, 3
  %end3 = icmp uge i64 %i3, %n
  br i1 %end3, label %fail, label %four.read

four.read:                              ; third byte 0x81-0xFE, fourth a digit
  %i2 = add i64 %i, 2
  %p.b3 = getelementptr inbounds i8, ptr %src, i64 %i2
  %b3.8 = load i8, ptr %p.b3
  %b3 = zext i8 %b3.8 to i32
  %p.b4 = getelementptr inbounds i8, ptr %src, i64 %i3
  %b4.8 = load i8, ptr %p.b4
  %b4 = zext i8 %b4.8 to i32
  %t3 = sub i32 %b3, 129
  %ok3 = icmp ult i32 %t3, 126
  %d4 = sub i32 %b4, 48
  %ok4 = icmp ult i32 %d4, 10
  %ok34 = and i1 %ok3, %ok4
  br i1 %ok34, label %four.which, label %fail

four.which:
  %m1 = mul i32 %d2, 126
  %m2 = add i32 %m1, %t3
  %m3 = mul i32 %m2, 10
  %tail = add i32 %m3, %d4
  %is.bmp = icmp ule i32 %b, 132
  br i1 %is.bmp, label %four.bmp, label %four.supp

four.bmp:
  %l4 = sub i32 %b, 129
  %k4.a = mul i32 %l4, 12600
  %k4 = add i32 %k4.a, %tail
  %k4.w = zext i32 %k4 to i64
  %p.four = getelementptr inbounds i32, ptr %four, i64 %k4.w
  %cp4 = load i32, ptr %p.four
  br label %have

four.supp:                              ; lead 0x90-0xE3
  %s = sub i32 %b, 144
  %in.s = icmp ult i32 %s, 84
  br i1 %in.s, label %four.supp.cp, label %fail

four.supp.cp:
  %s.a = mul i32 %s, 12600
  %s.b = add i32 %s.a, %tail
  %cps = add i32 %s.b, 65536
  %too.big = icmp ugt i32 %cps, 1114111
  br i1 %too.big, label %fail, label %have

have:
  %cp = phi i32 [ %cp2, %two.look ], [ %cp4, %four.bmp ], [ %cps, %four.supp.cp ]
  %step = phi i64 [ 2, %two.look ], [ 4, %four.bmp ], [ 4, %four.supp.cp ]
  %invalid = icmp slt i32 %cp, 0
  br i1 %invalid, label %fail, label %enc

enc:
  %p.o = getelementptr inbounds i8, ptr %out, i64 %j
  %lt.80 = icmp ult i32 %cp, 128
  br i1 %lt.80, label %enc1, label %enc.long

enc1:
  %c1 = trunc i32 %cp to i8
  store i8 %c1, ptr %p.o
  br label %put

enc.long:                               ; the last byte of every longer form: the low six bits
  %low = and i32 %cp, 63
  %low.c = or i32 %low, 128
  %low.8 = trunc i32 %low.c to i8
  %lt.800 = icmp ult i32 %cp, 2048
  br i1 %lt.800, label %enc2, label %enc.3or4

enc2:
  %h2 = lshr i32 %cp, 6
  %h2.c = or i32 %h2, 192
  %h2.8 = trunc i32 %h2.c to i8
  store i8 %h2.8, ptr %p.o
  %p.o2.1 = getelementptr inbounds i8, ptr %p.o, i64 1
  store i8 %low.8, ptr %p.o2.1
  br label %put

enc.3or4:                               ; the byte before the last: the next six bits
  %mid = lshr i32 %cp, 6
  %mid.6 = and i32 %mid, 63
  %mid.c = or i32 %mid.6, 128
  %mid.8 = trunc i32 %mid.c to i8
  %lt.10000 = icmp ult i32 %cp, 65536
  br i1 %lt.10000, label %enc3, label %enc4

enc3:
  %h3 = lshr i32 %cp, 12
  %h3.c = or i32 %h3, 224
  %h3.8 = trunc i32 %h3.c to i8
  store i8 %h3.8, ptr %p.o
  %p.o3.1 = getelementptr inbounds i8, ptr %p.o, i64 1
  store i8 %mid.8, ptr %p.o3.1
  %p.o3.2 = getelementptr inbounds i8, ptr %p.o, i64 2
  store i8 %low.8, ptr %p.o3.2
  br label %put

enc4:
  %h4 = lshr i32 %cp, 18
  %h4.c = or i32 %h4, 240
  %h4.8 = trunc i32 %h4.c to i8
  %u = lshr i32 %cp, 12
  %u.6 = and i32 %u, 63
  %u.c = or i32 %u.6, 128
  %u.8 = trunc i32 %u.c to i8
  store i8 %h4.8, ptr %p.o
  %p.o4.1 = getelementptr inbounds i8, ptr %p.o, i64 1
  store i8 %u.8, ptr %p.o4.1
  %p.o4.2 = getelementptr inbounds i8, ptr %p.o, i64 2
  store i8 %mid.8, ptr %p.o4.2
  %p.o4.3 = getelementptr inbounds i8, ptr %p.o, i64 3
  store i8 %low.8, ptr %p.o4.3
  br label %put

put:
  %len = phi i64 [ 1, %enc1 ], [ 2, %enc2 ], [ 3, %enc3 ], [ 4, %enc4 ]
  %i.next = add i64 %i, %step
  %j.next = add i64 %j, %len
  br label %loop

done:
  store i64 -1, ptr %stop
  ret i64 %j

fail:
  store i64 %i, ptr %stop
  ret i64 %j
}
"""

_Kernel = Callable[[int, int, int, int, int, ctypes.c_int64], int]
_lock = threading.Lock()


@functools.cache
def _compiled() -> tuple[object, _Kernel]:
    """The execution engine (kept alive with the code it owns) and the kernel's entry point."""
    import llvmlite.binding as llvm

    with _lock:
        try:
            llvm.initialize()  # llvmlite before 0.44 needs it; later ones initialise themselves
        except RuntimeError:
            pass
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        module = llvm.parse_assembly(_IR)
        module.verify()
        machine = llvm.Target.from_default_triple().create_target_machine(
            cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=3)
        engine = llvm.create_mcjit_compiler(module, machine)
        engine.finalize_object()
        address = engine.get_function_address("gb18030_to_utf8")
    # a CFUNCTYPE call releases the GIL, so threads decode side by side
    kernel = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p,
                              ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int64))(address)
    return engine, kernel


@functools.cache
def code_point_tables() -> tuple[np.ndarray, np.ndarray]:
    """Code points of every 2-byte GB18030 sequence (index ``(b1-0x81)*191 + b2-0x40``) and of
    every 4-byte sequence with a lead byte up to 0x84 (the BMP part; index as in the kernel),
    -1 where invalid, read off Python's own codec so that the kernel decodes exactly as it does
    (once per process, a few milliseconds)."""
    two_seqs = [bytes((b1, b2)) if b2 != 0x7F else b"\x80\x80"
                for b1 in range(0x81, 0xFF) for b2 in range(0x40, 0xFF)]
    four_seqs = [bytes((b1, b2, b3, b4)) for b1 in range(0x81, 0x85) for b2 in range(0x30, 0x3A)
                 for b3 in range(0x81, 0xFF) for b4 in range(0x30, 0x3A)]
    return _code_points(two_seqs), _code_points(four_seqs)


def _code_points(seqs: list[bytes]) -> np.ndarray:
    """The code point each byte sequence decodes to as GB18030, or -1. Decoded in one call, one
    sequence a line: with ``surrogateescape`` an undecodable byte becomes a lone surrogate, so a
    line is valid exactly when it is one character that is not a surrogate."""
    lines = b"\n".join(seqs).decode("gb18030", errors="surrogateescape").split("\n")
    if len(lines) != len(seqs):  # pragma: no cover - 0x0A never occurs inside a sequence
        raise AssertionError("GB18030 table: sequences and lines do not align")
    return np.array([ord(t) if len(t) == 1 and not 0xD800 <= ord(t) <= 0xDFFF else -1
                     for t in lines], dtype=np.int32)


def prepare() -> None:
    """Compile the kernel and build its tables (each once per process)."""
    _compiled()
    code_point_tables()


def gb18030_to_utf8(src: np.ndarray, out: np.ndarray) -> tuple[int, int]:
    """Transcode the GB18030 bytes ``src`` (uint8, contiguous) to UTF-8 into ``out`` (uint8,
    at least 1.5 x ``len(src)`` bytes).

    Returns (bytes written, -1), or (bytes written, offset of the first sequence it does not
    decode): the caller then leaves the text to Python's codec, which names the error.
    """
    if src.dtype != np.uint8 or out.dtype != np.uint8:
        raise TypeError("gb18030_to_utf8: expects uint8 arrays")
    if not (src.flags.c_contiguous and out.flags.c_contiguous):
        raise ValueError("gb18030_to_utf8: arrays must be contiguous")
    if out.shape[0] < src.shape[0] * 3 // 2:
        raise ValueError("gb18030_to_utf8: the output needs 1.5 times the input's bytes")
    _, kernel = _compiled()
    two, four = code_point_tables()
    stop = ctypes.c_int64(-1)
    written = kernel(src.ctypes.data, src.shape[0], two.ctypes.data, four.ctypes.data,
                     out.ctypes.data, ctypes.byref(stop))
    return int(written), int(stop.value)
