#!/usr/bin/python3
r"""Reproduce the numbers `floyo train` reports, from the raw data and the README alone.

This script does not use Floyo's code or its warehouse. It reads the raw UCI Online Retail CSV with
pandas, applies the `online-retail` preset's rules as documented (`floyo presets online-retail` and the
README's "Presets and mapping files" paragraph), follows the README's "The evaluation protocol of
`floyo train`" and "Features, labels and the cutoff" sections, and compares what it computes with a
`floyo train --json` report and a `floyo features --out` CSV taken at the same (default) cutoff.

How to run (Debian's Python: it has pandas, numpy and scikit-learn):

    node dist/cli/main.js train --data ../shared/datasets/online_retail.csv.gz --preset online-retail \
        --home /tmp/h --json -q [--seed S] > /tmp/train.json
    node dist/cli/main.js features --home /tmp/h --out /tmp/features.csv --json -q
    /usr/bin/python3 bench/reproduce_protocol.py /tmp/train.json /tmp/features.csv [--seed S] \
        [--data ../shared/datasets/online_retail.csv.gz] [--horizon-days 90]

The seed and the horizon are read from the report (`--seed` and `--horizon-days` override them, to see
the comparison fail). Only the churn split depends on the seed.

It reads UTF-8 files in the UCI layout (ISO or month-first dates) and models the preset's exclusions,
not ingest's quarantine (future dates, implausible quantities or prices): on a file with quarantined
rows the data counts differ, and the comparison says so.

It prints a table (quantity | floyo | independent | match?) and exits 1 if any compared quantity differs
beyond its tolerance: counts and day counts must be equal; rates and metrics within 1e-9 absolute;
money within 0.005 GBP absolute. Rows marked "info" are printed for context and not compared.

Definitions used (each from the README; where the README leaves a choice open, the choice is named):
- Rows: a row is excluded when its StockCode does not start with five digits, or when it is a stock
  adjustment (InvoiceNo not starting with C, Quantity < 0, UnitPrice == 0). A line is a return when its
  InvoiceNo starts with C (or its quantity is negative). Rows without CustomerID are kept (guest
  orders) but are left out of customer features.
- A purchase is an order with a non-return line; purchase lines are the non-return lines.
- Cutoff C = date of the data's last purchase line (not a return) minus the horizon. The past = lines whose date is <= C; the
  window = dates in (C, C + horizon]. Times are read as UTC (the preset), so a date is the written date.
- Customers: a CustomerID with at least one purchase line in the past. churned = 1 when the customer
  has no purchase line in the window.
- recency_days = C - date of last past purchase, tenure_days = C - date of first past purchase, both in
  whole days between dates; frequency = distinct past purchase orders; monetary = sum of
  Quantity*UnitPrice over every past line of the customer, returns included (net); avg_order_value =
  past purchase-line value (before returns) / frequency (monetary / frequency is shown as "info").
- Churn split (README, "Churn metrics"): customers in byte order of their id, divided by label;
  non-churners then churners shuffled from the end (Fisher-Yates, i = n-1 .. 1, j = floor(u*(i+1)))
  with one xoshiro128** stream seeded by four splitmix32/fmix32 outputs from the seed,
  u = (x1 >>> 8)/2^24 + (x2 >>> 11)/2^45; the k-th customer of each shuffled list (k = 0, 1, ...)
  goes to fold k mod 5; fold 0 is the test set. positiveRate and the recency baseline are computed on
  fold 0 (all-customer values shown as "info"). One generator serves both lists: the non-churners'
  shuffle, then the churners'. positiveRate and nTest do not depend on the seed; the recency ROC-AUC does.
- Recency baseline: sklearn roc_auc_score(churned, recency_days) over the test customers.
- Recommendations: interactions = (customer, product) pairs of past purchase lines. Catalogue = the
  products in those interactions. Holdout of a customer = products on their window purchase lines,
  not on their past purchase lines; products not in the catalogue are dropped and counted.
  Popularity = products ranked by the number of distinct customers in the interactions, ties by product
  id ascending (README: "the lower product id first"; choice: ids compared as strings). Each evaluated
  customer gets the 10 highest not in their past purchases. precision = hits/10, recall = hits/|holdout|,
  AP@10 = sum over hit ranks i of (hits so far / i) / min(|holdout|, 10),
  NDCG@10 with binary gains and ideal DCG over min(|holdout|, 10) hits,
  hit rate = share with >= 1 hit, coverage = distinct products recommended to the evaluated customers /
  catalogue size.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

# ../shared beside the checkout, where the project's datasets live
DEFAULT_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "datasets", "online_retail.csv.gz")

TOL_METRIC = 1e-9
TOL_MONEY = 0.005


# ----------------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------------

def load_lines(path):
    """Raw CSV -> accepted lines (with is_return, amount, date) and ingest-level counts."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    n_read = len(raw)
    qty = pd.to_numeric(raw["Quantity"])
    price = pd.to_numeric(raw["UnitPrice"])
    inv = raw["InvoiceNo"]
    code = raw["StockCode"]

    is_credit_note = inv.str.match(r"^C")
    non_product = ~code.str.match(r"^[0-9]{5}")
    stock_adjustment = (~is_credit_note) & (qty < 0) & (price == 0)
    excluded = non_product | stock_adjustment

    df = pd.DataFrame({
        "order": inv,
        "customer": raw["CustomerID"].str.strip(),
        "product": code,
        "qty": qty,
        "price": price,
        # ISO in this copy; the widely copied Kaggle CSV writes 12/1/2010 8:26 (month first)
        "ts": pd.to_datetime(raw["InvoiceDate"], format="%Y-%m-%d %H:%M:%S" if raw["InvoiceDate"].str.match(r"^\d{4}-").all() else "%m/%d/%Y %H:%M"),
    })[~excluded].reset_index(drop=True)
    df["is_return"] = df["order"].str.match(r"^C") | (df["qty"] < 0)
    df["amount"] = df["qty"] * df["price"]
    df["date"] = df["ts"].dt.normalize()

    cust = df[df["customer"] != ""]
    counts = {
        "rowsRead": n_read,
        "rowsExcluded": int(excluded.sum()),
        "rowsAccepted": len(df),
        "orders": df["order"].nunique(),
        "customers": cust["customer"].nunique(),
        "customersWithPurchases": cust.loc[~cust["is_return"], "customer"].nunique(),
        "products": df["product"].nunique(),
    }
    return df, counts


# ----------------------------------------------------------------------------------------------------
# Features and labels
# ----------------------------------------------------------------------------------------------------

def customer_features(df, cutoff, horizon):
    cust = df[df["customer"] != ""]
    past = cust[cust["date"] <= cutoff]
    window_end = cutoff + pd.Timedelta(days=horizon)
    window = cust[(cust["date"] > cutoff) & (cust["date"] <= window_end)]

    past_buys = past[~past["is_return"]]
    g = past_buys.groupby("customer")
    feats = pd.DataFrame({
        "frequency": g["order"].nunique(),
        "first_date": g["date"].min(),
        "last_date": g["date"].max(),
        "purchase_value": g["amount"].sum(),
    })
    feats["monetary"] = past.groupby("customer")["amount"].sum().reindex(feats.index)
    feats["recency_days"] = (cutoff - feats["last_date"]).dt.days
    feats["tenure_days"] = (cutoff - feats["first_date"]).dt.days
    feats["avg_order_value"] = feats["purchase_value"] / feats["frequency"]
    feats["aov_net_alt"] = feats["monetary"] / feats["frequency"]
    came_back = set(window.loc[~window["is_return"], "customer"])
    feats["churned"] = [0 if c in came_back else 1 for c in feats.index]
    return feats, past_buys, window


# ----------------------------------------------------------------------------------------------------
# The churn split (README, "Churn metrics"): 32-bit integer arithmetic on Python ints
# ----------------------------------------------------------------------------------------------------

M32 = 0xFFFFFFFF


def imul(a, b):
    """JavaScript's Math.imul on unsigned 32-bit words."""
    return (a * b) & M32


def rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M32


def fmix32(h):
    """MurmurHash3's finaliser."""
    h ^= h >> 16
    h = imul(h, 0x85EBCA6B)
    h ^= h >> 13
    h = imul(h, 0xC2B2AE35)
    return h ^ (h >> 16)


def splitmix32(seed, n):
    """The first n outputs of a 32-bit splitmix started at seed: state += 0x9e3779b9, then fmix32."""
    state, out = seed & M32, []
    for _ in range(n):
        state = (state + 0x9E3779B9) & M32
        out.append(fmix32(state))
    return out


class Xoshiro128StarStar:
    def __init__(self, seed):
        self.s = splitmix32(seed, 4)

    def next_u32(self):
        s0, s1, s2, s3 = self.s
        result = imul(rotl(imul(s1, 5), 7), 9)
        t = (s1 << 9) & M32
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        self.s = [s0, s1, s2, rotl(s3, 11)]
        return result

    def uniform(self):
        """u in [0, 1) from two consecutive outputs (24 high bits of x1, then 21 of x2)."""
        x1 = self.next_u32()
        x2 = self.next_u32()
        return (x1 >> 8) / 2 ** 24 + (x2 >> 11) / 2 ** 45


def shuffle_from_end(items, rng):
    items = list(items)
    for i in range(len(items) - 1, 0, -1):
        j = math.floor(rng.uniform() * (i + 1))
        items[i], items[j] = items[j], items[i]
    return items


def stratified_folds(labels, seed, k=5):
    """customer id -> fold (0 .. k-1). labels: Series of 0/1 indexed by customer id. Fold 0 = test."""
    ids = sorted(labels.index, key=lambda c: c.encode("utf-8"))
    rng = Xoshiro128StarStar(seed)
    folds = {}
    for label in (0, 1):  # non-churners first, one stream
        members = [c for c in ids if labels[c] == label]
        for pos, c in enumerate(shuffle_from_end(members, rng)):
            folds[c] = pos % k
    return pd.Series(folds).reindex(labels.index)


# ----------------------------------------------------------------------------------------------------
# Recommendation evaluation
# ----------------------------------------------------------------------------------------------------

def evaluate_popularity(past_buys, window, customers, k=10, tie_ascending=True):
    past_sets = past_buys.groupby("customer")["product"].agg(set).to_dict()
    catalogue = set(past_buys["product"])

    w = window[(~window["is_return"]) & (window["customer"].isin(customers))]
    window_sets = w.groupby("customer")["product"].agg(set).to_dict()
    holdout, dropped = {}, 0
    for c, bought in window_sets.items():
        new = bought - past_sets.get(c, set())
        seen = new & catalogue
        dropped += len(new) - len(seen)
        if seen:
            holdout[c] = seen

    pop = past_buys.groupby("product")["customer"].nunique().rename("n").reset_index()
    pop = pop.sort_values(["n", "product"], ascending=[False, tie_ascending], kind="mergesort")
    ranking = list(pop["product"])
    counts = dict(zip(pop["product"], pop["n"]))

    prec, rec, aps, ndcgs, hitrate, recommended = [], [], [], [], [], set()
    for c, truth in holdout.items():
        exclude = past_sets.get(c, set())
        recs = []
        for p in ranking:
            if p not in exclude:
                recs.append(p)
                if len(recs) == k:
                    break
        recommended.update(recs)
        hits, ap, dcg = 0, 0.0, 0.0
        for i, p in enumerate(recs, start=1):
            if p in truth:
                hits += 1
                ap += hits / i
                dcg += 1.0 / math.log2(i + 1)
        ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(truth), k) + 1))
        prec.append(hits / k)
        rec.append(hits / len(truth))
        aps.append(ap / min(len(truth), k))
        ndcgs.append(dcg / ideal)
        hitrate.append(1.0 if hits else 0.0)

    # Ties: a tie group of the global ranking that straddles position 10 of someone's list matters.
    return {
        "evaluatedUsers": len(holdout),
        "holdoutPairs": sum(len(v) for v in holdout.values()),
        "droppedNewItems": dropped,
        "items": len(catalogue),
        "precisionAt10": float(np.mean(prec)),
        "recallAt10": float(np.mean(rec)),
        "mapAt10": float(np.mean(aps)),
        "ndcgAt10": float(np.mean(ndcgs)),
        "hitRateAt10": float(np.mean(hitrate)),
        "coverage": len(recommended) / len(catalogue),
        "ranking": ranking,
        "counts": counts,
        "holdout": holdout,
    }


def tie_groups_near_top(ranking, counts, depth=80):
    """Distinct-customer counts shared by more than one product among the first `depth` products."""
    top = ranking[:depth]
    by_n = {}
    for p in top:
        by_n.setdefault(counts[p], []).append(p)
    return {n: ps for n, ps in by_n.items() if len(ps) > 1}


# ----------------------------------------------------------------------------------------------------
# Comparison table
# ----------------------------------------------------------------------------------------------------

class Table:
    def __init__(self):
        self.rows = []
        self.failures = 0

    def add(self, name, floyo, mine, tol=0.0, info=False):
        if info:
            verdict = "info"
        elif floyo is None or mine is None:
            verdict = "NO"  # a value missing on one side is not a match
            self.failures += 1
        else:
            ok = abs(float(floyo) - float(mine)) <= tol
            verdict = "yes" if ok else "NO"
            if not ok:
                self.failures += 1
        self.rows.append((name, fmt(floyo), fmt(mine), verdict))

    def print(self):
        w = [max(len(str(r[i])) for r in self.rows + [("quantity", "floyo", "independent", "match?")])
             for i in range(4)]
        line = lambda r: " | ".join(str(x).ljust(w[i]) for i, x in enumerate(r))
        print(line(("quantity", "floyo", "independent", "match?")))
        print("-+-".join("-" * x for x in w))
        for r in self.rows:
            print(line(r))


def fmt(x):
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if isinstance(x, (int, np.integer)) or (isinstance(x, float) and x.is_integer() and abs(x) > 1):
        return str(int(x))
    return f"{x:.10f}".rstrip("0")


def compare_features(table, floyo_csv, feats):
    fl = pd.read_csv(floyo_csv, dtype={"customer_id": str}).set_index("customer_id")
    only_floyo = sorted(set(fl.index) - set(feats.index))
    only_mine = sorted(set(feats.index) - set(fl.index))
    table.add("features.csv: customers", len(fl), len(feats))
    table.add("features.csv: customers only in floyo / only here", len(only_floyo) + len(only_mine), 0)
    common = sorted(set(fl.index) & set(feats.index))
    table.add("features.csv: customers on both sides", len(common), len(feats))
    details = {}
    for col, tol in [("recency_days", 0), ("frequency", 0), ("monetary", TOL_MONEY),
                     ("tenure_days", 0), ("avg_order_value", TOL_MONEY), ("churned", 0)]:
        a = fl.loc[common, col].astype(float)
        b = feats.loc[common, col].astype(float)
        bad = (a - b).abs() > tol + 1e-12
        table.add(f"features.csv: {col} mismatching customers", 0, int(bad.sum()))
        if bad.any():
            details[col] = [(c, a[c], b[c]) for c in list(a[bad].index[:5])]
    alt = ((fl.loc[common, "avg_order_value"] - feats.loc[common, "aov_net_alt"]).abs() > TOL_MONEY)
    table.add("  (info) avg_order_value = monetary/frequency: mismatching", None, int(alt.sum()),
              info=True)
    return details, only_floyo, only_mine


# ----------------------------------------------------------------------------------------------------
# Comparisons, one section of the report each
# ----------------------------------------------------------------------------------------------------

def add_exact(table, name, floyo, mine):
    """A compared row for values that must be equal as strings (dates)."""
    table.add(name, floyo, mine, info=True)
    ok = floyo == mine
    table.rows[-1] = table.rows[-1][:3] + ("yes" if ok else "NO",)
    table.failures += 0 if ok else 1


def compare_data(table, report, counts):
    for key in ["rowsRead", "rowsExcluded", "rowsAccepted", "orders", "customers",
                "customersWithPurchases", "products"]:
        table.add(f"data.{key}", report["data"][key], counts[key])


def compare_cutoffs(table, report, df, horizon):
    cutoff = df.loc[~df["is_return"], "date"].max() - pd.Timedelta(days=horizon)
    validation = cutoff - pd.Timedelta(days=horizon)
    add_exact(table, "cutoff C", report["cutoff"], cutoff.strftime("%Y-%m-%d"))
    add_exact(table, "validation cutoff V", report["validationCutoff"], validation.strftime("%Y-%m-%d"))
    return cutoff, validation


def compare_churn(table, report, feats, seed):
    ch = report["churn"]
    y = feats["churned"]
    folds = stratified_folds(y, seed)
    test = folds == 0
    table.add("customers in the past (recommendations.users)", report["recommendations"]["users"],
              len(feats))
    table.add(f"churn: nTest (fold 0, seed {seed})", ch["nTest"], int(test.sum()))
    table.add("churn: nTrain (folds 1-4)", ch["nTrain"], int((~test).sum()))
    table.add("churn positive rate, test customers", ch["positiveRate"], y[test].mean(),
              tol=TOL_METRIC)
    table.add("  (info) churn positive rate, all customers", ch["positiveRate"], y.mean(), info=True)
    table.add("recency-only ROC-AUC, test customers", ch["baselineRecencyRocAuc"],
              roc_auc_score(y[test], feats.loc[test, "recency_days"]), tol=TOL_METRIC)
    table.add("  (info) recency-only ROC-AUC, all customers", ch["baselineRecencyRocAuc"],
              roc_auc_score(y, feats["recency_days"]), info=True)


def compare_recommendations(table, report, past_buys, window, customers):
    rec = report["recommendations"]
    pop = evaluate_popularity(past_buys, window, customers, tie_ascending=True)
    table.add("catalogue (recommendations.items)", rec["items"], pop["items"])
    table.add("evaluated customers", rec["evaluatedUsers"], pop["evaluatedUsers"])
    table.add("holdout products dropped as unseen", rec["holdoutDroppedNewItems"],
              pop["droppedNewItems"])
    for m in ["precisionAt10", "recallAt10", "mapAt10", "ndcgAt10", "hitRateAt10", "coverage"]:
        table.add(f"popularity {m}", rec["popularity"][m], pop[m], tol=TOL_METRIC)
    pop_desc = evaluate_popularity(past_buys, window, customers, tie_ascending=False)
    for m in ["precisionAt10", "mapAt10", "ndcgAt10"]:
        table.add(f"  (info) popularity {m}, ties by id descending", rec["popularity"][m],
                  pop_desc[m], info=True)
    return pop


def print_details(pop, details, only_floyo, only_mine):
    ties = tie_groups_near_top(pop["ranking"], pop["counts"])
    if ties:
        print("\nties among the 80 most popular products (distinct customers: products):")
        for k_, ps in sorted(ties.items(), reverse=True):
            print(f"  {k_}: {', '.join(ps)}")
    if details or only_floyo or only_mine:
        print("\nper-customer differences (customer, floyo, independent):")
        for col, rows in details.items():
            for r in rows:
                print(f"  {col}: {r}")
        if only_floyo:
            print(f"  only in floyo: {only_floyo[:10]}")
        if only_mine:
            print(f"  only here: {only_mine[:10]}")


# ----------------------------------------------------------------------------------------------------

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("train_json", help="output of `floyo train --json`")
    ap.add_argument("features_csv", help="output of `floyo features --out F.csv` at the same cutoff")
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--horizon-days", type=int, default=None,
                    help="the churn horizon (default: the report's horizonDays)")
    ap.add_argument("--seed", type=int, default=None,
                    help="the seed `floyo train` used (default: the report's seed)")
    return ap.parse_args()


def main():
    args = parse_args()
    report = json.load(open(args.train_json))
    seed = args.seed if args.seed is not None else int(report["seed"])
    horizon = args.horizon_days if args.horizon_days is not None else int(report["horizonDays"])
    t = Table()

    df, counts = load_lines(args.data)
    compare_data(t, report, counts)
    cutoff, validation = compare_cutoffs(t, report, df, horizon)

    feats, past_buys, window = customer_features(df, cutoff, horizon)
    compare_churn(t, report, feats, seed)
    t.add("customers at V (tuning.of)", report["tuning"]["of"],
          len(customer_features(df, validation, horizon)[0]))
    pop = compare_recommendations(t, report, past_buys, window, set(feats.index))
    details, only_floyo, only_mine = compare_features(t, args.features_csv, feats)

    print(f"data: {args.data}\nreport: {args.train_json}\nfeatures: {args.features_csv}\n"
          f"seed: {seed}\n")
    t.print()
    print_details(pop, details, only_floyo, only_mine)
    print(f"\n{t.failures} mismatch(es) beyond tolerance")
    return 1 if t.failures else 0


if __name__ == "__main__":
    sys.exit(main())
