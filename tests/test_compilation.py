"""Nothing compiles at import; each kernel compiles once, with no reference counting; a second
process loads the kernels from disk."""
import json
import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest

from fastbp._jit import call_compiled, entry_kernel, kernel, parallel_kernel

PROBE = textwrap.dedent("""
    import json, re, sys
    import numba, numpy as np
    import fastbp
    from fastbp import epoch
    def kernels():
        import fastbp._jit  # every kernel is a numba dispatcher in some fastbp module
        for name, module in list(sys.modules.items()):
            if name.startswith("fastbp"):
                for attr, value in vars(module).items():
                    if isinstance(value, numba.core.registry.CPUDispatcher):
                        yield f"{name}.{attr}", value
    def compiled():
        return {name: len(kernel.overloads) for name, kernel in kernels() if kernel.overloads}
    at_import = compiled()
    net = fastbp.Network([4, 5, 3], output="softmax", loss="cross_entropy", seed=0)
    net.fit(np.ones((6, 4)), [0, 1, 2, 0, 1, 2], epochs=1, batch_size=2)
    stats = epoch.train_batches.stats
    after_fit = compiled()
    nrt_calls = copies = None
    if stats.cache_misses:  # compiled here, so the LLVM IR is at hand
        # Every kernel compiled for the fit, since train_batches calls its big
        # kernels' own code (fastbp._jit.call_compiled) rather than a copy.
        nrt_calls = sum(len(re.findall(r"call [^\\n]*@NRT_(?:incref|decref)\\(", ir))
                        for _, kernel in kernels() for ir in kernel.inspect_llvm().values())
        ir = epoch.train_batches.inspect_llvm(epoch.train_batches.signatures[0])
        copies = len(re.findall(r"define [^\\n]*(?:batch_chunk|gradient_update_task|first_layer_rows)", ir))
    loss = net.loss(np.ones((6, 4)), [0, 1, 2, 0, 1, 2])
    print(json.dumps({"at_import": at_import, "after_fit": after_fit, "nrt_calls": nrt_calls, "copies": copies,
                      "loss": loss, "hits": sum(stats.cache_hits.values()),
                      "misses": sum(stats.cache_misses.values())}))
""")


def run_probe(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=600,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_nothing_compiles_at_import_each_kernel_once_and_the_cache_is_reused(tmp_path):
    first = run_probe(tmp_path)
    assert first["at_import"] == {}
    assert first["misses"] >= 1 and first["hits"] == 0  # compiled, then written to the cache
    # One dtype, one signature per kernel: a literal argument (``f(x, 0)``)
    # would compile its callee once more, for nothing but compile time.
    assert first["after_fit"] and all(count == 1 for count in first["after_fit"].values()), first["after_fit"]
    # Compiled without numba's runtime (fastbp._jit, ``_nrt``): not one
    # reference-count call in the whole training call tree (389 with it).
    assert first["nrt_calls"] == 0
    # The step's big kernels are called, not copied into train_batches
    # (fastbp._jit.call_compiled): each copy was LLVM work of a cold fit.
    # numba before 0.63 has no hook to bind them on a cache load: copies there.
    numba_version = tuple(int(part) for part in numba.__version__.split(".")[:2])
    assert first["copies"] == 0 or numba_version < (0, 63)
    second = run_probe(tmp_path)
    assert second["hits"] >= 1 and second["misses"] == 0  # loaded, not compiled again
    # ... and bound to the kernels it calls, which are loaded from the cache too.
    assert second["loss"] == first["loss"]


def test_every_kernel_states_its_floating_point_flags():
    """A kernel that leaves ``fastmath`` unset is compiled with the flags of the kernel that
    first calls it (numba inherits them), and every caller then shares that code: a strict
    helper first reached from a reassociating kernel would round differently for all
    (fastbp._jit).  So each kernel says which flags it has."""
    import importlib
    import pkgutil

    import numba

    import fastbp

    kernels = {}
    for info in pkgutil.iter_modules(fastbp.__path__):
        module = importlib.import_module(f"fastbp.{info.name}")
        for attr, value in vars(module).items():
            if isinstance(value, numba.core.registry.CPUDispatcher) and value.__module__ == module.__name__:
                kernels[f"{module.__name__}.{attr}"] = value.targetoptions
    assert len(kernels) > 30
    unset = sorted(name for name, options in kernels.items() if "fastmath" not in options)
    assert not unset, unset
    reassociating = {name for name, options in kernels.items() if options["fastmath"]}
    assert "fastbp.gradient_update.sgd_rows_times" in reassociating
    assert "fastbp.optimizers.sgd_moved" not in reassociating


@kernel
def _scaled_sum(x, scale):
    if scale < 0.0:
        raise ValueError("negative scale")
    total = 0.0
    for value in x:
        total += value * scale
    return total


@entry_kernel
def _scaled_sum_called(x, scale):
    return call_compiled(_scaled_sum, x, scale)


@entry_kernel
def _scaled_sum_called_with_a_literal(x):
    return call_compiled(_scaled_sum, x, 3)  # typed Literal[int](3) here, int64 in the kernel


def test_call_compiled_returns_the_kernels_result_and_passes_its_exceptions_on():
    x = np.arange(5.0)
    assert _scaled_sum_called(x, 2.0) == 20.0
    assert _scaled_sum_called_with_a_literal(x) == 30.0
    with pytest.raises(ValueError, match="negative scale"):
        _scaled_sum_called(x, -1.0)


def _zero_then_add(x, y):
    x[:] = 0  # a parallel loop of its own, were numba's setitem transform on
    for i in numba.prange(x.shape[0]):
        x[i] += y[i]


def test_parallel_kernels_run_only_their_prange_loops_in_parallel(tmp_path, monkeypatch):
    """fastbp._jit.parallel_kernel turns numba's other parallel transforms and loop fusion off,
    for every specialisation: numba popped its options out of a dict on the first compile, so a
    second dtype was compiled with all of them on."""
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))  # compiled here, with metadata
    compiled = parallel_kernel(_zero_then_add)
    for dtype in (np.float64, np.float32):
        x = np.ones(8, dtype)
        y = np.arange(8, dtype=dtype)
        compiled(x, y)
        np.testing.assert_array_equal(x, y)
        diagnostics = compiled.overloads[compiled.signatures[-1]].metadata["parfor_diagnostics"]
        assert len(diagnostics.initial_parfors) == 1, dtype  # the prange loop, not x[:] = 0
        assert not diagnostics.fusion_enabled
