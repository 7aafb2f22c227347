// Package raftrestart is a Raft-style node that is started and stopped
// repeatedly, the software behind the "RPC processor threads never
// reclaimed" incident.
//
// Start listens for RPCs and starts a pool of RPC processors: goroutines
// locked to their own OS threads, named ProcessorName (as a JVM names its
// executor threads), that serve the node's connections. Stop closes the
// listener and shuts the pool down: each processor gives its thread its old
// name back and returns, and the runtime ends the thread.
//
// With Buggy set, Stop reproduces the incident: it closes the listener but
// never shuts the processors down. Each restart adds Processors named
// threads that never end, until the process runs out of memory. The node
// keeps every pool it started in its registry; Close, at exit, shuts down
// whatever is still running.
//
// Naming threads needs prctl(PR_SET_NAME): on other systems than Linux,
// Start returns an error wrapping errors.ErrUnsupported.
package raftrestart

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
)

// ProcessorName is the name of an RPC processor's thread (at most 15 bytes,
// the kernel's limit).
const ProcessorName = "JRaft-RPC-Proc"

// Node is a Raft-style node serving AppendEntries-like RPCs over TCP: a
// client sends "append DATA" lines and gets "ok INDEX" back.
type Node struct {
	// Processors is how many RPC processor threads Start runs (8 if zero).
	Processors int
	// Buggy makes Stop leave the processors running, as in the incident.
	Buggy bool

	mu       sync.Mutex
	addr     string // kept across restarts, like a configured address
	ln       net.Listener
	accepted chan struct{}
	pool     *pool
	registry map[*pool]bool // every pool started and not yet shut down
	entries  int
}

// pool is a set of RPC processors sharing one queue of connections.
type pool struct {
	conns chan net.Conn
	quit  chan struct{}
	wg    sync.WaitGroup
}

func (n *Node) processors() int {
	if n.Processors > 0 {
		return n.Processors
	}
	return 8
}

// Start listens on the node's address (a new loopback port the first time,
// the same one on every restart) and starts the RPC processors.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ln != nil {
		return errors.New("raftrestart: Start of a running node")
	}
	p, err := n.startPool()
	if err != nil {
		return err
	}
	addr := n.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.shutdown()
		return err
	}
	if n.registry == nil {
		n.registry = make(map[*pool]bool)
	}
	n.registry[p] = true
	n.addr, n.ln, n.pool = ln.Addr().String(), ln, p
	n.accepted = make(chan struct{})
	go n.accept(ln, p, n.accepted)
	return nil
}

// startPool starts the processors and waits until each runs on its named
// thread.
func (n *Node) startPool() (*pool, error) {
	p := &pool{conns: make(chan net.Conn), quit: make(chan struct{})}
	errs := make(chan error, n.processors())
	for range n.processors() {
		p.wg.Add(1)
		go p.process(n, errs)
	}
	var err error
	for range n.processors() {
		err = errors.Join(err, <-errs)
	}
	if err != nil {
		p.shutdown()
		return nil, fmt.Errorf("raftrestart: RPC processor: %w", err)
	}
	return p, nil
}

// process is one RPC processor: it owns its OS thread for its whole life.
func (p *pool) process(n *Node, started chan<- error) {
	defer p.wg.Done()
	runtime.LockOSThread()
	// Returning while locked ends the thread, except the process's main
	// thread, which the runtime keeps: give the name back either way.
	old, err := threadName()
	if err == nil {
		err = setThreadName(ProcessorName)
	}
	started <- err
	if err != nil {
		runtime.UnlockOSThread()
		return
	}
	defer setThreadName(old)
	// Each processor keeps a read buffer for the requests it serves: a
	// processor that is never stopped keeps it too.
	buf := make([]byte, ReadBufferSize)
	for {
		select {
		case c := <-p.conns:
			n.serve(c, buf)
		case <-p.quit:
			return
		}
	}
}

// ReadBufferSize is the buffer each RPC processor holds while it runs.
const ReadBufferSize = 64 << 10

func (p *pool) shutdown() {
	close(p.quit)
	p.wg.Wait()
}

func (n *Node) accept(ln net.Listener, p *pool, done chan struct{}) {
	defer close(done)
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		select {
		case p.conns <- c:
		case <-p.quit:
			c.Close()
		}
	}
}

// serve answers one connection's RPCs until the client closes it.
func (n *Node) serve(c net.Conn, buf []byte) {
	defer c.Close()
	sc := bufio.NewScanner(c)
	sc.Buffer(buf[:0], len(buf))
	for sc.Scan() {
		cmd, _, _ := strings.Cut(sc.Text(), " ")
		if cmd != "append" {
			fmt.Fprintf(c, "error unknown RPC %q\n", cmd)
			continue
		}
		n.mu.Lock()
		n.entries++
		index := n.entries
		n.mu.Unlock()
		fmt.Fprintf(c, "ok %d\n", index)
	}
}

// Addr returns the address the node listens on ("" before the first Start).
func (n *Node) Addr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addr
}

// Stop closes the listener and shuts the RPC processors down.
func (n *Node) Stop() error {
	n.mu.Lock()
	ln, p, accepted := n.ln, n.pool, n.accepted
	n.ln, n.pool = nil, nil
	n.mu.Unlock()
	if ln == nil {
		return errors.New("raftrestart: Stop of a stopped node")
	}
	err := ln.Close()
	<-accepted
	if n.Buggy {
		return err // BUG: the RPC processors are never shut down
	}
	p.shutdown()
	n.mu.Lock()
	delete(n.registry, p)
	n.mu.Unlock()
	return err
}

// Close stops the node if it runs and shuts down every processor pool
// still registered, as the process does at exit.
func (n *Node) Close() error {
	var err error
	if n.Running() {
		err = n.Stop()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for p := range n.registry {
		p.shutdown()
		delete(n.registry, p)
	}
	return err
}

// Running reports whether the node is started.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ln != nil
}
