#!/usr/bin/env bash
# test_keys.sh: key rotation as an operator does it (pmctl keys rotate),
# against a real patients service on kernel-chosen loopback ports, with
# this suite's own key store. Ends with "N passed, N failed".
set -u
bin=${PM_BIN:-build/bin}
dir=$(mktemp -d /tmp/praxis-keys.XXXXXX)
passed=0
failed=0
ok()   { echo "  $1 ok"; passed=$((passed + 1)); }
bad()  { echo "  $1 FAILED: $2"; failed=$((failed + 1)); }

export PM_DATA_DIR=$dir/store PM_KEYS_DIR=$dir/keys PM_PATIENTS_METRICS=off
keys=$dir/keys
"$bin/pmctl" keys init >/dev/null
export PM_PATIENTS_ENDPOINT='tcp://127.0.0.1:*' PM_PATIENTS_EVENTS='tcp://127.0.0.1:*'
pid=
start() {
  rm -f "$dir/store/endpoints"
  "$bin/pm-patients" 2>>"$dir/log" &
  pid=$!
  for _ in $(seq 1 500); do [ -f "$dir/store/endpoints" ] && break; sleep 0.01; done
}
trap 'kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
start
export PM_PATIENTS_ENDPOINT=$(sed -n 's/^commands=//p' "$dir/store/endpoints")
export PM_PATIENTS_EVENTS=$(sed -n 's/^events=//p' "$dir/store/endpoints")
export PM_CLIENT_TIMEOUT_MS=2000 PM_CLIENT_RETRIES=2

reg() {  # reg <identity> <home site>: registers a patient as that principal
  PM_IDENTITY=$1 "$bin/pmctl" call patients.Register \
    "{\"patient\":{\"name\":{\"family\":\"Rota\",\"given\":[\"A\"]},\"birth_date\":\"1980-01-01\",\"home_site\":\"$2\"}}" 2>&1 >/dev/null
}
# Answers within 300 ms? Exit 3 means the handshake was refused.
health_as() {
  PM_IDENTITY=$1 PM_CLIENT_TIMEOUT_MS=300 PM_CLIENT_RETRIES=1 "$bin/pmctl" health patients >/dev/null 2>&1
}

"$bin/pmctl" keys add rota --role front-desk --sites east >/dev/null
"$bin/pmctl" keys add audrey --role auditor >/dev/null
reg rota east >/dev/null
cp "$keys/secret/rota.cert_secret" "$keys/secret/rota-old.cert_secret"
out=$("$bin/pmctl" keys rotate rota)
rc=$?
[[ $rc -eq 0 && $out == *"rotated rota (front-desk, sites east)"*"/revoked/rota@"*".cert"* ]] \
  && ok "rotate_prints_new_pair_and_kept_key" || bad "rotate_prints_new_pair_and_kept_key" "rc=$rc $out"
cmp -s "$keys/secret/rota.cert_secret" "$keys/secret/rota-old.cert_secret" \
  && bad "rotate_makes_new_key_pair" "same secret file" || ok "rotate_makes_new_key_pair"

health_as rota-old
[[ $? -eq 3 ]] && ok "old_key_refused_after_rotate" || bad "old_key_refused_after_rotate" "answered"

# The new key is the same front desk of east: registers there, not at
# north, and may not read the event stream.
err=$(reg rota east)
rc1=$?
err2=$(reg rota north)
rc2=$?
err3=$(PM_IDENTITY=rota "$bin/pmctl" events tail patients --from 1 2>&1 >/dev/null)
[[ $rc1 -eq 0 && $rc2 -eq 1 && $err2 == *EFORBIDDEN* && $err3 == *EFORBIDDEN* ]] \
  && ok "new_key_same_role_and_sites" || bad "new_key_same_role_and_sites" "rc=$rc1 $err / rc=$rc2 $err2 / $err3"

lines=$(PM_IDENTITY=audrey "$bin/pmctl" audit tail patients --from 1)
python3 - "$lines" <<'PY' && ok "audit_names_same_principal" || bad "audit_names_same_principal" "$lines"
import json, sys
entries = [json.loads(l) for l in sys.argv[1].splitlines()]
mine = [e for e in entries if e["principal"] == "rota"]
# registered before the rotation and after it, refused at north; refused
# the stream after
assert [e["outcome"] for e in mine if e["action"] == "patients.Register"] == ["OK", "OK", "EFORBIDDEN"], mine
assert [e["outcome"] for e in mine if e["action"] == "pm.EventsRead"] == ["EFORBIDDEN"], mine
assert not [e for e in entries if e["principal"] not in ("rota", "admin")], entries
PY

"$bin/pmctl" keys rotate rota >/dev/null
out=$("$bin/pmctl" keys list)
active=$(grep -c '^rota .*front-desk .*east .*active$' <<<"$out")
replaced=$(grep -cE '^rota .*front-desk .*east .* replaced [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' <<<"$out")
[[ $active -eq 1 && $replaced -eq 2 ]] && ok "list_shows_history" || bad "list_shows_history" "$out"

# Revoking after rotations takes out the current key; the name is dead.
"$bin/pmctl" keys revoke rota >/dev/null
out=$("$bin/pmctl" keys list)
health_as rota
rc=$?
[[ $rc -eq 3 && $out == *rota*revoked* && $(grep -c '^rota .*replaced' <<<"$out") -eq 2 ]] \
  && ok "revoke_after_rotations" || bad "revoke_after_rotations" "rc=$rc $out"
err=$("$bin/pmctl" keys rotate rota 2>&1)
[[ $? -eq 1 && $err == *"rota was revoked"* ]] && ok "rotate_revoked_name_refused" \
  || bad "rotate_revoked_name_refused" "$err"
err=$("$bin/pmctl" keys rotate nobody 2>&1)
[[ $? -eq 1 && $err == *"no principal nobody"* ]] && ok "rotate_unknown_refused" \
  || bad "rotate_unknown_refused" "$err"

# A service's key: refused unless the operator says the service is
# stopped; then the restarted service serves new clients.
err=$("$bin/pmctl" keys rotate svc-patients 2>&1)
[[ $? -eq 1 && $err == *"Stop pm-patients, run"*"--stopped"* ]] \
  && ok "rotate_service_key_refused_while_running" || bad "rotate_service_key_refused_while_running" "$err"
kill $pid; wait $pid 2>/dev/null
cp "$keys/public/svc-patients.cert" "$dir/svc-old.cert"
"$bin/pmctl" keys rotate svc-patients --stopped >/dev/null
rc=$?
start
health_as admin
rc2=$?
out=$("$bin/pmctl" keys list)
[[ $rc -eq 0 && $rc2 -eq 0 && $out == *svc-patients*replaced* ]] \
  && ! cmp -s "$dir/svc-old.cert" "$keys/public/svc-patients.cert" \
  && ok "service_key_rotated_while_stopped" \
  || bad "service_key_rotated_while_stopped" "rc=$rc rc2=$rc2; $out $(tail -3 "$dir/log")"

echo "$passed passed, $failed failed"
