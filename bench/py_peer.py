#!/usr/bin/env python3
"""py_peer.py - Python's multiprocessing on the seed programs' jobs, for mproc-bench.

Prints one JSON object on stdout (progress goes to stderr). Times are seconds; each is
the median (and min) of --reps repetitions after one warm-up, with the pool already
started (pool start-up is measured on its own, as pool_s):

  array    the seed's shared multiprocessing.Array('i', N) squared in place by a
           --procs process Pool: the array reaches the workers through the pool's
           initializer, each task squares one slice (a[lo:hi] = [x*x ...]).
  map      Pool(procs).map(square, range(N))
  apply    pool.apply_async(square, (x,)).get(), per call (mean over --apply-calls)
  process  Process(target=noop).start(); join()
  pool     Pool(procs) created, then close(); join()
"""
import argparse
import json
import multiprocessing as mp
import platform
import signal
import statistics
import sys
import time

_shared = None


def _init(arr):
    global _shared
    _shared = arr


def square_slice(bounds):
    lo, hi = bounds
    a = _shared
    a[lo:hi] = [x * x for x in a[lo:hi]]
    return hi - lo


def square(x):
    return x * x


def noop():
    pass


def timed(fn, reps):
    fn()  # warm-up
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), min(samples)


def log(msg):
    print("py_peer: " + msg, file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--array-n", type=int, default=1000000)
    ap.add_argument("--map-n", type=int, default=1000000)
    ap.add_argument("--apply-calls", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args()
    if hasattr(signal, "alarm"):
        signal.alarm(args.timeout)  # never hang the harness
    procs, reps = args.procs, args.reps
    out = {"python": platform.python_version(), "start_method": mp.get_start_method(),
           "procs": procs}

    # the seed's shared array, squared in place by a pool
    n = args.array_n
    base = [i % 46341 for i in range(n)]  # squares fit in int32
    arr = mp.Array("i", base)
    tasks = procs * 4
    slices = [(n * k // tasks, n * (k + 1) // tasks) for k in range(tasks)]
    log("Array('i', %d) squared by Pool(%d), %d slices" % (n, procs, tasks))
    with mp.Pool(procs, initializer=_init, initargs=(arr,)) as pool:
        pool.map(square_slice, slices)
        expect = [x * x for x in base]
        if arr[:] != expect:
            raise SystemExit("py_peer: shared array square is wrong")
        samples = []
        for r in range(reps + 1):
            arr[:] = base  # untimed refill: every repetition squares the same values
            t0 = time.perf_counter()
            pool.map(square_slice, slices)
            if r > 0:
                samples.append(time.perf_counter() - t0)
    out.update(array_n=n, array_tasks=tasks, array_s_med=statistics.median(samples),
               array_s_min=min(samples))

    with mp.Pool(procs) as pool:
        m = args.map_n
        log("Pool(%d).map(square, range(%d))" % (procs, m))
        res = pool.map(square, range(m))
        if res[-1] != (m - 1) ** 2 or len(res) != m:
            raise SystemExit("py_peer: Pool.map result is wrong")
        med, mn = timed(lambda: pool.map(square, range(m)), reps)
        out.update(map_n=m, map_s_med=med, map_s_min=mn)

        calls = args.apply_calls
        log("apply_async(square).get() x %d" % calls)

        def apply_loop():
            for i in range(calls):
                pool.apply_async(square, (i,)).get()

        med, mn = timed(apply_loop, reps)
        out.update(apply_calls=calls, apply_s_med=med / calls, apply_s_min=mn / calls)

    log("Process start+join")
    per = 10

    def procs_loop():
        for _ in range(per):
            p = mp.Process(target=noop)
            p.start()
            p.join()

    med, mn = timed(procs_loop, reps)
    out.update(process_s_med=med / per, process_s_min=mn / per)

    log("Pool(%d) create+close+join" % procs)

    def pool_cd():
        p = mp.Pool(procs)
        p.close()
        p.join()

    med, mn = timed(pool_cd, reps)
    out.update(pool_s_med=med, pool_s_min=mn)

    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
