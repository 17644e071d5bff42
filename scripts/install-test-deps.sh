#!/usr/bin/env bash
# System packages the test suite needs (Debian 12). Run as root; idempotent.
#   radosgw ceph-mon ceph-osd  — a real S3 server (Ceph RADOS Gateway) for the S3 ingestion tests
#   python3-sklearn python3-pandas — scikit-learn as the reference the ML tests compare against
set -euo pipefail
PACKAGES=(radosgw ceph-mon ceph-osd python3-sklearn python3-pandas)
missing=()
for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "test dependencies present: ${PACKAGES[*]}"
