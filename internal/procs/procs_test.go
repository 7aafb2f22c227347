package procs

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A stat line as Linux 6.18 prints it (cat /proc/PID/stat of `sleep 20`),
// the comm replaced where a case needs it.
const sleepStat = "4242 (sleep) S 4000 4242 3900 34816 4242 4194304 96 0 0 0 0 0 0 0 20 0 1 0 123456 5632000 220 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"

func TestParseStat(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Process
		err  bool
	}{
		{"a sleeping child", sleepStat, Process{PID: 4242, PPID: 4000, State: 'S', Comm: "sleep", Start: 123456}, false},
		{"a comm with spaces and parentheses: the last ')' ends it",
			"77 (a) (b c) Z 1 77 77 0 -1 4194316 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n",
			Process{PID: 77, PPID: 1, State: 'Z', Comm: "a) (b c", Start: 99}, false},
		{"no comm", "4242 sleep S 1", Process{}, true},
		{"a pid that is not a number", "x (sleep) S 1 1 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 5\n", Process{}, true},
		{"too few fields: starttime missing", "1 (init) S 0 1 1", Process{}, true},
		{"a state of two letters", "1 (init) SS 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0\n", Process{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tt.in))
			if tt.err {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseChildrenAndCmdline(t *testing.T) {
	got, err := ParseChildren([]byte("12 34 \n"))
	require.NoError(t, err)
	assert.Equal(t, []int{12, 34}, got, "space-separated, trailing space as the kernel prints it")
	got, err = ParseChildren(nil)
	require.NoError(t, err)
	assert.Empty(t, got, "no children: an empty file")
	_, err = ParseChildren([]byte("12 x"))
	assert.Error(t, err, "a field that is no pid")

	assert.Equal(t, []string{"sleep", "20"}, ParseCmdline([]byte("sleep\x0020\x00")))
	assert.Nil(t, ParseCmdline(nil), "a zombie's cmdline is empty")
}

func TestCommand(t *testing.T) {
	assert.Equal(t, "sleep 20", Process{Comm: "sleep", Args: []string{"sleep", "20"}}.Command())
	assert.Equal(t, "true", Process{Comm: "true", State: 'Z'}.Command(), "a zombie has no command line: its comm")
	assert.True(t, Process{State: 'Z'}.Zombie())
	assert.False(t, Process{State: 'S'}.Zombie())
}

func TestChildrenFS(t *testing.T) {
	fsys := fstest.MapFS{
		// Two threads; the second forked two children, one of them twice
		// listed (never by the kernel, but harmless), one reaped since.
		"4000/task/4000/children": {Data: []byte("4242 ")},
		"4000/task/4001/children": {Data: []byte("4243 4244 4242")},
		"4242/stat":               {Data: []byte(sleepStat)},
		"4242/cmdline":            {Data: []byte("sleep\x0020\x00")},
		"4243/stat":               {Data: []byte("4243 (true) Z 4000 4243 3900 0 -1 4194316 0 0 0 0 0 0 0 0 20 0 1 0 123460 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n")},
		"4243/cmdline":            {Data: nil},
		// 4244 has no stat: it was reaped after the children file was read.
		"5000/task/5000/stat": {Data: []byte("x")},
	}
	got, err := ChildrenFS(fsys, 4000)
	require.NoError(t, err)
	assert.Equal(t, []Process{
		{PID: 4242, PPID: 4000, State: 'S', Comm: "sleep", Args: []string{"sleep", "20"}, Start: 123456},
		{PID: 4243, PPID: 4000, State: 'Z', Comm: "true", Start: 123460},
	}, got)

	_, err = ChildrenFS(fsys, 4100)
	assert.ErrorIs(t, err, fs.ErrNotExist, "no such process")

	_, err = ChildrenFS(fsys, 5000)
	assert.ErrorIs(t, err, errors.ErrUnsupported, "a kernel without children files")

	none := fstest.MapFS{"6000/task/6000/children": {Data: nil}}
	got, err = ChildrenFS(none, 6000)
	require.NoError(t, err)
	assert.Empty(t, got, "no children")
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte(sleepStat))
	f.Add([]byte("1 ((() Z 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseStat(b)
		if err == nil && p.PID <= 0 {
			t.Fatalf("pid %d accepted", p.PID)
		}
	})
}

// stat is a /proc/PID/stat line of a process in state st forked by ppid.
func stat(pid, ppid int, comm string, st byte) []byte {
	return fmt.Appendf(nil, "%d (%s) %c %d %d 3900 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 %d 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n", pid, comm, st, ppid, pid, 1000+pid)
}

// deniedFS refuses to open one path, as /proc does another user's files
// it hides.
type deniedFS struct {
	fs.FS
	path string
}

func (d deniedFS) Open(name string) (fs.File, error) {
	if name == d.path {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return d.FS.Open(name)
}

func TestDescendantsFS(t *testing.T) {
	proc := func(pid, ppid int, comm string, st byte) Process {
		return Process{PID: pid, PPID: ppid, State: st, Comm: comm, Args: []string{comm}, Start: uint64(1000 + pid)}
	}
	// 100 (sh) forked 101 (gunicorn) and 102 (a zombie, never waited);
	// 101's threads forked 104 and 103; 103 forked 105; 106 was listed
	// as 101's child but exited before its stat was read.
	fsys := fstest.MapFS{}
	add := func(p Process, kids map[int]string) {
		fsys[fmt.Sprintf("%d/stat", p.PID)] = &fstest.MapFile{Data: stat(p.PID, p.PPID, p.Comm, p.State)}
		if p.State != 'Z' {
			fsys[fmt.Sprintf("%d/cmdline", p.PID)] = &fstest.MapFile{Data: []byte(p.Comm + "\x00")}
		}
		if len(kids) == 0 {
			kids = map[int]string{p.PID: ""}
		}
		for tid, list := range kids {
			fsys[fmt.Sprintf("%d/task/%d/children", p.PID, tid)] = &fstest.MapFile{Data: []byte(list)}
		}
	}
	add(proc(100, 1, "sh", 'S'), map[int]string{100: "101 102 "})
	add(proc(101, 100, "gunicorn", 'S'), map[int]string{101: "104 106", 107: "103 "})
	zombie := proc(102, 100, "true", 'Z')
	zombie.Args = nil
	add(zombie, nil)
	add(proc(103, 101, "worker", 'S'), map[int]string{103: "105"})
	add(proc(104, 101, "worker", 'R'), nil)
	add(proc(105, 103, "sleep", 'S'), nil)

	got, err := DescendantsFS(fsys, 100)
	require.NoError(t, err)
	assert.Equal(t, []Process{
		proc(101, 100, "gunicorn", 'S'), zombie, // the children
		proc(103, 101, "worker", 'S'), proc(104, 101, "worker", 'R'), // the grandchildren, by pid, from both threads
		proc(105, 103, "sleep", 'S'), // a great-grandchild
	}, got, "breadth first, each generation by pid; 106 exited as it was read")

	got, err = DescendantsFS(fsys, 105)
	require.NoError(t, err)
	assert.Empty(t, got, "a leaf has none")

	_, err = DescendantsFS(fsys, 999)
	assert.ErrorIs(t, err, fs.ErrNotExist, "no such process")

	// 103's children cannot be read: 103 is listed, its subtree is not, and
	// the error names it.
	got, err = DescendantsFS(deniedFS{fsys, "103/task"}, 100)
	assert.ErrorIs(t, err, fs.ErrPermission)
	assert.ErrorContains(t, err, "the children of pid 103 (worker)")
	assert.Equal(t, []int{101, 102, 103, 104}, pids(got), "every process that could be read")

	// 104 exited after its parent's children were read: not an error.
	delete(fsys, "104/task/104/children")
	got, err = DescendantsFS(fsys, 100)
	require.NoError(t, err)
	assert.Equal(t, []int{101, 102, 103, 104, 105}, pids(got))
}

func pids(ps []Process) []int {
	out := make([]int, len(ps))
	for i, p := range ps {
		out[i] = p.PID
	}
	return out
}

func TestStateName(t *testing.T) {
	for letter, want := range map[byte]string{'Z': "zombie", 'T': "stopped", 't': "stopped", 'X': "dead", 'R': "running", 'S': "running", 'D': "running", 'I': "running"} {
		if got := (Process{State: letter}).StateName(); got != want {
			t.Errorf("state %q: %q, want %q", letter, got, want)
		}
	}
}

func TestCategory(t *testing.T) {
	long := make([]string, 0, 40)
	long = append(long, "/usr/local/go/pkg/tool/linux_amd64/compile", "-o", "/tmp/go-build3840697071/b082/_pkg_.a")
	for range 30 {
		long = append(long, "-I", "/tmp/go-build3840697071/b082/")
	}
	for _, c := range []struct {
		p    Process
		want string
	}{
		{Process{Comm: "sleep", Args: []string{"sleep", "20"}}, "sleep 20"},
		{Process{Comm: "compile", Args: long}, "compile -o …"},
		{Process{Comm: "python3", Args: []string{"/usr/bin/python3", "-m", "http.server", "8080"}}, "python3 -m http.server 8080"},
		{Process{Comm: "gone", State: 'Z'}, "gone"},
	} {
		if got := c.p.Category(); got != c.want {
			t.Errorf("Category of %v: %q, want %q", c.p.Args, got, c.want)
		}
	}
}
