// Package createdby buffers metrics and flushes them in the background.
package createdby

import (
	"sync"
	"time"
)

// Metrics counts events and flushes the counts every interval.
type Metrics struct {
	mu     sync.Mutex
	counts map[string]int
	sink   func(map[string]int)
}

// StartBackground starts the process's flushers: one for metrics, one that
// samples runtime statistics. They run for the life of the process.
func StartBackground(m *Metrics, every time.Duration) {
	go m.flushEvery(every)
	go func() {
		for range time.Tick(every) {
			m.Add("runtime.samples", 1)
		}
	}()
}

func (m *Metrics) flushEvery(d time.Duration) {
	for range time.Tick(d) {
		m.Flush()
	}
}

// Add counts n events of name.
func (m *Metrics) Add(name string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.counts == nil {
		m.counts = map[string]int{}
	}
	m.counts[name] += n
}

// Flush hands the counts to the sink and resets them.
func (m *Metrics) Flush() {
	m.mu.Lock()
	c := m.counts
	m.counts = nil
	m.mu.Unlock()
	if m.sink != nil && c != nil {
		m.sink(c)
	}
}
