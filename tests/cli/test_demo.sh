#!/usr/bin/env bash
# test_demo.sh: `make demo` (tools/demo/demo.py) seeds a small network into
# all five real services, started as deploy/run-local.sh starts them but on
# a temp data dir, its own keys and random ports; then pmctl shows that
# what it reports is really there. Ends with "N passed, N failed".
# DEMO_TEST_PATIENTS / DEMO_TEST_DAYS change the size (to time a full run).
set -u
bin=${PM_BIN:-build/bin}
py=/usr/bin/python3   # Debian's, with python3-zmq and python3-protobuf
dir=$(mktemp -d /tmp/praxis-demo.XXXXXX)
passed=0
failed=0
ok()  { echo "  $1 ok"; passed=$((passed + 1)); }
bad() { echo "  $1 FAILED: $2"; failed=$((failed + 1)); }
pids=()
cleanup() {
  [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null
  for _ in $(seq 1 100); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 0.05
  done
  [ ${#pids[@]} -gt 0 ] && kill -KILL "${pids[@]}" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

mkdir -p "$dir/py"
protoc -I proto --python_out="$dir/py" proto/*.proto || { echo "protoc failed"; exit 1; }
export PM_KEYS_DIR=$dir/keys
"$bin/pmctl" keys init >/dev/null
# Three ports per service (commands, events, metrics) from a random base.
base=$((20000 + RANDOM % 11900))
i=0
for svc in patients staffing scheduling finance recruitment; do
  up=${svc^^}
  export "PM_${up}_ENDPOINT=tcp://127.0.0.1:$((base + i))"
  export "PM_${up}_EVENTS=tcp://127.0.0.1:$((base + i + 1))"
  export "PM_${up}_METRICS=127.0.0.1:$((base + i + 2))"
  i=$((i + 3))
done
for svc in patients staffing scheduling finance recruitment; do
  PM_DATA_DIR="$dir/$svc" "$bin/pm-$svc" 2>"$dir/$svc.log" &
  pids+=($!)
done
for svc in patients staffing scheduling finance recruitment; do
  for _ in $(seq 1 500); do [ -f "$dir/$svc/endpoints" ] && break; sleep 0.01; done
  [ -f "$dir/$svc/endpoints" ] || { bad "services_start" "$svc has no endpoints file"; }
done

start=$(date +%s.%N)
DEMO_PATIENTS=${DEMO_TEST_PATIENTS:-60} DEMO_DAYS=${DEMO_TEST_DAYS:-2} PM_BIN=$bin \
  PYTHONPATH=$dir/py timeout 120 "$py" tools/demo/demo.py >"$dir/out" 2>"$dir/err"
rc=$?
secs=$(echo "$(date +%s.%N) - $start" | bc)
[[ $rc -eq 0 ]] && grep -q "demo network seeded" "$dir/out" && ok "demo_runs (${secs}s)" \
  || bad "demo_runs" "rc=$rc $(tail -5 "$dir/err") $(tail -3 "$dir/out")"
[ -n "${DEMO_TEST_SHOW:-}" ] && cat "$dir/out"
count() { sed -n "s/^  $1  *//p" "$dir/out" | head -1; }

# Patients: every one registered is found by a family-name search.
want=$(count patients)
: >"$dir/ids"
for letter in a b c d e f g h i j k l m n o p q r s t u v w x y z; do
  token=
  for _ in $(seq 1 100); do
    out=$("$bin/pmctl" call patients.Search "{\"family_prefix\":\"$letter\",\"page_size\":200${token:+,\"page_token\":\"$token\"}}")
    echo "$out" | "$py" -c 'import json,sys; [print(p["id"]) for p in json.load(sys.stdin).get("patients",[])]' >>"$dir/ids"
    token=$(echo "$out" | "$py" -c 'import json,sys; print(json.load(sys.stdin).get("next_page_token",""))')
    [ -z "$token" ] && break
  done
done
got=$(sort -u "$dir/ids" | wc -l)
[[ -n $want && $want -gt 0 && $got -eq $want ]] && ok "patients_searchable ($got)" \
  || bad "patients_searchable" "demo said '$want', search found $got"

# Every service has events.
for svc in patients staffing scheduling finance recruitment; do
  hs=$("$bin/pmctl" health $svc | "$py" -c 'import json,sys; print(json.load(sys.stdin).get("high_seq",0))')
  [[ $hs -gt 0 ]] && ok "health_${svc}_high_seq ($hs)" || bad "health_${svc}_high_seq" "high_seq=$hs"
done

# Appointments in every state the demo promises, on the scheduling stream.
"$bin/pmctl" events tail scheduling --from 1 >"$dir/sched" 2>&1
"$py" - "$dir/sched" <<'PY' && ok "appointments_in_all_states" || bad "appointments_in_all_states" "$(cut -c1-200 "$dir/sched" | tail -3)"
import json, sys
types = {json.loads(l)["type"] for l in open(sys.argv[1])}
need = {"scheduling.appointment." + s for s in
        ("booked", "arrived", "checked_in", "fulfilled", "cancelled", "noshow")}
assert need <= types, need - types
PY

# A fulfilled appointment the guide names was charged by finance.
apt=$(grep -o 'scheduling.Get .*"apt_[^"]*"' "$dir/out" | grep -o 'apt_[^"]*' | head -1)
out=$("$bin/pmctl" call finance.GetCharge "{\"appointment_id\":\"$apt\"}" 2>&1)
"$py" - "$out" <<'PY' && ok "fulfilled_visit_charged" || bad "fulfilled_visit_charged" "$apt: $out"
import json, sys
c = json.loads(sys.argv[1])
assert c["kind"] == "CHARGE_VISIT" and int(c["amount_minor"]) > 0, c
PY

# The invoice the guide names is issued and counted.
inv=$(grep -o '"inv_[^"]*"' "$dir/out" | tr -d '"' | head -1)
out=$("$bin/pmctl" call finance.GetInvoice "{\"invoice_id\":\"$inv\"}" 2>&1)
"$py" - "$out" <<'PY' && ok "invoice_issued" || bad "invoice_issued" "$inv: $out"
import json, sys
i = json.loads(sys.argv[1])
assert i["status"] in ("INVOICE_ISSUED", "INVOICE_BALANCED") and i["number_text"], i
PY

# Recruitment: applications at several pipeline stages.
job=$(grep -o '"job_[^"]*"' "$dir/out" | tr -d '"' | head -1)
out=$("$bin/pmctl" call recruitment.ListApplications "{\"requisition_id\":\"$job\"}" 2>&1)
"$py" - "$out" <<'PY' && ok "candidates_at_stages" || bad "candidates_at_stages" "$job: $out"
import json, sys
stages = {a["stage"] for a in json.loads(sys.argv[1])["applications"]}
assert len(stages) >= 4, stages
PY

# Staffing: credentials expiring soon somewhere in the network.
n=0
for site in north east west; do
  k=$("$bin/pmctl" call staffing.ExpiringCredentials "{\"site_id\":\"$site\",\"days\":90}" \
      | "$py" -c 'import json,sys; print(len(json.load(sys.stdin).get("items",[])))')
  n=$((n + k))
done
[[ $n -gt 0 ]] && ok "credentials_expiring ($n)" || bad "credentials_expiring" "none within 90 days"

# A second run refuses to seed the same network twice, changing nothing.
DEMO_PATIENTS=5 DEMO_DAYS=1 PYTHONPATH=$dir/py timeout 30 "$py" tools/demo/demo.py >/dev/null 2>"$dir/err2"
rc=$?
[[ $rc -ne 0 ]] && grep -q "already has the demo's sites" "$dir/err2" && ok "second_run_refused" \
  || bad "second_run_refused" "rc=$rc $(cat "$dir/err2")"

echo "$passed passed, $failed failed"
