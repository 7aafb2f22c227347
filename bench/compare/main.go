//go:build linux

// Command compare measures leakcheck against what a user would otherwise
// use, side by side in one run on one machine, and prints a markdown table
// of figures and ratios:
//
//   - sockets: a full fd + socket snapshot of a process holding N TCP
//     loopback sockets (sockstate.TakePID) against lsof -p PID, ss -tanp
//     and a bare Go readlink loop over /proc/PID/fd, each a fresh process,
//     timed alternately;
//   - goroutines: leakcheck's goroutine verdict against goleak.Find with
//     1k, 10k and 100k parked goroutines;
//   - per-test cost: a clean leakcheck.Check against goleak.VerifyNone on
//     the same small test;
//   - settle latency: a clean test whose teardown goroutine exits 50 ms
//     after the body, from the body's end to the check's pass.
//
// The last three run the Go benchmarks of ./leakcheck and ./bench/settle
// from their compiled test binaries, one benchmark per process, alternating,
// and take medians. bench/run.sh builds everything and writes
// bench/RESULTS.md:
//
//	bench/run.sh                          # everything, writes bench/RESULTS.md
//	bench/out/compare run -only sockets   # one section, printed only
//
// The holder started for the socket section keeps N client connections
// whose server ends live in a second process, so the holder has exactly N
// TCP sockets and the namespace 2N. Both ends set SO_LINGER 0, so a run
// leaves no TIME_WAIT sockets behind to slow the next one's dumps.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: compare run|holder|peer|snap|readlink [flags]")
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
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

type options struct {
	sockets  []int
	runs     int
	only     map[string]bool
	leakTest string // compiled test binary of ./leakcheck
	settle   string // compiled test binary of ./bench/settle
	short    bool
}

var sections = []string{"sockets", "goroutines", "check", "settle"}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	ns := fs.String("n", "1000,10000", "comma-separated TCP socket counts for the socket section")
	runs := fs.Int("runs", 9, "timed runs of each tool or benchmark (alternating)")
	only := fs.String("only", strings.Join(sections, ","), "comma-separated sections to run: "+strings.Join(sections, ", "))
	leakTest := fs.String("leakcheck-test", "bench/out/leakcheck.test", "test binary of ./leakcheck (go test -c)")
	settle := fs.String("settle-test", "bench/out/settle.test", "test binary of ./bench/settle (go test -c)")
	short := fs.Bool("short", false, "skip 100 000 goroutines (slow with goleak)")
	out := fs.String("o", "", "also write the markdown to this file")
	fs.Parse(args)
	o := options{runs: *runs, only: map[string]bool{}, leakTest: *leakTest, settle: *settle, short: *short}
	for _, s := range strings.Split(*only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			o.only[s] = true
		}
	}
	for s := range o.only {
		if !contains(sections, s) {
			return fmt.Errorf("unknown section %q (want %s)", s, strings.Join(sections, ", "))
		}
	}
	var err error
	if o.sockets, err = intList(*ns); err != nil {
		return err
	}
	if o.runs < 1 {
		return fmt.Errorf("-runs %d: need at least 1", o.runs)
	}

	var md bytes.Buffer
	r := &results{}
	start := time.Now()
	header := machine()
	if o.only["sockets"] {
		if err := ensureTools(); err != nil {
			return err
		}
		if err := r.sockets(o); err != nil {
			return err
		}
	}
	if o.only["goroutines"] {
		if err := r.goroutines(o); err != nil {
			return err
		}
	}
	if o.only["check"] {
		if err := r.check(o); err != nil {
			return err
		}
	}
	if o.only["settle"] {
		if err := r.settleLatency(o); err != nil {
			return err
		}
	}
	r.write(&md, header, o, time.Since(start))
	os.Stdout.Write(md.Bytes())
	if *out != "" {
		return os.WriteFile(*out, md.Bytes(), 0o644)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// machine describes where the figures were taken.
func machine() string {
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	loadavg := strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " ")
	return fmt.Sprintf("%d cores (%s), Linux %s, %s, GOMAXPROCS %d; load average at start %s (the machine is shared: other work competes for the cores); %s",
		runtime.NumCPU(), model, strings.TrimSpace(string(kernel)), runtime.Version(), runtime.GOMAXPROCS(0), loadavg, tcpCensus())
}

// tcpCensus reads /proc/net/sockstat: every TCP dump walks all of the
// namespace's TCP sockets, TIME_WAIT included, so their number matters.
func tcpCensus() string {
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return "TCP sockets in the namespace unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "TCP:" {
			continue
		}
		kv := map[string]string{}
		for i := 1; i+1 < len(f); i += 2 {
			kv[f[i]] = f[i+1]
		}
		return fmt.Sprintf("TCP sockets in the namespace at start: %s in use, %s TIME_WAIT", kv["inuse"], kv["tw"])
	}
	return "TCP sockets in the namespace unknown"
}

func ensureTools() error {
	for _, bin := range []struct{ cmd, pkg string }{{"lsof", "lsof"}, {"ss", "iproute2"}} {
		if _, err := exec.LookPath(bin.cmd); err == nil {
			continue
		}
		fmt.Fprintf(os.Stderr, "installing %s with apt-get\n", bin.pkg)
		for _, argv := range [][]string{{"apt-get", "update", "-qq"}, {"apt-get", "install", "-y", "-qq", bin.pkg}} {
			c := exec.Command(argv[0], argv[1:]...)
			c.Stdout, c.Stderr = os.Stderr, os.Stderr
			if err := c.Run(); err != nil {
				return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
			}
		}
	}
	return nil
}
