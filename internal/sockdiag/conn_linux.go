package sockdiag

import (
	"fmt"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// Conn is a NETLINK_SOCK_DIAG socket and its receive buffer. It dumps the
// network namespace it was opened in. A Conn serves one goroutine at a
// time.
type Conn struct {
	fd  int
	seq uint32
	buf []byte
}

// recvBufs recycles receive buffers: the kernel fills at most 32 KiB per
// read of a dump (netlink_recvmsg caps max_recvmsg_len there).
var recvBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// Dial opens a sock_diag socket in the network namespace of the calling
// thread: the process's, unless the caller switched its locked thread.
func Dial() (*Conn, error) {
	fd, err := socket()
	if err != nil {
		return nil, err
	}
	return newConn(fd), nil
}

func newConn(fd int) *Conn {
	return &Conn{fd: fd, buf: *recvBufs.Get().(*[]byte), seq: uint32(os.Getpid())}
}

func socket() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return -1, fmt.Errorf("netlink socket: %w", err)
	}
	return fd, nil
}

// DialIn opens a sock_diag socket inside the network namespace netns, an
// open descriptor of /proc/PID/ns/net: a socket dumps the namespace it was
// created in. It switches a locked OS thread there and back, which needs
// CAP_SYS_ADMIN over both namespaces; a thread that cannot switch back is
// left locked so that it exits with its goroutine rather than run other
// code in the wrong namespace.
func DialIn(netns int) (*Conn, error) {
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{-1, fmt.Errorf("opening our network namespace: %w", err)}
			return
		}
		defer unix.Close(home)
		if err := unix.Setns(netns, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{-1, fmt.Errorf("setns into the target network namespace: %w", err)}
			return
		}
		fd, err := socket()
		if back := unix.Setns(home, unix.CLONE_NEWNET); back == nil {
			runtime.UnlockOSThread()
		}
		// A thread still locked here exits with this goroutine.
		ch <- result{fd, err}
	}()
	r := <-ch
	if r.err != nil {
		return nil, r.err
	}
	return newConn(r.fd), nil
}

// Close closes the socket and recycles its buffer.
func (c *Conn) Close() error {
	err := unix.Close(c.fd)
	recvBufs.Put(&c.buf)
	return err
}

// DumpInet asks for every socket of family (AFInet, AFInet6) and protocol
// (ProtoTCP, ProtoUDP) whose state is in states (see InetRequest), and calls
// fn for each as ParseInet does.
func (c *Conn) DumpInet(family, protocol uint8, states uint32, fn func(*InetSock)) error {
	seq := c.next()
	return c.dump(InetRequest(seq, family, protocol, states), func(b []byte) (bool, error) {
		return ParseInet(b, seq, fn)
	})
}

// DumpUnix asks for every unix socket whose state is in states, with the
// attributes show selects (see UnixRequest), and calls fn for each as
// ParseUnix does.
func (c *Conn) DumpUnix(states, show uint32, fn func(*UnixSock)) error {
	seq := c.next()
	return c.dump(UnixRequest(seq, states, show), func(b []byte) (bool, error) {
		return ParseUnix(b, seq, fn)
	})
}

func (c *Conn) next() uint32 {
	c.seq++
	return c.seq
}

// dump sends a request and feeds every reply buffer to parse until it sees
// the end of the dump.
func (c *Conn) dump(req []byte, parse func([]byte) (bool, error)) error {
	for {
		err := unix.Sendto(c.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("netlink send: %w", err)
		}
		break
	}
	for {
		n, err := unix.Read(c.fd, c.buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("netlink receive: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("netlink receive: empty read before the end of the dump")
		}
		done, err := parse(c.buf[:n])
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}
