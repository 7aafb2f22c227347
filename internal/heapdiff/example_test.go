package heapdiff_test

import (
	"fmt"
	"path/filepath"

	"github.com/leakcheck/go/internal/heapdiff"
)

// sessions is a registry that keeps every session it opened: its Close
// forgets to delete.
type sessions struct {
	open map[int]*session
	next int
}

type session struct{ buf []byte }

func (s *sessions) Open() *session {
	s.next++
	ss := &session{buf: make([]byte, 4096)}
	s.open[s.next] = ss
	return ss
}

func (s *sessions) Close(*session) {}

// Run finds what 200 open/close cycles keep, and the line that allocated
// it. (The full String of a Result names the file by its absolute path.)
func ExampleRun() {
	reg := &sessions{open: make(map[int]*session)}
	const n = 200
	res, err := heapdiff.Run(n, func() error {
		var opened []*session
		for range n {
			opened = append(opened, reg.Open())
		}
		for _, s := range opened {
			reg.Close(s)
		}
		return nil
	}, heapdiff.Defaults())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("leaked:", res.Leaked())
	top := res.Profiled.Sites[0]
	fmt.Printf("%d B in %d object per cycle at %s (%s:%d)\n",
		top.Bytes/n, top.Objects/n, top.User.Function, filepath.Base(top.User.File), top.User.Line)
	// Output:
	// leaked: true
	// 4096 B in 1 object per cycle at github.com/leakcheck/go/internal/heapdiff_test.(*sessions).Open (example_test.go:21)
}
