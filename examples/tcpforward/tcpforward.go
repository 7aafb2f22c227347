// Package tcpforward is an API gateway's TCP forwarding, the software behind
// the "each forward +28 fds, delete releases 1" incident.
//
// A Gateway forwards TCP connections: Forward opens a listener and hands
// every accepted connection to the forward's own event loop, which dials the
// backend and copies bytes both ways. An event loop is an epoll instance
// watching one eventfd per task queue (Gateway.Workers of them) and a
// goroutine waiting in epoll_wait; the gateway keeps every loop it runs in
// its loop group, as an event-loop framework does. Delete closes the
// listener and the forward's connections, then releases its event loop.
//
// With Buggy set, Delete reproduces the incident: it closes the listener and
// stops there. The loop stays in the group with its epoll descriptor, its
// eventfds and its goroutine, one set per forward ever created, until the
// process runs out of descriptors. Gateway.Close, at shutdown, releases
// every loop the group holds.
//
// The event loop uses epoll and eventfd, so forwarding works on Linux only;
// elsewhere Forward returns an error wrapping errors.ErrUnsupported.
package tcpforward

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Gateway runs TCP forwards.
type Gateway struct {
	// Workers is how many task queues each forward's event loop has, each
	// woken by its own eventfd (4 if zero). The incident's loops had 26.
	Workers int
	// Buggy makes Delete leave the event loop running, as in the incident.
	Buggy bool

	mu       sync.Mutex
	forwards map[*Forward]bool
	group    map[*eventLoop]bool // every event loop the gateway runs
}

// Forward is one listening address whose connections are forwarded to a
// backend.
type Forward struct {
	ln       net.Listener
	backend  string
	loop     *eventLoop
	accepted chan struct{} // closed when the accept loop returns

	mu    sync.Mutex
	conns map[net.Conn]bool
	pumps sync.WaitGroup
}

func (g *Gateway) workers() int {
	if g.Workers > 0 {
		return g.Workers
	}
	return 4
}

// Forward listens on a new loopback port and forwards every connection to
// backend.
func (g *Gateway) Forward(backend string) (*Forward, error) {
	loop, err := newEventLoop(g.workers())
	if err != nil {
		return nil, fmt.Errorf("tcpforward: event loop: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, errors.Join(err, loop.close())
	}
	f := &Forward{ln: ln, backend: backend, loop: loop, accepted: make(chan struct{}), conns: make(map[net.Conn]bool)}
	g.mu.Lock()
	if g.forwards == nil {
		g.forwards = make(map[*Forward]bool)
		g.group = make(map[*eventLoop]bool)
	}
	g.forwards[f] = true
	g.group[loop] = true
	g.mu.Unlock()
	go f.accept()
	return f, nil
}

// Addr returns the address the forward listens on.
func (f *Forward) Addr() net.Addr { return f.ln.Addr() }

// Delete stops the forward: it closes the listener and the forward's
// connections and releases its event loop.
func (g *Gateway) Delete(f *Forward) error {
	g.mu.Lock()
	if !g.forwards[f] {
		g.mu.Unlock()
		return errors.New("tcpforward: Delete of a forward this gateway does not run")
	}
	delete(g.forwards, f)
	g.mu.Unlock()

	err := f.ln.Close()
	<-f.accepted
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.pumps.Wait()
	if g.Buggy {
		return err // BUG: the event loop is never released
	}
	g.mu.Lock()
	delete(g.group, f.loop)
	g.mu.Unlock()
	return errors.Join(err, f.loop.close())
}

// Close deletes every forward and shuts down every event loop in the
// gateway's group, as a gateway does when it exits.
func (g *Gateway) Close() error {
	g.mu.Lock()
	var fs []*Forward
	for f := range g.forwards {
		fs = append(fs, f)
	}
	g.mu.Unlock()
	var errs []error
	for _, f := range fs {
		errs = append(errs, g.Delete(f))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for l := range g.group {
		errs = append(errs, l.close())
		delete(g.group, l)
	}
	return errors.Join(errs...)
}

// accept hands each accepted connection to the event loop.
func (f *Forward) accept() {
	defer close(f.accepted)
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.track(c)
		f.pumps.Add(1)
		if err := f.loop.submit(func() { go f.pump(c) }); err != nil {
			f.untrack(c)
			f.pumps.Done()
		}
	}
}

func (f *Forward) track(c net.Conn) {
	f.mu.Lock()
	f.conns[c] = true
	f.mu.Unlock()
}

func (f *Forward) untrack(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	c.Close()
}

// pump dials the backend and copies bytes both ways until both sides are
// done.
func (f *Forward) pump(c net.Conn) {
	defer f.pumps.Done()
	defer f.untrack(c)
	b, err := net.Dial("tcp", f.backend)
	if err != nil {
		return
	}
	f.track(b)
	defer f.untrack(b)
	upstream := make(chan struct{})
	go func() {
		defer close(upstream)
		copyBytes(b, c)
		closeWrite(b)
	}()
	copyBytes(c, b)
	closeWrite(c)
	<-upstream
}

// copyBytes copies through a buffer of its own. io.Copy between two TCP
// connections would splice(2) through a pipe from the standard library's
// pipe pool, which stays open until a garbage collection: not the
// forward's to give back.
func copyBytes(dst io.Writer, src io.Reader) {
	io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, make([]byte, 32<<10))
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}
