package sockstate_test

import (
	"fmt"
	"net/netip"

	"github.com/leakcheck/go/sockstate"
)

// A leaked connection as a report prints it: the descriptor that holds it,
// the protocol, both addresses and the state.
func ExampleSocket_String() {
	s := sockstate.Socket{
		Inode:  48213,
		FD:     9,
		Proto:  sockstate.TCP,
		State:  sockstate.CloseWait,
		Local:  netip.MustParseAddrPort("127.0.0.1:51234"),
		Remote: netip.MustParseAddrPort("127.0.0.1:25555"),
	}
	fmt.Println(s)
	fmt.Println(s.Describe())
	// Output:
	// fd 9 tcp 127.0.0.1:51234 → 127.0.0.1:25555 CLOSE_WAIT
	// tcp 127.0.0.1:51234 → 127.0.0.1:25555 CLOSE_WAIT
}

// Compare finds the sockets a piece of code opened and did not close.
func ExampleCompare() {
	before := &sockstate.Snapshot{}
	after := &sockstate.Snapshot{Sockets: []sockstate.Socket{{
		Inode: 48213, FD: 9, Proto: sockstate.TCP, State: sockstate.Established,
		Local:  netip.MustParseAddrPort("127.0.0.1:51234"),
		Remote: netip.MustParseAddrPort("127.0.0.1:25555"),
	}}}
	fmt.Println(sockstate.Compare(before, after))
	// Output:
	// opened 1 socket, closed 0 sockets, 0 changed state
	//   + fd 9 tcp 127.0.0.1:51234 → 127.0.0.1:25555 ESTABLISHED
}
