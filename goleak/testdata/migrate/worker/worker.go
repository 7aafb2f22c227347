// Package worker runs jobs on a fixed number of goroutines.
package worker

import "sync"

// Pool runs jobs on its workers until Stop.
type Pool struct {
	jobs chan func()
	quit chan struct{}
	wg   sync.WaitGroup
}

// Start starts a pool of n workers.
func Start(n int) *Pool {
	p := &Pool{jobs: make(chan func()), quit: make(chan struct{})}
	p.add(n)
	return p
}

func (p *Pool) add(n int) {
	for range n {
		p.wg.Add(1)
		go p.work(p.quit)
	}
}

func (p *Pool) work(quit chan struct{}) {
	defer p.wg.Done()
	for {
		select {
		case job := <-p.jobs:
			run(job)
		case <-quit:
			return
		}
	}
}

// run runs one job; a job that blocks keeps its worker here.
func run(job func()) { job() }

// Do runs job on a worker.
func (p *Pool) Do(job func()) { p.jobs <- job }

// Resize replaces the workers with n new ones.
//
// The bug the tests catch: the old workers are never told to quit.
func (p *Pool) Resize(n int) {
	p.quit = make(chan struct{})
	p.add(n)
}

// Stop stops the workers and waits for them.
func (p *Pool) Stop() {
	close(p.quit)
}
