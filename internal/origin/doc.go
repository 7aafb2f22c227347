// Package origin records where a process creates its file descriptors and
// child processes: for every syscall that returns a new descriptor (open,
// socket, accept, pipe, eventfd, dup, …) or a new process (fork, vfork,
// clone, clone3), the user stack of the thread that made it, captured in the
// kernel at the syscall's exit with eBPF. leakcheck uses it to name the line
// that created a leaked descriptor, socket or child, and to blame a
// descriptor on the parallel test whose goroutine created it.
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
// before, in the order the kernel returned them. Closes are not recorded, so
// FD of a number that was closed and not created again still reports the
// closed descriptor's origin; ask only about descriptors that are open.
//
// # How
//
// One raw tracepoint program on sys_exit (no tracefs, no BTF, no cgo): it
// keeps only the target's threads (by thread group, in the caller's PID
// namespace), only the syscalls above that succeeded, walks the user stack by
// frame pointers with bpf_get_stack, and stores the stack with the syscall,
// thread and time in a hash map keyed by descriptor number (another keyed by
// child PID). Go keeps frame pointers, so a stack reaches from the syscall
// stub through os and net to the user's function, the test function and
// testing.tRunner; a goroutine's stack ends at its entry function (its creator
// is not on the stack). Frames symbolises with runtime.CallersFrames, which
// shows inlined callers.
//
// # Limits
//
//   - Linux on amd64 only; elsewhere Start returns an error wrapping
//     ErrUnavailable (and errors.ErrUnsupported off Linux).
//   - Needs root, or CAP_BPF and CAP_PERFMON: the kernel never lets an
//     unprivileged process load a tracing program, whatever
//     kernel.unprivileged_bpf_disabled says.
//   - Not seen: descriptors received over a unix socket (recvmsg with
//     SCM_RIGHTS), those taken from another process with pidfd_getfd,
//     io_uring's direct opens, and any syscall not listed in syscallClasses;
//     descriptors created before Start. FD returns false for them, unless the
//     number was created earlier by a seen syscall (then the earlier origin).
//   - Stacks are the innermost 96 frames; frames of C code called through cgo
//     need frame pointers in that code to be walked.
//   - A target in a nested PID namespace (a container started by the caller)
//     does not match: the target must live in the caller's PID namespace.
//   - Frames symbolises only PCs of the current process; for another process
//     it returns frames with only PC set.
package origin
