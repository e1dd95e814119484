#!/usr/bin/env bash
# test_pmctl.sh: pmctl as an operator uses it, against a real patients
# service on kernel-chosen loopback ports. Ends with "N passed, N failed".
set -u
bin=${PM_BIN:-build/bin}
dir=$(mktemp -d /tmp/praxis-cli.XXXXXX)
passed=0
failed=0
ok()   { echo "  $1 ok"; passed=$((passed + 1)); }
bad()  { echo "  $1 FAILED: $2"; failed=$((failed + 1)); }

export PM_DATA_DIR=$dir/store PM_KEYS_DIR=$dir/keys
"$bin/pmctl" keys init >/dev/null
export PM_PATIENTS_ENDPOINT='tcp://127.0.0.1:*' PM_PATIENTS_EVENTS='tcp://127.0.0.1:*'
"$bin/pm-patients" 2>"$dir/log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 500); do [ -f "$dir/store/endpoints" ] && break; sleep 0.01; done
export PM_PATIENTS_ENDPOINT=$(sed -n 's/^commands=//p' "$dir/store/endpoints")
export PM_PATIENTS_EVENTS=$(sed -n 's/^events=//p' "$dir/store/endpoints")
export PM_CLIENT_TIMEOUT_MS=2000 PM_CLIENT_RETRIES=2

out=$("$bin/pmctl" call patients.Register \
  '{"patient":{"name":{"family":"Okafor","given":["Ngozi"]},"birth_date":"1988-04-12","sex":"FEMALE","home_site":"east","telecom":[{"system":"EMAIL","value":"ngozi@example.org"}]}}')
id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$out" 2>/dev/null)
[[ $id == pat_* ]] && ok "call_register_prints_json" || bad "call_register_prints_json" "$out"

out=$(echo "{\"id\":\"$id\"}" | "$bin/pmctl" call patients.Get -)
python3 - "$out" <<'PY' && ok "call_reads_json_from_stdin" || bad "call_reads_json_from_stdin" "$out"
import json, sys
p = json.loads(sys.argv[1])
assert p["name"]["family"] == "Okafor" and p["sex"] == "FEMALE" and p["version"] == 1
assert p["mrns"] == [{"site_id": "east", "mrn": "M0000001"}]
PY

err=$("$bin/pmctl" call patients.Register '{"patient":{"name":{"family":"X","given":["Y"]},"birth_date":"1988-13-01","home_site":"east"}}' 2>&1 >/dev/null)
rc=$?
[[ $rc -eq 1 && $err == *EINVAL*patient.birth_date* ]] && ok "service_error_exit_1_names_field" \
  || bad "service_error_exit_1_names_field" "rc=$rc $err"

err=$("$bin/pmctl" call patients.Register '{"patient":{"nme":{}}}' 2>&1 >/dev/null)
rc=$?
[[ $rc -eq 2 && $err == *nme* ]] && ok "bad_json_refused_before_sending" || bad "bad_json_refused_before_sending" "rc=$rc $err"

"$bin/pmctl" call patients.Update "{\"id\":\"$id\",\"expected_version\":1,\"patient\":{\"preferred_language\":\"yo\"}}" >/dev/null
lines=$("$bin/pmctl" events tail patients --from 1)
python3 - "$lines" "$id" <<'PY' && ok "events_tail_prints_json_lines" || bad "events_tail_prints_json_lines" "$lines"
import json, sys
evs = [json.loads(l) for l in sys.argv[1].splitlines()]
assert [e["seq"] for e in evs] == [1, 2]
assert [e["type"] for e in evs] == ["patients.patient.registered", "patients.patient.updated"]
assert evs[1]["data"]["preferred_language"] == "yo" and evs[1]["subject"] == sys.argv[2]
PY

# --follow: prints what exists, then live events as they are committed.
"$bin/pmctl" events tail patients --from 2 --follow --count 3 >"$dir/follow" &
fpid=$!
for n in 1 2; do
  "$bin/pmctl" call patients.Register "{\"patient\":{\"name\":{\"family\":\"Live$n\",\"given\":[\"A\"]},\"birth_date\":\"2001-01-01\",\"home_site\":\"east\"}}" >/dev/null
done
for _ in $(seq 1 500); do kill -0 $fpid 2>/dev/null || break; sleep 0.01; done
kill $fpid 2>/dev/null
seqs=$(python3 -c 'import json,sys; print(" ".join(str(json.loads(l)["seq"]) for l in open(sys.argv[1])))' "$dir/follow")
[[ $seqs == "2 3 4" ]] && ok "events_follow_sees_live_events" || bad "events_follow_sees_live_events" "got '$seqs'"

out=$("$bin/pmctl" health patients)
python3 - "$out" <<'PY' && ok "health" || bad "health" "$out"
import json, sys
h = json.loads(sys.argv[1])
assert h["ok"] is True and h["service"] == "patients" and h["high_seq"] == 4
assert h["stream_id"].startswith("str_")
PY

"$bin/pmctl" commands patients | grep -q 'patients.Register *write' && ok "commands_lists_schema" \
  || bad "commands_lists_schema" "no patients.Register line"

# Keys: a principal added, listed, revoked; an unknown identity has no key.
"$bin/pmctl" keys add frontdesk-north --role front-desk --sites north >/dev/null
out=$("$bin/pmctl" keys list)
[[ $out == *frontdesk-north*front-desk*north*active* && $out == *svc-patients*service* ]] \
  && ok "keys_add_and_list" || bad "keys_add_and_list" "$out"
# A front desk may register but may not read the event stream.
err=$(PM_IDENTITY=frontdesk-north "$bin/pmctl" events tail patients --from 1 2>&1 >/dev/null)
[[ $err == *EFORBIDDEN* ]] && ok "role_refused_with_eforbidden" || bad "role_refused_with_eforbidden" "$err"
# The refusal is on the audit log, and the chain verifies.
"$bin/pmctl" keys add audrey --role auditor >/dev/null
lines=$(PM_IDENTITY=audrey "$bin/pmctl" audit tail patients)
python3 - "$lines" <<'PY' && ok "audit_tail_shows_refusal" || bad "audit_tail_shows_refusal" "$lines"
import json, sys
entries = [json.loads(l) for l in sys.argv[1].splitlines()]
assert any(e["principal"] == "frontdesk-north" and e["outcome"] == "EFORBIDDEN"
           and e["action"] == "pm.EventsRead" for e in entries), entries
PY
verdict=$(PM_IDENTITY=audrey "$bin/pmctl" audit verify patients) && ok "audit_verify_ok" \
  || bad "audit_verify_ok" "exit $?"
# The head it printed, given back as an anchor, holds; a wrong hash for
# that entry, or an entry past the end, does not (exit 1).
anchor=$(python3 -c 'import json,sys; v=json.loads(sys.argv[1]); print("%d:%s" % (v["entries"], v["head_hash"]))' "$verdict")
PM_IDENTITY=audrey "$bin/pmctl" audit verify patients --anchor "$anchor" >/dev/null \
  && ok "audit_verify_anchor_holds" || bad "audit_verify_anchor_holds" "exit $? ($anchor)"
PM_IDENTITY=audrey "$bin/pmctl" audit verify patients \
  --anchor "${anchor%%:*}:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" >/dev/null
rc1=$?
PM_IDENTITY=audrey "$bin/pmctl" audit verify patients --anchor "999999:${anchor#*:}" >/dev/null
rc2=$?
[[ $rc1 -eq 1 && $rc2 -eq 1 ]] && ok "audit_verify_anchor_mismatch_exit_1" \
  || bad "audit_verify_anchor_mismatch_exit_1" "rc=$rc1 rc=$rc2"
err=$("$bin/pmctl" keys add x --role wizard 2>&1)
[[ $? -eq 2 && $err == *network-admin* ]] && ok "keys_add_rejects_unknown_role" || bad "keys_add_rejects_unknown_role" "$err"

"$bin/pmctl" keys revoke frontdesk-north >/dev/null
out=$("$bin/pmctl" keys list)
[[ $out == *frontdesk-north*revoked* ]] && ok "keys_revoke" || bad "keys_revoke" "$out"
PM_IDENTITY=frontdesk-north PM_CLIENT_TIMEOUT_MS=300 PM_CLIENT_RETRIES=1 \
  "$bin/pmctl" health patients >/dev/null 2>&1
[[ $? -eq 3 ]] && ok "revoked_key_cannot_connect" || bad "revoked_key_cannot_connect" "answered"

PM_PATIENTS_ENDPOINT=tcp://127.0.0.1:9 PM_CLIENT_TIMEOUT_MS=200 PM_CLIENT_RETRIES=1 \
  "$bin/pmctl" health patients >/dev/null 2>&1
[[ $? -eq 3 ]] && ok "unreachable_exit_3" || bad "unreachable_exit_3" "wrong exit code"

echo "$passed passed, $failed failed"
