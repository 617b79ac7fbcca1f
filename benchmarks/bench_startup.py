"""Start-up benchmarks: cold compile and warm (cached) start, in subprocesses.

The child process imports fastbp, loads 10,000 seeded samples from a ``.npy``
file, builds a 784-128-10 ReLU/softmax network (float32) and fits one epoch
(batch 32, SGD).  Two figures per run:

* ``first_fit``: wall time of that first ``fit`` call (compilation or cache
  loading included);
* ``start_to_first_epoch``: from just before the process is spawned to the end
  of the first epoch (interpreter start, imports, data loading included).

*Cold*: ``NUMBA_CACHE_DIR`` points at an empty temporary directory, so every
kernel is compiled.  *Warm*: it points at a directory a previous run filled.
All runs happen once, in ``setup_cache`` (a cold run compiles for ~10-30 s);
warm figures are the median of three runs.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from .common import make_data

CHILD = r"""
import json, sys, time
import numpy as np
import fastbp
X = np.load(sys.argv[1])
y = np.load(sys.argv[2])
net = fastbp.Network([784, 128, 10], activation="relu", output="softmax", loss="cross_entropy",
                     dtype=np.float32, seed=0)
t0 = time.perf_counter()
net.fit(X, y, epochs=1, batch_size=32, optimizer=fastbp.SGD(lr=0.01))
t1 = time.perf_counter()
print(json.dumps({"first_fit": t1 - t0, "end": time.time()}))
"""


def run_child(cache_dir, x_path, y_path, extra_env=None):
    """Run the start-up script once; return its figures (seconds)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    env.update(extra_env or {})
    start = time.time()
    done = subprocess.run([sys.executable, "-c", CHILD, x_path, y_path], env=env, capture_output=True,
                          text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"first_fit": result["first_fit"], "start_to_first_epoch": result["end"] - start}


def measure_startup(warm_runs=3):
    """Cold run, then ``warm_runs`` warm runs on the cache it left."""
    with tempfile.TemporaryDirectory(prefix="fastbp-startup-") as tmp:
        X, y = make_data(10000, 784, 10)
        x_path, y_path = os.path.join(tmp, "X.npy"), os.path.join(tmp, "y.npy")
        np.save(x_path, X)
        np.save(y_path, y)
        cache = os.path.join(tmp, "numba-cache")
        os.mkdir(cache)
        cold = run_child(cache, x_path, y_path)
        warm = [run_child(cache, x_path, y_path) for _ in range(warm_runs)]
    figures = {f"cold_{k}": v for k, v in cold.items()}
    for key in ("first_fit", "start_to_first_epoch"):
        figures[f"warm_{key}"] = statistics.median(w[key] for w in warm)
    return figures


class Startup:
    """Cold compile and warm start of 784-128-10 on 10,000 samples."""

    timeout = 600

    def setup_cache(self):
        try:
            import fastbp  # noqa: F401
        except ImportError as error:
            raise NotImplementedError(str(error)) from None
        return measure_startup()

    setup_cache.timeout = 600

    def track_cold_first_fit(self, figures):
        """First ``fit`` with an empty numba cache: compiling every kernel."""
        return figures["cold_first_fit"]

    def track_cold_start_to_first_epoch(self, figures):
        return figures["cold_start_to_first_epoch"]

    def track_warm_first_fit(self, figures):
        """First ``fit`` with a filled numba cache (loading the kernels)."""
        return figures["warm_first_fit"]

    def track_warm_start_to_first_epoch(self, figures):
        return figures["warm_start_to_first_epoch"]


for _track in (Startup.track_cold_first_fit, Startup.track_cold_start_to_first_epoch,
               Startup.track_warm_first_fit, Startup.track_warm_start_to_first_epoch):
    _track.unit = "seconds"
