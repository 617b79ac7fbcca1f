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
  that guard training would lie.  Said explicitly (``fastmath=False``):
  numba compiles a kernel that leaves it unset with the flags of the kernel
  that first calls it, so a strict helper first reached from a
  :func:`reassociating_kernel` would be compiled reassociated, for every
  caller (``sgd_moved``'s float32 updates were then one ulp off the
  textbook step in 8 % of a test block's elements).
* ``nogil=True``: kernels release the GIL, so Python threads can predict with
  the same network concurrently.
* ``_nrt=False``: compiled without numba's runtime (NRT), which fastbp's
  kernels do not need: they never allocate (every array comes from the
  caller, which keeps it alive for the call) and never return an array.
  With the runtime, numba counts references to every array value a kernel
  passes or views, each count a call into the runtime (atomic, and never
  inlined): 57 increments and as many decrements per step of a 16-32-1
  per-sample epoch, counted with a debugger, ~11 % of the step's samples in
  perf.  Without it those calls are not emitted at all: per-sample SGD ran
  1.58x faster on 16-32-2 and 1.32x on 64-32-10 (``benchmarks.ab``), and
  784-128-10 was unchanged.  Views are made by
  :func:`view_function` helpers, since a runtime-free compiled function may
  only return arrays it was given.  ``_nrt`` is a leading-underscore numba
  option (numba's own tests and maintainers use it); ``test_compilation``
  checks that no reference-count call is left in a training kernel.

The drivers that open ``prange`` regions call the step's big kernels through
:func:`call_compiled`, and those kernels call theirs the same way, so that
numba does not optimise and emit a copy of each kernel in every caller and
region (see there).
"""
import functools
import hashlib
import importlib
import inspect

import llvmlite.binding
import numba
from numba import types
from numba.core import cgutils
from numba.core.cpu_options import ParallelOptions
from numba.core.imputils import impl_ret_borrowed, lower_builtin
from numba.core.typing import signature as make_signature
from numba.extending import intrinsic, overload, type_callable

_COMMON = dict(cache=True, nogil=True, error_model="numpy", _nrt=False)
_STRICT = dict(fastmath=False, **_COMMON)
# An options object, not the dict numba also takes: numba pops the keys out of
# a dict when it compiles, so a kernel's second specialisation found it empty
# and had every transform on again.
_ONLY_PRANGE = ParallelOptions(dict(prange=True, fusion=False, comprehension=False, reduction=False,
                                    inplace_binop=False, setitem=False, numpy=False, stencil=False))


def kernel(function):
    """Compile ``function`` as a serial nopython kernel (lazily, cached).

    Callable from other kernels only: numba builds no CPython or C-callable
    wrapper for it, which it would otherwise generate (and compile) for every
    helper of the call tree; measured ~10 % of a cold first ``fit``.
    """
    return numba.njit(no_cpython_wrapper=True, no_cfunc_wrapper=True, **_STRICT)(function)


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
    """:func:`reassociating_kernel`, also callable from Python (no ``cfunc``
    wrapper, as :func:`entry_kernel`)."""
    return numba.njit(no_cfunc_wrapper=True, fastmath={"reassoc", "contract"}, **_COMMON)(function)


def entry_kernel(function):
    """Like :func:`kernel`, and also callable from Python.

    Only numba's CPython wrapper is built: nothing calls a kernel through a C
    function pointer (``cfunc``), so that wrapper would be compiled for nothing.
    """
    return numba.njit(no_cfunc_wrapper=True, **_STRICT)(function)


def parallel_kernel(function):
    """Compile ``function`` as a kernel with ``prange`` loops (lazily, cached).

    Never call one of these from inside a ``prange`` body: nested parallel
    regions are ~100x slower with the omp layer.

    Only explicit ``prange`` loops run in parallel: numba's other parallel
    transforms (array expressions, reductions, ``A[...] = x``, ...) and its
    loop fusion are off.  Nothing else is split over threads behind the
    code's back, and fusion's analysis of the drivers, which have nothing to
    fuse, took 0.3-0.4 s of the first ``fit``'s compile.  No C-callable
    wrapper either (see :func:`entry_kernel`).
    """
    return numba.njit(parallel=_ONLY_PRANGE, no_cfunc_wrapper=True, **_STRICT)(function)


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


def _check_block(size, start, m, n):
    if start < 0 or m < 0 or n < 0 or start + m * n > size:
        raise IndexError("the block does not fit in the vector")


def view_function(block):
    """Decorator: turn ``block(vector, ...) -> (start, m, n)`` into a function
    returning the C-contiguous ``(m, n)`` view ``vector[start:start + m*n]``.

    Inside kernels the view is built inline, with no call, no reshape helper
    and no reference count: kernels are compiled without numba's runtime
    (see ``_nrt`` above), where a compiled function may not return an array
    it did not receive, so a view-making helper cannot be an ordinary
    kernel.  numba's ``reshape`` also called a C helper
    (``numba_attempt_nocopy_reshape``) every time, ~11 % of a small
    network's step.  ``block`` itself is compiled (it may read the layer
    table) and the block is bounds-checked: ``IndexError`` if it does not fit
    in ``vector``, in Python (``NUMBA_DISABLE_JIT``) and in kernels alike.

    Parameters
    ----------
    block : callable
        ``block(vector, *args)`` returning ``(start, m, n)``; ``vector`` must
        be a 1-D C-contiguous array.
    """
    @functools.wraps(block)
    def view(vector, *args):
        start, m, n = block(vector, *args)
        _check_block(vector.shape[0], start, m, n)
        return vector[start:start + m * n].reshape(m, n)

    if numba.config.DISABLE_JIT:
        return view

    @type_callable(view)
    def _type_view(context):
        def typer(vector, *args):
            if isinstance(vector, types.Array) and vector.ndim == 1 and vector.layout == "C":
                return vector.copy(ndim=2, layout="C")
            return None

        typer.__signature__ = inspect.signature(block)  # numba binds the call's arguments by it
        return typer

    @lower_builtin(view, types.Array, types.VarArg(types.Any))
    def _lower_view(context, builder, signature, args):
        vector_type = signature.args[0]
        intp = types.intp
        start_m_n = context.compile_internal(builder, block, types.UniTuple(intp, 3)(*signature.args), args)
        start, m, n = cgutils.unpack_tuple(builder, start_m_n, 3)
        source = context.make_array(vector_type)(context, builder, args[0])
        size = cgutils.unpack_tuple(builder, source.shape, 1)[0]
        context.compile_internal(builder, _check_block, types.none(intp, intp, intp, intp), [size, start, m, n])
        itemsize = context.get_constant(intp, context.get_abi_sizeof(context.get_data_type(vector_type.dtype)))
        result = context.make_array(signature.return_type)(context, builder)
        context.populate_array(result, data=builder.gep(source.data, [start]),
                               shape=cgutils.pack_array(builder, [m, n]),
                               strides=cgutils.pack_array(builder, [builder.mul(n, itemsize), itemsize]),
                               itemsize=itemsize, meminfo=source.meminfo)
        return impl_ret_borrowed(context, builder, signature.return_type, result._getvalue())

    return view


@view_function
def matrix_view(vector, start, m, n):
    """``vector[start:start + m*n].reshape(m, n)``: a view sharing ``vector``'s memory.

    Made directly inside kernels (see :func:`view_function`).  Raises
    ``IndexError`` if the block does not fit in ``vector``.

    Parameters
    ----------
    vector : ndarray, shape (size,), C-contiguous
    start, m, n : int
        First element and shape of the block, ``start + m*n <= size``.
    """
    return start, m, n


def _callee_symbol(dispatcher, argtypes):
    """Process-wide symbol of ``dispatcher``'s overload for ``argtypes``.

    Stable across processes (a cached caller names it), distinct for two
    copies of fastbp loaded side by side (``benchmarks.ab``): it hashes the
    source file, the function and the argument types.
    """
    function = dispatcher.py_func
    key = f"{function.__code__.co_filename}:{function.__module__}.{function.__qualname__}{tuple(argtypes)}"
    return "fastbp_kernel_" + hashlib.sha1(key.encode()).hexdigest()


def _publish_callee(module, qualname, argtypes):
    """Compile (or load from the cache) the kernel ``module.qualname`` for
    ``argtypes`` and publish its machine code's address under
    :func:`_callee_symbol`.  Returns the symbol and the compile result.

    Runs when a caller of :func:`call_compiled` is compiled, and again, by
    numba's ``reload_init`` hook, before a cached caller is loaded (whose
    machine code refers to the symbol).
    """
    dispatcher = importlib.import_module(module)
    for part in qualname.split("."):
        dispatcher = getattr(dispatcher, part)
    argtypes = tuple(argtypes)
    dispatcher.compile(argtypes)
    result = dispatcher.overloads[argtypes]
    symbol = _callee_symbol(dispatcher, argtypes)
    address = result.library.get_pointer_to_function(result.fndesc.llvm_func_name)
    llvmlite.binding.add_symbol(symbol, address)
    return symbol, result


def _call_in_python(kernel, *args):
    """``kernel(*args)``, calling ``kernel``'s own compiled code rather than a copy of it.

    numba compiles every kernel into its own library and links a copy of
    it, and of everything it calls, into each caller's library, which LLVM
    then optimises and turns into machine code once more.  A ``prange``
    region adds three such libraries (the region's function, its wrapper and
    its launcher), so the step's big kernels (``batch_chunk``,
    ``gradient_update_task`` ...) were optimised and emitted four to ten
    times over in a cold first ``fit``.  Called through ``call_compiled``,
    the caller holds only a call to an external symbol, bound to the
    kernel's machine code when the caller is compiled or loaded from the
    cache (:func:`_publish_callee`).  The kernel is the same compiled code;
    only LLVM's inlining across this call is given up, which costs nothing
    measurable at one call per row chunk or task.  (numba before 0.63 has no
    per-library ``reload_init`` hook: there it links a copy in, like a plain
    call.)

    Parameters
    ----------
    kernel : numba dispatcher
        A fastbp kernel (a module-level function).
    *args
        Its arguments.
    """
    return kernel(*args)


def _type_call_compiled(typingctx, kernel, *args):
    if not isinstance(kernel, types.Dispatcher):
        return None
    call_signature = typingctx.resolve_function_type(kernel, args, {})  # compiles the kernel
    if call_signature is None:
        return None
    argtypes = tuple(call_signature.args)
    function = kernel.dispatcher.py_func
    where = (function.__module__, function.__qualname__, argtypes)

    def codegen(context, builder, signature, llvm_args):
        library = context.active_code_library
        if hasattr(library, "_reload_init"):
            symbol, result = _publish_callee(*where)
            # Pickled with the caller's cache entry, run before it is loaded.
            library._reload_init.add(functools.partial(_publish_callee, *where))
        else:  # numba < 0.63 has no such hook: link a copy in, as a plain call does
            result = kernel.dispatcher.overloads[argtypes]
            symbol = result.fndesc.mangled_name
            library.add_linking_library(result.library)
        return_type = result.signature.return_type
        callee = cgutils.get_or_insert_function(
            builder.module, context.call_conv.get_function_type(return_type, argtypes), symbol)
        given = signature.args[1].types  # the call's own types, which the kernel's may widen
        values = [context.cast(builder, value, source, target) for value, source, target
                  in zip(cgutils.unpack_tuple(builder, llvm_args[1], len(argtypes)), given, argtypes)]
        status, value = context.call_conv.call_function(builder, callee, return_type, argtypes, values)
        with cgutils.if_unlikely(builder, status.is_error):  # an exception raised in the kernel
            context.call_conv.return_status_propagate(builder, status)
        return value

    return make_signature(call_signature.return_type, kernel, types.StarArgTuple.from_types(args)), codegen


if numba.config.DISABLE_JIT:
    call_compiled = _call_in_python
else:
    call_compiled = intrinsic(_type_call_compiled)
    call_compiled.__doc__ = _call_in_python.__doc__
