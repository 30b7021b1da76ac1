#!/usr/bin/env bash
# 1001-capture-corpus: every capture in $SC_SHARED_DIR/corpus/pcaps (and
# generated/) goes through `shadowctl capture`; the exchanges are compared with
# tshark's oracle files (*.http.tsv requests, *.http-resp.tsv responses):
# request count, method, target, status and pairing, per connection in order.
# Prints the per-file agreement. generated/ captures must agree fully; every
# other difference must be listed in EXPECTED below with its explanation.
# Skips (77) when the corpus is absent.
set -euo pipefail
: "${SHADOWCTL:?}"
CORPUS="${SC_SHARED_DIR:-$(dirname "$0")/../../../shared}/corpus/pcaps"
[ -d "$CORPUS" ] || { echo "corpus absent: $CORPUS"; exit 77; }
command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

fail=0
for f in "$CORPUS"/*.pcap "$CORPUS"/*.pcapng "$CORPUS"/generated/*.pcap "$CORPUS"/generated/*.pcapng; do
  [ -f "$f" ] || continue
  [ -f "$f.http.tsv" ] || continue
  b=$(basename "$f")
  if ! "$SHADOWCTL" -q capture -r "$f" --no-compress -o "$TMP/$b.shdw" 2>"$TMP/$b.err"; then
    echo "FAIL $b: capture failed: $(cat "$TMP/$b.err")"
    fail=1
    continue
  fi
  "$SHADOWCTL" inspect --json "$TMP/$b.shdw" > "$TMP/$b.jsonl"
  python3 - "$f" "$TMP/$b.jsonl" <<'PY' || fail=1
import csv, difflib, json, os, sys
pcap, jl = sys.argv[1], sys.argv[2]
name = os.path.basename(pcap)
generated = "/generated/" in pcap

# Documented differences: file -> (our requests, our exchanges with the
# oracle's status, explanation). Anything else is a failure.
EXPECTED = {
  "zeek__variant-03-cl_negative.pcap": (1, 1,
    "the POST carries 'Content-Length: -1', which http-parser rejects (counted as a parse error); "
    "we drop it and resynchronise at the next request line, the smuggled GET (tshark shows both)"),
  "packets__http_espn.pcapng": (61, 60,
    "segments of the response to GET /photo/2010/0405/trv_detroit_134.jpg were not captured (tshark: "
    "'ACKed unseen segment'); tshark cannot reassemble that response and shows none, we keep its status "
    "line (200) and fill the missing body bytes, flagged stream-gap"),
}

def rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))

reqs = rows(pcap + ".http.tsv")
resps = rows(pcap + ".http-resp.tsv")
codes_by_req = {}
for r in resps:
    if r.get("http.request_in"):
        codes_by_req.setdefault(r["http.request_in"], []).append(int(r["http.response.code"]))
oracle = {}
for r in reqs:
    src = r["ip.src"] or r["ipv6.src"]
    key = (src, int(r["tcp.srcport"]))
    lst = codes_by_req.get(r["frame.number"], [])
    code = lst.pop(0) if lst else 0
    oracle.setdefault(key, []).append((r["http.request.method"], r["http.request.uri"], code))

ours = {}
n_ours = 0
for line in open(jl):
    x = json.loads(line)
    n_ours += 1
    key = (x["conn"]["client"], x["conn"]["client_port"])
    ours.setdefault(key, []).append((x["req"]["method"], x["req"]["target"], x["resp"].get("status", 0) or 0))

n_oracle = sum(len(v) for v in oracle.values())
same_req = same_all = 0
diffs = []
for key in sorted(set(oracle) | set(ours)):
    a, b = oracle.get(key, []), ours.get(key, [])
    # Align the two request sequences of this connection on method+target.
    sm = difflib.SequenceMatcher(a=[x[:2] for x in a], b=[x[:2] for x in b], autojunk=False)
    matched_a = set()
    for blk in sm.get_matching_blocks():
        for k in range(blk.size):
            oa, ob = a[blk.a + k], b[blk.b + k]
            matched_a.add(blk.a + k)
            same_req += 1
            if oa[2] == ob[2]:
                same_all += 1
            else:
                diffs.append((key, oa, ob))
    for i, oa in enumerate(a):
        if i not in matched_a:
            diffs.append((key, oa, None))
status = "ok"
if diffs or n_oracle != n_ours:
    exp = EXPECTED.get(name)
    if exp and exp[0] == n_ours and exp[1] == same_all and not generated:
        status = "expected-diff: " + exp[2]
    else:
        status = "FAIL"
print(f"{'FAIL' if status == 'FAIL' else 'PASS'} {name}: tshark {n_oracle} requests, shadowctl {n_ours}; "
      f"same method+target {same_req}/{n_oracle}, same status+pairing {same_all}/{n_oracle}"
      + ("" if status in ("ok", "FAIL") else f" ({status})"))
if status == "FAIL":
    for d in diffs[:10]:
        print("   diff", d)
    sys.exit(1)
PY
done
exit $fail
