// Package healthmonitor is a monitor that checks a director over HTTP
// every tick, the software behind the "ESTABLISHED then CLOSE_WAIT, two a
// minute" incident.
//
// A Monitor sends GET URL on every tick with one HTTP client for its whole
// life, reads each response to the end and closes it, so the connection
// goes back to the client's pool and the next check reuses it. When the
// director closes the idle connection, the client sees it and closes its
// end.
//
// With Buggy set, a check reproduces the incident: it makes a new HTTP
// client, asks it, looks at the status code and drops the client without
// closing anything. The response is never read or closed, so the client
// never reads from the connection again: each check leaves an ESTABLISHED
// connection and two goroutines, and once the director closes its idle end,
// a socket in CLOSE_WAIT that the monitor never closes. The monitor keeps
// what its checks left open only so that Close, at shutdown, can release it.
package healthmonitor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Monitor checks a director's health endpoint.
type Monitor struct {
	URL      string        // the director's health endpoint
	Interval time.Duration // between checks in Run (1s if zero)
	Timeout  time.Duration // of one check (5s if zero)
	// Buggy makes every check use a new client and leave its response
	// open, as in the incident.
	Buggy bool

	once   sync.Once
	client *http.Client

	mu        sync.Mutex
	checks    int
	healthy   int
	abandoned []*http.Response // left open by buggy checks
}

func (m *Monitor) init() {
	m.once.Do(func() {
		timeout := m.Timeout
		if timeout <= 0 {
			timeout = 5 * time.Second
		}
		m.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: timeout}
	})
}

// Check checks the director once: healthy means it answered 200 OK.
func (m *Monitor) Check(ctx context.Context) (healthy bool, err error) {
	m.init()
	if m.Buggy {
		healthy, err = m.checkBuggy()
	} else {
		healthy, err = m.check(ctx)
	}
	m.mu.Lock()
	m.checks++
	if healthy {
		m.healthy++
	}
	m.mu.Unlock()
	return healthy, err
}

func (m *Monitor) check(ctx context.Context) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.URL, nil)
	if err != nil {
		return false, err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	// Read to the end, so the connection can serve the next check.
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)); err != nil {
		return false, err
	}
	return resp.StatusCode == http.StatusOK, nil
}

func (m *Monitor) checkBuggy() (bool, error) {
	client := &http.Client{Transport: &http.Transport{}} // BUG: a new client per check, never closed
	resp, err := client.Get(m.URL)
	if err != nil {
		return false, err
	}
	m.mu.Lock()
	m.abandoned = append(m.abandoned, resp) // BUG: the response is never read or closed
	m.mu.Unlock()
	return resp.StatusCode == http.StatusOK, nil
}

// Run checks the director every Interval until ctx is done.
func (m *Monitor) Run(ctx context.Context) {
	interval := m.Interval
	if interval <= 0 {
		interval = time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if ctx.Err() != nil {
				return // both were ready: done wins, no check started cancelled
			}
			m.Check(ctx)
		}
	}
}

// Stats returns how many checks ran and how many found the director
// healthy.
func (m *Monitor) Stats() (checks, healthy int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.checks, m.healthy
}

// Close releases the monitor's connections, and whatever buggy checks left
// open.
func (m *Monitor) Close() error {
	m.init()
	m.client.CloseIdleConnections()
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, resp := range m.abandoned {
		errs = append(errs, resp.Body.Close())
	}
	m.abandoned = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("healthmonitor: close: %w", err)
	}
	return nil
}
