package main

import (
	"cmp"
	"encoding/json"
	"errors"
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
	"github.com/leakcheck/go/internal/procs"
	"github.com/leakcheck/go/internal/series"
	"github.com/leakcheck/go/internal/threads"
	"github.com/leakcheck/go/leakcheck"
	"github.com/leakcheck/go/sockstate"
)

// snapshotSchema names the layout of snapshotFile. v2 adds the child
// processes; a v1 file (without them) is still read, and compares no
// processes.
const (
	snapshotSchema   = "leakwatch.snapshot/v2"
	snapshotSchemaV1 = "leakwatch.snapshot/v1"
)

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
	// Processes are the child processes (v2; nil in a v1 file).
	Processes []jsonProcess `json:"processes"`
	// OwnNames are the names the process's threads carry when they never
	// named themselves (threads.OwnNames): diff does not count new ones,
	// as leakcheck does not. Files without it fall back to Name.
	OwnNames []string `json:"own_names,omitempty"`
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

type jsonProcess struct {
	PID     int    `json:"pid"`
	PPID    int    `json:"ppid"`
	State   string `json:"state"` // "running" (or sleeping), "stopped", "zombie", "dead"
	Command string `json:"command"`
	Start   uint64 `json:"start"` // clock ticks after boot: with pid, its identity
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
	tree := fs.Bool("tree", false, "not supported: a snapshot is of one process")
	if status, done := parseFlags(fs, args); done {
		return status
	}
	if *tree {
		return usageError(stderr, "snapshot --tree: a snapshot file is of one process (identities compare within one): snapshot each process of the tree with -p, or watch the tree with leakwatch --tree")
	}
	if fs.NArg() > 0 {
		return usageError(stderr, "snapshot takes no arguments, got %q", fs.Args())
	}
	if err := checkPID(*pid); err != nil {
		return usageError(stderr, "snapshot: %v", err)
	}
	file, err := openOut("-o", *out) // before the snapshot, so a bad path fails first
	if err != nil {
		fmt.Fprintf(stderr, "leakwatch: snapshot: %v\n", err)
		return exitUsage
	}
	outs := &outputs{json: file}
	defer outs.discard()
	snap, err := takeSnapshot(*pid)
	if err != nil {
		return cannotRead(stderr, *pid, err)
	}
	write := func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(snap)
	}
	if file != nil {
		err = file.write(write)
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
	kids, err := procs.Children(pid)
	if err != nil {
		return nil, err
	}
	f := &snapshotFile{
		Schema: snapshotSchema, PID: pid, Time: now,
		FDs:       []jsonFD{},
		Sockets:   []jsonSocket{},
		Threads:   []jsonThread{},
		Processes: []jsonProcess{},
		OwnNames:  threads.OwnNames(pid),
	}
	for _, k := range kids {
		f.Processes = append(f.Processes, jsonProcess{PID: k.PID, PPID: k.PPID, State: k.StateName(), Command: k.Command(), Start: k.Start})
	}
	f.Counts = fileCounts(fds, socks, ts, f.processes())
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

// readSnapshot decodes a snapshot file back into the library's types. It
// is strict: a file is one object in the schema, with every list, and
// nothing that a snapshot cannot hold (a descriptor or thread twice, a
// negative number, counts its lists contradict).
func readSnapshot(r io.Reader) (*snapshotFile, *fdsnap.Snapshot, *sockstate.Snapshot, error) {
	f, err := decodeSnapshot(r)
	if err != nil {
		return nil, nil, nil, err
	}
	fds := &fdsnap.Snapshot{PID: f.PID}
	byNum := map[int]fdsnap.FD{}
	for _, j := range f.FDs {
		k, ok := kindByName[j.Kind]
		switch {
		case j.Num < 0:
			return nil, nil, nil, fmt.Errorf("fd %d: descriptor numbers are never negative", j.Num)
		case !ok:
			return nil, nil, nil, fmt.Errorf("fd %d: unknown kind %q", j.Num, j.Kind)
		case k == fdsnap.Socket && j.Ino == 0:
			return nil, nil, nil, fmt.Errorf("fd %d: a socket without an inode", j.Num)
		}
		if _, dup := byNum[j.Num]; dup {
			return nil, nil, nil, fmt.Errorf("fd %d is listed twice: a process holds each descriptor number once", j.Num)
		}
		fd := fdsnap.FD{Num: j.Num, Kind: k, Target: j.Target, Dev: j.Dev, Ino: j.Ino, Detail: j.Detail}
		byNum[j.Num] = fd
		fds.FDs = append(fds.FDs, fd)
	}
	slices.SortFunc(fds.FDs, func(a, b fdsnap.FD) int { return cmp.Compare(a.Num, b.Num) })
	socks := &sockstate.Snapshot{PID: f.PID, FDs: fds}
	seen := map[uint64]bool{}
	for _, j := range f.Sockets {
		p, ok := protoByName[j.Proto]
		if !ok {
			return nil, nil, nil, fmt.Errorf("socket %d: unknown protocol %q", j.Inode, j.Proto)
		}
		st, ok := stateByName[j.State]
		if !ok {
			return nil, nil, nil, fmt.Errorf("socket %d: unknown state %q", j.Inode, j.State)
		}
		switch fd, has := byNum[j.FD]; {
		case j.Inode == 0:
			return nil, nil, nil, fmt.Errorf("socket with fd %d: no inode", j.FD)
		case seen[j.Inode]:
			return nil, nil, nil, fmt.Errorf("socket %d is listed twice", j.Inode)
		case j.FD < -1:
			return nil, nil, nil, fmt.Errorf("socket %d: fd %d: want a descriptor number, or -1 for none", j.Inode, j.FD)
		case j.FD >= 0 && (!has || fd.Kind != fdsnap.Socket || fd.Ino != j.Inode):
			return nil, nil, nil, fmt.Errorf("socket %d: its fd %d is not a descriptor of that socket in the fds list", j.Inode, j.FD)
		}
		seen[j.Inode] = true
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
	tids := map[int]bool{}
	ts := make([]threads.Thread, 0, len(f.Threads))
	for _, t := range f.Threads {
		switch {
		case t.TID <= 0:
			return nil, nil, nil, fmt.Errorf("thread %d: thread ids are positive", t.TID)
		case tids[t.TID]:
			return nil, nil, nil, fmt.Errorf("thread %d is listed twice", t.TID)
		}
		tids[t.TID] = true
		ts = append(ts, threads.Thread{TID: t.TID, Name: t.Name})
	}
	kids := map[int]bool{}
	for _, p := range f.Processes {
		switch {
		case p.PID <= 0:
			return nil, nil, nil, fmt.Errorf("process %d: process ids are positive", p.PID)
		case kids[p.PID]:
			return nil, nil, nil, fmt.Errorf("process %d is listed twice", p.PID)
		}
		kids[p.PID] = true
	}
	if err := checkCounts(f.Counts, fileCounts(fds, socks, ts, f.processes())); err != nil {
		return nil, nil, nil, err
	}
	return f, fds, socks, nil
}

// decodeSnapshot reads exactly one snapshot object, with every field a
// snapshot has and no other.
func decodeSnapshot(r io.Reader) (*snapshotFile, error) {
	var f snapshotFile
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after the snapshot, which ends at byte %d: want one JSON object per file", end)
	}
	switch {
	case f.Schema != snapshotSchema && f.Schema != snapshotSchemaV1:
		return nil, fmt.Errorf("schema %q, want %q (a file leakwatch snapshot wrote)", f.Schema, snapshotSchema)
	case f.Schema == snapshotSchema && f.Processes == nil:
		return nil, errors.New(`no "processes" list (an empty one is []), which schema v2 has`)
	case f.Schema == snapshotSchemaV1 && f.Processes != nil:
		return nil, errors.New(`a "processes" list in a v1 file, which has none`)
	case f.PID <= 0:
		return nil, fmt.Errorf("pid %d: want a process id", f.PID)
	case f.Time.IsZero():
		return nil, errors.New(`no "time": want when the snapshot was taken`)
	case f.Counts == nil:
		return nil, errors.New(`no "counts"`)
	case f.FDs == nil:
		return nil, errors.New(`no "fds" list (an empty one is [])`)
	case f.Sockets == nil:
		return nil, errors.New(`no "sockets" list (an empty one is [])`)
	case f.Threads == nil:
		return nil, errors.New(`no "threads" list (an empty one is [])`)
	}
	return &f, nil
}

// checkCounts reports the first count the lists contradict.
func checkCounts(got, want series.Counts) error {
	keys := slices.Sorted(maps.Keys(want))
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if got[k] != want[k] {
			res, _, _ := strings.Cut(k, "/")
			return fmt.Errorf("counts: %q is %d, but the %s list holds %d: the counts must be those of the lists", k, got[k], res, want[k])
		}
	}
	return nil
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
	tree := fs.Bool("tree", false, "not supported: snapshot files are of one process")
	if status, done := parseFlags(fs, args); done {
		return status
	}
	if *tree {
		return usageError(stderr, "diff --tree: snapshot files are of one process: diff the snapshots of each process, or watch the tree with leakwatch --tree")
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
	a, b := files[0], files[1]
	if a.PID != b.PID {
		return usageError(stderr, "diff: %s is pid %d and %s is pid %d: identities (descriptor numbers, thread ids) only compare within one process",
			fs.Arg(0), a.PID, fs.Arg(1), b.PID)
	}
	if b.Time.Before(a.Time) {
		return usageError(stderr, "diff: %s (%s) was taken before %s (%s): give the earlier snapshot first",
			fs.Arg(1), b.Time.Format(time.RFC3339Nano), fs.Arg(0), a.Time.Format(time.RFC3339Nano))
	}
	r, err := diffReport(a, b, fds, socks)
	if err != nil {
		return usageError(stderr, "diff: %v", err)
	}

	var out strings.Builder
	fmt.Fprintf(&out, "leakwatch: pid %d (%s): %s at %s → %s at %s, %v later\n", a.PID, b.Name,
		fs.Arg(0), a.Time.Format(time.TimeOnly), fs.Arg(1), b.Time.Format(time.TimeOnly),
		b.Time.Sub(a.Time).Round(time.Millisecond))
	writeCounts(&out, familyCounts(a.Counts), familyCounts(b.Counts))
	out.WriteString("\n" + r.String() + "\n")
	status := exitOK
	counts := r.Counts()
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		lim, _ := tol.limit(k) // 0 unless given
		if float64(counts[k]) > lim {
			fmt.Fprintf(&out, "exceeded: %d new %s, more than --tolerance %s\n", counts[k], k, fmtLimit(lim))
			status = exitGrowth
		}
	}
	if _, err := io.WriteString(stdout, out.String()); err != nil {
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
// library's Compare over the snapshots read back, judged as the library
// judges another process: new threads that never named themselves (the Go
// runtime's) are counted as ignored, not reported; thread groups are by
// family.
func diffReport(a, b *snapshotFile, fds [2]*fdsnap.Snapshot, socks [2]*sockstate.Snapshot) (*leakcheck.Report, error) {
	snap := func(f *snapshotFile, fd *fdsnap.Snapshot, so *sockstate.Snapshot) *leakcheck.Snapshot {
		ts := make([]leakcheck.Thread, 0, len(f.Threads))
		for _, t := range f.Threads {
			ts = append(ts, leakcheck.Thread{TID: t.TID, Name: t.Name})
		}
		return &leakcheck.Snapshot{PID: f.PID, Time: f.Time, FDs: fd, Sockets: so, Threads: ts, Processes: f.processes()}
	}
	// A child's identity is its pid and start time: one of a that exited,
	// its pid reused by a new one in b, is not b's.
	reused := map[int]bool{}
	for _, p := range b.Processes {
		for _, q := range a.Processes {
			if p.PID == q.PID && p.Start != q.Start {
				reused[p.PID] = true
			}
		}
	}
	a2 := *a
	a2.Processes = slices.DeleteFunc(slices.Clone(a.Processes), func(p jsonProcess) bool { return reused[p.PID] })
	a = &a2
	res := leakcheck.FDs | leakcheck.Sockets | leakcheck.Threads
	if a.Processes != nil && b.Processes != nil {
		res |= leakcheck.Processes
	}
	own := map[string]bool{}
	for _, f := range []*snapshotFile{a, b} {
		for _, n := range f.OwnNames {
			own[n] = true
		}
	}
	if len(own) == 0 { // a file written before own_names: the main thread's name
		own[a.Name], own[b.Name] = true, true
	}
	r, err := leakcheck.Compare(snap(a, fds[0], socks[0]), snap(b, fds[1], socks[1]),
		leakcheck.WithResources(res),
		leakcheck.IgnoreThread(func(t leakcheck.Thread) bool { return own[t.Name] }))
	if err != nil {
		return nil, err
	}
	// The filter's count is the runtime's threads: name it so.
	for k, ig := range r.Ignored {
		if ig.What == "matching IgnoreThread" {
			r.Ignored[k].What = "unnamed runtime threads"
		}
	}
	slices.SortFunc(r.Ignored, func(x, y leakcheck.Ignored) int { return strings.Compare(x.What, y.What) })
	return familyReport(r), nil
}

// fileCounts counts what a snapshot file holds, with the keys samples use
// (leakcheck.Snapshot.Counts); ps is nil in a v1 file.
func fileCounts(fds *fdsnap.Snapshot, socks *sockstate.Snapshot, ts []threads.Thread, ps []leakcheck.Process) series.Counts {
	lt := make([]leakcheck.Thread, len(ts))
	for i, t := range ts {
		lt[i] = leakcheck.Thread{TID: t.TID, Name: t.Name}
	}
	return (&leakcheck.Snapshot{FDs: fds, Sockets: socks, Threads: lt, Processes: ps}).Counts()
}

// processes returns the file's children as the library's, nil in a v1
// file. (Their start times stay in the file: diffReport compares them.)
func (f *snapshotFile) processes() []leakcheck.Process {
	if f.Processes == nil {
		return nil
	}
	out := make([]leakcheck.Process, 0, len(f.Processes))
	for _, p := range f.Processes {
		out = append(out, leakcheck.Process{PID: p.PID, Command: p.Command, State: p.State})
	}
	return out
}
