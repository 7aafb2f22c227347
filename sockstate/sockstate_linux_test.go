package sockstate

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/leakcheck/go/fdsnap"
)

// childEnv selects a child role when the test binary re-executes itself.
const childEnv = "LEAKCHECK_SOCKSTATE_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(child(role))
	}
	os.Exit(m.Run())
}

// child runs a role in a re-executed test binary. Roles that hold sockets
// print one line describing them, then wait for stdin to close.
func child(role string) int {
	switch role {
	case "holder":
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		c, err := net.Dial("tcp4", l.Addr().String())
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		s, err := l.Accept()
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		u, err := net.ListenPacket("unixgram", "@leakcheck-sockstate-child-"+strconv.Itoa(os.Getpid()))
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		// A socket never bound: no dump lists it.
		raw, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("ready", l.Addr().(*net.TCPAddr).Port, c.LocalAddr().(*net.TCPAddr).Port, raw)
		io.Copy(io.Discard, os.Stdin)
		_, _, _ = c, s, u
		return 0
	case "netns":
		// A new network namespace has only a loopback that is down:
		// listen on the wildcard address.
		l, err := net.Listen("tcp4", "0.0.0.0:0")
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("ready", l.Addr().(*net.TCPAddr).Port)
		io.Copy(io.Discard, os.Stdin)
		return 0
	case "unprivileged":
		pid, _ := strconv.Atoi(os.Getenv("TARGET_PID"))
		_, err := TakePID(pid)
		fmt.Println("permission", errors.Is(err, os.ErrPermission), err)
		return 0
	}
	fmt.Println("unknown role", role)
	return 2
}

type childProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	fields []string
}

// startChild re-executes the test binary in role and waits for its line.
func startChild(t *testing.T, role string, attr *syscall.SysProcAttr) *childProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role)
	cmd.SysProcAttr = attr
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		if attr != nil && errors.Is(err, unix.EPERM) {
			t.Skipf("cannot create a network namespace here (needs CAP_SYS_ADMIN): %v", err)
		}
		t.Fatal(err)
	}
	p := &childProc{cmd: cmd, stdin: stdin}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("child %s: %v", role, err)
	}
	p.fields = strings.Fields(line)
	if len(p.fields) == 0 || p.fields[0] != "ready" {
		t.Fatalf("child %s said %q", role, line)
	}
	return p
}

func (p *childProc) int(t *testing.T, i int) int {
	t.Helper()
	n, err := strconv.Atoi(p.fields[i])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// inodeOf returns the socket inode behind a net.Conn, net.Listener or
// net.PacketConn.
func inodeOf(t *testing.T, c any) uint64 {
	t.Helper()
	sc, ok := c.(syscall.Conn)
	if !ok {
		t.Fatalf("%T has no SyscallConn", c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return st.Ino
}

// The ways a snapshot of the current process can be read, each forced in
// turn by the tests; methodAuto picks one by count.
var selfMethods = []struct {
	name string
	opt  Option
}{
	{"auto", nil},
	{"netlink", optionFunc(func(c *config) { c.method = methodNetlink })},
	{"getsockopt", optionFunc(func(c *config) { c.method = methodGetsockopt })},
	{"proc", optionFunc(func(c *config) { c.method = methodProc })},
}

// settle polls until cond holds for a snapshot, for up to 5 seconds:
// loopback teardown is quick but asynchronous.
func settle(t *testing.T, take func() (*Snapshot, error), cond func(*Snapshot) bool) *Snapshot {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := take()
		if err != nil {
			t.Fatal(err)
		}
		if cond(s) || time.Now().After(deadline) {
			return s
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func hasState(s *Snapshot, ino uint64, st State) bool {
	k, ok := s.ByInode(ino)
	return ok && k.State == st
}

func mustSocket(t *testing.T, s *Snapshot, ino uint64, what string) Socket {
	t.Helper()
	k, ok := s.ByInode(ino)
	if !ok {
		t.Fatalf("%s (inode %d) not in the snapshot:\n%s", what, ino, s)
	}
	return k
}

func TestTCPStates(t *testing.T) {
	for _, m := range selfMethods {
		t.Run(m.name, func(t *testing.T) {
			l, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			lport := uint16(l.Addr().(*net.TCPAddr).Port)
			lo := netip.MustParseAddr("127.0.0.1")

			// Two connections: the first will be closed by its client
			// (server side CLOSE_WAIT), the second half-closed by its
			// client (client side FIN_WAIT2).
			var clients, servers []net.Conn
			for range 2 {
				c, s := tcpPair(t, l)
				clients, servers = append(clients, c), append(servers, s)
			}
			take := func() (*Snapshot, error) { return Take(m.opt) }
			before, err := take()
			if err != nil {
				t.Fatal(err)
			}
			li := mustSocket(t, before, inodeOf(t, l), "listener")
			if li.State != Listen || li.Local != netip.AddrPortFrom(lo, lport) || li.Remote.IsValid() || li.Proto != TCP {
				t.Errorf("listener: %v", li)
			}
			c0 := mustSocket(t, before, inodeOf(t, clients[0]), "client")
			cport := uint16(clients[0].LocalAddr().(*net.TCPAddr).Port)
			if c0.State != Established || c0.Local != netip.AddrPortFrom(lo, cport) || c0.Remote != netip.AddrPortFrom(lo, lport) {
				t.Errorf("client: %v", c0)
			}
			s0 := mustSocket(t, before, inodeOf(t, servers[0]), "server side")
			if s0.State != Established || s0.Remote != netip.AddrPortFrom(lo, cport) {
				t.Errorf("server side: %v", s0)
			}
			if want := fmt.Sprintf("tcp 127.0.0.1:%d → 127.0.0.1:%d ESTABLISHED", cport, lport); c0.Describe() != want {
				t.Errorf("Describe() = %q, want %q", c0.Describe(), want)
			}
			if c0.UID != uint32(os.Getuid()) {
				t.Errorf("UID = %d, want %d", c0.UID, os.Getuid())
			}

			s0ino, s1ino, c1ino := inodeOf(t, servers[0]), inodeOf(t, servers[1]), inodeOf(t, clients[1])
			clients[0].Close()
			if err := clients[1].(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			after := settle(t, take, func(s *Snapshot) bool {
				return hasState(s, s0ino, CloseWait) && hasState(s, c1ino, FinWait2) && hasState(s, s1ino, CloseWait)
			})
			if k := mustSocket(t, after, s0ino, "server side of the closed client"); k.State != CloseWait {
				t.Errorf("peer closed, we did not: %v, want CLOSE_WAIT", k)
			} else if !strings.HasPrefix(k.Describe(), fmt.Sprintf("tcp 127.0.0.1:%d → 127.0.0.1:%d CLOSE_WAIT", lport, cport)) {
				t.Errorf("Describe() = %q", k.Describe())
			}
			if k := mustSocket(t, after, c1ino, "half-closed client"); k.State != FinWait2 {
				t.Errorf("after shutdown(SHUT_WR) acknowledged: %v, want FIN_WAIT2", k)
			}

			// Identity diff: the closed client is gone, nothing was added,
			// three sockets changed state.
			d := Compare(before, after)
			if len(d.Added) != 0 || len(d.Removed) != 1 || d.Removed[0].Inode != c0.Inode {
				t.Errorf("Compare: %v", d)
			}
			if len(d.Changed) != 3 {
				t.Errorf("Compare: %d state changes, want 3:\n%v", len(d.Changed), d)
			}
		})
	}
}

func TestLeakFoundAndCleanPasses(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// The server closes each connection when its client does.
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	before, err := Take()
	if err != nil {
		t.Fatal(err)
	}
	// Clean: a connection opened and closed leaves no socket behind.
	c, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	clean := settle(t, func() (*Snapshot, error) { return Take() }, func(s *Snapshot) bool { return len(Compare(before, s).Added) == 0 })
	if d := Compare(before, clean); len(d.Added) != 0 {
		t.Errorf("clean: %v", d)
	}
	// Leaky: one left open is found, by inode, with its address.
	leak, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	// The server accepts asynchronously: wait for its side to have an fd.
	leaky := settle(t, func() (*Snapshot, error) { return Take() }, func(s *Snapshot) bool { return len(Compare(before, s).Added) == 2 })
	// Found: the leaked client and the server side it keeps open.
	d := Compare(before, leaky)
	k, ok := leaky.ByInode(inodeOf(t, leak))
	if len(d.Added) != 2 || !ok || (d.Added[0] != k && d.Added[1] != k) {
		t.Fatalf("leaky: %v", d)
	}
	if want := "tcp " + leak.LocalAddr().String() + " → " + l.Addr().String() + " ESTABLISHED"; k.Describe() != want {
		t.Errorf("leaked socket: %q, want %q", k.Describe(), want)
	}
}

func TestTimeWaitOrphanByPort(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lport := uint16(l.Addr().(*net.TCPAddr).Port)
	c, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	cport := uint16(c.LocalAddr().(*net.TCPAddr).Port)
	// The server closes first: its socket ends in TIME_WAIT once the
	// client closes too, owned by the kernel alone.
	s.Close()
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read: %v, want EOF", err)
	}
	c.Close()
	for _, m := range []Option{nil, optionFunc(func(c *config) { c.method = methodProc })} {
		want := Socket{FD: -1, Proto: TCP, State: TimeWait,
			Local:  netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", lport)),
			Remote: netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", cport))}
		snap := settle(t, func() (*Snapshot, error) { return Take(m, WithOrphans(lport)) }, func(s *Snapshot) bool {
			return slices.Contains(s.Orphans, want)
		})
		// Ports are reused: earlier connections may have left other
		// orphans on the same port, but each one returned names it.
		if !slices.Contains(snap.Orphans, want) {
			t.Fatalf("%s: orphans on port %d: %v, want them to hold %v", snap.Source, lport, snap.Orphans, want)
		}
		for _, o := range snap.Orphans {
			if o.Local.Port() != lport && o.Remote.Port() != lport {
				t.Errorf("port %d asked, got %v", lport, o)
			}
		}
		if got := want.String(); got != fmt.Sprintf("tcp 127.0.0.1:%d → 127.0.0.1:%d TIME_WAIT (no fd: kernel-owned)", lport, cport) {
			t.Errorf("String() = %q", got)
		}
		// The client's port finds it too; another port does not.
		byClient, err := Take(m, WithOrphans(cport))
		if err != nil {
			t.Fatal(err)
		}
		// (An ephemeral port may also be in TIME_WAIT with other peers.)
		if !slices.Contains(byClient.Orphans, want) {
			t.Errorf("by client port %d: %v, want it to hold %v", cport, byClient.Orphans, want)
		}
		other, err := Take(m, WithOrphans(lport+1))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range other.Orphans {
			if o.Local.Port() == lport || o.Remote.Port() == lport {
				t.Errorf("port %d asked, got %v", lport+1, o)
			}
		}
		// Without WithOrphans nothing kernel-owned is reported.
		plain, err := Take(m)
		if err != nil {
			t.Fatal(err)
		}
		if len(plain.Orphans) != 0 {
			t.Errorf("orphans without WithOrphans: %v", plain.Orphans)
		}
	}
}

func TestUDP(t *testing.T) {
	for _, m := range selfMethods {
		t.Run(m.name, func(t *testing.T) {
			bound, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer bound.Close()
			conn, err := net.DialUDP("udp4", nil, bound.LocalAddr().(*net.UDPAddr))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			snap, err := Take(m.opt)
			if err != nil {
				t.Fatal(err)
			}
			b := mustSocket(t, snap, inodeOf(t, bound), "bound udp")
			if want := "udp " + bound.LocalAddr().String() + " UNCONNECTED"; b.Proto != UDP || b.State != Closed || b.Describe() != want {
				t.Errorf("bound: %q, want %q", b.Describe(), want)
			}
			c := mustSocket(t, snap, inodeOf(t, conn), "connected udp")
			if want := "udp " + conn.LocalAddr().String() + " → " + bound.LocalAddr().String() + " CONNECTED"; c.State != Established || c.Describe() != want {
				t.Errorf("connected: %q, want %q", c.Describe(), want)
			}
		})
	}
}

func TestUnix(t *testing.T) {
	for _, m := range selfMethods {
		t.Run(m.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.sock")
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			c, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			s, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			name := "leakcheck-sockstate-" + strconv.Itoa(os.Getpid())
			abstract, err := net.Listen("unix", "@"+name)
			if err != nil {
				t.Fatal(err)
			}
			defer abstract.Close()
			dgram, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(t.TempDir(), "d.sock"), Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer dgram.Close()
			seq, err := net.Listen("unixpacket", "@"+name+"-seq")
			if err != nil {
				t.Fatal(err)
			}
			defer seq.Close()

			snap, err := Take(m.opt)
			if err != nil {
				t.Fatal(err)
			}
			if k := mustSocket(t, snap, inodeOf(t, l), "listener"); k.Describe() != "unix stream "+path+" LISTEN" {
				t.Errorf("listener: %q", k.Describe())
			}
			if k := mustSocket(t, snap, inodeOf(t, abstract), "abstract listener"); k.Describe() != "unix stream @"+name+" LISTEN" {
				t.Errorf("abstract: %q", k.Describe())
			}
			if k := mustSocket(t, snap, inodeOf(t, seq), "seqpacket listener"); k.Proto != UnixSeqpacket || k.State != Listen {
				t.Errorf("seqpacket: %v", k)
			}
			if k := mustSocket(t, snap, inodeOf(t, dgram), "dgram"); k.Describe() != "unix dgram "+dgram.LocalAddr().String()+" UNCONNECTED" {
				t.Errorf("dgram: %q", k.Describe())
			}
			ck := mustSocket(t, snap, inodeOf(t, c), "client")
			sk := mustSocket(t, snap, inodeOf(t, s), "accepted")
			if ck.State != Established || sk.State != Established || sk.UnixPath != path {
				t.Errorf("connected pair: %v / %v", ck, sk)
			}
			// Peers are known from unix_diag; /proc/net/unix has none.
			if m.name != "proc" {
				if ck.UnixPeer != sk.Inode || sk.UnixPeer != ck.Inode {
					t.Errorf("peers: client %v, accepted %v", ck, sk)
				}
				if want := fmt.Sprintf("unix stream (unnamed) → peer %d CONNECTED", sk.Inode); ck.Describe() != want {
					t.Errorf("client: %q, want %q", ck.Describe(), want)
				}
			}
		})
	}
}

func TestIPv6Loopback(t *testing.T) {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	}
	defer l.Close()
	c, err := net.Dial("tcp6", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	u, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for _, m := range selfMethods {
		snap, err := Take(m.opt)
		if err != nil {
			t.Fatal(err)
		}
		if k := mustSocket(t, snap, inodeOf(t, l), "listener"); k.Describe() != "tcp6 "+l.Addr().String()+" LISTEN" {
			t.Errorf("%s: listener %q", m.name, k.Describe())
		}
		if k := mustSocket(t, snap, inodeOf(t, c), "client"); k.Describe() != "tcp6 "+c.LocalAddr().String()+" → "+l.Addr().String()+" ESTABLISHED" {
			t.Errorf("%s: client %q", m.name, k.Describe())
		}
		if k := mustSocket(t, snap, inodeOf(t, u), "udp6"); k.Proto != UDP6 || k.Local.Addr() != netip.IPv6Loopback() {
			t.Errorf("%s: udp6 %v", m.name, k)
		}
	}
}

func TestNeverBoundSocket(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	for _, m := range selfMethods[:2] { // auto and netlink: no dump lists it
		snap, err := Take(m.opt)
		if err != nil {
			t.Fatal(err)
		}
		k := mustSocket(t, snap, st.Ino, "never-bound socket")
		if k.FD != fd || k.Proto != TCP || k.State != Closed || k.Describe() != "tcp CLOSE" {
			t.Errorf("%s: %v (fd %d)", m.name, k, fd)
		}
		if !strings.Contains(snap.Source, "getsockopt") {
			t.Errorf("%s: source %q does not say getsockopt described it", m.name, snap.Source)
		}
	}
}

func TestNetlinkRefusedFallsBack(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	refuse := optionFunc(func(c *config) { c.method, c.netlinkErr = methodNetlink, fmt.Errorf("netlink socket: %w", unix.EPERM) })
	snap, err := Take(refuse)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Source != "proc (netlink refused: operation not permitted)" {
		t.Errorf("Source = %q", snap.Source)
	}
	if k := mustSocket(t, snap, inodeOf(t, l), "listener"); k.State != Listen {
		t.Errorf("listener: %v", k)
	}
	// A fault that is not a refusal is an error, not a silent fallback.
	broken := optionFunc(func(c *config) { c.method, c.netlinkErr = methodNetlink, fmt.Errorf("netlink socket: %w", unix.EMFILE) })
	if _, err := Take(broken); err == nil || !errors.Is(err, unix.EMFILE) {
		t.Errorf("EMFILE: err = %v", err)
	}
}

func TestChildByPID(t *testing.T) {
	p := startChild(t, "holder", nil)
	pid := p.cmd.Process.Pid
	lport, cport, rawFD := p.int(t, 1), p.int(t, 2), p.int(t, 3)
	for _, m := range []struct {
		name string
		opt  Option
	}{{"auto", nil}, {"proc", optionFunc(func(c *config) { c.method = methodProc })}} {
		snap, err := TakePID(pid, m.opt)
		if err != nil {
			t.Fatal(err)
		}
		if snap.PID != pid || snap.FDs == nil || snap.FDs.PID != pid {
			t.Fatalf("snapshot of pid %d says pid %d", pid, snap.PID)
		}
		want := map[string]bool{
			fmt.Sprintf("tcp 127.0.0.1:%d LISTEN", lport):                            false,
			fmt.Sprintf("tcp 127.0.0.1:%d → 127.0.0.1:%d ESTABLISHED", cport, lport): false,
			fmt.Sprintf("tcp 127.0.0.1:%d → 127.0.0.1:%d ESTABLISHED", lport, cport): false,
			fmt.Sprintf("unix dgram @leakcheck-sockstate-child-%d UNCONNECTED", pid): false,
			fmt.Sprintf("fd %d tcp CLOSE", rawFD):                                    false,
		}
		for _, k := range snap.Sockets {
			if _, ok := want[k.Describe()]; ok {
				want[k.Describe()] = true
			}
			if _, ok := want[k.String()]; ok {
				want[k.String()] = true
			}
		}
		for w, found := range want {
			if !found {
				t.Errorf("%s: %q not found in\n%s", m.name, w, snap)
			}
		}
		if m.name == "auto" && !strings.Contains(snap.Source, "pidfd_getfd") {
			t.Errorf("source %q: the never-bound socket should come from pidfd_getfd", snap.Source)
		}
		counts, err := CountPID(pid, m.opt)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := counts, snap.Counts(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: CountPID = %v, Snapshot.Counts = %v", m.name, got, want)
		}
		if counts[Class{TCP, Established}] != 2 || counts[Class{TCP, Listen}] != 1 {
			t.Errorf("%s: counts %v", m.name, counts)
		}
	}
}

func TestOtherNetNS(t *testing.T) {
	p := startChild(t, "netns", &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET})
	pid, port := p.cmd.Process.Pid, p.int(t, 1)
	mine, err := Take()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		name, source string
		opt          Option
	}{
		{"netlink", "netlink (netlink opened in the target's namespace)", nil},
		{"proc", "proc", optionFunc(func(c *config) { c.method = methodProc })},
	} {
		snap, err := TakePID(pid, m.opt)
		if err != nil {
			t.Fatal(err)
		}
		if snap.NetNS == 0 || snap.NetNS == mine.NetNS {
			t.Errorf("%s: NetNS %d, ours %d: want another namespace", m.name, snap.NetNS, mine.NetNS)
		}
		if snap.Source != m.source {
			t.Errorf("%s: Source %q, want %q", m.name, snap.Source, m.source)
		}
		want := fmt.Sprintf("tcp 0.0.0.0:%d LISTEN", port)
		if len(snap.Sockets) != 1 || snap.Sockets[0].Describe() != want {
			t.Errorf("%s: got\n%s\nwant one socket %q", m.name, snap, want)
		}
	}
}

func TestErrors(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=none")
	_ = cmd.Run()
	gone := cmd.Process.Pid // reaped: no such process
	if _, err := TakePID(gone); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), strconv.Itoa(gone)) {
		t.Errorf("TakePID(gone %d) = %v, want os.ErrNotExist naming the pid", gone, err)
	}
	if _, err := CountPID(gone); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("CountPID(gone) = %v", err)
	}
	if _, err := TakePID(0); err == nil {
		t.Error("TakePID(0): no error")
	}
	fds, err := fdsnap.Take()
	if err != nil {
		t.Fatal(err)
	}
	p := startChild(t, "netns", nil)
	if _, err := TakePID(p.cmd.Process.Pid, WithFDs(fds)); err == nil || !strings.Contains(err.Error(), "same process") {
		t.Errorf("WithFDs of another process: %v", err)
	}
}

func TestPermissionDenied(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to start a child as another user")
	}
	// The test binary must be reachable by user nobody.
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "sockstate.test")
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=unprivileged", "TARGET_PID="+strconv.Itoa(os.Getpid()))
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.HasPrefix(string(out), "permission true") {
		t.Errorf("as nobody, TakePID(root's process): %s", out)
	}
}

func TestWithFDs(t *testing.T) {
	fds, err := fdsnap.Take()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	snap, err := Take(WithFDs(fds))
	if err != nil {
		t.Fatal(err)
	}
	if snap.FDs != fds {
		t.Error("Snapshot.FDs is not the snapshot WithFDs gave")
	}
	if _, ok := snap.ByInode(inodeOf(t, l)); ok {
		t.Error("a socket opened after the fd snapshot was joined with it")
	}
	fresh, err := Take()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fresh.ByInode(inodeOf(t, l)); !ok {
		t.Error("a fresh snapshot misses the listener")
	}
	for _, k := range fresh.Sockets {
		f, ok := fresh.FDs.Lookup(k.FD)
		if !ok || f.Ino != k.Inode {
			t.Errorf("%v: its fd is %v in Snapshot.FDs", k, f)
		}
	}
}

func TestCountMatchesTake(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	for range 30 { // past smallCount: the netlink path
		c, _ := tcpPair(t, l)
		conns = append(conns, c)
	}
	conns[0].Close()
	snap := settle(t, func() (*Snapshot, error) { return Take() }, func(s *Snapshot) bool { return s.Counts()[Class{TCP, CloseWait}] == 1 })
	counts, err := Count()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(counts) != fmt.Sprint(snap.Counts()) {
		t.Errorf("Count() = %v, Snapshot.Counts() = %v", counts, snap.Counts())
	}
	if counts[Class{TCP, Established}] != 58 || counts[Class{TCP, CloseWait}] != 1 {
		t.Errorf("counts %v", counts)
	}
}

func TestRefused(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{unix.EPERM, true},
		{fmt.Errorf("netlink socket: %w", unix.EPROTONOSUPPORT), true},
		{fmt.Errorf("kernel refused: %w", unix.ENOENT), true}, // no udp_diag module
		{unix.EMFILE, false},
		{errors.New("sockdiag: truncated"), false},
	} {
		if got := refused(tt.err); got != tt.want {
			t.Errorf("refused(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// tcpPair connects to l and accepts: both ends, closed when the test ends.
func tcpPair(t *testing.T, l net.Listener) (client, server net.Conn) {
	t.Helper()
	c, err := net.Dial(l.Addr().Network(), l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return c, s
}
