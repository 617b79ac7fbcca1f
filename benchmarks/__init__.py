"""fastbp benchmarks.

* the asv suite (``bench_*.py``): ``asv run --python=same --quick`` from the
  repository root (see ``docs/benchmarks.md``);
* ``python -m benchmarks.compare``: fastbp against PyTorch, JAX, scikit-learn
  and plain NumPy, each peer in its own process;
* ``python -m benchmarks.profile_step``: one training step broken down into
  its kernels.

Nothing heavy is imported here: asv imports every module of this package to
discover benchmarks, and the peers are optional.
"""
