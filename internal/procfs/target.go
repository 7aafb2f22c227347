package procfs

import (
	"strconv"
	"strings"
)

// TargetType is the broad shape of a /proc/PID/fd/N link target.
type TargetType uint8

// The shapes a link target takes.
const (
	TargetOther   TargetType = iota // none of the below: Target.Name keeps the raw text
	TargetPath                      // an absolute path of a live file ("/tmp/x")
	TargetDeleted                   // an absolute path ending in " (deleted)"
	TargetMemfd                     // "/memfd:NAME (deleted)"
	TargetPipe                      // "pipe:[INO]"
	TargetSocket                    // "socket:[INO]"
	TargetAnon                      // "anon_inode:[NAME]" or "anon_inode:NAME"
	TargetPidfs                     // "pidfd:[INO]" (pidfs, Linux ≥ 6.9)
)

// Target is a parsed link target.
type Target struct {
	Type TargetType
	// Name is the path (without " (deleted)"), the memfd's name, the anon
	// inode's name without brackets ("eventpoll", "inotify"), or for
	// TargetOther the raw target.
	Name string
	Ino  uint64 // the inode of pipes, sockets and pidfs targets
}

const deleted = " (deleted)"

// ParseTarget classifies a readlink result of /proc/PID/fd/N. It never
// fails: what it cannot classify comes back as TargetOther with the raw text.
func ParseTarget(s string) Target {
	switch {
	case strings.HasPrefix(s, "/memfd:") && strings.HasSuffix(s, deleted):
		return Target{Type: TargetMemfd, Name: s[len("/memfd:") : len(s)-len(deleted)]}
	case strings.HasPrefix(s, "/"):
		if strings.HasSuffix(s, deleted) {
			return Target{Type: TargetDeleted, Name: s[:len(s)-len(deleted)]}
		}
		return Target{Type: TargetPath, Name: s}
	case strings.HasPrefix(s, "anon_inode:"):
		name := s[len("anon_inode:"):]
		if len(name) >= 2 && name[0] == '[' && name[len(name)-1] == ']' {
			name = name[1 : len(name)-1]
		}
		if name == "" {
			break
		}
		return Target{Type: TargetAnon, Name: name}
	}
	if typ, ino, ok := bracketInode(s); ok {
		return Target{Type: typ, Ino: ino}
	}
	return Target{Type: TargetOther, Name: s}
}

// bracketInode parses "pipe:[123]", "socket:[123]" and "pidfd:[123]".
func bracketInode(s string) (TargetType, uint64, bool) {
	colon := strings.IndexByte(s, ':')
	if colon < 0 || len(s) < colon+4 || s[colon+1] != '[' || s[len(s)-1] != ']' {
		return 0, 0, false
	}
	var typ TargetType
	switch s[:colon] {
	case "pipe":
		typ = TargetPipe
	case "socket":
		typ = TargetSocket
	case "pidfd":
		typ = TargetPidfs
	default:
		return 0, 0, false
	}
	ino, err := strconv.ParseUint(s[colon+2:len(s)-1], 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return typ, ino, true
}
