package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// startThread starts a thread that stays: named, it is a leak leakcheck
// reports ("worker-3"); unnamed, it carries the process's own name, as the
// Go runtime's threads do, and is not.
func startThread(named bool, name string) error {
	errc := make(chan error)
	var lock func()
	lock = func() {
		runtime.LockOSThread() // never unlocked: the goroutine parks on its thread for good
		if unix.Gettid() == unix.Getpid() {
			// Not the main thread, whose name is the process's: keep it
			// busy while another goroutine locks a thread.
			locked := make(chan struct{})
			go func() { close(locked); lock() }()
			<-locked
			runtime.UnlockOSThread()
			return
		}
		var err error
		if named {
			var p *byte
			if p, err = unix.BytePtrFromString(name); err == nil {
				err = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(p)), 0, 0, 0)
			}
		}
		errc <- err
		select {}
	}
	go lock()
	return <-errc
}

// processAge returns how long ago this process started (to the kernel's
// clock tick): /proc/uptime less the start time in /proc/self/stat.
func processAge() (time.Duration, error) {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which is in parentheses: the
	// start time is field 22 of the line, the 20th after the name.
	rest := stat[bytes.LastIndexByte(stat, ')')+2:]
	fields := bytes.Fields(rest)
	if len(fields) < 20 {
		return 0, fmt.Errorf("short /proc/self/stat: %q", stat)
	}
	ticks, err := strconv.ParseInt(string(fields[19]), 10, 64)
	if err != nil {
		return 0, err
	}
	up, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0, err
	}
	secs, err := strconv.ParseFloat(string(bytes.Fields(up)[0]), 64)
	if err != nil {
		return 0, err
	}
	const ticksPerSecond = 100 // USER_HZ on every Linux architecture Go runs on
	return time.Duration((secs - float64(ticks)/ticksPerSecond) * float64(time.Second)), nil
}
