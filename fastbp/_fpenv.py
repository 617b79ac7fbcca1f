"""Subnormal floats are flushed to zero while fastbp kernels run.

Optimizer state decays geometrically where the gradient is zero (dead ReLU
units, input pixels that are always 0): ``m ← β·m`` reaches the subnormal range
(below 1.2e-38 in float32) after a few hundred steps, and x86 cores compute on
subnormals through microcode, up to ~100x slower.  Measured here: per-sample
Adam on a 784-128-10 ReLU net ran at 470 samples/s once 98 % of its first
moment was subnormal.  JAX/XLA and TensorFlow run with FTZ/DAZ set for this
reason; fastbp does the same, inside its kernels only.

:func:`flush_subnormals` sets the FTZ (results) and DAZ (inputs) bits of the
calling thread's MXCSR register and returns the previous value;
:func:`restore_fp_state` puts it back.  Kernels call the pair around their
work on every thread they use (each thread has its own MXCSR), so code outside
fastbp — NumPy, the user's own numba kernels on numba's threads — keeps IEEE
subnormals.  Rounding mode and exception masks are left as they are.

On CPUs other than x86-64, and with ``NUMBA_DISABLE_JIT=1``, both are no-ops
(nothing is flushed).
"""
import platform

import numba
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from ._jit import kernel

_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")
FTZ_DAZ = 0x8040  # MXCSR bits: flush-to-zero (15) and denormals-are-zero (6)


def _mxcsr_call(builder, name, slot):
    fnty = ir.FunctionType(ir.VoidType(), [ir.PointerType(ir.IntType(8))])
    fn = cgutils.get_or_insert_function(builder.module, fnty, name)
    # Compiler barriers on both sides: LLVM assumes the default floating-point
    # environment, and would otherwise be free to move loads, stores and the
    # arithmetic between them across the MXCSR access.
    barrier = ir.InlineAsm(ir.FunctionType(ir.VoidType(), []), "", "~{memory}", side_effect=True)
    builder.call(barrier, [])
    builder.call(fn, [builder.bitcast(slot, ir.PointerType(ir.IntType(8)))])
    builder.call(barrier, [])


@intrinsic
def _read_mxcsr(typingctx):
    def codegen(context, builder, signature, args):
        if not _X86:
            return ir.Constant(ir.IntType(64), 0)
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        _mxcsr_call(builder, "llvm.x86.sse.stmxcsr", slot)
        return builder.zext(builder.load(slot), ir.IntType(64))

    return types.int64(), codegen


@intrinsic
def _write_mxcsr(typingctx, value):
    def codegen(context, builder, signature, args):
        if _X86:
            slot = cgutils.alloca_once(builder, ir.IntType(32))
            builder.store(builder.trunc(args[0], ir.IntType(32)), slot)
            _mxcsr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
        return context.get_dummy_value()

    return types.void(types.int64), codegen


if numba.config.DISABLE_JIT:
    # Kernels run as plain Python (the CI's coverage pass): there is no MXCSR
    # access from Python, and nothing to flush.

    def flush_subnormals():
        """No-op without the JIT; returns 0."""
        return 0

    def restore_fp_state(saved):
        """No-op without the JIT."""

else:

    @kernel
    def flush_subnormals():
        """Set FTZ/DAZ on the calling thread; return the previous MXCSR (int64)."""
        saved = _read_mxcsr()
        _write_mxcsr(saved | FTZ_DAZ)
        return saved

    @kernel
    def restore_fp_state(saved):
        """Put back the MXCSR value returned by :func:`flush_subnormals`."""
        _write_mxcsr(saved)
