"""Bit-counting intrinsics for the numba kernels.

numba has no public ``clz``/``ctz``; a software loop would cost a dozen
branches per value in the XOR encoder's hottest line. These two intrinsics
lower straight to LLVM's ``ctlz``/``cttz`` (one instruction on x86-64 with
LZCNT/TZCNT, a short sequence otherwise) and are cached with the kernels that
call them.

Both take a ``uint64`` and return an ``int64`` count; for an input of 0 they
return 64 (the "zero is poison" flag is off), although the XOR kernels never
call them on 0.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_FALSE = ir.Constant(ir.IntType(1), 0)


@intrinsic
def clz64(typingctx, x):  # noqa: ARG001 - numba's intrinsic protocol
    """Number of leading zero bits of a uint64 (64 for 0)."""
    if x != types.uint64:
        return None
    sig = types.int64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctlz(args[0], _FALSE)

    return sig, codegen


@intrinsic
def ctz64(typingctx, x):  # noqa: ARG001 - numba's intrinsic protocol
    """Number of trailing zero bits of a uint64 (64 for 0)."""
    if x != types.uint64:
        return None
    sig = types.int64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.cttz(args[0], _FALSE)

    return sig, codegen
