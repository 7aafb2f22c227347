#!/usr/bin/env bash
# Side-by-side comparison of leakcheck with lsof, ss and goleak (see
# bench/README.md): builds bench/compare and the test binaries it runs,
# prints a markdown table and writes it to bench/RESULTS.md. Installs lsof
# and iproute2 with apt-get when they are missing (needs root for that).
#
#   bench/run.sh                       # everything, ~3 minutes
#   bench/run.sh -runs 5 -short        # quicker: no 100 000 goroutines
#   bench/run.sh -only sockets,check   # some sections (RESULTS.md untouched)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
go build -o bench/out/compare ./bench/compare
go test -c -o bench/out/leakcheck.test ./leakcheck
go test -c -o bench/out/settle.test ./bench/settle
out=(-o bench/RESULTS.md)
for a in "$@"; do
	case "$a" in -only|-only=*|-n|-n=*) out=() ;; esac
done
exec bench/out/compare run "${out[@]}" "$@"
