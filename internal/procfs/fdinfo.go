package procfs

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FDInfo is the content of /proc/PID/fdinfo/N. The common fields are always
// present; the rest depend on what the descriptor is (see proc(5) and each
// file_operations' show_fdinfo in the kernel: fs/eventpoll.c, fs/eventfd.c,
// fs/timerfd.c, fs/notify/fdinfo.c, fs/signalfd.c, kernel/pid.c).
type FDInfo struct {
	Pos   int64
	Flags uint64 // open(2) flags, printed in octal by the kernel
	MntID int
	Ino   uint64

	Epoll []EpollTarget // one per "tfd:" line of an eventpoll

	HasEventfd   bool
	EventfdCount uint64
	EventfdID    int // -1 when the kernel does not print it

	HasTimer      bool
	TimerClock    int // clockid_t: 0 realtime, 1 monotonic, 7 boottime, …
	TimerTicks    uint64
	TimerValue    time.Duration // time to the next expiry; 0 disarmed
	TimerInterval time.Duration // period; 0 for a one-shot timer

	InotifyWatches int // "inotify wd:" lines
	FanotifyMarks  int // "fanotify ino:" / "fanotify mnt_id:" / "fanotify sdev:" lines
	HasFanotify    bool

	HasSigmask bool
	Sigmask    uint64 // bit n-1 set for signal n

	HasPid bool
	Pid    int // the pid a pidfd refers to (-1 once it has been reaped)
}

// EpollTarget is one descriptor an epoll instance watches.
type EpollTarget struct {
	FD     int
	Events uint32
	Data   uint64
	Ino    uint64
}

// ParseFDInfo parses the text of /proc/PID/fdinfo/N. A known line whose
// value does not parse is an error; unknown lines are ignored, so newer
// kernels' additions do not break it.
func ParseFDInfo(b []byte) (FDInfo, error) {
	info := FDInfo{EventfdID: -1}
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		if len(line) == 0 {
			continue
		}
		if err := info.parseLine(string(line)); err != nil {
			return FDInfo{}, fmt.Errorf("fdinfo line %q: %w", truncate(string(line)), err)
		}
	}
	return info, nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func (info *FDInfo) parseLine(line string) error {
	switch {
	case strings.HasPrefix(line, "tfd:"):
		t, err := parseEpollTarget(line)
		if err != nil {
			return err
		}
		info.Epoll = append(info.Epoll, t)
		return nil
	case strings.HasPrefix(line, "inotify "):
		info.InotifyWatches++
		return nil
	case strings.HasPrefix(line, "fanotify "):
		info.HasFanotify = true
		if !strings.HasPrefix(line, "fanotify flags:") {
			info.FanotifyMarks++
		}
		return nil
	}
	key, val, ok := strings.Cut(line, ":")
	if !ok {
		return nil
	}
	val = strings.TrimSpace(val)
	var err error
	switch key {
	case "pos":
		info.Pos, err = strconv.ParseInt(val, 10, 64)
	case "flags":
		info.Flags, err = strconv.ParseUint(val, 8, 64)
	case "mnt_id":
		info.MntID, err = strconv.Atoi(val)
	case "ino":
		info.Ino, err = strconv.ParseUint(val, 10, 64)
	case "eventfd-count":
		info.HasEventfd = true
		info.EventfdCount, err = strconv.ParseUint(val, 16, 64)
	case "eventfd-id":
		info.EventfdID, err = strconv.Atoi(val)
	case "clockid":
		info.HasTimer = true
		info.TimerClock, err = strconv.Atoi(val)
	case "ticks":
		info.TimerTicks, err = strconv.ParseUint(val, 10, 64)
	case "it_value":
		info.TimerValue, err = parseTimespecPair(val)
	case "it_interval":
		info.TimerInterval, err = parseTimespecPair(val)
	case "sigmask":
		info.HasSigmask = true
		info.Sigmask, err = strconv.ParseUint(val, 16, 64)
	case "Pid":
		info.HasPid = true
		info.Pid, err = strconv.Atoi(val)
	}
	return err
}

// parseEpollTarget parses
// "tfd:        6 events:       19 data:                6  pos:0 ino:40f sdev:10"
// where events, data, ino and sdev are hexadecimal.
func parseEpollTarget(line string) (EpollTarget, error) {
	var t EpollTarget
	fields := strings.Fields(line)
	seen := 0
	for i := 0; i < len(fields); i++ {
		key := fields[i]
		var val string
		if k, v, ok := strings.Cut(key, ":"); ok && v != "" {
			key, val = k+":", v
		} else if i+1 < len(fields) {
			i++
			val = fields[i]
		} else {
			return t, fmt.Errorf("%s has no value", key)
		}
		var err error
		switch key {
		case "tfd:":
			t.FD, err = strconv.Atoi(val)
			seen |= 1
		case "events:":
			var v uint64
			v, err = strconv.ParseUint(val, 16, 32)
			t.Events = uint32(v)
			seen |= 2
		case "data:":
			t.Data, err = strconv.ParseUint(val, 16, 64)
		case "ino:":
			t.Ino, err = strconv.ParseUint(val, 16, 64)
		}
		if err != nil {
			return t, fmt.Errorf("%s %w", key, err)
		}
	}
	if seen != 3 {
		return t, fmt.Errorf("missing tfd or events")
	}
	return t, nil
}

// parseTimespecPair parses "(1, 500000000)" as seconds and nanoseconds.
func parseTimespecPair(s string) (time.Duration, error) {
	if len(s) < 2 || s[0] != '(' || s[len(s)-1] != ')' {
		return 0, fmt.Errorf("want (sec, nsec), got %q", s)
	}
	a, b, ok := strings.Cut(s[1:len(s)-1], ",")
	if !ok {
		return 0, fmt.Errorf("want (sec, nsec), got %q", s)
	}
	sec, err := strconv.ParseUint(strings.TrimSpace(a), 10, 63)
	if err != nil {
		return 0, err
	}
	nsec, err := strconv.ParseUint(strings.TrimSpace(b), 10, 63)
	if err != nil {
		return 0, err
	}
	if sec > uint64((1<<63-1)/int64(time.Second)) {
		return 0, fmt.Errorf("seconds out of range: %d", sec)
	}
	return time.Duration(sec)*time.Second + time.Duration(nsec), nil
}
