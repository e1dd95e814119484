#!/usr/bin/env bash
# test_subscribe.sh: the README's Python subscriber (examples/subscribe.py,
# pyzmq + CURVE + the published .proto files) follows a live patients
# stream: it catches up on what exists, then takes live events in order.
set -u
bin=${PM_BIN:-build/bin}
py=/usr/bin/python3   # Debian's, with python3-zmq and python3-protobuf
dir=$(mktemp -d /tmp/praxis-sub.XXXXXX)
passed=0
failed=0
ok()  { echo "  $1 ok"; passed=$((passed + 1)); }
bad() { echo "  $1 FAILED: $2"; failed=$((failed + 1)); }

protoc --python_out="$dir" -I proto proto/pm.proto proto/patients.proto
export PM_DATA_DIR=$dir/store PM_KEYS_DIR=$dir/keys
export PM_PATIENTS_ENDPOINT='tcp://127.0.0.1:*' PM_PATIENTS_EVENTS='tcp://127.0.0.1:*' PM_PATIENTS_METRICS=off
"$bin/pmctl" keys init >/dev/null
"$bin/pmctl" keys add warehouse --role service >/dev/null
"$bin/pm-patients" 2>"$dir/log" &
pid=$!
trap 'kill $pid $spid 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
spid=
for _ in $(seq 1 500); do [ -f "$dir/store/endpoints" ] && break; sleep 0.01; done
export PM_PATIENTS_ENDPOINT=$(sed -n 's/^commands=//p' "$dir/store/endpoints")
export PM_PATIENTS_EVENTS=$(sed -n 's/^events=//p' "$dir/store/endpoints")

reg() {
  "$bin/pmctl" call patients.Register "{\"patient\":{\"name\":{\"family\":\"$1\",\"given\":[\"A\"]},\"birth_date\":\"1977-07-07\",\"home_site\":\"north\"}}" >/dev/null
}
reg Early1; reg Early2
PYTHONPATH=$dir SUBSCRIBE_COUNT=4 PM_IDENTITY=warehouse timeout 20 "$py" examples/subscribe.py patients >"$dir/out" 2>"$dir/err" &
spid=$!
for _ in $(seq 1 500); do [ "$(wc -l <"$dir/out")" -ge 2 ] && break; sleep 0.01; done
reg Late1; reg Late2
wait $spid
rc=$?
got=$(awk '{print $1, $4}' "$dir/out" | tr '\n' ' ')
[[ $rc -eq 0 && $got == "1 Early1 2 Early2 3 Late1 4 Late2 " ]] && ok "python_subscriber_catches_up_then_follows" \
  || bad "python_subscriber_catches_up_then_follows" "rc=$rc got '$got' $(cat "$dir/err")"
echo "$passed passed, $failed failed"
