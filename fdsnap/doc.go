// Package fdsnap takes snapshots of the open file descriptors of the current
// process or of any process by PID, classifies each one, and diffs two
// snapshots by identity.
//
// Each FD carries its number, a Kind (regular file, deleted file, directory,
// pipe, FIFO, socket, character or block device, eventpoll, eventfd,
// timerfd, signalfd, inotify, fanotify, memfd, pidfd, any other anonymous
// inode, or unknown), the raw link target, and the device/inode that
// identifies it:
//
//	before, _ := fdsnap.Take()
//	runTheCode()
//	after, _ := fdsnap.Take(fdsnap.WithDetail())
//	d := fdsnap.Compare(before, after)
//	fmt.Println(d)
//	// opened 2 fds (1 deleted file, 1 eventpoll); closed 0 fds
//	//   + fd 12 file /data/topic-0/00000000.log (deleted)
//	//   + fd 13 eventpoll (watching 3 fds)
//
// Compare works by identity, not by count: a number that was closed and
// reused for another object is reported as Replaced, so an unchanged count
// cannot hide a leak. Anonymous inodes of one kind share a single inode, so
// an eventfd replaced by another eventfd at the same number looks unchanged.
//
// WithDetail adds what /proc/PID/fdinfo says about anonymous inodes (how
// many fds an epoll watches, an eventfd's counter, a timer's clock and
// interval, inotify watches, a signalfd's mask, a pidfd's pid). It costs an
// open and a read per such descriptor, so samplers leave it off; Count is
// the cheapest path of all (one stat on Linux ≥ 6.2, where the size of
// /proc/PID/fd is the number of open descriptors; a listing before that).
//
// # The Go runtime's own descriptors
//
// The runtime opens descriptors that it never closes: the netpoller's
// eventpoll and eventfd, created lazily on the first timer or network use,
// and (Go ≥ 1.25) the cgroup files it reads the CPU limit from. RuntimeFDs
// returns them. It finds the netpoller exactly rather than by guessing: it
// opens a pipe, which package os registers with the netpoller (initialising
// it if needed), and picks the epoll instance whose fdinfo lists that pipe;
// the eventfd is the one that instance watches. A checker that calls
// RuntimeFDs before its baseline snapshot therefore never sees the
// netpoller appear mid-test, and can leave out the descriptors it returns.
//
// Snapshots of the current process never include the descriptor used to
// read /proc/self/fd: fdsnap keeps one open (close-on-exec) from the first
// snapshot on, which also lets snapshots work when the fd table is full.
//
// # Limits
//
// Linux only: elsewhere every function returns an error wrapping
// errors.ErrUnsupported. Another process's descriptors need the permission
// to read /proc/PID/fd (the same user, or CAP_SYS_PTRACE); otherwise the
// error wraps os.ErrPermission, and a process that does not exist or exits
// during the snapshot gives one wrapping os.ErrNotExist. Descriptors closed
// while a snapshot is being taken are silently absent.
package fdsnap
