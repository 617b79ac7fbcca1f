"""Matrix products in kernels: a direct call of BLAS ``gemm``.

``gemm(A, transpose_a, B, transpose_b, C)`` writes ``op(A) @ op(B)`` into
``C``, through the same SciPy OpenBLAS that numba's ``np.dot`` calls (numba's
``numba_xxgemm`` helper), but without ``np.dot``'s limits:

* an operand may be a block of columns of a larger matrix (its row stride is
  passed to BLAS as the leading dimension), so the weight gradient
  ``δ[:, j0:j1]ᵀ · A`` needs no transposed copy of δ;
* a transposed operand is named by a flag, not by a ``.T`` view;
* no layout dispatch and no temporary: one call, after a check of the shapes
  and strides.

Every matrix must have unit stride along its rows (a C-contiguous array or a
block of one); each row stride is a leading dimension.  Shapes that do not
fit raise ``ValueError``.  Under ``NUMBA_DISABLE_JIT`` the same function runs
``np.matmul``.

Which BLAS: SciPy's OpenBLAS by default.  :func:`use` (or the environment
variable ``FASTBP_BLAS=mkl`` at import) switches the kernels to Intel MKL's
sequential ``?gemm`` when the optional ``mkl`` package is installed
(``pip install "fastbp[mkl]"``).  The kernels read the library's address from
a small table at every call, so nothing is compiled again and the on-disk
cache serves both.  On this project's 2-core Intel machines MKL's
single-threaded ``sgemm`` ran 1.1-2.5x faster than OpenBLAS's on the products
of batch chunks of 16 rows and more (``python -m benchmarks.blas_vs_mkl``);
measure on yours.
"""
import ctypes
import ctypes.util
import glob
import os
import site
import sys

import llvmlite.binding
import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic, overload, register_jitable


LIBRARIES = ("openblas", "mkl")
# Multiply-adds from which a product goes to the library chosen by use();
# smaller ones stay with OpenBLAS.  MKL's sequential sgemm mostly lost to
# OpenBLAS below this (0.3-1.0x at batch 4-16 × 64-128 × 784 and on tiny
# layers; its δ recursion alone won) and won above it (1.0-2.5x at batch
# 16-128 × 128 × 784 and 128 × 1024 × 1024; benchmarks.blas_vs_mkl).
OTHER_MIN_MACS = 1 << 20

# What the kernels read at every product: per BLAS kind ("s": float32, "d":
# float64) the address of the chosen library's Fortran ?gemm (0: numba's
# helper, SciPy's OpenBLAS), then the fewest multiply-adds sent to it.  Jitted
# code refers to the table by symbol name, so cached kernels find it too.
_KINDS = ("s", "d")
_MIN_MACS = len(_KINDS)
# ...and the largest product OpenBLAS runs with its small-matrix kernels (0:
# none known), see set_openblas_small_limit.
_SMALL_MACS = _MIN_MACS + 1
# The symbol names the module (two fastbp copies in one process, as in
# benchmarks.ab, keep their own tables) and the table's layout version (a
# kernel compiled for another layout cannot find it).
_TABLE_SYMBOL = __name__.replace(".", "_") + "_gemm_table_v2"
_table = (ctypes.c_int64 * (len(_KINDS) + 2))(*([0] * len(_KINDS) + [OTHER_MIN_MACS, 0]))
llvmlite.binding.add_symbol(_TABLE_SYMBOL, ctypes.addressof(_table))
_chosen = {"name": "openblas", "library": None}
# MKL's service constants (mkl_service.h).
_MKL_THREADING_SEQUENTIAL = 1
_MKL_INTERFACE_LP64 = 0


def use(name, min_macs=OTHER_MIN_MACS):
    """Choose the BLAS that fastbp's kernels call for matrix products.

    Parameters
    ----------
    name : {"openblas", "mkl"}
        ``"openblas"``: SciPy's OpenBLAS, through numba (the default).
        ``"mkl"``: Intel MKL's ``sgemm``/``dgemm``, sequential, from the
        ``mkl`` package (``pip install "fastbp[mkl]"``).
    min_macs : int, optional
        With ``"mkl"``: the smallest product (``m·n·k`` multiply-adds) sent
        to MKL; smaller ones stay with OpenBLAS, which was faster on them
        (:data:`OTHER_MIN_MACS`).  0 sends every product to MKL.

    Notes
    -----
    Takes effect at the next product; call it before training, not while
    another thread trains.  Results differ from OpenBLAS's in the last bits
    (another summation order), and stay independent of the thread count.
    Under ``NUMBA_DISABLE_JIT`` products are NumPy's whatever is chosen.

    Raises
    ------
    ValueError
        If ``name`` is not a known library.
    ImportError
        If MKL is asked for and cannot be loaded.
    """
    if name not in LIBRARIES:
        raise ValueError(f"BLAS must be one of {LIBRARIES}, got {name!r}")
    if (isinstance(min_macs, (bool, np.bool_)) or not isinstance(min_macs, (int, np.integer))
            or not 0 <= min_macs < 2**63):
        raise ValueError(f"min_macs must be a non-negative int (below 2**63), got {min_macs!r}")
    if name == "openblas":
        for i in range(len(_KINDS)):
            _table[i] = 0
    else:
        library = _chosen["library"] or _load_mkl()
        for i, kind in enumerate(_KINDS):
            _table[i] = ctypes.cast(getattr(library, kind + "gemm_"), ctypes.c_void_p).value
        _chosen["library"] = library
    _table[_MIN_MACS] = min_macs
    _chosen["name"] = name


def current():
    """Name of the BLAS in use (see :func:`use`)."""
    return _chosen["name"]


def min_macs():
    """Smallest product (multiply-adds) sent to the library chosen by :func:`use`."""
    return int(_table[_MIN_MACS])


# OpenBLAS runs products of at most 100³ multiply-adds with "small-matrix"
# kernels that skip packing, on its SkylakeX-class cores (the AVX-512 ones).
# Just above that limit its packed path ran 1.6-2.1x slower on the training
# step's float32 shapes (python -m benchmarks.openblas_small, one thread:
# A·Wᵀ of 16 × 128 × 784 in 53.5 µs whole, 34.1 µs in two pieces of 8 rows;
# D·W of 16 × 784 × 128 55.5 against 27.0 µs; Dᵀ·A of 128 × 784 × 16 56.5
# against 33.7 µs), so gemm splits float32 products of up to twice the limit
# by rows into pieces under it.  Not float64: dgemm's pieces read 0.72-1.24x
# over three runs.  Nor larger products: 32 × 128 × 784 and 64 × 64 × 784
# read 0.94-1.51x split over three runs, not reliably faster.
OPENBLAS_SMALL_MACS = 100 ** 3
OPENBLAS_SMALL_CORES = ("skylakex", "cooperlake", "sapphirerapids")
# Pieces of at least this many rows (multiples of it): 9-row pieces ran
# slower than 8-row ones, and pieces of a few rows lose to one packed call.
SPLIT_ROWS = 8


def set_openblas_small_limit(core):
    """Tell the kernels which OpenBLAS core type serves their products.

    Called once, by the first :func:`fastbp.parallel.threads` (every
    ``fit``, ``predict`` ... enters it before its kernels run), when SciPy's
    OpenBLAS (the one numba calls) is loaded, with its core type as
    threadpoolctl reports it.  On a SkylakeX-class core, float32 products of
    ``OPENBLAS_SMALL_MACS`` to twice that many multiply-adds that OpenBLAS
    serves are split by rows into pieces it runs with its small-matrix
    kernels; elsewhere nothing is split.  The split depends on the shapes
    only, so results stay independent of the thread count.

    Parameters
    ----------
    core : str or None
        OpenBLAS's ``architecture`` (``"SkylakeX"``, ``"Haswell"``, ...).
    """
    small = str(core).lower() in OPENBLAS_SMALL_CORES
    _table[_SMALL_MACS] = OPENBLAS_SMALL_MACS if small else 0


def openblas_small_limit():
    """Largest product (multiply-adds) gemm leaves whole to OpenBLAS's small-matrix kernels (0: no split)."""
    return int(_table[_SMALL_MACS])


def _load_mkl():
    """Load MKL's runtime library, sequential and with 32-bit integers.

    Looks where ``pip install mkl`` puts it (``lib/`` of the environment, or
    of the user base after ``pip install --user``), then on the loader's path.
    """
    candidates = []
    for prefix in (sys.prefix, site.getuserbase()):
        candidates += sorted(glob.glob(os.path.join(prefix, "lib", "libmkl_rt.so*")), reverse=True)
    found = ctypes.util.find_library("mkl_rt")
    candidates += [found] if found else []
    errors = []
    for path in candidates:
        try:
            library = ctypes.CDLL(path)
        except OSError as error:
            errors.append(str(error))
            continue
        # Threads come from fastbp's own parallel loops: MKL must not start
        # its own inside them.  Both calls return the layer in force, which
        # differs if MKL was already loaded and used in this process; another
        # threading layer is still held to one thread by fastbp.threads().
        library.MKL_Set_Threading_Layer(ctypes.c_int(_MKL_THREADING_SEQUENTIAL))
        if library.MKL_Set_Interface_Layer(ctypes.c_int(_MKL_INTERFACE_LP64)) != _MKL_INTERFACE_LP64:
            raise ImportError(f"MKL at {path} uses 64-bit integers (ILP64); fastbp needs LP64")
        return library
    raise ImportError("Intel MKL was not found (install it with: pip install \"fastbp[mkl]\")"
                      + (": " + "; ".join(errors) if errors else ""))


def gemm(A, transpose_a, B, transpose_b, C):
    """``C[...] = op(A) @ op(B)``, ``op(X)`` being ``X.T`` when its flag is set.

    Parameters
    ----------
    A : ndarray, 2-D, float32 or float64
        Unit stride along rows.  ``op(A)`` has shape ``(m, k)``.
    transpose_a : bool
    B : ndarray, 2-D, dtype of A
        Unit stride along rows.  ``op(B)`` has shape ``(k, n)``.
    transpose_b : bool
    C : ndarray, shape (m, n), dtype of A
        Output (overwritten), unit stride along rows; must not overlap A or B.

    Raises
    ------
    ValueError
        If the shapes do not fit or a matrix's rows are not contiguous.
    """
    _check_operands(A, transpose_a, B, transpose_b, C)
    np.matmul(A.T if transpose_a else A, B.T if transpose_b else B, out=C)


@register_jitable
def _small_rows(m, n, k, small_macs, other_library, other_min_macs):
    """Rows per piece of an ``m × n × k`` product (``m``: whole).

    Split only when OpenBLAS serves the product (no other library chosen, or
    the product under its ``min_macs``), its small-matrix kernels are known
    here (``small_macs > 0``) and the product is between ``small_macs`` and
    twice that: pieces of the most multiples of ``SPLIT_ROWS`` rows under
    ``small_macs`` (see :func:`set_openblas_small_limit`).
    """
    macs = m * n * k
    if small_macs <= 0 or macs <= small_macs or macs > 2 * small_macs:
        return m
    if other_library != 0 and macs >= other_min_macs:
        return m
    rows = small_macs // (n * k)
    rows -= rows % SPLIT_ROWS
    return rows if rows >= SPLIT_ROWS else m


@register_jitable
def _check_operands(A, transpose_a, B, transpose_b, C):
    """Raise ``ValueError`` unless BLAS can compute ``C = op(A) @ op(B)``.

    One check for the jitted :func:`gemm` and its NumPy fallback.  Returns
    the inner dimension ``k`` and the leading dimensions of A, B and C.
    """
    k = A.shape[0] if transpose_a else A.shape[1]
    if ((A.shape[1] if transpose_a else A.shape[0]) != C.shape[0] or (B.shape[1] if transpose_b else B.shape[0]) != k
            or (B.shape[0] if transpose_b else B.shape[1]) != C.shape[1]):
        raise ValueError("gemm: shapes do not fit")
    lda, ldb, ldc = _leading_dimension(A), _leading_dimension(B), _leading_dimension(C)
    if lda < 0 or ldb < 0 or ldc < 0:
        raise ValueError("gemm: a matrix's rows are not contiguous, or overlap")
    return k, lda, ldb, ldc


@register_jitable
def _leading_dimension(X):
    """Row stride of ``X`` in elements, the BLAS leading dimension; -1 if BLAS cannot take ``X``.

    Rows must be contiguous and must not overlap.  The row stride of a
    single row or of empty rows does not matter (NumPy may report anything),
    so it is then the row length.
    """
    rows, columns = X.shape
    if rows == 0 or columns == 0:  # NumPy gives empty arrays zero strides
        return max(1, columns)
    if columns > 1 and X.strides[1] != X.itemsize:
        return -1
    if rows == 1:
        return columns
    if X.strides[0] % X.itemsize != 0 or X.strides[0] // X.itemsize < max(1, columns):
        return -1
    return X.strides[0] // X.itemsize


if not numba.config.DISABLE_JIT:
    from numba.np.linalg import check_blas_return, ensure_blas, get_blas_kind, make_constant_slot

    _CHAR = ir.IntType(8)
    _VOID_P = _CHAR.as_pointer()
    _INTP = cgutils.intp_t
    # numba's helperlib (_helperlib.c): loads SciPy's BLAS on first use and
    # forwards to its Fortran ?gemm; returns non-zero if BLAS is missing.
    _XXGEMM = ir.FunctionType(ir.IntType(32), [_CHAR, _CHAR, _CHAR, _INTP, _INTP, _INTP, _VOID_P, _VOID_P, _INTP,
                                               _VOID_P, _INTP, _VOID_P, _VOID_P, _INTP])
    _INT32 = ir.IntType(32)
    _INT64 = ir.IntType(64)
    # sgemm_/dgemm_(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc), all by address.
    _FORTRAN_GEMM = ir.FunctionType(ir.VoidType(), [_VOID_P] * 13)

    def _load_table_entry(builder, i):
        """Load entry ``i`` of the product table (``_table``, found by symbol name)."""
        table = builder.module.globals.get(_TABLE_SYMBOL)
        if table is None:  # declared here, defined by _table (add_symbol)
            table = ir.GlobalVariable(builder.module, ir.ArrayType(_INT64, len(_table)), _TABLE_SYMBOL)
        return builder.load(builder.gep(table, [ir.Constant(_INT32, 0), ir.Constant(_INT32, i)]))

    @intrinsic
    def _table_entry(typingctx, index):
        """Entry ``index`` (a literal int) of the product table, read at run time."""
        if not isinstance(index, types.IntegerLiteral):
            return None

        def codegen(context, builder, signature, args):
            return _load_table_entry(builder, index.literal_value)

        return types.int64(index), codegen

    @intrinsic
    def _column_major_gemm(typingctx, transa, transb, m, n, k, A, lda, B, ldb, C, ldc):
        """Fortran ``?gemm(transa, transb, m, n, k, 1, A, lda, B, ldb, 0, C, ldc)``.

        Calls the library chosen by :func:`use` (its ``?gemm`` address in
        the table) when the product is large enough for it, numba's helper
        otherwise or when the table entry is empty.
        """
        ensure_blas()  # SciPy's BLAS importable, and of the integer width numba expects

        def codegen(context, builder, signature, args):
            transa, transb, m, n, k, A, lda, B, ldb, C, ldc = args
            ta, tb, tm, tn, tk, tA, tlda, tB, tldb, tC, tldc = signature.args
            dtype = tC.dtype
            as_char = [builder.select(flag, ir.Constant(_CHAR, ord("t")), ir.Constant(_CHAR, ord("n")))
                       for flag in (context.cast(builder, transa, ta, types.boolean),
                                    context.cast(builder, transb, tb, types.boolean))]
            sizes = [context.cast(builder, value, ty, types.intp) for value, ty in
                     ((m, tm), (n, tn), (k, tk), (lda, tlda), (ldb, tldb), (ldc, tldc))]
            data = [builder.bitcast(context.make_array(ty)(context, builder, value).data, _VOID_P)
                    for value, ty in ((A, tA), (B, tB), (C, tC))]
            alpha = builder.bitcast(make_constant_slot(context, builder, dtype, 1.0), _VOID_P)
            beta = builder.bitcast(make_constant_slot(context, builder, dtype, 0.0), _VOID_P)
            kind = get_blas_kind(dtype, "gemm")

            def entry(i):
                return _load_table_entry(builder, i)

            chosen = entry(_KINDS.index(kind))
            macs = builder.mul(builder.mul(sizes[0], sizes[1]), sizes[2])
            default_library = builder.or_(builder.icmp_signed("==", chosen, ir.Constant(_INT64, 0)),
                                          builder.icmp_signed("<", macs, entry(_MIN_MACS)))
            for size in sizes:  # the Fortran call below takes 32-bit integers
                default_library = builder.or_(default_library,
                                              builder.icmp_signed(">", size, ir.Constant(_INTP, 2**31 - 1)))
            with builder.if_else(default_library, likely=True) as (default, other):
                with default:
                    function = cgutils.get_or_insert_function(builder.module, _XXGEMM, "numba_xxgemm")
                    status = builder.call(function, (ir.Constant(_CHAR, ord(kind)), as_char[0], as_char[1],
                                                     sizes[0], sizes[1], sizes[2], alpha, data[0], sizes[3], data[1],
                                                     sizes[4], beta, data[2], sizes[5]))
                    check_blas_return(context, builder, status)
                with other:
                    # Fortran ABI, 32-bit integers (LP64): every argument by address.
                    chars = [cgutils.alloca_once_value(builder, c) for c in as_char]
                    ints = [cgutils.alloca_once_value(builder, builder.trunc(v, _INT32)) for v in sizes]
                    fortran = builder.inttoptr(chosen, _FORTRAN_GEMM.as_pointer())
                    builder.call(fortran, (chars[0], chars[1], builder.bitcast(ints[0], _VOID_P),
                                           builder.bitcast(ints[1], _VOID_P), builder.bitcast(ints[2], _VOID_P),
                                           alpha, data[0], builder.bitcast(ints[3], _VOID_P), data[1],
                                           builder.bitcast(ints[4], _VOID_P), beta, data[2],
                                           builder.bitcast(ints[5], _VOID_P)))
            return context.get_dummy_value()

        return types.none(transa, transb, m, n, k, A, lda, B, ldb, C, ldc), codegen

    @intrinsic
    def _any_layout(typingctx, X):
        """``X`` itself, typed as an array of layout ``'A'`` (numba's arrays of
        every layout have the same fields: nothing is copied or converted)."""
        if not isinstance(X, types.Array):
            return None

        def codegen(context, builder, signature, args):
            return impl_ret_borrowed(context, builder, signature.return_type, args[0])

        return X.copy(layout="A")(X), codegen

    @overload(gemm)
    def _gemm_impl(A, transpose_a, B, transpose_b, C):
        if not all(isinstance(X, types.Array) and X.ndim == 2 and X.dtype in (types.float32, types.float64)
                   and X.dtype == C.dtype for X in (A, B, C)):
            return None
        if any(X.layout != "A" for X in (A, B, C)):
            # One compiled product per dtype: the forward pass passes
            # C-contiguous matrices, the weight gradient a block of columns,
            # and each mix of layouts compiled the product and its checks once
            # more; now a mix compiles only this call (gemm's share of a cold
            # first fit: 1.03-1.07 s -> 0.77-0.84 s, benchmarks.compile_time).
            # BLAS reads the strides either way.
            def any_layout(A, transpose_a, B, transpose_b, C):
                gemm(_any_layout(A), transpose_a, _any_layout(B), transpose_b, _any_layout(C))

            return any_layout

        kind = _KINDS.index(get_blas_kind(C.dtype, "gemm"))
        split = C.dtype == types.float32  # dgemm's small kernels did not win reliably (OPENBLAS_SMALL_MACS)

        def impl(A, transpose_a, B, transpose_b, C):
            k, lda, ldb, ldc = _check_operands(A, transpose_a, B, transpose_b, C)
            m, n = C.shape
            if m == 0 or n == 0:
                return
            if k == 0:
                C[:, :] = 0
                return
            # Row-major C = op(A) op(B) is column-major Cᵀ = op(B)ᵀ op(A)ᵀ: B
            # goes first, and each row stride is a leading dimension.
            small_macs = _table_entry(_SMALL_MACS) if split else 0
            rows = _small_rows(m, n, k, small_macs, _table_entry(kind), _table_entry(_MIN_MACS))
            if rows >= m:
                _column_major_gemm(transpose_b, transpose_a, n, m, k, B, ldb, A, lda, C, ldc)
                return
            for r0 in range(0, m, rows):  # pieces for OpenBLAS's small-matrix kernels
                r1 = min(m, r0 + rows)
                if transpose_a:
                    _column_major_gemm(transpose_b, transpose_a, n, r1 - r0, k, B, ldb, A[:, r0:r1], lda,
                                       C[r0:r1], ldc)
                else:
                    _column_major_gemm(transpose_b, transpose_a, n, r1 - r0, k, B, ldb, A[r0:r1], lda,
                                       C[r0:r1], ldc)

        return impl


if os.environ.get("FASTBP_BLAS"):
    use(os.environ["FASTBP_BLAS"])
