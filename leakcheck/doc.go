// Package leakcheck fails a test that does not give back what it took:
// goroutines, file descriptors, sockets, OS threads and child processes.
//
//	func TestProxy(t *testing.T) {
//		leakcheck.Check(t)
//		p := startProxy(t)
//		p.Forward("127.0.0.1:0", backend)
//		p.Close()
//	}
//
// Check takes a baseline when it is called and, in a t.Cleanup that runs
// after the test's own cleanups, compares the process with it. What the
// test left behind fails it with a categorized report that names the
// culprit:
//
//	leakcheck: 4 leaked after waiting 3s: 1 goroutine, 2 fds, 1 socket (2 runtime fds ignored)
//	goroutines (1):
//	  1 × main.(*Forward).loop [select], created by main.(*Proxy).Forward
//	      goroutine 41 [select] at /src/proxy.go:88
//	fds (2):
//	  eventpoll (1):
//	      fd 11 eventpoll (watching 1 fd)
//	  eventfd (1):
//	      fd 12 eventfd (count 0)
//	sockets (1):
//	  tcp LISTEN (1):
//	      fd 9 tcp 127.0.0.1:40123 LISTEN
//
// # What counts as a leak
//
// Resources are compared by identity, not by count: goroutines by ID,
// descriptors by number and the object they refer to, sockets by inode,
// threads by TID, child processes by pid and start time. A count that stays
// level can hide a closed descriptor replaced by a leaked one; identity
// cannot.
//
// One limit, for speed: in a process with more than 1000 goroutines, the
// polls of a check compare censuses of stacks (runtime.GoroutineProfile,
// about a tenth of a full stack dump, which stops the world) and dump
// stacks only when a census grew. A census cannot see a goroutine that
// exits while another with the very same stack starts: a leaked twin of a
// goroutine that ended during the test passes. WithExactGoroutines closes
// the gap (measured on 2 cores: a dump takes 50 ms at 10 000 parked
// goroutines, 0.4 s at 100 000, 5.5 s at 100 000 fifty frames deep). Below
// 1000 goroutines, and when no goroutine at all was created since the
// baseline (the runtime counts them, Go 1.26 on), a check is exact anyway.
//
// A child process that appeared during the test and still exists is a
// leak, whether it still runs or has exited and was never waited for (a
// zombie): exec.Cmd.Start without Wait. It is printed with its command and
// state, and with the pidfd Go keeps for it, which is then not reported as
// a descriptor of its own:
//
//	processes (1):
//	  sleep 20 (1):
//	      child process 4242 sleep 20 (running, pidfd 15)
//
// Teardown is often asynchronous (a keep-alive connection, a goroutine that
// sees its context cancelled, a peer that reads EOF). A check polls with
// back-off until nothing is left or the timeout passes (DefaultTimeout,
// WithTimeout, and never past the test's deadline); a clean test returns as
// soon as it is clean. The check knows what its looks cost: after the first
// it starts none that, with the verdict's looks, would end past the
// timeout or the deadline (a verdict with no time left for its detailed
// look is reported from the last look, and says so); it reads goroutine
// stacks again only when their counts changed, into one buffer it reuses;
// and it spreads its polls out once their garbage (the collector is paused,
// see Finalizers) reaches a bound, so the extra memory of a failing check
// is one stack dump's buffer and at most 32 MB (or four polls' worth) of
// garbage, however long it waits (figures by size: bench/scale).
//
// Never reported, and counted in the report's "ignored" note:
//   - the Go runtime's descriptors: the netpoller's eventpoll and eventfd
//     (created before every baseline, so a test's first network use is not
//     a leak) and the cgroup CPU-limit files (see fdsnap.RuntimeFDs);
//   - files the testing package opens itself (-test.testlogfile, profiles,
//     -test.trace), and leakcheck's own descriptors;
//   - the pipes the standard library pools for splice(2) when io.Copy moves
//     data between sockets (closed by the garbage collector, not by the
//     code that copied; see fdsnap.IsSplicePipe);
//   - goroutines of the testing framework and the standard library's
//     background goroutines (os/signal's loop, runtime.ensureSigM), as
//     goleak ignores them;
//   - new OS threads that carry the process's own name (the executable's,
//     as exec gave it): in a Go program the runtime's Ms, which it starts
//     on demand and never stops. A thread leak shows as a named thread
//     (prctl PR_SET_NAME, pthread_setname_np), or in a Go program as the
//     goroutine locked to it; a thread renamed during the test counts as
//     new when a goroutine still holds it (one renamed and let go holds
//     nothing).
//
// What the options ignore (IgnoreFD, IgnoreTopFunction, IgnoreCurrent, …) is
// counted in the same note under the option's name, so nothing is left out
// silently. Each option applies to some entry points only; given to another
// (a soak's WithIterations to Check, Cleanup to Find), it is a misuse error
// that names both, not a setting quietly dropped.
//
// # Finalizers
//
// An *os.File or net.Conn that is unreachable is closed by a finalizer at
// some garbage collection, which would turn a leak into a pass if it ran
// while a check waits. Checks therefore pause the garbage collector
// (debug.SetGCPercent(-1)) from their first look to their verdict; the
// pause nests across parallel checks and is short (a clean check returns at
// once). Before a failing verdict, a check collects garbage twice (letting
// the finalizers run) and looks again: a descriptor that only a finalizer
// closed is still reported, as "closed only by the garbage collector:
// nothing called Close"; a goroutine, thread or child that a finalizer
// stopped (a cache's janitor, stopped when the cache became garbage) is not
// a leak, and is counted in the ignored note. That collection is skipped
// while another check waits, since it could close that test's unreachable
// files. A collection during the test body itself can still close such a
// file before the check looks; run with GOGC=off to rule that out too.
//
// # Parallel tests
//
// Check labels the test's goroutine with pprof label "leakcheck.test"; the
// goroutines it starts inherit the label, so goroutine leaks are attributed
// to the right test even when checked tests run in parallel. Descriptors,
// sockets, threads and child processes belong to the whole process: when
// the bodies of two unrelated checked tests run at the same time, neither
// checks them, each says so in its log naming the other ("overlapped
// TestB"), and VerifyTestMain checks them for the package. The same holds
// when the sibling has no check of its own: before failing a test, Check
// looks for another test body running at that moment and, if there is
// one, judges by label only. A clean parallel test never fails because a
// sibling leaked. Subtests nest in their parent's window and do not count
// as overlap; a parent judged by label counts its subtests' goroutines as
// its own, and a subtest that has returned is no test running beside it.
//
// A window counts only while a test's body runs. A test whose Check comes
// before its t.Parallel() waits, parked, while the serial tests run: they
// do not overlap it (each is checked in full), and what the checked ones
// hold when they look is not blamed on it. What an unchecked serial test
// leaves meanwhile cannot be told apart from the parked test's own. A test
// counts as parked from its t.Parallel() call while its parent's body
// runs, and until it is released (tests released together overlap, even
// when a busy machine schedules one only after the other's body is done).
//
// Check replaces the test goroutine's own pprof labels with its one;
// goroutines a parallel test starts under pprof.Do with a fresh context do
// not carry it and are left to VerifyTestMain.
//
// # goleak compatibility
//
// VerifyNone, VerifyTestMain, IgnoreTopFunction, IgnoreAnyFunction,
// IgnoreCreatedBy, Cleanup and RunOnFailure behave like goleak's for
// goroutines; they also check the other resources, where "none" means
// nothing beyond what the process held when leakcheck was initialised,
// plus the runtime's own. IgnoreCurrent ignores everything that exists when
// it is called, of every resource. Use WithResources(Goroutines) for
// goleak's exact scope, and package github.com/leakcheck/go/goleak for a
// drop-in whose only change is the import path.
//
// # Create many, delete many
//
// Cycle turns the reproduction every incident behind this package shares
// into one call: create n objects, destroy them, and see what stayed.
//
//	rep := leakcheck.Cycle(t, 200, func() func() {
//		f := gw.Forward(backend)
//		return func() { gw.Delete(f) }
//	})
//
// One warm-up create/destroy comes first, so one-time initialisation is not
// a per-cycle leak. The test fails when destroying does not give back what
// creating took, with a report that reads like the incident:
//
//	leakcheck: 200 create/destroy cycles: per create: +28 fds (26 eventfd, 1 eventpoll, 1 socket), +3 goroutines; after destroy: retained per cycle: 27 fds (26 eventfd, 1 eventpoll)
//
// CycleReport.PerCreate and PerCycle give the numbers for assertions.
// CycleAll takes a create-all/destroy-all pair for code torn down in bulk.
//
// # Soak
//
// Soak runs an operation repeatedly, samples the process's totals every
// iteration and its per-category counts at an interval, and fits a robust
// (Theil–Sen) slope to each category after a warm-up share. A cache that
// fills and then stays flat passes; one socket per iteration fails, even
// with noise, naming the category, its slope and the culprits:
//
//	sockets/tcp CLOSE_WAIT +1.00/iteration, +120.0/minute (3 → 101, max 101)
//	    fd 9 tcp 127.0.0.1:40112 → 127.0.0.1:25555 CLOSE_WAIT
//
// # Another process
//
// WithPID points Check, Find, Cycle and Soak at another process, a child
// server in any language: its descriptors, sockets (read in its network
// namespace), threads by name and child processes are checked; goroutines only exist for
// the current process, and a test log says so once. A target that exits
// during a check is an error naming it, never a pass. The threads a process
// starts without naming them (they carry the process's own name, as Go's
// runtime threads do) are not reported; named threads are.
//
// # The core
//
// Take, Find, FindCycle and RunSoak are the core the testing helpers are
// built on: they return values and errors and never touch a testing.TB.
// Take snapshots a process; Find compares it with a baseline and returns a
// Report whose Categories, Count and Counts code can inspect; Compare does
// the same between two snapshots, without waiting or looking again (for
// before/after scripts and stored snapshots).
//
// # Limits
//
// Descriptors, sockets, threads and child processes are read from /proc
// and netlink, so they are checked on Linux only. Elsewhere they are reported as not checked
// (logged once per test binary) and goroutines are still checked; a test is
// never skipped or failed for that alone.
package leakcheck
