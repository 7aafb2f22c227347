// Command leakwatch watches a running process, or a command it starts (or
// with --tree the whole tree of processes below it), for growing file
// descriptors, sockets, OS threads and child processes, and fails when they
// grow: a soak test's eyes for services written in any language, red by
// default in CI.
//
// Usage:
//
//	leakwatch [flags] -p PID           watch a running process
//	leakwatch [flags] -- CMD ARGS…     start CMD and watch it
//	leakwatch snapshot -p PID > a.json record one full snapshot
//	leakwatch diff [flags] a.json b.json
//	                                   what b holds that a did not
//
// # Watch
//
// Every --interval (1s) leakwatch takes a full snapshot of the target and
// counts its descriptors by kind (fds/file, fds/eventfd, …; sockets are not
// fds here), its sockets by protocol and state (sockets/tcp CLOSE_WAIT) and
// its threads by name (threads/worker) and its children by command line
// (processes/sleep *), for --duration, or until the target
// exits or leakwatch is interrupted (Ctrl-C, SIGTERM). Threads whose names
// differ only in their numbers count as one category, their family:
// RPC-Processor-1, RPC-Processor-2, … are threads/RPC-Processor-* (see
// threads.Family for the rule), and so do children's command lines. While it runs it rewrites one progress line
// when standard output is a terminal, and otherwise prints a line every
// --print-every (10s). At the end it prints
//
//   - a summary table: each category's count at the start (the first sample
//     after the warm-up), at the end, its maximum, and its Theil–Sen slope
//     per sample and per second after the warm-up;
//   - the verdict: the thresholds exceeded, or that none was;
//   - what the target holds at its last look that it did not hold at the
//     base, by identity (descriptor number and object, socket inode, thread
//     id), in leakcheck's report format, naming the culprits: "fd 9 tcp
//     127.0.0.1:51234 → 127.0.0.1:8080 CLOSE_WAIT";
//   - how a command ended (its exit status or signal), and leakwatch's own
//     exit status with the reason.
//
// # Warm-up and readiness
//
// Start-up is not growth. The warm-up is the leading --warmup share of the
// samples (0.2, leakcheck.DefaultWarmup), or with --ready-after DURATION
// the samples until that long after the start, or with --ready-port N the
// samples until the target listens on TCP port N. The warm-up is left out
// of the start, growth and slopes, and the final diff's base is the first
// full snapshot after it; the summary says which.
//
// # Verdict
//
// With no threshold, a watch is judged as leakcheck.Soak judges a soak: a
// category fails when its slope after the warm-up exceeds
// leakcheck.DefaultMaxSlope (0.05) per sample. --max-slope (per second) and
// --max-growth (end minus start) set thresholds: one for every category
// ("0.5"), per category ("sockets=0.1,fds/eventfd=0"), or both ("1,
// threads=0"). A category's own threshold wins, then its resource's
// ("sockets" covers "sockets/tcp CLOSE_WAIT"), then the one for every
// category; categories no threshold covers keep the default. Repeating a
// flag adds to it. As in leakcheck, threads that never named themselves
// (they carry the process's own name, as the Go runtime's do) and the
// threads total are judged only by a threshold that names them.
// --report-only judges nothing.
//
// # Trees
//
// With --tree, every sample is a full snapshot of the target and of each
// of its descendants. The table, chart and progress show the totals over
// the tree, and the processes of the tree (processes/<command>); each
// process alive at the end is judged on its own life, and the tree on its
// processes: a process that starts or exits steps the totals, so they are
// not judged. A process that exited gave back what it held and is never
// judged; one that appeared during the watch is judged over the second
// half of its life, once it has lived half of the watch. The diff is a leakcheck report per process,
// naming it: "leakcheck: 25 leaked by pid 4244 (worker): …".
//
// --json FILE writes the samples, the summary, the verdict and the final
// diff (schema "leakwatch.watch/v3", documented in cmd/leakwatch/README.md;
// the samples follow "leakcheck.series/v1"); --svg FILE writes a line chart
// of the categories that grew most. Both paths are opened before the watch
// starts, so a bad one fails at once.
//
// # Watching a command
//
// With -- CMD ARGS…, leakwatch starts CMD with its own standard input and
// with CMD's standard output and error both going to leakwatch's standard
// error, so that leakwatch's standard output holds only its report. CMD runs
// in a process group of its own, so a Ctrl-C in the terminal reaches
// leakwatch alone: it takes its last samples while CMD is still alive, then
// sends the group SIGTERM, and SIGKILL if it has not exited 5s later. The
// same happens when --duration ends; a second Ctrl-C ends leakwatch at
// once. If leakwatch itself dies, CMD gets SIGTERM (Linux's parent-death
// signal). Because CMD is not in the terminal's foreground group, a CMD
// that reads the terminal stops (SIGTTIN): redirect its input.
//
// CMD's fate is part of the result: a CMD that crashes (a signal) or exits
// non-zero on its own makes leakwatch exit 3, unless --ignore-exit; after
// leakwatch's SIGTERM, dying of it or exiting 0 or 143 (128+SIGTERM, as the
// JVM does) is no failure.
//
// # Snapshots
//
// leakwatch snapshot -p PID writes every descriptor, socket and thread of
// PID as JSON (schema "leakwatch.snapshot/v1") to standard output, or to -o
// FILE. leakwatch diff a.json b.json prints the counts of both and what b
// holds that a did not, by identity, judged as leakcheck judges (new
// threads that never named themselves are counted as ignored), and fails
// when more new items than --tolerance allows appeared in a category
// (default 0; "2" for every category, or "fds/file=2,sockets=0", a
// resource's covering its categories). It reads its input strictly: one
// object per file, every list present, no descriptor, socket or thread
// twice, no negative number, counts that match the lists, the earlier
// snapshot first, both of the same process. The pattern it serves:
//
//	leakwatch snapshot -p "$(pidof lxd)" > before.json
//	for i in 1 2 3 4 5; do lxc launch img c$i && lxc delete -f c$i; done
//	leakwatch snapshot -p "$(pidof lxd)" > after.json
//	leakwatch diff before.json after.json
//
// # Exit status
//
//	0  nothing grew over its threshold (or the tolerance, for diff)
//	1  something did
//	2  usage error, or the target cannot be read: no such process,
//	   permission denied (another user's process needs root or
//	   CAP_SYS_PTRACE), a platform other than Linux
//	3  the command crashed or exited non-zero on its own (--ignore-exit
//	   turns this off); it wins over 1, since its numbers may be cut short
//	4  the target never became ready (--ready-port, --ready-after)
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
