"""scikit-learn's churn model on Floyo's exact inputs and split: reads a CSV written by churn.bench.ts
(columns: split, y, then the churn inputs before scaling), fits StandardScaler + LogisticRegression(C) on
the train rows, prints the test ROC-AUC as JSON. Run with Debian's /usr/bin/python3."""
import json
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

path, c = sys.argv[1], float(sys.argv[2])
data = np.loadtxt(path, delimiter=",", skiprows=1)
split, y, X = data[:, 0], data[:, 1], data[:, 2:]
train, test = split == 1, split == 0
scaler = StandardScaler().fit(X[train])
model = LogisticRegression(C=c, solver="lbfgs", tol=1e-10, max_iter=10000).fit(scaler.transform(X[train]), y[train])
p = model.predict_proba(scaler.transform(X[test]))[:, 1]
print(json.dumps({"rocAuc": roc_auc_score(y[test], p), "coef": model.coef_[0].tolist(), "intercept": float(model.intercept_[0])}))
