"""scikit-learn reference for Floyo's k-means and silhouette (tests and bench/kmeans.bench.ts).

Run with Debian's interpreter, which has python3-sklearn: /usr/bin/python3 bench/sklearn_kmeans.py ...
Inputs are raw little-endian float64 files (row-major), so a million rows cross in milliseconds.
Prints JSON on stdout.

  kmeans      --data F --rows N --cols D --k K[,K...] [--n-init 10] [--seed 0] [--max-iter 300] [--tol 1e-4]
              [--weights F [--weighted-k K[,K...]]] [--repeat R] [--centers]
              One JSON line per fit: each --k with the weights if given, then each --weighted-k with
              them (so one process can fit both ways). fit_seconds is the wall time of KMeans.fit
              alone (the best of R fits).
  silhouette  --data F --rows N --cols D --labels F (int32)
"""
import argparse
import json
import sys
import time

import numpy as np


def read_matrix(path, rows, cols):
    data = np.fromfile(path, dtype="<f8")
    if data.size != rows * cols:
        sys.exit(f"{path} holds {data.size} float64 values, expected {rows}x{cols}={rows * cols}")
    return data.reshape(rows, cols)


def kmeans(args):
    import sklearn
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_info

    X = read_matrix(args.data, args.rows, args.cols)
    weights = np.fromfile(args.weights, dtype="<f8") if args.weights else None
    jobs = [(int(v), weights) for v in args.k.split(",") if v]
    if args.weighted_k:
        if weights is None:
            sys.exit("--weighted-k needs --weights")
        jobs = [(k, None) for k, _ in jobs] + [(int(v), weights) for v in args.weighted_k.split(",")]
    for k, w in jobs:
        best = None
        for _ in range(args.repeat):
            km = KMeans(n_clusters=k, init="k-means++", n_init=args.n_init, random_state=args.seed,
                        max_iter=args.max_iter, tol=args.tol)
            t0 = time.perf_counter()
            km.fit(X, sample_weight=w)
            seconds = time.perf_counter() - t0
            if best is None or seconds < best[0]:
                best = (seconds, km)
        seconds, km = best
        out = {
            "sklearn": sklearn.__version__,
            "threads": {p["internal_api"]: p["num_threads"] for p in threadpool_info()},
            "k": k,
            "weighted": w is not None,
            "fit_seconds": seconds,
            "inertia": float(km.inertia_),
            "n_iter": int(km.n_iter_),
        }
        if args.centers:
            out["centers"] = km.cluster_centers_.ravel().tolist()
        print(json.dumps(out), flush=True)


def silhouette(args):
    from sklearn.metrics import silhouette_samples, silhouette_score

    X = read_matrix(args.data, args.rows, args.cols)
    labels = np.fromfile(args.labels, dtype="<i4")
    print(json.dumps({
        "score": float(silhouette_score(X, labels)),
        "samples": silhouette_samples(X, labels).tolist(),
    }))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    k = sub.add_parser("kmeans")
    s = sub.add_parser("silhouette")
    for q in (k, s):
        q.add_argument("--data", required=True)
        q.add_argument("--rows", type=int, required=True)
        q.add_argument("--cols", type=int, required=True)
    k.add_argument("--k", required=True, help="number of clusters, or several separated by commas")
    k.add_argument("--n-init", type=int, default=10)
    k.add_argument("--seed", type=int, default=0)
    k.add_argument("--max-iter", type=int, default=300)
    k.add_argument("--tol", type=float, default=1e-4)
    k.add_argument("--weights")
    k.add_argument("--weighted-k", help="with --weights: fit these k with the weights and --k without")
    k.add_argument("--repeat", type=int, default=1)
    k.add_argument("--centers", action="store_true")
    s.add_argument("--labels", required=True)
    args = p.parse_args()
    (kmeans if args.command == "kmeans" else silhouette)(args)


if __name__ == "__main__":
    main()
