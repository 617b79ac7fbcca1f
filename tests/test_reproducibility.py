"""Same seed, same bits: across thread counts and processes; no growth per epoch."""
import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np

import fastbp

SCRIPT = textwrap.dedent("""
    import hashlib, sys
    import numpy as np
    import fastbp
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 48)).astype(np.float32)
    y = rng.integers(0, 10, size=300)
    X2 = rng.normal(size=(40, 256)).astype(np.float32)
    y2 = rng.integers(0, 4, size=40)
    X3 = rng.normal(size=(72, 512)).astype(np.float32)
    y3 = rng.integers(0, 10, size=72)
    digests = []
    for n_threads in [int(t) for t in sys.argv[1].split(",")]:
        net = fastbp.Network([48, 160, 96, 10], activation=["relu", "tanh"], output="softmax",
                             loss="cross_entropy", dtype=np.float32, seed=3)
        net.fit(X, y, epochs=3, batch_size=50, optimizer=fastbp.Adam(lr=1e-3), n_threads=n_threads)
        net.fit(X, y, epochs=2, batch_size=1, optimizer=fastbp.SGD(lr=1e-3, momentum=0.9), n_threads=n_threads)
        # Per-sample steps that split the first layer over the threads (parallel.first_layer_dominates).
        wide = fastbp.Network([256, 128, 4], activation="relu", output="softmax", loss="cross_entropy",
                              dtype=np.float32, seed=4)
        wide.fit(X2, y2, epochs=1, batch_size=1, optimizer=fastbp.Adam(lr=1e-3), n_threads=n_threads)
        # Plain SGD takes its own fused pass there (gradient_update.sgd_rows_times).
        wide.fit(X2, y2, epochs=1, batch_size=1, optimizer=fastbp.SGD(lr=1e-2), n_threads=n_threads)
        wide.fit(X2, y2, epochs=2, batch_size=8, optimizer=fastbp.SGD(lr=1e-2, momentum=0.9), n_threads=n_threads)
        # Big leading layers in 2-D tiles (parallel.tiled_layers: 4 threads or more).
        big = fastbp.Network([512, 512, 512, 10], activation="tanh", output="softmax", loss="cross_entropy",
                             dtype=np.float32, seed=5)
        big.fit(X3, y3, epochs=1, batch_size=32, optimizer=fastbp.Adam(lr=1e-3), n_threads=n_threads)
        digests.append(hashlib.sha256(net.parameters.tobytes() + wide.parameters.tobytes()
                                      + big.parameters.tobytes()).hexdigest())
    print(" ".join(digests))
""")


def run_script(threads, max_threads="4"):
    env = dict(os.environ, NUMBA_NUM_THREADS=max_threads)
    out = subprocess.run([sys.executable, "-c", SCRIPT, threads], env=env, capture_output=True, text=True,
                         timeout=600, check=True)
    return out.stdout.split()


def test_bit_identical_with_1_2_and_4_threads_and_across_processes():
    first = run_script("1,2,4")
    assert len(first) == 3 and len(set(first)) == 1, first
    second = run_script("4")
    assert second[0] == first[0]


def test_work_is_really_split_in_that_setting(monkeypatch):
    # The network of the script is split in several row chunks and gradient
    # tasks when 4 threads are available, so the test above exercises them.
    from fastbp.layout import build_layer_table
    from fastbp.parallel import gradient_tasks, row_plan

    layers, _ = build_layer_table([48, 160, 96, 10], [3, 2, 5], True)
    plan = row_plan(layers, 50)
    assert plan[1] < 50  # several rows chunks per batch of 50 (with max_threads > 1)
    assert plan[2] == 1  # and the gradient round is split across threads
    assert len(gradient_tasks(layers, 50)) >= 3
    wide, _ = build_layer_table([256, 128, 4], [3, 0], True)
    assert row_plan(wide, 1)[2] == 1  # the per-sample fit splits its first layer,
    assert row_plan(wide, 8)[3] == 1  # and so does the batch-8 fit
    assert sum(task[0] == 0 for task in gradient_tasks(wide, 1)) >= 2
    from fastbp import parallel

    monkeypatch.setattr(parallel, "max_threads", lambda: 4)  # the script's NUMBA_NUM_THREADS
    big, _ = build_layer_table([512, 512, 512, 10], [2, 2, 5], True)
    assert row_plan(big, 32)[5] == 2  # its two big layers are tiled


def test_gradient_tasks_cover_every_row_once_in_balanced_lanes():
    from fastbp.layout import build_layer_table
    from fastbp.parallel import gradient_tasks, max_threads

    layers, _ = build_layer_table([784, 1024, 128, 10], [3, 3, 5], True)
    tasks = gradient_tasks(layers, 256)
    assert tasks.shape[1] == 4
    assert np.all(np.diff(tasks[:, 3]) >= 0)  # ordered by lane
    assert tasks[:, 3].min() >= 0 and tasks[:, 3].max() < max_threads()
    for l, (n_in, n_out) in enumerate(layers[:, :2]):
        rows = np.zeros(n_out, int)
        for _, j0, j1, _ in tasks[tasks[:, 0] == l]:
            rows[j0:j1] += 1
        assert np.all(rows == 1)
    work = np.zeros(max_threads())
    for l, j0, j1, lane in tasks:
        work[lane] += (j1 - j0) * layers[l, 0]
    # Greedy largest-first: no lane carries more than the mean plus the largest task.
    largest = max((j1 - j0) * layers[l, 0] for l, j0, j1, _ in tasks)
    assert work.max() <= work.mean() + largest


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_memory_does_not_grow_over_epochs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 32)).astype(np.float32)
    y = rng.integers(0, 10, size=2000)
    net = fastbp.Network([32, 64, 10], output="softmax", loss="cross_entropy", seed=0)
    net.fit(X, y, epochs=1, batch_size=16, optimizer=fastbp.Adam(1e-3))  # compile, allocate
    traced, rss = [], []

    def sample(net, epoch, logs):
        traced.append(tracemalloc.get_traced_memory()[0])
        rss.append(_rss_bytes())

    tracemalloc.start()
    try:
        net.fit(X, y, epochs=20, batch_size=16, callbacks=[sample])
    finally:
        tracemalloc.stop()
    # After the first epoch only the history's few floats may be added.
    assert traced[-1] - traced[0] < 16 * 1024, traced
    assert rss[-1] - rss[0] < 1024 * 1024, rss


def _per_sample_runs_without_and_with_unit_weights(make_optimizer):
    """Parameters and loss history of two per-sample fits of a net whose first layer is
    split over the threads: without sample weights (the update computes the next a^1,
    gradient_update_task's x_next) and with weights of one (that fusion is off)."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(40, 256)).astype(np.float32)
    y = rng.integers(0, 4, size=40)
    runs = []
    for sample_weight in (None, np.ones(40, np.float32)):
        net = fastbp.Network([256, 128, 4], activation="tanh", output="softmax", loss="cross_entropy",
                             dtype=np.float32, seed=5)
        history = net.fit(X, y, epochs=2, batch_size=1, optimizer=make_optimizer(), sample_weight=sample_weight)
        runs.append((net.parameters.copy(), history.loss))
    return runs


def test_next_forward_fused_into_the_update_gives_the_same_bits():
    """Weights of one change nothing but the fusion, so both runs must agree to the bit.
    (Plain SGD fuses further, see the next test.)"""
    (unweighted, _), (weighted, _) = _per_sample_runs_without_and_with_unit_weights(
        lambda: fastbp.SGD(lr=1e-2, momentum=0.9))
    np.testing.assert_array_equal(unweighted, weighted)


def test_plain_sgd_pass_over_the_first_layer_agrees_with_the_unfused_step():
    """Plain SGD moves the first layer's rows and multiplies them by the next input in
    one pass (gradient_update.sgd_rows_times).  The weights move by the same operations,
    but the next a^1 is summed in another order than the separate product's (each fixed
    when compiled, whatever the thread count), so the runs agree to float32 rounding, not
    to the bit."""
    (unweighted, loss), (weighted, weighted_loss) = _per_sample_runs_without_and_with_unit_weights(
        lambda: fastbp.SGD(lr=1e-2))
    np.testing.assert_allclose(unweighted, weighted, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(loss, weighted_loss, rtol=1e-5)
