//go:build linux

package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/leakcheck/go/sockstate"
)

func raiseNoFile() {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}

// noTimeWait makes closing c reset the connection instead of leaving a
// TIME_WAIT socket in the namespace for a minute: each dump of the next
// runs would walk it.
func noTimeWait(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}

// peer accepts connections forever and holds them; it prints its port and
// exits when its standard input closes.
func peer() error {
	raiseNoFile()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	go func() { io.Copy(io.Discard, os.Stdin); os.Exit(0) }()
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		noTimeWait(c)
		heldConns = append(heldConns, c)
	}
}

// heldConns keeps the peer's connections reachable, so no finalizer closes
// them while the holder is measured.
var heldConns []net.Conn

// holder starts a peer, opens n connections to it, prints "ready" and waits
// for stdin to close.
func holder(args []string) error {
	fs := flag.NewFlagSet("holder", flag.ExitOnError)
	n := fs.Int("n", 1000, "TCP sockets to hold")
	fs.Parse(args)
	raiseNoFile()
	p := exec.Command(os.Args[0], "peer")
	p.Stderr = os.Stderr
	pin, _ := p.StdinPipe()
	pout, _ := p.StdoutPipe()
	if err := p.Start(); err != nil {
		return err
	}
	defer func() { pin.Close(); p.Wait() }()
	line, err := bufio.NewReader(pout).ReadString('\n')
	if err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	addr := "127.0.0.1:" + strings.TrimSpace(line)
	conns := make([]net.Conn, 0, *n)
	for range *n {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			return fmt.Errorf("after %d connections: %w", len(conns), err)
		}
		noTimeWait(c)
		conns = append(conns, c)
	}
	fmt.Println("ready", p.Process.Pid)
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
	return nil
}

// snap takes one full fd + socket snapshot of pid and prints its size and
// how long it took in-process.
func snap(args []string) error {
	fs := flag.NewFlagSet("snap", flag.ExitOnError)
	pid := fs.Int("pid", 0, "process to snapshot")
	fs.Parse(args)
	start := time.Now()
	s, err := sockstate.TakePID(*pid)
	if err != nil {
		return err
	}
	fmt.Printf("%d fds, %d sockets, source %s, %v in-process\n", len(s.FDs.FDs), len(s.Sockets), s.Source, time.Since(start).Round(10*time.Microsecond))
	return nil
}

// readlinks is the floor: list /proc/PID/fd and readlink every entry,
// nothing else.
func readlinks(args []string) error {
	fs := flag.NewFlagSet("readlink", flag.ExitOnError)
	pid := fs.Int("pid", 0, "process")
	fs.Parse(args)
	dir := "/proc/" + strconv.Itoa(*pid) + "/fd/"
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	n := 0
	for _, name := range names {
		if _, err := os.Readlink(dir + name); err == nil {
			n++
		}
	}
	fmt.Println(n, "links")
	return nil
}

type tool struct {
	name string
	argv func(pid int) []string
}

// sample is one timed run of a process: wall time and the CPU time (user +
// system) it used. On a machine whose cores other work also wants, the CPU
// time is the steadier figure.
type sample struct{ wall, cpu time.Duration }

func timeProcess(argv []string) (sample, string, error) {
	c := exec.Command(argv[0], argv[1:]...)
	var out strings.Builder
	c.Stdout = &out
	var errb strings.Builder
	c.Stderr = &errb
	start := time.Now()
	err := c.Run()
	wall := time.Since(start)
	if err != nil {
		return sample{}, "", fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(errb.String()))
	}
	ps := c.ProcessState
	return sample{wall, ps.UserTime() + ps.SystemTime()}, out.String(), nil
}

func (r *results) sockets(o options) error {
	self := os.Args[0]
	tools := []tool{
		{"sockstate.TakePID (fds + sockets)", func(pid int) []string { return []string{self, "snap", "-pid", strconv.Itoa(pid)} }},
		{"lsof -p PID", func(pid int) []string { return []string{"lsof", "-p", strconv.Itoa(pid)} }},
		{"ss -tanp", func(int) []string { return []string{"ss", "-tanp"} }},
		{"bare readlink loop over /proc/PID/fd", func(pid int) []string { return []string{self, "readlink", "-pid", strconv.Itoa(pid)} }},
	}
	for _, n := range o.sockets {
		fmt.Fprintf(os.Stderr, "sockets: %d TCP sockets, %d alternating runs of %d tools\n", n, o.runs, len(tools))
		rows, note, err := compareSockets(n, o.runs, tools)
		if err != nil {
			return err
		}
		r.sock = append(r.sock, rows...)
		r.sockNotes = append(r.sockNotes, note)
	}
	return nil
}

type sockRow struct {
	n    int
	tool string
	wall time.Duration // medians
	cpu  time.Duration
}

func compareSockets(n, runs int, tools []tool) ([]sockRow, string, error) {
	h := exec.Command(os.Args[0], "holder", "-n", strconv.Itoa(n))
	h.Stderr = os.Stderr
	hin, _ := h.StdinPipe()
	hout, _ := h.StdoutPipe()
	if err := h.Start(); err != nil {
		return nil, "", err
	}
	defer func() { hin.Close(); h.Wait() }()
	line, err := bufio.NewReader(hout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready") {
		return nil, "", fmt.Errorf("holder: %q %v", line, err)
	}
	pid := h.Process.Pid
	samples := make([][]sample, len(tools))
	var last string
	for r := 0; r < runs+1; r++ { // run 0 warms caches and is not counted
		for i, t := range tools {
			s, out, err := timeProcess(t.argv(pid))
			if err != nil {
				return nil, "", err
			}
			if r == 0 {
				continue
			}
			samples[i] = append(samples[i], s)
			if i == 0 {
				last = strings.TrimSpace(out)
			}
		}
	}
	var rows []sockRow
	for i, t := range tools {
		var walls, cpus []time.Duration
		for _, s := range samples[i] {
			walls = append(walls, s.wall)
			cpus = append(cpus, s.cpu)
		}
		rows = append(rows, sockRow{n, t.name, median(walls), median(cpus)})
	}
	return rows, fmt.Sprintf("%d sockets, last run of our snapshot: %s", n, last), nil
}
