#!/usr/bin/env bash
# ratios.sh runs BenchmarkPaths (or reads the output of an earlier run from
# the file given) and prints each case's CPU per request as a ratio to
# go-oidc's Verify, then the ratios the performance goals are stated in.
# The figure per case is the median of the rounds; the spread is the
# smallest and largest round as a ratio to that median.
#
# Each round is one go test run of every case for -benchtime (default 1s,
# tens of thousands of requests for a cached token): the rounds interleave
# the cases in time, so that a neighbour's load on this shared machine
# falls on all of them alike, not on the cases that ran while it lasted.
#
#	./ratios.sh                  # 5 rounds
#	./ratios.sh -count 8         # 8 rounds; other flags go to go test
#	./ratios.sh out.txt          # an earlier run's output
set -euo pipefail
cd "$(dirname "$0")"
if [[ $# -eq 1 && -f $1 ]]; then
	out=$(cat "$1")
else
	rounds=5
	flags=()
	while [[ $# -gt 0 ]]; do
		if [[ $1 == -count && $# -gt 1 ]]; then
			rounds=$2
			shift 2
		else
			flags+=("$1")
			shift
		fi
	done
	go test -c -o /dev/null . # build once, before the first round
	out=$(for ((round = 1; round <= rounds; round++)); do
		go test -run '^$' -bench Paths -count 1 -benchtime 1s ${flags[@]+"${flags[@]}"} .
	done | tee /dev/stderr)
fi
awk '
/^BenchmarkPaths\// {
	name = $1; sub(/^BenchmarkPaths\//, "", name); sub(/-[0-9]+$/, "", name)
	for (i = 3; i < NF; i++) if ($(i+1) == "cpu-ns/op") { n[name]++; v[name, n[name]] = $i }
	if (!(name in seen)) { seen[name] = 1; order[++cases] = name }
}
function median(name,   k, i, j, t, a) {
	k = n[name]; for (i = 1; i <= k; i++) a[i] = v[name, i]
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	lo[name] = a[1]; hi[name] = a[k]
	return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
function ratio(a, b) { return (a in m && b in m && m[b] > 0) ? sprintf("%.2f", m[a] / m[b]) : "n/a" }
END {
	for (c = 1; c <= cases; c++) m[order[c]] = median(order[c])
	printf "%-26s %12s %10s %14s\n", "case", "cpu-ns/op", "x go-oidc", "spread"
	for (c = 1; c <= cases; c++) {
		x = order[c]
		printf "%-26s %12.0f %10s %6.2f..%-6.2f\n", x, m[x], ratio(x, "go-oidc"), lo[x] / m[x], hi[x] / m[x]
	}
	print ""
	print "goal 1  new JWT       / golang-jwt+keyfunc   " ratio("httpoidc-new-jwt", "golang-jwt+keyfunc") "  (<= 1.00)"
	print "        new JWT       / RSA floor            " ratio("httpoidc-new-jwt", "floor-rsa-verify") "  (<= 1.40)"
	print "goal 2  cached JWT    / SHA-256+map floor    " ratio("httpoidc-cached-jwt", "floor-sha256-map") "  (<= 1.10)"
	print "goal 3  new opaque    / plain introspection  " ratio("httpoidc-new-opaque", "plain-introspection") "  (<= 1.05)"
	print "goal 4  RequireLogin  / scs + Get, JSON      " ratio("httpoidc-requirelogin", "scs-json") "  (<= 1.30)"
}' <<<"$out"
