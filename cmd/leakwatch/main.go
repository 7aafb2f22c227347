// Command leakwatch watches a running process, or a command it starts,
// for growing file descriptors, sockets and OS threads, and fails when they
// grow: a soak test's eyes for services written in any language.
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
// Every --interval (1s) leakwatch counts the target's descriptors by kind
// (fds/file, fds/eventfd, …; sockets are not fds here), its sockets by
// protocol and state (sockets/tcp CLOSE_WAIT) and its threads by name
// (threads/worker), for --duration, or until the target exits or leakwatch
// is interrupted (Ctrl-C, SIGTERM). While it runs it rewrites one progress
// line when standard output is a terminal, and otherwise prints a line every
// --print-every (10s). At the end it prints
//
//   - a summary table: each category's count at the start (the first sample
//     after the warm-up), at the end, its maximum, and its Theil–Sen slope
//     per sample and per second after the warm-up (--warmup, 0.2: the first
//     fifth of the samples, when a service fills its pools);
//   - the thresholds that were exceeded;
//   - what the target holds at its last full snapshot that it did not hold at
//     the first, by identity (descriptor number and object, socket inode,
//     thread id), in leakcheck's report format, naming the culprits:
//     "fd 9 tcp 127.0.0.1:51234 → 127.0.0.1:8080 CLOSE_WAIT". The first full
//     snapshot is taken when the warm-up ends if --duration is set, else at
//     the first sample; the last at the last sample.
//
// --max-slope and --max-growth set thresholds: one for every category
// ("0.5"), per category ("sockets=0.1,fds/eventfd=0"), or both ("1,
// threads=0"). A category's own threshold wins, then its resource's
// ("sockets" covers "sockets/tcp CLOSE_WAIT"), then the one for every
// category. Slopes are per second; growth is end minus start. Repeating a
// flag adds to it. Without thresholds leakwatch only reports.
//
// --json FILE writes the samples, the summary, the exceeded thresholds and
// the final diff (schema "leakwatch.watch/v1"; the samples follow
// "leakcheck.series/v1"); --svg FILE writes a line chart of the categories
// that grew most.
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
// that reads the terminal stops (SIGTTIN): redirect its input. CMD's own
// exit status is printed but never becomes leakwatch's.
//
// # Snapshots
//
// leakwatch snapshot -p PID writes every descriptor, socket and thread of
// PID as JSON (schema "leakwatch.snapshot/v1") to standard output, or to -o
// FILE. leakwatch diff a.json b.json prints the counts of both and what b
// holds that a did not, by identity, and fails when more new items than
// --tolerance allows appeared in a category (default 0; "2" for every
// category, or "fds/file=2,sockets=0", a resource's covering its
// categories). Both snapshots must be of the same process. The pattern it serves:
//
//	leakwatch snapshot -p "$(pidof lxd)" > before.json
//	for i in 1 2 3 4 5; do lxc launch img c$i && lxc delete -f c$i; done
//	leakwatch snapshot -p "$(pidof lxd)" > after.json
//	leakwatch diff before.json after.json
//
// # Exit status
//
// 0 when nothing exceeded a threshold (or the tolerance, for diff); 1 when
// something did; 2 for a usage error, or when the target cannot be read: no
// such process, permission denied (another user's process needs root or
// CAP_SYS_PTRACE), or a platform other than Linux.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
