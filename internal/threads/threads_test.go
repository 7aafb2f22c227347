package threads

import (
	"errors"
	"io/fs"
	"os"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fixture tree: testdata/proc/28669 captured from a Python process with
// four named threads (testdata/gen.py), plus task 999999 without comm, the
// trace a thread leaves when it exits between listing and reading.
const fixturePID = 28669

func TestListFSFixture(t *testing.T) {
	got, err := ListFS(os.DirFS("testdata/proc"), fixturePID)
	require.NoError(t, err)
	assert.Equal(t, []Thread{
		{TID: 28669, Name: "python3"},
		{TID: 28710, Name: "JRaft-RPC-Proc"},
		{TID: 28711, Name: "worker 2"},
		{TID: 28712, Name: "fifteen-bytes-x"},
		{TID: 28713, Name: "naïve-✓"},
	}, got, "sorted by TID, the comm-less task left out")

	n, err := CountFS(os.DirFS("testdata/proc"), fixturePID)
	require.NoError(t, err)
	assert.Equal(t, 5, n)
}

func TestListFSErrors(t *testing.T) {
	fsys := fstest.MapFS{
		"7/task/7/comm":    {Data: []byte("main\n")},
		"7/status":         {Data: []byte("Name:\tmain\nThreads:\t1\n")},
		"8/task/8/comm":    {Data: []byte("x\n")},
		"8/status":         {Data: []byte("Name:\tx\n")},
		"9/task/9/stat":    {Data: []byte("gone\n")}, // a task without comm
		"self/task/3/comm": {Data: []byte("me\n")},
		"self/status":      {Data: []byte("Threads:\t1\n")},
	}
	tests := []struct {
		name    string
		fsys    fs.FS
		pid     int
		wantErr error
		wantMsg string
	}{
		{"no such process", fsys, 4242, os.ErrNotExist, "threads: pid 4242: no such process"},
		{"permission", denyFS{}, 7, os.ErrPermission, "threads: pid 7: permission denied"},
		{"other error", brokenFS{}, 7, nil, "threads: pid 7: open 7/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ListFS(tt.fsys, tt.pid)
			require.Error(t, err)
			assert.Nil(t, got)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			}
			assert.Contains(t, err.Error(), tt.wantMsg)
			_, err = CountFS(tt.fsys, tt.pid)
			require.Error(t, err)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			}
			assert.Contains(t, err.Error(), tt.wantMsg)
		})
	}

	self, err := ListFS(fsys, 0)
	require.NoError(t, err)
	assert.Equal(t, []Thread{{TID: 3, Name: "me"}}, self)

	_, err = CountFS(fsys, 8)
	assert.EqualError(t, err, "threads: pid 8: no Threads: line in status")

	// All threads gone but the process directory is still there (a zombie
	// being reaped): an empty list, not an error.
	got, err := ListFS(fsys, 9)
	require.NoError(t, err)
	assert.Empty(t, got)
}

type denyFS struct{}

func (denyFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
}

type brokenFS struct{}

func (brokenFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("disk on fire")}
}

func TestParseStatusThreads(t *testing.T) {
	b, err := os.ReadFile("testdata/proc/28669/status")
	require.NoError(t, err)
	n, err := ParseStatusThreads(b)
	require.NoError(t, err)
	assert.Equal(t, 5, n)

	tests := []struct {
		name, in string
		want     int
		wantErr  string
	}{
		{"tab separated", "Name:\tx\nThreads:\t12\nSigQ:\t0/1\n", 12, ""},
		{"last line without newline", "Threads:\t3", 3, ""},
		{"spaces", "Threads:   7  \n", 7, ""},
		{"missing", "Name:\tx\n", 0, "no Threads: line in status"},
		{"not a number", "Threads:\tmany\n", 0, `bad Threads: line "Threads:\tmany"`},
		{"negative", "Threads:\t-1\n", 0, "bad Threads: line"},
		{"empty", "", 0, "no Threads: line in status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ParseStatusThreads([]byte(tt.in))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, n)
		})
	}
}

func TestParseComm(t *testing.T) {
	for in, want := range map[string]string{
		"main\n":           "main",
		"JRaft-RPC-Proc\n": "JRaft-RPC-Proc",
		"with space\n":     "with space",
		"no newline":       "no newline",
		"\n":               "",
		"two\n\n":          "two\n",
		"naïve-✓\n":        "naïve-✓",
	} {
		assert.Equal(t, want, ParseComm([]byte(in)), "%q", in)
	}
}

func TestThreadString(t *testing.T) {
	assert.Equal(t, `12 "JRaft-RPC-Proc"`, Thread{TID: 12, Name: "JRaft-RPC-Proc"}.String())
	assert.Equal(t, `3 ""`, Thread{TID: 3}.String())
}

func FuzzParseStatusThreads(f *testing.F) {
	b, err := os.ReadFile("testdata/proc/28669/status")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("Threads:\t3"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ParseStatusThreads(b)
		if err != nil && n != 0 {
			t.Fatalf("count %d with error %v", n, err)
		}
		if n < 0 {
			t.Fatalf("negative count %d", n)
		}
		_ = ParseComm(b)
	})
}

func TestOwnNamesFS(t *testing.T) {
	fsys := fstest.MapFS{
		"7/exe":      {Mode: fs.ModeSymlink, Data: []byte("/usr/lib/jvm/java-17-openjdk-amd64/bin/java")},
		"7/cmdline":  {Data: []byte("java\x00-cp\x00.\x00Server\x00")},
		"8/exe":      {Mode: fs.ModeSymlink, Data: []byte("/usr/bin/python3.11")},
		"8/cmdline":  {Data: []byte("/usr/bin/python3\x00monitor.py\x00")},
		"9/exe":      {Mode: fs.ModeSymlink, Data: []byte("/tmp/go-build1/b001/exe/a-very-long-server-name (deleted)")},
		"10/cmdline": {Data: []byte("")}, // a kernel thread, or exe unreadable (another user's process)
		"self/exe":   {Mode: fs.ModeSymlink, Data: []byte("/work/leakcheck.test")},
	}
	for _, tc := range []struct {
		pid  int
		want []string
		why  string
	}{
		{7, []string{"java"}, "the executable and argv[0] agree: one name"},
		{8, []string{"python3", "python3.11"}, "a symlinked interpreter: both the link's target and the name it was started by"},
		{9, []string{"a-very-long-ser"}, "cut to 15 bytes as the kernel cuts comm, \" (deleted)\" dropped"},
		{10, nil, "nothing readable: no names"},
		{0, []string{"leakcheck.test"}, "pid 0 reads self"},
		{4242, nil, "no such process: no names, no error"},
	} {
		assert.Equal(t, tc.want, OwnNamesFS(fsys, tc.pid), "pid %d: %s", tc.pid, tc.why)
	}
}
