package maincurrent

import (
	"bufio"
	"net"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// backend is the echo server every test talks to.
var backend net.Listener

func TestMain(m *testing.M) {
	var err error
	backend, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go serve(backend)

	goleak.VerifyTestMain(m,
		// The backend and its accept loop are shared set-up, not leaks.
		goleak.IgnoreCurrent(),
		goleak.Cleanup(func(exitCode int) {
			backend.Close()
			os.Exit(exitCode)
		}),
	)
}

func serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				c.Write([]byte(sc.Text() + "\n"))
			}
		}()
	}
}
