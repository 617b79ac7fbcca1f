"""How training speed scales with the thread count: fastbp and its peers at
1, 2, 4, 8, 16 … threads, side by side in one run.

Run from the repository root on a machine with many cores::

    python -m benchmarks.scaling                                  # 1, 2, 4 … all cores
    python -m benchmarks.scaling --threads 1 2 4 8 16 --markdown --json scaling.json
    python -m benchmarks.scaling --cases 'mnist-b64-*' --peers fastbp jax-scan

Every figure comes from :mod:`benchmarks.compare`'s workers (same cases,
data, timing and thread limits: one process per peer, thread count and
round; fewer threads than cores also pins the process to that many cores).
For each case it prints, per thread count, each peer's samples/s, fastbp's
speed-up over its own 1-thread figure and its parallel efficiency
(speed-up / threads), and fastbp / the fastest peer at that thread count.
The NumPy sgemm peak is measured at every thread count too, so fastbp's
share of it can be read per row.
"""
import argparse
import json
import os
import statistics
import sys
import time

from benchmarks import compare

DEFAULT_CASES = ["mnist-b64-sgd", "mnist-b256-sgd", "wide-b256-sgd"]
DEFAULT_PEERS = ["fastbp", "torch", "jax-scan"]


def default_threads():
    """1, 2, 4 … up to the cores this process may use (and that count itself)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    counts, n = [], 1
    while n < cores:
        counts.append(n)
        n *= 2
    return counts + [cores]


def worker_args(args, threads):
    """The namespace :func:`benchmarks.compare.run_worker` reads, for ``threads``."""
    return argparse.Namespace(threads=threads, reps=args.reps, target_s=args.target_s, rounds=args.rounds,
                              timeout=args.timeout, fastbp_blas=args.fastbp_blas, blas_size=args.blas_size,
                              wait_quiet=0, quiet_below=0.25)


def scaling_rows(case, by_threads, peers, blas_by_threads):
    """One row per thread count: rates, fastbp speed-up, efficiency, ratio."""
    rows = []
    base = by_threads.get(min(by_threads), {}).get("fastbp", {}).get("samples_per_s")
    flops = compare.train_flops_per_sample(case["sizes"])
    for threads in sorted(by_threads):
        res = by_threads[threads]
        rates = {p: res[p]["samples_per_s"] for p in peers if "samples_per_s" in res.get(p, {})}
        fast = rates.get("fastbp")
        others = [p for p in rates if p != "fastbp"]
        best = max(others, key=rates.get) if others else None
        blas = blas_by_threads.get(threads)
        peak = blas["float32"]["best"] if blas else None
        speedup = fast / base if fast and base else None
        rows.append(dict(threads=threads, rates=rates, best=best,
                         ratio=fast / rates[best] if fast and best else None,
                         speedup=speedup,
                         efficiency=speedup * min(by_threads) / threads if speedup else None,
                         sgemm=peak,
                         sgemm_fraction=fast * flops / 1e9 / peak if fast and peak else None,
                         skipped={p: r["skipped"] for p, r in res.items() if "skipped" in r}))
    return rows


def print_case(case, rows, peers, markdown, rounds="", out=print):
    """One case's table: a row per thread count (``rounds`` completes the title)."""
    base = min(r["threads"] for r in rows)
    head = ["threads"] + [compare.PEER_TITLES[p] for p in peers] + \
        [f"fastbp speed-up vs {base} thr", "efficiency", "fastbp / fastest peer", "sgemm GFLOP/s", "fastbp % sgemm"]
    table = []
    for r in rows:
        cells = [str(r["threads"])]
        cells += [compare.fmt_rate(r["rates"][p]) if p in r["rates"] else ("skip" if p in r["skipped"] else "—")
                  for p in peers]
        cells.append(f"{r['speedup']:.2f}×" if r["speedup"] else "—")
        cells.append(f"{100 * r['efficiency']:.0f}%" if r["efficiency"] else "—")
        cells.append(f"{r['ratio']:.2f}× ({compare.PEER_TITLES[r['best']]})" if r["ratio"] else "—")
        cells.append(f"{r['sgemm']:.0f}" if r["sgemm"] else "—")
        cells.append(f"{100 * r['sgemm_fraction']:.0f}%" if r["sgemm_fraction"] else "—")
        table.append(cells)
    out(f"{case['name']}: {'-'.join(map(str, case['sizes']))}, batch {case['batch']}, {case['optimizer']}, "
        f"float32, samples/s (median of the timed runs{rounds})")
    compare._emit(head, table, markdown, out)
    out("")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.scaling",
                                description="Training samples/s of fastbp and its peers at 1, 2, 4 … threads.")
    p.add_argument("--threads", type=int, nargs="+", default=None,
                   help="thread counts (default: 1, 2, 4 … and all cores)")
    p.add_argument("--cases", nargs="+", default=DEFAULT_CASES,
                   help=f"benchmarks.compare case names or globs (default: {' '.join(DEFAULT_CASES)})")
    p.add_argument("--peers", nargs="+", default=DEFAULT_PEERS, choices=compare.PEERS,
                   help=f"peers (default: {' '.join(DEFAULT_PEERS)})")
    p.add_argument("--reps", type=int, default=5, help="timed runs per worker (default 5)")
    p.add_argument("--rounds", type=int, default=1, help="workers per peer and thread count, interleaved")
    p.add_argument("--target-s", type=float, default=0.3, help="seconds per timed run (default 0.3)")
    p.add_argument("--timeout", type=float, default=300, help="seconds before a worker is killed")
    p.add_argument("--blas-size", type=int, default=2048, help="matrix size of the sgemm peak")
    p.add_argument("--fastbp-blas", default="openblas", choices=["openblas", "mkl"])
    p.add_argument("--markdown", action="store_true", help="print the tables as markdown")
    p.add_argument("--json", default=None, help="write every raw result here (rewritten after each case)")
    args = p.parse_args(argv)
    threads = sorted(set(args.threads or default_threads()))
    cases = compare.select_cases(args.cases, quick=False)
    if any(c["kind"] != "train" for c in cases):
        raise SystemExit("benchmarks.scaling times training cases only")

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    started = time.time()
    machine = compare.machine_line("/".join(map(str, threads)))
    log(f"# {machine}")
    log(f"# versions: {json.dumps(compare.versions())}; fastbp BLAS: {args.fastbp_blas}")
    blas = {}
    for n in threads:
        blas[n] = compare.measure_blas(worker_args(args, n), lambda m, n=n: log(f"[{n} thr] {m}"))
    report = dict(machine=machine, versions=compare.versions(), threads=threads,
                  date=time.strftime("%Y-%m-%d %H:%M"), blas=blas, cases={}, argv=sys.argv[1:])
    tables = []
    for case in cases:
        peers = [p for p in args.peers if p in case["peers"]]
        by_threads = {}
        for n in threads:
            log(f"{case['name']} at {n} thread(s):")
            by_threads[n], _ = compare.run_training_case(case, peers, worker_args(args, n), log)
        rows = scaling_rows(case, by_threads, peers, blas)
        tables.append((case, rows, peers))
        report["cases"][case["name"]] = dict(case=case, rows=rows, raw=by_threads)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=1, default=str)
    print(f"{time.strftime('%Y-%m-%d %H:%M')} — {machine}; fastbp BLAS: {args.fastbp_blas}")
    print("")
    for case, rows, peers in tables:
        print_case(case, rows, peers, args.markdown, f", then of {args.rounds} rounds" if args.rounds > 1 else "")
    print(f"sgemm GFLOP/s: NumPy matmul {args.blas_size}², best of 10, at each thread count; fastbp % sgemm "
          "counts 6·Σ n_in·n_out FLOPs per trained sample. Pinned: a run with fewer threads than cores "
          "uses the first that many CPUs of the affinity mask.")
    log(f"# total {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
