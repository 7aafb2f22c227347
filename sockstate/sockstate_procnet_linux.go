package sockstate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/leakcheck/go/internal/procnet"
	"github.com/leakcheck/go/internal/sockdiag"
)

// viaProc reads the given tables from /proc/PID/net.
func (c *collector) viaProc(ts []table) error {
	dir := "/proc/self/net/"
	if c.pid != 0 {
		dir = "/proc/" + strconv.Itoa(c.pid) + "/net/"
	}
	for _, t := range ts {
		if c.done(t) {
			continue
		}
		b, err := os.ReadFile(dir + t.name)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && t.family == sockdiag.AFInet6 {
				continue // no IPv6 in this kernel: no such sockets either
			}
			return procErr(c.pid, "reading "+dir+t.name, err)
		}
		c.source("proc")
		if t.family == sockdiag.AFUnix {
			err = procnet.ParseUnix(b, c.procUnix)
		} else {
			err = procnet.ParseInet(b, binary.NativeEndian, func(e *procnet.InetEntry) { c.procInet(t, e) })
		}
		if err != nil {
			return fmt.Errorf("sockstate: %s%s: %w", dir, t.name, err)
		}
	}
	return nil
}

func (c *collector) procInet(t table, e *procnet.InetEntry) {
	s := Socket{
		Inode:  e.Inode,
		Proto:  t.proto,
		State:  State(e.State),
		Local:  addrPort(e.IPv6, &e.Local, e.LocalPort),
		Remote: addrPort(e.IPv6, &e.Remote, e.RemotePort),
		RecvQ:  e.RxQueue,
		SendQ:  e.TxQueue,
		UID:    e.UID,
	}
	if e.Inode == 0 {
		if c.cfg.orphans && t.protocol == sockdiag.ProtoTCP && c.cfg.wantOrphan(e.LocalPort, e.RemotePort) && !c.countOnly {
			s.FD = -1
			c.orphans = append(c.orphans, s)
		}
		return
	}
	fd, ok := c.want[e.Inode]
	if !ok {
		return
	}
	s.FD = fd
	c.emit(s)
}

func (c *collector) procUnix(e *procnet.UnixEntry) {
	fd, ok := c.want[e.Inode]
	if !ok {
		return
	}
	s := Socket{Inode: e.Inode, FD: fd, Proto: unixProto(int(e.Type))}
	switch {
	case e.Flags&procnet.AcceptCon != 0:
		s.State = Listen
	case e.State == 3: // SS_CONNECTED
		s.State = Established
	case e.State == 2: // SS_CONNECTING
		s.State = SynSent
	default:
		s.State = Closed
	}
	if !c.countOnly {
		s.UnixPath = string(e.Path)
	}
	c.emit(s)
}
