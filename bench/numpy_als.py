"""An independent numpy implementation of implicit-feedback ALS: the reference for Floyo's ALS
(test/ml/als-reference.test.ts, bench/als-reference.bench.ts).

scikit-learn has no ALS, and the `implicit` package is not installable here, so this is the published
algorithm written out from its definitions, with numpy alone:

  Hu, Koren & Volinsky 2008, "Collaborative Filtering for Implicit Feedback Datasets": every pair (u, i)
  with strength r > 0 has preference p = 1 and confidence c = 1 + alpha * w(r); every other pair has
  p = 0 and c = 1. One iteration sets every user vector to the exact minimiser of
      sum_i c_ui (p_ui - x_u . y_i)^2 + lambda |x_u|^2,   i.e.  x_u = (Y^T C^u Y + lambda I)^-1 Y^T C^u p(u),
  with the item factors Y fixed, then every item vector the same way with the new user factors. lambda is
  used as given (implicit's CPU solver adds regularization * I, scaled by nothing).

Conventions taken from benfred/implicit (implicit/cpu/als.py and _als.pyx): users first, then items,
in each iteration; confidences and factors are stored as float32 between half-steps (the solves
themselves run here in float64, np.linalg.solve); the loss after an iteration is implicit's
calculate_loss,
      (sum_{u,i} c_ui (p_ui - x_u . y_i)^2 + lambda (sum |x_u|^2 + sum |y_i|^2)) / sum_{u,i} c_ui,
  computed here by brute force over every (user, item) pair. w(r): 'none' -> r, 'log' -> log1p(r),
  'bm25' -> implicit's nearest_neighbours.bm25_weight(K1, B) applied to the item x user matrix (idf per
  user, length normalisation per item). Where Floyo departs from implicit on purpose:
  implicit's confidence is alpha * value (the caller adds any "1 +"), Floyo's is 1 + alpha * w(r) as in
  the paper, which this reference follows; and Floyo clamps a negative BM25 idf (a user who bought every
  item) to 0 where implicit does not -- this script refuses such data rather than pick a side.

The conjugate-gradient half-step of Takacs, Pilaszy & Tikk 2011 as implicit runs it (_least_squares_cg:
warm start from the previous vector, cg_steps steps, stop once |r|^2 < 1e-20) is here too
("solver": "cg"), in float64, to check Floyo's float32 CG against the same algorithm.

Usage: /usr/bin/python3 bench/numpy_als.py SPEC.json
SPEC: {"jobs": [job, ...]}; each job:
  users, items, factors, nnz; files (little-endian, written by the caller):
    indptr (int32, users + 1), indices (int32, nnz), values (float64 raw strengths, nnz; duplicates
    already summed, zeros are not interactions), user_factors / item_factors (float32, row-major: the
    initial factors);
  regularization, alpha, weighting ("none" | "log" | "bm25"), bm25_k1, bm25_b, iterations,
  solver ("exact" default, or "cg" with cg_steps), snapshots (iterations after which to write the
  factors: to out + ".it<N>.users.f32" and ".it<N>.items.f32"), confidence (true: return the float32
  confidences of the stored pairs in CSR order), loss (default true).
Prints {"results": [{"loss": [per iteration], "seconds": [per iteration], "confidence": [...]?,
"snapshots": {"<N>": {"user_factors": path, "item_factors": path}}}], "numpy": version}.
"""
import json
import sys
import time

import numpy as np

# rows of the dense brute-force blocks (loss, and solves of small problems)
BLOCK = 256


def read(path, dtype, count):
    a = np.fromfile(path, dtype=dtype)
    if a.size != count:
        sys.exit(f"{path} holds {a.size} values of {dtype}, expected {count}")
    return a


def weights(indptr, indices, r, users, items, job):
    """w(r) for the stored pairs (CSR order, float64)."""
    kind = job["weighting"]
    if kind == "none":
        return r.copy()
    if kind == "log":
        return np.log1p(r)
    if kind != "bm25":
        sys.exit(f"unknown weighting {kind!r}")
    # implicit's bm25_weight(X, K1, B) on X = the item x user matrix: N = rows of X = items,
    # idf per column (user) = log(N / (1 + documents of the user)), length norm per row (item)
    k1, b = job["bm25_k1"], job["bm25_b"]
    user_of = np.repeat(np.arange(users), np.diff(indptr))
    docs = np.bincount(user_of, minlength=users).astype(np.float64)
    idf = np.log(float(items) / (1.0 + docs))
    if np.any(idf[docs > 0] < 0):
        sys.exit("BM25: a user with every item has a negative idf (implicit keeps it, Floyo clamps it to 0); use other data")
    row_sums = np.bincount(indices, weights=r, minlength=items)
    length_norm = (1.0 - b) + b * row_sums / row_sums.mean()
    return r * (k1 + 1.0) / (k1 * length_norm[indices] + r) * idf[user_of]


def dense_rows(indptr, indices, vals, lo, hi, cols, fill):
    """Rows lo..hi of the sparse matrix as a dense float64 block, `fill` where nothing is stored."""
    out = np.full((hi - lo, cols), fill, dtype=np.float64)
    for u in range(lo, hi):
        s, e = indptr[u], indptr[u + 1]
        out[u - lo, indices[s:e]] = vals[s:e]
    return out


def exact_half_step(indptr, indices, conf, X, Y, lam, dense):
    """X[u] <- (Y^T C^u Y + lam I)^-1 Y^T C^u p(u) for every row u, in float64, stored in X's dtype."""
    n, K = X.shape
    Y64 = Y.astype(np.float64)
    eye = lam * np.eye(K)
    if dense:
        # literally the paper's formula, C^u the full diagonal (1 for the pairs without interaction)
        for lo in range(0, n, BLOCK):
            hi = min(n, lo + BLOCK)
            C = dense_rows(indptr, indices, conf, lo, hi, Y.shape[0], 1.0)
            P = dense_rows(indptr, indices, np.ones_like(conf), lo, hi, Y.shape[0], 0.0)
            A = np.einsum("ui,if,ig->ufg", C, Y64, Y64) + eye
            bvec = (C * P) @ Y64
            X[lo:hi] = np.linalg.solve(A, bvec[:, :, None])[:, :, 0]
        return
    # the same system through Y^T C^u Y = Y^T Y + Y^T (C^u - I) Y, for matrices too big to densify
    G = Y64.T @ Y64 + eye
    for u in range(n):
        s, e = indptr[u], indptr[u + 1]
        Yu, c = Y64[indices[s:e]], conf[s:e]
        A = G + (Yu.T * (c - 1.0)) @ Yu
        X[u] = np.linalg.solve(A, Yu.T @ c)


def cg_half_step(indptr, indices, conf, X, Y, lam, steps):
    """implicit's _least_squares_cg, in float64: warm-started CG on each row's normal equations."""
    n, K = X.shape
    Y64 = Y.astype(np.float64)
    G = Y64.T @ Y64 + lam * np.eye(K)
    for u in range(n):
        s, e = indptr[u], indptr[u + 1]
        if s == e:
            X[u] = 0
            continue
        Yu, c = Y64[indices[s:e]], conf[s:e]
        x = X[u].astype(np.float64)
        r = -(G @ x) + Yu.T @ (c - (c - 1.0) * (Yu @ x))
        p = r.copy()
        rsold = r @ r
        if rsold < 1e-20:
            continue
        for _ in range(steps):
            Ap = G @ p + Yu.T @ ((c - 1.0) * (Yu @ p))
            a = rsold / (p @ Ap)
            x += a * p
            r -= a * Ap
            rsnew = r @ r
            if rsnew < 1e-20:
                break
            p = r + (rsnew / rsold) * p
            rsold = rsnew
        X[u] = x


def loss(indptr, indices, conf, X, Y, lam):
    """implicit's training loss, by brute force over every (user, item) pair."""
    users, items = X.shape[0], Y.shape[0]
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    total, weight = 0.0, 0.0
    for lo in range(0, users, BLOCK):
        hi = min(users, lo + BLOCK)
        C = dense_rows(indptr, indices, conf, lo, hi, items, 1.0)
        P = dense_rows(indptr, indices, np.ones_like(conf), lo, hi, items, 0.0)
        S = X64[lo:hi] @ Y64.T
        total += float(np.sum(C * (P - S) ** 2))
        weight += float(np.sum(C))
    total += lam * (float(np.sum(X64 * X64)) + float(np.sum(Y64 * Y64)))
    return total / weight


def transpose(indptr, indices, vals, cols):
    """CSR of the transpose (rows sorted by column index, stable)."""
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    order = np.lexsort((rows, indices))
    t_ptr = np.zeros(cols + 1, dtype=np.int64)
    np.cumsum(np.bincount(indices, minlength=cols), out=t_ptr[1:])
    return t_ptr, rows[order], vals[order]


def run(job):
    users, items, K, nnz = job["users"], job["items"], job["factors"], job["nnz"]
    indptr = read(job["indptr"], "<i4", users + 1).astype(np.int64)
    indices = read(job["indices"], "<i4", nnz).astype(np.int64)
    raw = read(job["values"], "<f8", nnz)
    X = read(job["user_factors"], "<f4", users * K).reshape(users, K).copy()
    Y = read(job["item_factors"], "<f4", items * K).reshape(items, K).copy()
    if np.any(raw < 0) or not np.all(np.isfinite(raw)):
        sys.exit("strengths must be finite and >= 0")
    # zeros are not interactions
    keep = raw > 0
    row_of = np.repeat(np.arange(users), np.diff(indptr))[keep]
    indices, raw = indices[keep], raw[keep]
    indptr = np.zeros(users + 1, dtype=np.int64)
    np.cumsum(np.bincount(row_of, minlength=users), out=indptr[1:])

    # confidences are float32, as implicit stores them (Cui.astype(float32))
    conf = (1.0 + job["alpha"] * weights(indptr, indices, raw, users, items, job)).astype(np.float32)
    conf64 = conf.astype(np.float64)
    t_ptr, t_idx, t_conf = transpose(indptr, indices, conf64, items)

    lam = float(job["regularization"])
    solver = job.get("solver", "exact")
    dense = users * items * K * K <= 5e8
    snapshots = set(job.get("snapshots", []))
    result = {"loss": [], "seconds": [], "snapshots": {}}
    if job.get("confidence"):
        result["confidence"] = conf.astype(np.float64).tolist()
    for it in range(1, job["iterations"] + 1):
        t0 = time.perf_counter()
        if solver == "exact":
            exact_half_step(indptr, indices, conf64, X, Y, lam, dense)
            exact_half_step(t_ptr, t_idx, t_conf, Y, X, lam, dense)
        elif solver == "cg":
            cg_half_step(indptr, indices, conf64, X, Y, lam, job["cg_steps"])
            cg_half_step(t_ptr, t_idx, t_conf, Y, X, lam, job["cg_steps"])
        else:
            sys.exit(f"unknown solver {solver!r}")
        result["seconds"].append(time.perf_counter() - t0)
        if job.get("loss", True):
            result["loss"].append(loss(indptr, indices, conf64, X, Y, lam))
        if it in snapshots:
            paths = {"user_factors": f"{job['out']}.it{it}.users.f32", "item_factors": f"{job['out']}.it{it}.items.f32"}
            X.astype("<f4").tofile(paths["user_factors"])
            Y.astype("<f4").tofile(paths["item_factors"])
            result["snapshots"][str(it)] = paths
    return result


def main():
    with open(sys.argv[1], encoding="utf8") as f:
        spec = json.load(f)
    print(json.dumps({"results": [run(job) for job in spec["jobs"]], "numpy": np.__version__}))


if __name__ == "__main__":
    main()
