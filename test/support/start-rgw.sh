#!/usr/bin/env bash
# start-rgw.sh DIR [S3_PORT] -> prints http://127.0.0.1:S3_PORT on stdout when the gateway is ready.
# A throw-away single-node Ceph (1 mon, 1 OSD on RAM, no auth) plus the RADOS Gateway on loopback,
# for the S3 tests. Access key TESTKEY, secret TESTSECRET, any region. MONPORT (env) sets the monitor port.
# Stop: kill $(cat DIR/*.pid)   (the OSD takes a few seconds to exit on SIGTERM; SIGKILL is fine too)
#
# Adapted from ../shared/tools/s3-ceph/start-rgw.sh so that the project stands alone:
# - `ms mon client mode = crc`: radosgw defaults to a *secure* monitor connection, which is impossible
#   with auth none. On the default MONPORT 6789 the monitor speaks msgr v1 and nobody notices, but on
#   any other port (we pick free ones so that parallel runs do not collide) it speaks v2 and radosgw
#   hangs for 5 minutes ("get_initial_auth_request returned -13", "failed to fetch mon config").
# - radosgw runs in the foreground of a background job, so the script knows its PID and fails at once
#   when it dies (port taken), and the readiness probe has a time limit; every failure ends with the
#   log tail and stops what was started, instead of waiting for the default 300 s mount timeout.
# - DIR must be new or empty (never rm -rf a caller's folder).
set -euo pipefail
DIR=$(realpath -m "${1:?usage: start-rgw.sh DIR [S3_PORT]}"); PORT=${2:-7480}; MONPORT=${MONPORT:-6789}

for cmd in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph curl; do
  if ! command -v "$cmd" >/dev/null 2>&1; then
    echo "start-rgw.sh: '$cmd' is missing; install the S3 test server with: sudo apt-get install -y radosgw ceph-mon ceph-osd curl   (or: sudo bash scripts/install-test-deps.sh)" >&2
    exit 3
  fi
done
if [ -e "$DIR" ] && [ -n "$(ls -A "$DIR")" ]; then
  echo "start-rgw.sh: $DIR is not empty; give a new or empty folder" >&2
  exit 2
fi
mkdir -p "$DIR"/{mon-a,osd-0,rgw,log}

started=0
cleanup() {
  if [ "$started" = 0 ]; then
    echo "start-rgw.sh: starting the S3 gateway failed; last log lines:" >&2
    tail -n 5 "$DIR"/log/* >&2 2>/dev/null || true
    for f in "$DIR"/*.pid; do
      if [ -f "$f" ]; then kill "$(cat "$f")" 2>/dev/null || true; fi
    done
  fi
}
trap cleanup EXIT

FSID=$(cat /proc/sys/kernel/random/uuid)
cat > "$DIR/ceph.conf" <<EOF
[global]
fsid = $FSID
mon host = 127.0.0.1:$MONPORT
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
ms mon client mode = crc
client mount timeout = 30
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 1
osd crush chooseleaf type = 0
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
ms bind ipv4 = true
ms bind ipv6 = false
run dir = $DIR
admin socket = $DIR/\$name.asok
log file = $DIR/log/\$name.log
pid file = $DIR/\$name.pid
keyring = $DIR/keyring
mon data = $DIR/mon-\$id
osd data = $DIR/osd-\$id
osd objectstore = memstore
memstore device bytes = 2147483648
osd max object name len = 460
osd max object namespace len = 64
[client.rgw.local]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $DIR/rgw
EOF
C=(-c "$DIR/ceph.conf")
touch "$DIR/keyring"
monmaptool --create --add a "127.0.0.1:$MONPORT" --fsid "$FSID" "$DIR/monmap" >/dev/null
ceph-mon "${C[@]}" --mkfs -i a --monmap "$DIR/monmap"
ceph-mon "${C[@]}" -i a
ceph "${C[@]}" --connect-timeout 30 osd set-nearfull-ratio .95 >/dev/null 2>&1
ceph "${C[@]}" osd set-backfillfull-ratio .97 >/dev/null 2>&1
ceph "${C[@]}" osd set-full-ratio .99 >/dev/null 2>&1
U=$(cat /proc/sys/kernel/random/uuid); ID=$(ceph "${C[@]}" osd new "$U")
ceph-osd "${C[@]}" -i "$ID" --mkfs --osd-uuid "$U" 2>/dev/null
ceph-osd "${C[@]}" -i "$ID" 2>/dev/null

# ~9 s until the port opens, as radosgw creates its pools.
radosgw "${C[@]}" -n client.rgw.local -f </dev/null >>"$DIR/log/radosgw.out" 2>&1 &
RGW=$!
echo "$RGW" > "$DIR/client.rgw.local.pid"
ready=0
deadline=$((SECONDS + 60))
while [ "$SECONDS" -lt "$deadline" ]; do
  if curl -sf --max-time 2 -o /dev/null "http://127.0.0.1:$PORT/"; then ready=1; break; fi
  if ! kill -0 "$RGW" 2>/dev/null; then
    echo "start-rgw.sh: radosgw exited before it served port $PORT (is the port taken?)" >&2
    exit 4
  fi
  sleep 0.1
done
if [ "$ready" != 1 ]; then
  echo "start-rgw.sh: radosgw did not answer on port $PORT within 60 s" >&2
  exit 4
fi
radosgw-admin "${C[@]}" user create --uid=test --display-name=test --access-key=TESTKEY --secret=TESTSECRET >/dev/null
started=1
echo "http://127.0.0.1:$PORT"
