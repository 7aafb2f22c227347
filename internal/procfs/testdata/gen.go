//go:build ignore

// gen captures real /proc/self/fdinfo files and link targets from the
// running kernel into this folder. Run from the repository root, as root
// (fanotify needs CAP_SYS_ADMIN):
//
//	go run ./internal/procfs/testdata/gen.go
//
// It rewrites fdinfo/*.txt and targets.txt; review the diff before
// committing, since tests assert on specific values (eventfd count 5,
// timerfd interval 1s, signalfd mask SIGUSR1|SIGTERM, two inotify watches).
package main

import (
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	dir := filepath.Join("internal", "procfs", "testdata")
	must := func(fd int, err error) int {
		if err != nil {
			log.Fatal(err)
		}
		return fd
	}
	efd := must(unix.Eventfd(5, unix.EFD_CLOEXEC))
	ep := must(unix.EpollCreate1(unix.EPOLL_CLOEXEC))
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, efd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)}); err != nil {
		log.Fatal(err)
	}
	r, w, _ := os.Pipe()
	_ = w
	var rfd int
	rc, _ := r.SyscallConn()
	rc.Control(func(fd uintptr) { rfd = int(fd) })
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, rfd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(rfd)}); err != nil {
		log.Fatal(err)
	}
	tfd := must(unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC))
	if err := unix.TimerfdSettime(tfd, 0, &unix.ItimerSpec{Interval: unix.Timespec{Sec: 1}, Value: unix.Timespec{Sec: 1}}, nil); err != nil {
		log.Fatal(err)
	}
	ifd := must(unix.InotifyInit1(unix.IN_CLOEXEC))
	must(unix.InotifyAddWatch(ifd, "/tmp", unix.IN_CREATE))
	must(unix.InotifyAddWatch(ifd, "/", unix.IN_DELETE))
	var set unix.Sigset_t
	set.Val[0] = 1<<(uint(syscall.SIGUSR1)-1) | 1<<(uint(syscall.SIGTERM)-1)
	sfd := must(unix.Signalfd(-1, &set, unix.SFD_CLOEXEC))
	pfd := must(unix.PidfdOpen(os.Getpid(), 0))
	fan := must(unix.FanotifyInit(unix.FAN_CLOEXEC, unix.O_RDONLY))
	if err := unix.FanotifyMark(fan, unix.FAN_MARK_ADD, unix.FAN_OPEN, unix.AT_FDCWD, "/tmp"); err != nil {
		log.Fatal(err)
	}
	mfd := must(unix.MemfdCreate("segment-cache", unix.MFD_CLOEXEC))
	f, _ := os.CreateTemp("", "gen-deleted-*.log")
	os.Remove(f.Name())
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	defer l.Close()
	ns, _ := os.Open("/proc/self/ns/net")

	fdinfo := map[string]int{"eventfd": efd, "eventpoll": ep, "timerfd": tfd, "inotify": ifd, "signalfd": sfd, "pidfd": pfd, "fanotify": fan, "memfd": mfd, "file": int(f.Fd())}
	for name, fd := range fdinfo {
		b, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(fd))
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "fdinfo", name+".txt"), b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	var targets []byte
	for _, fd := range []int{0, efd, ep, rfd, tfd, ifd, sfd, pfd, fan, mfd, int(f.Fd()), int(ns.Fd())} {
		t, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		if err != nil {
			log.Fatal(err)
		}
		targets = fmt.Appendf(targets, "%s\n", t)
	}
	if err := os.WriteFile(filepath.Join(dir, "targets.txt"), targets, 0o644); err != nil {
		log.Fatal(err)
	}
}
