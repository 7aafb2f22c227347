package origin

import "golang.org/x/sys/unix"

// Offsets in amd64's struct pt_regs (arch/x86/include/asm/ptrace.h) of the
// syscall number (orig_ax) and of the first four arguments (di, si, dx, r10),
// which sys_exit still holds; ax already holds the return value.
var regs = ptRegs{nr: 120, args: [4]int16{112, 104, 96, 56}}

// syscalls lists every syscall the tracer records on amd64, and the waits
// that make it forget a child.
var syscalls = []syscallClass{
	{unix.SYS_OPEN, "open", classFD},
	{unix.SYS_CREAT, "creat", classFD},
	{unix.SYS_OPENAT, "openat", classFD},
	{unix.SYS_OPENAT2, "openat2", classFD},
	{unix.SYS_OPEN_BY_HANDLE_AT, "open_by_handle_at", classFD},
	{unix.SYS_SOCKET, "socket", classFD},
	{unix.SYS_ACCEPT, "accept", classFD},
	{unix.SYS_ACCEPT4, "accept4", classFD},
	{unix.SYS_PIPE, "pipe", classPair},
	{unix.SYS_PIPE2, "pipe2", classPair},
	{unix.SYS_SOCKETPAIR, "socketpair", classPairArg3},
	{unix.SYS_EPOLL_CREATE, "epoll_create", classFD},
	{unix.SYS_EPOLL_CREATE1, "epoll_create1", classFD},
	{unix.SYS_EVENTFD, "eventfd", classFD},
	{unix.SYS_EVENTFD2, "eventfd2", classFD},
	{unix.SYS_TIMERFD_CREATE, "timerfd_create", classFD},
	{unix.SYS_SIGNALFD, "signalfd", classFD},
	{unix.SYS_SIGNALFD4, "signalfd4", classFD},
	{unix.SYS_INOTIFY_INIT, "inotify_init", classFD},
	{unix.SYS_INOTIFY_INIT1, "inotify_init1", classFD},
	{unix.SYS_FANOTIFY_INIT, "fanotify_init", classFD},
	{unix.SYS_MEMFD_CREATE, "memfd_create", classFD},
	{unix.SYS_MEMFD_SECRET, "memfd_secret", classFD},
	{unix.SYS_USERFAULTFD, "userfaultfd", classFD},
	{unix.SYS_MQ_OPEN, "mq_open", classFD},
	{unix.SYS_PIDFD_OPEN, "pidfd_open", classFD},
	{unix.SYS_PIDFD_GETFD, "pidfd_getfd", classFD},
	{unix.SYS_IO_URING_SETUP, "io_uring_setup", classFD},
	{unix.SYS_PERF_EVENT_OPEN, "perf_event_open", classFD},
	{unix.SYS_OPEN_TREE, "open_tree", classFD},
	{unix.SYS_FSOPEN, "fsopen", classFD},
	{unix.SYS_FSMOUNT, "fsmount", classFD},
	{unix.SYS_FSPICK, "fspick", classFD},
	{unix.SYS_LANDLOCK_CREATE_RULESET, "landlock_create_ruleset", classFD},
	{unix.SYS_DUP, "dup", classFD},
	{unix.SYS_DUP2, "dup2", classDup2},
	{unix.SYS_DUP3, "dup3", classFD},
	{unix.SYS_FCNTL, "fcntl", classFcntl},
	{unix.SYS_CLONE, "clone", classClone},
	{unix.SYS_CLONE3, "clone3", classClone3},
	{unix.SYS_FORK, "fork", classFork},
	{unix.SYS_VFORK, "vfork", classFork},
	{unix.SYS_WAIT4, "wait4", classWait4},
	{unix.SYS_WAITID, "waitid", classWaitid},
}
