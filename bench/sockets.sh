#!/usr/bin/env bash
# The socket section of bench/run.sh alone: a full fd + socket snapshot
# (sockstate.TakePID) against lsof -p PID, ss -tanp and a bare readlink
# loop, at 1000 and 10000 TCP sockets held by one process. Installs lsof and
# iproute2 with apt-get when they are missing (needs root for that). Prints
# a markdown table.
#
#   bench/sockets.sh [-n 1000,10000] [-runs 9]
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
go build -o bench/out/compare ./bench/compare
exec bench/out/compare run -only sockets "$@"
