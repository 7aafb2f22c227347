package main

import (
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/leakcheck/go/fdsnap"
	"github.com/leakcheck/go/internal/series"
	"github.com/leakcheck/go/internal/threads"
	"github.com/leakcheck/go/leakcheck"
	"github.com/leakcheck/go/sockstate"
)

// snapshotSchema names the layout of snapshotFile.
const snapshotSchema = "leakwatch.snapshot/v1"

// snapshotFile is what leakwatch snapshot writes: every descriptor, socket
// and thread of one process, with the counts a watch samples. Kinds,
// protocols and states are spelled as reports print them.
type snapshotFile struct {
	Schema  string        `json:"schema"`
	PID     int           `json:"pid"`
	Name    string        `json:"name"` // the main thread's name
	Time    time.Time     `json:"time"`
	Counts  series.Counts `json:"counts"`
	FDs     []jsonFD      `json:"fds"`
	Sockets []jsonSocket  `json:"sockets"`
	Threads []jsonThread  `json:"threads"`
}

type jsonFD struct {
	Num    int    `json:"num"`
	Kind   string `json:"kind"`
	Target string `json:"target"`
	Dev    uint64 `json:"dev,omitempty"`
	Ino    uint64 `json:"ino,omitempty"`
	Detail string `json:"detail,omitempty"`
}

type jsonSocket struct {
	Inode    uint64 `json:"inode"`
	FD       int    `json:"fd"`
	Proto    string `json:"proto"`
	State    string `json:"state"`
	Local    string `json:"local,omitempty"`
	Remote   string `json:"remote,omitempty"`
	UnixPath string `json:"unix_path,omitempty"`
	UnixPeer uint64 `json:"unix_peer,omitempty"`
	RecvQ    uint32 `json:"recv_q"`
	SendQ    uint32 `json:"send_q"`
	UID      uint32 `json:"uid"`
}

type jsonThread struct {
	TID  int    `json:"tid"`
	Name string `json:"name"`
}

func runSnapshot(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("leakwatch snapshot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage+"\nsnapshot flags:\n")
		fs.PrintDefaults()
	}
	pid := fs.Int("p", 0, "snapshot the running process `PID`")
	out := fs.String("o", "", "write to `FILE` instead of standard output")
	if status, done := parseFlags(fs, args); done {
		return status
	}
	if fs.NArg() > 0 {
		return usageError(stderr, "snapshot takes no arguments, got %q", fs.Args())
	}
	if err := checkPID(*pid); err != nil {
		return usageError(stderr, "snapshot: %v", err)
	}
	snap, err := takeSnapshot(*pid)
	if err != nil {
		return cannotRead(stderr, *pid, err)
	}
	write := func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(snap)
	}
	if *out != "" {
		err = writeFile(*out, write)
	} else {
		err = write(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "leakwatch: snapshot: %v\n", err)
		return exitUsage
	}
	return exitOK
}

// takeSnapshot reads every descriptor (with fdinfo detail), socket and
// thread of pid.
func takeSnapshot(pid int) (*snapshotFile, error) {
	now := time.Now()
	fds, err := fdsnap.TakePID(pid, fdsnap.WithDetail())
	if err != nil {
		return nil, err
	}
	socks, err := sockstate.TakePID(pid, sockstate.WithFDs(fds))
	if err != nil {
		return nil, err
	}
	ts, err := threads.List(pid)
	if err != nil {
		return nil, err
	}
	f := &snapshotFile{
		Schema: snapshotSchema, PID: pid, Time: now,
		Counts:  series.CountsOf(fds, socks.Counts(), ts),
		FDs:     []jsonFD{},
		Sockets: []jsonSocket{},
		Threads: []jsonThread{},
	}
	for _, fd := range fds.FDs {
		f.FDs = append(f.FDs, jsonFD{Num: fd.Num, Kind: fd.Kind.String(), Target: fd.Target, Dev: fd.Dev, Ino: fd.Ino, Detail: fd.Detail})
	}
	for _, s := range socks.Sockets {
		js := jsonSocket{Inode: s.Inode, FD: s.FD, Proto: s.Proto.String(), State: s.State.String(),
			UnixPath: s.UnixPath, UnixPeer: s.UnixPeer, RecvQ: s.RecvQ, SendQ: s.SendQ, UID: s.UID}
		if s.Local.IsValid() {
			js.Local = s.Local.String()
		}
		if s.Remote.IsValid() {
			js.Remote = s.Remote.String()
		}
		f.Sockets = append(f.Sockets, js)
	}
	for _, t := range ts {
		f.Threads = append(f.Threads, jsonThread{TID: t.TID, Name: t.Name})
		if t.TID == pid {
			f.Name = t.Name
		}
	}
	return f, nil
}

// readSnapshot decodes a snapshot file back into the library's types.
func readSnapshot(r io.Reader) (*snapshotFile, *fdsnap.Snapshot, *sockstate.Snapshot, error) {
	var f snapshotFile
	dec := json.NewDecoder(r)
	if err := dec.Decode(&f); err != nil {
		return nil, nil, nil, err
	}
	if f.Schema != snapshotSchema {
		return nil, nil, nil, fmt.Errorf("schema %q, want %q (a file leakwatch snapshot wrote)", f.Schema, snapshotSchema)
	}
	if f.PID <= 0 {
		return nil, nil, nil, fmt.Errorf("pid %d: want a process id", f.PID)
	}
	fds := &fdsnap.Snapshot{PID: f.PID}
	for _, j := range f.FDs {
		k, ok := kindByName[j.Kind]
		if !ok {
			return nil, nil, nil, fmt.Errorf("fd %d: unknown kind %q", j.Num, j.Kind)
		}
		fds.FDs = append(fds.FDs, fdsnap.FD{Num: j.Num, Kind: k, Target: j.Target, Dev: j.Dev, Ino: j.Ino, Detail: j.Detail})
	}
	slices.SortFunc(fds.FDs, func(a, b fdsnap.FD) int { return cmp.Compare(a.Num, b.Num) })
	socks := &sockstate.Snapshot{PID: f.PID, FDs: fds}
	for _, j := range f.Sockets {
		p, ok := protoByName[j.Proto]
		if !ok {
			return nil, nil, nil, fmt.Errorf("socket %d: unknown protocol %q", j.Inode, j.Proto)
		}
		st, ok := stateByName[j.State]
		if !ok {
			return nil, nil, nil, fmt.Errorf("socket %d: unknown state %q", j.Inode, j.State)
		}
		s := sockstate.Socket{Inode: j.Inode, FD: j.FD, Proto: p, State: st, UnixPath: j.UnixPath,
			UnixPeer: j.UnixPeer, RecvQ: j.RecvQ, SendQ: j.SendQ, UID: j.UID}
		for _, a := range []struct {
			text string
			into *netip.AddrPort
		}{{j.Local, &s.Local}, {j.Remote, &s.Remote}} {
			if a.text == "" {
				continue
			}
			ap, err := netip.ParseAddrPort(a.text)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("socket %d: %v", j.Inode, err)
			}
			*a.into = ap
		}
		socks.Sockets = append(socks.Sockets, s)
	}
	slices.SortFunc(socks.Sockets, func(a, b sockstate.Socket) int { return cmp.Compare(a.Inode, b.Inode) })
	return &f, fds, socks, nil
}

// The names reports print, back to values.
var (
	kindByName  = map[string]fdsnap.Kind{}
	protoByName = map[string]sockstate.Proto{}
	stateByName = map[string]sockstate.State{}
)

func init() {
	for _, k := range fdsnap.Kinds() {
		kindByName[k.String()] = k
	}
	for i := range 256 {
		if p := sockstate.Proto(i); !strings.HasPrefix(p.String(), "Proto(") {
			protoByName[p.String()] = p
		}
		if s := sockstate.State(i); !strings.HasPrefix(s.String(), "State(") {
			stateByName[s.String()] = s
		}
	}
}

func runDiff(args []string, stdout, stderr io.Writer) int {
	var tol limits
	fs := flag.NewFlagSet("leakwatch diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage+"\ndiff flags:\n")
		fs.PrintDefaults()
	}
	fs.Var(&tol, "tolerance", "new items allowed per category: `N` for every category, or CATEGORY=N,... (fds/file=2,sockets=0); default 0")
	if status, done := parseFlags(fs, args); done {
		return status
	}
	if fs.NArg() != 2 {
		return usageError(stderr, "diff wants two snapshot files, before and after; got %d", fs.NArg())
	}
	var files [2]*snapshotFile
	var fds [2]*fdsnap.Snapshot
	var socks [2]*sockstate.Snapshot
	for i, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			return usageError(stderr, "diff: %v", err)
		}
		files[i], fds[i], socks[i], err = readSnapshot(f)
		f.Close()
		if err != nil {
			return usageError(stderr, "diff: %s: %v", name, err)
		}
	}
	if files[0].PID != files[1].PID {
		return usageError(stderr, "diff: %s is pid %d and %s is pid %d: identities (descriptor numbers, thread ids) only compare within one process",
			fs.Arg(0), files[0].PID, fs.Arg(1), files[1].PID)
	}
	r, err := diffReport(files[0], files[1], fds, socks)
	if err != nil {
		return usageError(stderr, "diff: %v", err)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "leakwatch: pid %d (%s): %s at %s → %s at %s, %v later\n", files[0].PID, files[1].Name,
		fs.Arg(0), files[0].Time.Format(time.TimeOnly), fs.Arg(1), files[1].Time.Format(time.TimeOnly),
		files[1].Time.Sub(files[0].Time).Round(time.Millisecond))
	writeCounts(&b, files[0].Counts, files[1].Counts)
	b.WriteString("\n" + r.String() + "\n")
	status := exitOK
	counts := r.Counts()
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		lim, _ := tol.limit(k) // 0 unless given
		if float64(counts[k]) > lim {
			fmt.Fprintf(&b, "exceeded: %d new %s, more than --tolerance %s\n", counts[k], k, fmtLimit(lim))
			status = exitGrowth
		}
	}
	if _, err := io.WriteString(stdout, b.String()); err != nil {
		return exitUsage
	}
	return status
}

// writeCounts prints the categories either snapshot holds with their
// counts before and after.
func writeCounts(b *strings.Builder, before, after series.Counts) {
	s := &series.Series{}
	s.Add(0, time.Time{}, before)
	s.Add(1, time.Time{}, after)
	keys := s.Keys()
	width := len("category")
	for _, k := range keys {
		width = max(width, len([]rune(indentKey(k))))
	}
	fmt.Fprintf(b, "%-*s  before  after  change\n", width, "category")
	for _, k := range keys {
		name := indentKey(k)
		fmt.Fprintf(b, "%s%s  %6d  %5d  %6s\n", name, strings.Repeat(" ", width-len([]rune(name))), before[k], after[k], fmt.Sprintf("%+d", after[k]-before[k]))
	}
}

func indentKey(k string) string {
	if _, cat, ok := strings.Cut(k, "/"); ok {
		return "  " + cat
	}
	return k
}

// diffReport is what b holds that a did not, by identity (descriptors by
// number and object, sockets by inode, threads by TID and name): the
// library's Compare over the snapshots read back.
func diffReport(a, b *snapshotFile, fds [2]*fdsnap.Snapshot, socks [2]*sockstate.Snapshot) (*leakcheck.Report, error) {
	snap := func(f *snapshotFile, fd *fdsnap.Snapshot, so *sockstate.Snapshot) *leakcheck.Snapshot {
		ts := make([]leakcheck.Thread, 0, len(f.Threads))
		for _, t := range f.Threads {
			ts = append(ts, leakcheck.Thread{TID: t.TID, Name: t.Name})
		}
		return &leakcheck.Snapshot{PID: f.PID, Time: f.Time, FDs: fd, Sockets: so, Threads: ts}
	}
	return leakcheck.Compare(snap(a, fds[0], socks[0]), snap(b, fds[1], socks[1]),
		leakcheck.WithResources(leakcheck.FDs|leakcheck.Sockets|leakcheck.Threads))
}
