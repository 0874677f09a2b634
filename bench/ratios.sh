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
# median sorts a[1..k] and returns its median.
function median(a, k,   i, j, t) {
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
function caseMedian(name,   k, i, a, med) {
	k = n[name]; for (i = 1; i <= k; i++) a[i] = v[name, i]
	med = median(a, k); lo[name] = a[1]; hi[name] = a[k]
	return med
}
function ratio(a, b) { return (a in m && b in m && m[b] > 0) ? sprintf("%.2f", m[a] / m[b]) : "n/a" }
# goal prints the median over the rounds of the ratio of a to b in the same
# round, and the smallest and largest of those ratios.
function goal(label, a, b, limit,   k, i, r, med) {
	k = n[a] < n[b] ? n[a] : n[b]
	if (k == 0) { print label " n/a"; return }
	for (i = 1; i <= k; i++) r[i] = v[a, i] / v[b, i]
	med = median(r, k)
	printf "%s %.2f  (<= %s; rounds %.2f..%.2f)\n", label, med, limit, r[1], r[k]
}
END {
	for (c = 1; c <= cases; c++) m[order[c]] = caseMedian(order[c])
	printf "%-26s %12s %10s %14s\n", "case", "cpu-ns/op", "x go-oidc", "spread"
	for (c = 1; c <= cases; c++) {
		x = order[c]
		printf "%-26s %12.0f %10s %6.2f..%-6.2f\n", x, m[x], ratio(x, "go-oidc"), lo[x] / m[x], hi[x] / m[x]
	}
	print ""
	print "median over the rounds of the ratio within a round:"
	goal("goal 1  new JWT       / golang-jwt+keyfunc  ", "httpoidc-new-jwt", "golang-jwt+keyfunc", "1.00")
	goal("        new JWT       / RSA floor           ", "httpoidc-new-jwt", "floor-rsa-verify", "1.40")
	goal("goal 2  cached JWT    / SHA-256+map floor   ", "httpoidc-cached-jwt", "floor-sha256-map", "1.10")
	goal("goal 3  new opaque    / plain introspection ", "httpoidc-new-opaque", "plain-introspection", "1.05")
	goal("goal 4  RequireLogin  / scs + Get, JSON     ", "httpoidc-requirelogin", "scs-json", "1.30")
}' <<<"$out"
