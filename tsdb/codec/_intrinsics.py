"""LLVM intrinsics for the numba chunk kernels: bit counts and raw byte access.

Bit counts: numba has no public ``clz``/``ctz``; a software loop would cost a
dozen branches per value in the XOR encoder's hottest line. :func:`clz64` and
:func:`ctz64` lower straight to LLVM's ``ctlz``/``cttz`` (one instruction on
x86-64 with LZCNT/TZCNT). Both take a ``uint64`` and return an ``int64``; for
0 they return 64 (the "zero is poison" flag is off).

Raw byte access: when an njit helper takes an *array*, numba increments and
decrements the array's reference count around it, and once the helper has a
branch or a loop its refcount-pruning pass no longer removes those atomic
operations -- measured here, they made the per-sample decode loop 3x slower.
So the bit readers and writers take the array's data *address* (an int64 from
:func:`address_of`) and access bytes through :func:`load_be64`,
:func:`load_u8` and :func:`store_be32`, which compile to a single (unaligned)
load or store, byte-swapped to big-endian where needed.

These accessors do **no bounds checking**. Every caller states, in its own
docstring, why each access stays inside the array whose address it holds,
and the array must stay alive (be an argument of the calling kernel) for as
long as the address is used.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_FALSE = ir.Constant(ir.IntType(1), 0)
_I8 = ir.IntType(8)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)


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


@intrinsic
def address_of(typingctx, arr):  # noqa: ARG001 - numba's intrinsic protocol
    """Address of the first element of a C-contiguous array, as an int64."""
    if not isinstance(arr, types.Array):
        return None
    sig = types.int64(arr)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        return builder.ptrtoint(ary.data, _I64)

    return sig, codegen


def _byte_ptr(builder, addr, index, ty):
    return builder.inttoptr(builder.add(addr, index), ty.as_pointer())


@intrinsic
def load_be64(typingctx, addr, index):  # noqa: ARG001 - numba's intrinsic protocol
    """The 8 bytes at ``addr + index`` as a big-endian uint64 (unchecked)."""
    if addr != types.int64 or index != types.int64:
        return None
    sig = types.uint64(types.int64, types.int64)

    def codegen(context, builder, signature, args):
        value = builder.load(_byte_ptr(builder, args[0], args[1], _I64), align=1)
        return builder.bswap(value)

    return sig, codegen


@intrinsic
def load_u8(typingctx, addr, index):  # noqa: ARG001 - numba's intrinsic protocol
    """The byte at ``addr + index`` as a uint64 (unchecked)."""
    if addr != types.int64 or index != types.int64:
        return None
    sig = types.uint64(types.int64, types.int64)

    def codegen(context, builder, signature, args):
        value = builder.load(_byte_ptr(builder, args[0], args[1], _I8), align=1)
        return builder.zext(value, _I64)

    return sig, codegen


@intrinsic
def store_be32(typingctx, addr, index, value):  # noqa: ARG001 - numba's intrinsic protocol
    """Store the low 32 bits of uint64 ``value`` big-endian at ``addr + index`` (unchecked)."""
    if addr != types.int64 or index != types.int64 or value != types.uint64:
        return None
    sig = types.void(types.int64, types.int64, types.uint64)

    def codegen(context, builder, signature, args):
        word = builder.bswap(builder.trunc(args[2], _I32))
        builder.store(word, _byte_ptr(builder, args[0], args[1], _I32), align=1)
        return context.get_dummy_value()

    return sig, codegen
