package fdsnap_test

import (
	"fmt"

	"github.com/leakcheck/go/fdsnap"
)

// The diff of two snapshots, as a person reads it. (The snapshots here are
// built by hand so the output is stable; Take fills them from /proc.)
func ExampleCompare() {
	before := &fdsnap.Snapshot{PID: 4242, FDs: []fdsnap.FD{
		{Num: 0, Kind: fdsnap.CharDevice, Target: "/dev/null"},
		{Num: 7, Kind: fdsnap.Socket, Target: "socket:[48213]", Ino: 48213},
		{Num: 9, Kind: fdsnap.File, Target: "/etc/hosts", Ino: 11},
	}}
	after := &fdsnap.Snapshot{PID: 4242, FDs: []fdsnap.FD{
		{Num: 0, Kind: fdsnap.CharDevice, Target: "/dev/null"},
		{Num: 9, Kind: fdsnap.Pipe, Target: "pipe:[5120]", Ino: 5120},
		{Num: 12, Kind: fdsnap.DeletedFile, Target: "/data/topic-0/00000000.log (deleted)", Ino: 77},
		{Num: 13, Kind: fdsnap.EventPoll, Target: "anon_inode:[eventpoll]", Detail: "watching 3 fds"},
	}}
	fmt.Println(fdsnap.Compare(before, after))
	// Output:
	// opened 3 fds (1 deleted file, 1 pipe, 1 eventpoll); closed 2 fds (1 file, 1 socket)
	//   + fd 12 file /data/topic-0/00000000.log (deleted)
	//   + fd 13 eventpoll (watching 3 fds)
	//   ~ fd 9 file /etc/hosts -> pipe:[5120]
	//   - fd 7 socket:[48213]
}

func ExampleSnapshot_String() {
	s := &fdsnap.Snapshot{PID: 4242, FDs: []fdsnap.FD{
		{Num: 3, Kind: fdsnap.File, Target: "/sys/fs/cgroup/cpu.max"},
		{Num: 4, Kind: fdsnap.EventPoll, Target: "anon_inode:[eventpoll]"},
		{Num: 5, Kind: fdsnap.EventFD, Target: "anon_inode:[eventfd]", Detail: "count 0"},
		{Num: 6, Kind: fdsnap.MemFD, Target: "/memfd:cache (deleted)"},
		{Num: 8, Kind: fdsnap.Unknown, Target: "net:[4026531833]"},
	}}
	fmt.Println(s)
	fmt.Println(fdsnap.Kind(99))
	// Output:
	// pid 4242: 5 fds (1 unknown, 1 file, 1 eventpoll, 1 eventfd, 1 memfd)
	//   unknown (1):
	//     fd 8 unknown "net:[4026531833]"
	//   file (1):
	//     fd 3 file /sys/fs/cgroup/cpu.max
	//   eventpoll (1):
	//     fd 4 eventpoll
	//   eventfd (1):
	//     fd 5 eventfd (count 0)
	//   memfd (1):
	//     fd 6 memfd cache
	// Kind(99)
}
