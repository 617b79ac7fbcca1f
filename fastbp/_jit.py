"""All numba compilation policy of fastbp lives here.

Kernels elsewhere are decorated with :func:`kernel` (serial helpers, safe to call
from inside a ``prange`` body) or :func:`parallel_kernel` (drivers that open
``prange`` regions).  Nothing is compiled at import: no signatures are given, so
numba compiles on the first call and caches the machine code on disk
(``cache=True``), which lets a second process skip the compile.

Flags, and why:

* ``error_model='numpy'``: the Python error model checks every division for zero
  and blocks vectorisation (Adam measured 6x slower with it).
* no ``fastmath``: it lets LLVM assume no NaN/inf, so ``np.isfinite`` checks
  that guard training would lie.
* ``nogil=True``: kernels release the GIL, so Python threads can predict with
  the same network concurrently.
"""
import numba
from numba import types
from numba.core import cgutils
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic, overload

_COMMON = dict(cache=True, nogil=True, error_model="numpy")


def kernel(function):
    """Compile ``function`` as a serial nopython kernel (lazily, cached).

    Callable from other kernels only: numba builds no CPython or C-callable
    wrapper for it, which it would otherwise generate (and compile) for every
    helper of the call tree; measured ~10 % of a cold first ``fit``.
    """
    return numba.njit(no_cpython_wrapper=True, no_cfunc_wrapper=True, **_COMMON)(function)


def reassociating_kernel(function):
    """Like :func:`kernel`, with floating-point sums that LLVM may reorder.

    ``fastmath={'reassoc', 'contract'}``: a sum may be split into vector
    partial sums and products fused into FMAs, so a dot product vectorises.
    The order is fixed when the kernel is compiled, so results still do not
    depend on the number of threads; NaN and inf still propagate (no
    ``nnan``/``ninf``).  For products whose bits no test pins to BLAS's.
    """
    return numba.njit(no_cpython_wrapper=True, no_cfunc_wrapper=True, fastmath={"reassoc", "contract"},
                      **_COMMON)(function)


def reassociating_entry_kernel(function):
    """:func:`reassociating_kernel`, also callable from Python."""
    return numba.njit(fastmath={"reassoc", "contract"}, **_COMMON)(function)


def entry_kernel(function):
    """Like :func:`kernel`, and also callable from Python."""
    return numba.njit(**_COMMON)(function)


def parallel_kernel(function):
    """Compile ``function`` as a ``parallel=True`` kernel (lazily, cached).

    Never call one of these from inside a ``prange`` body: nested parallel
    regions are ~100x slower with the omp layer.
    """
    return numba.njit(parallel=True, **_COMMON)(function)


def cast_like(array, value):  # pragma: no cover - replaced inside jitted code
    """Return ``value`` converted to ``array.dtype`` (usable in kernels only).

    A Python float literal promotes float32 arithmetic to float64 inside numba;
    constants built with ``cast_like`` keep float32 kernels in float32.
    """
    return array.dtype.type(value)


@overload(cast_like)
def _cast_like_impl(array, value):
    dtype = array.dtype if isinstance(array, types.Array) else array

    def impl(array, value):
        return dtype(value)

    return impl


def borrowed(array):  # pragma: no cover - replaced inside jitted code
    """``array`` itself, minus its reference count (usable in kernels only).

    numba counts references to every array view with an atomic increment and
    decrement; a training step builds ~75 views (workspace regions, ``W``
    views, the slices handed to BLAS), and on small networks those atomics
    were ~45 % of the step.  Views of a borrowed array carry no meminfo, so
    they cost nothing to make or drop.  Only for arrays the caller keeps
    alive for the whole kernel call (the entry kernels' arguments), and never
    returned to Python.
    """
    return array


def matrix_view(vector, start, m, n):
    """``vector[start:start + m*n].reshape(m, n)``, made directly (kernels only).

    numba's ``reshape`` calls a C helper (``numba_attempt_nocopy_reshape``)
    every time, even for a contiguous slice; on small networks, where a step
    makes dozens of such views, that call was ~11 % of the step.  The view
    shares ``vector``'s memory (and reference count).  Raises ``IndexError``
    if the block does not fit in ``vector``.

    Parameters
    ----------
    vector : ndarray, shape (size,), C-contiguous
    start, m, n : int
        First element and shape of the block, ``start + m*n <= size``.
    """
    if start < 0 or m < 0 or n < 0 or start + m * n > vector.shape[0]:
        raise IndexError("matrix_view: the block does not fit in the vector")
    return vector[start:start + m * n].reshape(m, n)


if not numba.config.DISABLE_JIT:

    @intrinsic
    def _borrowed(typingctx, array):
        def codegen(context, builder, signature, args):
            source = context.make_array(signature.args[0])(context, builder, args[0])
            view = context.make_array(signature.return_type)(context, builder)
            view.meminfo = context.get_constant_null(types.MemInfoPointer(types.voidptr))
            view.parent = context.get_constant_null(types.pyobject)
            view.nitems = source.nitems
            view.itemsize = source.itemsize
            view.data = source.data
            view.shape = source.shape
            view.strides = source.strides
            return view._getvalue()

        return array(array), codegen

    @overload(borrowed)
    def _borrowed_impl(array):
        def impl(array):
            return _borrowed(array)

        return impl

    @intrinsic
    def _matrix_view(typingctx, vector, start, m, n):
        matrix_type = vector.copy(ndim=2, layout="C")

        def codegen(context, builder, signature, args):
            vector_type = signature.args[0]
            source = context.make_array(vector_type)(context, builder, args[0])
            start, m, n = (context.cast(builder, value, ty, types.intp)
                           for value, ty in zip(args[1:], signature.args[1:]))
            itemsize = context.get_constant(types.intp, context.get_abi_sizeof(
                context.get_data_type(vector_type.dtype)))
            view = context.make_array(signature.return_type)(context, builder)
            context.populate_array(view, data=builder.gep(source.data, [start]),
                                   shape=cgutils.pack_array(builder, [m, n]),
                                   strides=cgutils.pack_array(builder, [builder.mul(n, itemsize), itemsize]),
                                   itemsize=itemsize, meminfo=source.meminfo)
            return impl_ret_borrowed(context, builder, signature.return_type, view._getvalue())

        return matrix_type(vector, start, m, n), codegen

    @overload(matrix_view)
    def _matrix_view_impl(vector, start, m, n):
        if not (isinstance(vector, types.Array) and vector.ndim == 1 and vector.layout == "C"):
            return None

        def impl(vector, start, m, n):
            if start < 0 or m < 0 or n < 0 or start + m * n > vector.shape[0]:
                raise IndexError("matrix_view: the block does not fit in the vector")
            return _matrix_view(vector, start, m, n)

        return impl
