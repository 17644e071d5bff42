"""scikit-learn's LogisticRegression on data written by Floyo: the reference for the tests and the benchmark.

Usage: /usr/bin/python3 bench/sklearn_logistic.py '{"jobs": [<job>, ...]}'
Each job names a little-endian float64 file ("data") holding X (rows*cols, row-major), then y (rows),
then, if "sample_weight" is true, the sample weights (rows); and the estimator settings: C, tol,
max_iter, class_weight (null, "balanced" or [w0, w1]), fit_intercept, solver (default lbfgs),
penalty (default l2) and l1_ratio, and
"repeats" (fits of the same job, for timing). Prints {"results": [...]}, one per job: coef, intercept,
n_iter, the wall and CPU (all threads of the process) seconds of each fit (timed around fit() alone),
and the library versions. One process
for all jobs, so the import cost is paid once.
"""
import json
import sys
import time

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression


def run(job: dict) -> dict:
    n, d = job["rows"], job["cols"]
    raw = np.fromfile(job["data"], dtype="<f8")
    expected = n * d + n + (n if job.get("sample_weight") else 0)
    if raw.size != expected:
        raise SystemExit(f"{job['data']} holds {raw.size} float64 values, expected {expected}")
    X = raw[: n * d].reshape(n, d)
    y = raw[n * d : n * d + n].astype(np.int64)
    sw = raw[n * d + n :] if job.get("sample_weight") else None
    cw = job.get("class_weight")
    if isinstance(cw, list):
        cw = {0: cw[0], 1: cw[1]}
    fit_intercept = job.get("fit_intercept", True)
    times, cpu = [], []
    model = None
    for _ in range(job.get("repeats", 1)):
        model = LogisticRegression(
            C=job.get("C", 1.0),
            solver=job.get("solver", "lbfgs"),
            tol=job.get("tol", 1e-10),
            max_iter=job.get("max_iter", 10000),
            class_weight=cw,
            fit_intercept=fit_intercept,
            penalty=job.get("penalty", "l2"),
            l1_ratio=job.get("l1_ratio"),
        )
        t0, c0 = time.perf_counter(), time.process_time()
        model.fit(X, y, sample_weight=sw)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {
        "coef": model.coef_[0].tolist(),
        "intercept": float(model.intercept_[0]) if fit_intercept else 0.0,
        "n_iter": int(model.n_iter_[0]),
        "fit_seconds": times,
        "fit_cpu_seconds": cpu,
    }


def main() -> None:
    spec = json.loads(sys.argv[1])
    results = [run(job) for job in spec["jobs"]]
    print(json.dumps({"results": results, "sklearn": sklearn.__version__, "numpy": np.__version__}))


if __name__ == "__main__":
    main()
