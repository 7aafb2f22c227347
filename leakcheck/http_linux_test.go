package leakcheck_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/leakcheck"
)

// The everyday test: an httptest server, requests through the default
// client (whose keep-alive connection and its goroutines outlive the body),
// the server closed in a cleanup. Teardown is asynchronous; nothing leaks.
func TestHTTPTestServerIsClean(t *testing.T) {
	ft := newFakeT(t, t.Name())
	leakcheck.Check(ft)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	ft.Cleanup(srv.Close)
	for range 3 {
		resp, err := http.Get(srv.URL)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, "ok", string(b))
	}
	ft.finish()
	assert.Empty(t, ft.errorText(), "keep-alive teardown after the server closes is not a leak")
}

// The same test with an unclosed response body keeps its connection and
// goroutines: caught.
func TestHTTPUnclosedBodyIsALeak(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	var bodies []io.Closer
	defer func() {
		for _, b := range bodies {
			b.Close()
		}
	}()
	ft := runCheck(t, func() {
		resp, err := client.Get(srv.URL)
		require.NoError(t, err)
		bodies = append(bodies, resp.Body) // never read, never closed
	}, short)
	msg := ft.errorText()
	assert.Contains(t, msg, "net/http.(*persistConn).readLoop")
	assert.Contains(t, msg, "tcp ESTABLISHED")
	if originsHere(t) {
		// Dialed in the Transport's own goroutine: no user code on the
		// stack, so the origin names what started the dial.
		assert.Contains(t, msg, ", created at http.(*Transport).", msg)
		assert.NotContains(t, msg, "Syscall", msg)
	}
}
