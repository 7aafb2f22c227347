package raftrestart

import (
	"bytes"
	"unsafe"

	"golang.org/x/sys/unix"
)

// threadName returns the name of the calling thread.
func threadName() (string, error) {
	var buf [16]byte
	if err := unix.Prctl(unix.PR_GET_NAME, uintptr(unsafe.Pointer(&buf[0])), 0, 0, 0); err != nil {
		return "", err
	}
	name, _, _ := bytes.Cut(buf[:], []byte{0})
	return string(name), nil
}

// setThreadName names the calling thread, truncated to the kernel's 15
// bytes.
func setThreadName(name string) error {
	var buf [16]byte
	copy(buf[:15], name)
	return unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&buf[0])), 0, 0, 0)
}
