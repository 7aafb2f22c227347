package tcpforward

import (
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// eventLoop is an epoll instance watching one eventfd per task queue, and
// the goroutine that waits in epoll_wait and runs the queued tasks.
type eventLoop struct {
	epfd   int
	queues []*taskQueue
	next   atomic.Uint32
	stop   atomic.Bool
	done   chan struct{}
	once   sync.Once
}

type taskQueue struct {
	efd   int
	mu    sync.Mutex
	tasks []func()
}

func newEventLoop(queues int) (*eventLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	l := &eventLoop{epfd: epfd, done: make(chan struct{})}
	for range queues {
		efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err == nil {
			err = unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)})
			l.queues = append(l.queues, &taskQueue{efd: efd})
		}
		if err != nil {
			l.release()
			return nil, err
		}
	}
	go l.run()
	return l, nil
}

// submit queues task on the next queue, round robin, and wakes the loop.
func (l *eventLoop) submit(task func()) error {
	if l.stop.Load() {
		return errors.New("tcpforward: event loop closed")
	}
	q := l.queues[int(l.next.Add(1))%len(l.queues)]
	q.mu.Lock()
	q.tasks = append(q.tasks, task)
	q.mu.Unlock()
	return wake(q.efd)
}

func wake(efd int) error {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, err := unix.Write(efd, one[:])
	return err
}

func (l *eventLoop) run() {
	defer close(l.done)
	defer l.release()
	events := make([]unix.EpollEvent, len(l.queues))
	byFD := make(map[int32]*taskQueue, len(l.queues))
	for _, q := range l.queues {
		byFD[int32(q.efd)] = q
	}
	var counter [8]byte
	for !l.stop.Load() {
		n, err := unix.EpollWait(l.epfd, events, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			q := byFD[ev.Fd]
			unix.Read(q.efd, counter[:])
			q.mu.Lock()
			tasks := q.tasks
			q.tasks = nil
			q.mu.Unlock()
			for _, task := range tasks {
				task()
			}
		}
	}
}

// close stops the loop and waits until it has closed its descriptors.
func (l *eventLoop) close() error {
	var err error
	l.once.Do(func() {
		l.stop.Store(true)
		err = wake(l.queues[0].efd)
		<-l.done
	})
	return err
}

func (l *eventLoop) release() {
	for _, q := range l.queues {
		unix.Close(q.efd)
	}
	unix.Close(l.epfd)
}
