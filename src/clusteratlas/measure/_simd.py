"""Vector operations that Numba does not generate by itself, as LLVM intrinsics.

The moment histogram of the K-density kernels is updated once per pair of establishments:
``(Σw, Σwu, Σwu²)`` of one bin, three scalar read-modify-writes at a data-dependent address,
which no vectoriser can turn into vector code (LLVM's SLP pass does not combine them; checked
in the assembly). With four columns per bin (the fourth unused) the same update is one
256-bit load, add and store: 1.18 → 0.61 ns per pair on this machine's cores (AMD EPYC,
measured in isolation on a histogram of 5,393 bins, the large demo economy's grid).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core.errors import TypingError
from numba.extending import intrinsic


@intrinsic
def add_row4(typingctx, arr, row, a, b, c):
    """``arr[row, :3] += (a, b, c)`` for a C-contiguous float64 array of **four** columns,
    as one vector load, add and store (``arr[row, 3]`` is left as it was). The caller must
    make sure ``arr.shape[1] == 4`` and ``0 <= row < arr.shape[0]``: no check is made."""
    if not (isinstance(arr, types.Array) and arr.ndim == 2 and arr.layout == "C"
            and arr.dtype == types.float64):
        raise TypingError("add_row4 needs a C-contiguous 2-d float64 array")
    if not isinstance(row, types.Integer):
        raise TypingError("add_row4 needs an integer row")
    sig = types.void(arr, row, types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        arr_v, row_v, a_v, b_v, c_v = args
        ary = context.make_array(signature.args[0])(context, builder, arr_v)
        i64 = ir.IntType(64)
        i32 = ir.IntType(32)
        dbl = ir.DoubleType()
        vec_t = ir.VectorType(dbl, 4)
        row64 = row_v
        if row_v.type.width < 64:
            row64 = (builder.sext(row_v, i64) if signature.args[1].signed
                     else builder.zext(row_v, i64))
        ptr = builder.gep(builder.bitcast(ary.data, dbl.as_pointer()),
                          [builder.mul(row64, ir.Constant(i64, 4))])
        vptr = builder.bitcast(ptr, vec_t.as_pointer())
        add = ir.Constant(vec_t, [0.0, 0.0, 0.0, 0.0])
        for lane, val in enumerate((a_v, b_v, c_v)):
            val = context.cast(builder, val, signature.args[2 + lane], types.float64)
            add = builder.insert_element(add, val, ir.Constant(i32, lane))
        builder.store(builder.fadd(builder.load(vptr, align=8), add), vptr, align=8)
        return context.get_dummy_value()

    return sig, codegen
