//go:build linux

// Command sockcmp times a full fd + socket snapshot of a process holding N
// TCP sockets against lsof -p PID, ss -tanp and a bare readlink loop over
// /proc/PID/fd, side by side in one run, and prints a markdown table.
//
//	go run ./bench/sockcmp run -n 1000,10000 -runs 9
//
// bench/sockets.sh builds and runs it. The holder it starts keeps N client
// connections whose server ends live in a second process, so the holder has
// exactly N TCP sockets and the namespace 2N.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/leakcheck/go/sockstate"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: sockcmp run|holder|peer|snap|readlink [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = run(os.Args[2:])
	case "holder":
		err = holder(os.Args[2:])
	case "peer":
		err = peer()
	case "snap":
		err = snap(os.Args[2:])
	case "readlink":
		err = readlinks(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sockcmp:", err)
		os.Exit(1)
	}
}

func raiseNoFile() {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}

// peer accepts connections forever and holds them; it prints its port.
func peer() error {
	raiseNoFile()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	var held []net.Conn
	go func() { io.Copy(io.Discard, os.Stdin); os.Exit(0) }()
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		held = append(held, c)
	}
}

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
		conns = append(conns, c)
	}
	fmt.Println("ready", p.Process.Pid)
	io.Copy(io.Discard, os.Stdin)
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
	fmt.Printf("%d fds %d sockets %s %v\n", len(s.FDs.FDs), len(s.Sockets), s.Source, time.Since(start))
	return nil
}

// readlinks is the floor: one readlink per descriptor, nothing else.
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

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	ns := fs.String("n", "1000,10000", "comma-separated socket counts")
	runs := fs.Int("runs", 9, "timed runs of each tool (alternating)")
	fs.Parse(args)
	for _, bin := range []struct{ cmd, pkg string }{{"lsof", "lsof"}, {"ss", "iproute2"}} {
		if _, err := exec.LookPath(bin.cmd); err != nil {
			fmt.Fprintf(os.Stderr, "installing %s with apt-get\n", bin.pkg)
			for _, argv := range [][]string{{"apt-get", "update", "-qq"}, {"apt-get", "install", "-y", "-qq", bin.pkg}} {
				c := exec.Command(argv[0], argv[1:]...)
				c.Stdout, c.Stderr = os.Stderr, os.Stderr
				if err := c.Run(); err != nil {
					return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
				}
			}
		}
	}
	self := os.Args[0]
	tools := []tool{
		{"sockstate.TakePID (fds + sockets)", func(pid int) []string { return []string{self, "snap", "-pid", strconv.Itoa(pid)} }},
		{"lsof -p PID", func(pid int) []string { return []string{"lsof", "-p", strconv.Itoa(pid)} }},
		{"ss -tanp", func(int) []string { return []string{"ss", "-tanp"} }},
		{"readlink loop over /proc/PID/fd", func(pid int) []string { return []string{self, "readlink", "-pid", strconv.Itoa(pid)} }},
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	fmt.Printf("machine: %d cores, Linux %s, %s; %d alternating runs per tool, medians of wall time including process start\n\n",
		runtime.NumCPU(), strings.TrimSpace(string(kernel)), runtime.Version(), *runs)
	fmt.Println("| TCP sockets in holder | tool | median | vs sockstate |")
	fmt.Println("|---:|---|---:|---:|")
	for _, f := range strings.Split(*ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return err
		}
		if err := compare(n, *runs, tools); err != nil {
			return err
		}
	}
	return nil
}

func compare(n, runs int, tools []tool) error {
	h := exec.Command(os.Args[0], "holder", "-n", strconv.Itoa(n))
	h.Stderr = os.Stderr
	hin, _ := h.StdinPipe()
	hout, _ := h.StdoutPipe()
	if err := h.Start(); err != nil {
		return err
	}
	defer func() { hin.Close(); h.Wait() }()
	line, err := bufio.NewReader(hout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready") {
		return fmt.Errorf("holder: %q %v", line, err)
	}
	pid := h.Process.Pid
	times := make([][]time.Duration, len(tools))
	var inproc []string
	for r := 0; r < runs+1; r++ { // run 0 warms caches and is not counted
		for i, t := range tools {
			argv := t.argv(pid)
			c := exec.Command(argv[0], argv[1:]...)
			var out strings.Builder
			c.Stdout = &out
			start := time.Now()
			if err := c.Run(); err != nil {
				return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
			}
			d := time.Since(start)
			if r > 0 {
				times[i] = append(times[i], d)
				if i == 0 {
					inproc = append(inproc, strings.TrimSpace(out.String()))
				}
			}
		}
	}
	med := make([]time.Duration, len(tools))
	for i := range tools {
		slices.Sort(times[i])
		med[i] = times[i][len(times[i])/2]
	}
	for i, t := range tools {
		ratio := "1×"
		if i > 0 {
			ratio = fmt.Sprintf("%.1f× slower", float64(med[i])/float64(med[0]))
		}
		fmt.Printf("| %d | %s | %.1f ms | %s |\n", n, t.name, float64(med[i])/1e6, ratio)
	}
	fmt.Fprintf(os.Stderr, "n=%d: sockstate snap output (fds, sockets, source, in-process time), last run: %s\n", n, inproc[len(inproc)-1])
	return nil
}
