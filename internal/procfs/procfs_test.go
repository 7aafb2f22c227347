package procfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in     string
		want   Target
		reason string
	}{
		{"/dev/null", Target{Type: TargetPath, Name: "/dev/null"}, "a live path"},
		{"/data/topic-0/00000.log (deleted)", Target{Type: TargetDeleted, Name: "/data/topic-0/00000.log"}, "the classic disk-space leak"},
		{"/memfd:segment-cache (deleted)", Target{Type: TargetMemfd, Name: "segment-cache"}, "memfd_create names its file /memfd:NAME and marks it deleted"},
		{"/memfd:x", Target{Type: TargetPath, Name: "/memfd:x"}, "without the deleted suffix it is an ordinary path"},
		{"pipe:[10684]", Target{Type: TargetPipe, Ino: 10684}, "anonymous pipe"},
		{"socket:[4242]", Target{Type: TargetSocket, Ino: 4242}, "socket"},
		{"pidfd:[77]", Target{Type: TargetPidfs, Ino: 77}, "pidfs (Linux ≥ 6.9) names pidfds with an inode"},
		{"anon_inode:[eventpoll]", Target{Type: TargetAnon, Name: "eventpoll"}, "bracketed anon name"},
		{"anon_inode:inotify", Target{Type: TargetAnon, Name: "inotify"}, "inotify has no brackets"},
		{"anon_inode:bpf-map", Target{Type: TargetAnon, Name: "bpf-map"}, "other unbracketed anon names"},
		{"anon_inode:[io_uring]", Target{Type: TargetAnon, Name: "io_uring"}, "kept by name"},
		{"anon_inode:", Target{Type: TargetOther, Name: "anon_inode:"}, "empty anon name stays raw"},
		{"net:[4026531833]", Target{Type: TargetOther, Name: "net:[4026531833]"}, "namespace fds stay raw"},
		{"socket:[abc]", Target{Type: TargetOther, Name: "socket:[abc]"}, "a non-numeric inode stays raw"},
		{"socket:[]", Target{Type: TargetOther, Name: "socket:[]"}, "an empty inode stays raw"},
		{"", Target{Type: TargetOther}, "empty"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ParseTarget(tt.in), "%q: %s", tt.in, tt.reason)
	}
}

func TestParseTargetFixture(t *testing.T) {
	// targets.txt holds real readlink results, in the order gen.go wrote them.
	b, err := os.ReadFile(filepath.Join("testdata", "targets.txt"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	want := []TargetType{TargetPath, TargetAnon, TargetAnon, TargetPipe, TargetAnon, TargetAnon, TargetAnon, TargetAnon, TargetAnon, TargetMemfd, TargetDeleted, TargetOther}
	require.Len(t, lines, len(want))
	for i, l := range lines {
		assert.Equal(t, want[i], ParseTarget(l).Type, "line %d %q", i+1, l)
	}
}

func fixture(t *testing.T, name string) FDInfo {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fdinfo", name+".txt"))
	require.NoError(t, err)
	info, err := ParseFDInfo(b)
	require.NoError(t, err)
	return info
}

func TestParseFDInfoFixtures(t *testing.T) {
	t.Run("eventfd", func(t *testing.T) {
		info := fixture(t, "eventfd")
		assert.True(t, info.HasEventfd)
		assert.EqualValues(t, 5, info.EventfdCount, "gen.go creates it with initval 5")
		assert.Equal(t, uint64(02000002), info.Flags)
		assert.Equal(t, uint64(1039), info.Ino)
	})
	t.Run("eventpoll", func(t *testing.T) {
		info := fixture(t, "eventpoll")
		require.Len(t, info.Epoll, 2, "gen.go watches an eventfd and a pipe")
		assert.EqualValues(t, 0x19, info.Epoll[0].Events)
		assert.EqualValues(t, 0x40f, info.Epoll[0].Ino, "ino is hexadecimal")
		assert.EqualValues(t, uint32(0x80000019), info.Epoll[1].Events, "EPOLLET is the top bit")
		assert.Equal(t, info.Epoll[1].FD, int(info.Epoll[1].Data), "gen.go stores the fd in data")
	})
	t.Run("timerfd", func(t *testing.T) {
		info := fixture(t, "timerfd")
		assert.True(t, info.HasTimer)
		assert.Equal(t, 1, info.TimerClock, "CLOCK_MONOTONIC")
		assert.Equal(t, time.Second, info.TimerInterval)
		assert.Greater(t, info.TimerValue, time.Duration(0))
	})
	t.Run("inotify", func(t *testing.T) {
		assert.Equal(t, 2, fixture(t, "inotify").InotifyWatches)
	})
	t.Run("fanotify", func(t *testing.T) {
		info := fixture(t, "fanotify")
		assert.True(t, info.HasFanotify)
		assert.Equal(t, 1, info.FanotifyMarks)
	})
	t.Run("signalfd", func(t *testing.T) {
		info := fixture(t, "signalfd")
		assert.True(t, info.HasSigmask)
		assert.EqualValues(t, 1<<(10-1)|1<<(15-1), info.Sigmask, "SIGUSR1 and SIGTERM")
	})
	t.Run("pidfd", func(t *testing.T) {
		info := fixture(t, "pidfd")
		assert.True(t, info.HasPid)
		assert.Greater(t, info.Pid, 0)
	})
	t.Run("plain file", func(t *testing.T) {
		info := fixture(t, "file")
		assert.False(t, info.HasEventfd || info.HasTimer || info.HasSigmask || info.HasPid || info.HasFanotify)
		assert.Empty(t, info.Epoll)
	})
}

func TestParseFDInfoErrors(t *testing.T) {
	tests := []struct{ in, reason string }{
		{"pos:\tx\n", "pos must be a number"},
		{"flags:\t9\n", "flags are octal"},
		{"tfd: 5 events:\n", "a tfd line cut short"},
		{"tfd: five events: 19\n", "non-numeric tfd"},
		{"tfd: 5 data: 1\n", "no events"},
		{"eventfd-count: zz\n", "the counter is hexadecimal"},
		{"it_value: (1 2)\n", "missing comma"},
		{"it_interval: 1, 2\n", "missing parentheses"},
		{"sigmask:\tnothex\n", "the mask is hexadecimal"},
		{"Pid:\tme\n", "pid must be a number"},
	}
	for _, tt := range tests {
		_, err := ParseFDInfo([]byte(tt.in))
		assert.Error(t, err, "%q: %s", tt.in, tt.reason)
	}
}

func TestParseFDInfoTolerant(t *testing.T) {
	info, err := ParseFDInfo([]byte("pos:\t0\nflags:\t02\nnew-field-from-2030: whatever\nno colon here\n\nPid:\t-1"))
	require.NoError(t, err, "unknown lines and a missing final newline are fine")
	assert.True(t, info.HasPid)
	assert.Equal(t, -1, info.Pid, "a reaped pidfd's pid")
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"/x (deleted)", "/memfd:a (deleted)", "pipe:[1]", "anon_inode:[x]", "anon_inode:", "socket:[", "pidfd:[9]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := ParseTarget(s)
		if got.Type == TargetOther && got.Name != s {
			t.Fatalf("TargetOther must keep the raw text: %q -> %+v", s, got)
		}
		if (got.Type == TargetPipe || got.Type == TargetSocket || got.Type == TargetPidfs) && got.Name != "" {
			t.Fatalf("inode targets carry no name: %+v", got)
		}
	})
}

func FuzzParseFDInfo(f *testing.F) {
	entries, _ := os.ReadDir(filepath.Join("testdata", "fdinfo"))
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join("testdata", "fdinfo", e.Name()))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := ParseFDInfo(b)
		if err != nil {
			return
		}
		if len(info.Epoll) > strings.Count(string(b), "tfd:") {
			t.Fatalf("more epoll targets than tfd lines")
		}
	})
}
