package leakcheck_test

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/leakcheck/go/leakcheck"
)

// The test binary checks itself with VerifyTestMain: every test here that
// leaks on purpose must clean up after itself, or the package fails.
//
// It also re-executes itself for scenarios that need a fresh process or a
// whole test run to observe (LEAKCHECK_CHILD=role).
func TestMain(m *testing.M) {
	switch os.Getenv("LEAKCHECK_CHILD") {
	case "":
		leakcheck.VerifyTestMain(m)
	case "scenarios":
		leakcheck.VerifyTestMain(m, leakcheck.Cleanup(func(code int) {
			fmt.Printf("VerifyTestMain exit code %d\n", code)
			os.Exit(code)
		}))
	case "first-network-use":
		childFirstNetworkUse()
	case "signal":
		childSignal()
	default:
		fmt.Println("unknown LEAKCHECK_CHILD")
		os.Exit(3)
	}
}

// childFirstNetworkUse is a fresh binary whose first network use happens
// between a baseline and a check.
func childFirstNetworkUse() {
	base, err := leakcheck.Take()
	if err != nil {
		fmt.Println("take:", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	ln.Close()
	rep, err := leakcheck.Find(base)
	if err != nil {
		fmt.Println("find:", err)
		os.Exit(1)
	}
	fmt.Println(rep)
}

// childSignal starts os/signal's loop between a baseline and a check.
func childSignal() {
	base, err := leakcheck.Take()
	if err != nil {
		fmt.Println("take:", err)
		os.Exit(1)
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR2)
	signal.Stop(c)
	rep, err := leakcheck.Find(base)
	if err != nil {
		fmt.Println("find:", err)
		os.Exit(1)
	}
	fmt.Println(rep)
}
