// Package origin records where a process creates its file descriptors and
// child processes: for every syscall that returns a new descriptor (open,
// socket, accept, pipe, eventfd, dup, …) or a new process (fork, vfork,
// clone, clone3), the user stack of the thread that made it, captured in the
// kernel at the syscall's exit with eBPF. leakcheck uses it to name the line
// that created a leaked descriptor, socket or child.
//
//	t, err := origin.Start(os.Getpid())
//	if err != nil {
//		return err // wraps ErrUnavailable, with a hint of how to enable it
//	}
//	defer t.Close()
//	f, _ := os.Open("data")
//	if o, ok := t.FD(int(f.Fd())); ok {
//		fmt.Println(o) // openat by tid 4242: example.com/pkg.load (/src/pkg/load.go:17)
//	}
//
// FD reports the latest creation of a descriptor number that the tracer saw:
// numbers are reused, and each creation replaces the record of the one
// before, in the order the kernel returned them. Closes are not recorded
// (the kernel frees a number before the close returns, so a close's record
// could land after the next creation of the number), so FD of a number that
// was closed and then created by a syscall the tracer does not see reports
// the closed descriptor's origin. A descriptor that appeared after a moment
// T cannot come from an origin whose Time is before T: compare, and call
// such an origin unknown. Child keeps a child until the target reaps it
// (wait4, waitid), so it answers for live and zombie children.
//
// # How
//
// One raw tracepoint program on sys_exit (no tracefs, no BTF, no cgo): it
// keeps only the target's threads (by thread group, in the caller's PID
// namespace), only the syscalls listed in the architecture's table that
// succeeded, walks the user stack by frame pointers with bpf_get_stack, and
// stores the stack with the syscall, thread and time in a hash map keyed by
// descriptor number (another keyed by child PID). pipe, pipe2 and
// socketpair record both descriptors, read from user memory at the exit;
// clone and clone3 with CLONE_PIDFD (os.StartProcess) record the pidfd too.
// Go keeps frame pointers, so a stack reaches from the syscall stub through
// os and net to the user's function, the test function and testing.tRunner;
// a goroutine's stack ends at its entry function (its creator is not on the
// stack). Frames symbolises with runtime.CallersFrames, which shows inlined
// callers.
//
// The program runs on every syscall of every process while a tracer is
// attached; the figures are in bench_linux_test.go. Start takes 1.5 to 20
// milliseconds (more when no other sys_exit program is attached, most when
// one was just detached), Close about a tenth of one. The tracer holds six
// descriptors (anon_inode:bpf-map ×4, bpf-prog, bpf_link) in the process
// that calls Start, created before it records anything.
//
// # Limits
//
//   - Linux on amd64 only; elsewhere Start returns an error wrapping
//     ErrUnavailable (and errors.ErrUnsupported off Linux).
//   - Needs root, or CAP_BPF and CAP_PERFMON: the kernel never lets an
//     unprivileged process load a tracing program, whatever
//     kernel.unprivileged_bpf_disabled says.
//   - Not seen: descriptors received over a unix socket (recvmsg with
//     SCM_RIGHTS), io_uring's direct opens and accepts (no syscall), bpf()
//     objects, close_range, descriptors inherited or created before Start.
//   - An execve of the target leaves records whose PCs belong to the old
//     executable.
//   - Stacks are the innermost 96 frames; frames of C code called through
//     cgo are walked only if that code keeps frame pointers.
//   - At most 32768 descriptor numbers and 4096 unreaped children; past
//     that, new numbers go unrecorded.
//   - A record can be torn if FD reads it while the same number is being
//     created again.
//   - The target must live in the caller's PID namespace (not in a nested
//     one, such as a container started by the caller).
//   - Frames symbolises PCs of the current process's executable: the
//     current process, or another running the same file (a re-executed test
//     binary, PIE or not); for another executable it returns frames with
//     only PC set (debug/gosym could name their functions, but not the
//     inlined callers that matter: os.Open is inlined into its caller).
package origin
