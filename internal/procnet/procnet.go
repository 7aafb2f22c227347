package procnet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// InetEntry is one line of /proc/PID/net/{tcp,tcp6,udp,udp6}:
//
//	sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode …
//	0: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 …
type InetEntry struct {
	IPv6       bool
	Local      [16]byte // an IPv4 address fills the first 4 bytes
	Remote     [16]byte
	LocalPort  uint16
	RemotePort uint16
	State      uint8 // TCP state number; UDP uses 1 connected, 7 unconnected
	TxQueue    uint32
	RxQueue    uint32
	UID        uint32
	Inode      uint64 // 0 for sockets no file refers to (TIME_WAIT, orphans)
}

// UnixEntry is one line of /proc/PID/net/unix:
//
//	Num       RefCount Protocol Flags    Type St Inode Path
//	0000000000000000: 00000002 00000000 00010000 0001 01 12345 /run/x.sock
type UnixEntry struct {
	Flags uint32 // 0x10000 (__SO_ACCEPTCON) on a listening socket
	Type  uint16 // SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_SEQPACKET 5
	State uint8  // socket_state: 1 unconnected, 2 connecting, 3 connected, 4 disconnecting
	Inode uint64
	// Path is the bound address as the kernel prints it: a path, or "@"
	// and the abstract name with each NUL byte shown as '@'. Empty when
	// unbound. It points into the parsed buffer.
	Path []byte
}

// AcceptCon is the UnixEntry.Flags bit of a listening socket.
const AcceptCon = 0x10000

// ParseInet parses the text of a tcp, tcp6, udp or udp6 table, calling fn
// for each socket with a record reused across calls. The kernel prints each
// 32-bit word of an address as a hexadecimal number in the byte order of the
// machine it runs on; order names it (binary.NativeEndian for a live file).
func ParseInet(b []byte, order binary.ByteOrder, fn func(*InetEntry)) error {
	var e InetEntry
	var lf lineFields
	return eachLine(b, func(n int, line []byte) error {
		f := lf.split(line)
		if len(f.f) < 10 {
			return fmt.Errorf("procnet: line %d: %d fields, want at least 10", n, len(f.f))
		}
		if len(f.f[0]) < 2 || f.f[0][len(f.f[0])-1] != ':' {
			return fmt.Errorf("procnet: line %d: slot %q does not end in ':'", n, f.f[0])
		}
		e = InetEntry{}
		var err error
		if e.IPv6, e.LocalPort, err = parseAddr(f.f[1], order, &e.Local); err != nil {
			return fmt.Errorf("procnet: line %d: local address: %w", n, err)
		}
		var v6 bool
		if v6, e.RemotePort, err = parseAddr(f.f[2], order, &e.Remote); err != nil {
			return fmt.Errorf("procnet: line %d: remote address: %w", n, err)
		}
		if v6 != e.IPv6 {
			return fmt.Errorf("procnet: line %d: local and remote address of different families", n)
		}
		st, err := hex(f.f[3], 2)
		if err != nil {
			return fmt.Errorf("procnet: line %d: state: %w", n, err)
		}
		e.State = uint8(st)
		tx, rx, ok := bytes.Cut(f.f[4], []byte{':'})
		if !ok {
			return fmt.Errorf("procnet: line %d: queues %q, want tx:rx", n, f.f[4])
		}
		tq, err := hex(tx, 8)
		if err != nil {
			return fmt.Errorf("procnet: line %d: tx_queue: %w", n, err)
		}
		rq, err := hex(rx, 8)
		if err != nil {
			return fmt.Errorf("procnet: line %d: rx_queue: %w", n, err)
		}
		e.TxQueue, e.RxQueue = uint32(tq), uint32(rq)
		uid, err := dec(f.f[7], 32)
		if err != nil {
			return fmt.Errorf("procnet: line %d: uid: %w", n, err)
		}
		e.UID = uint32(uid)
		if e.Inode, err = dec(f.f[9], 64); err != nil {
			return fmt.Errorf("procnet: line %d: inode: %w", n, err)
		}
		fn(&e)
		return nil
	})
}

// ParseUnix parses the text of /proc/PID/net/unix.
func ParseUnix(b []byte, fn func(*UnixEntry)) error {
	var e UnixEntry
	var lf lineFields
	return eachLine(b, func(n int, line []byte) error {
		f := lf.split(line)
		if len(f.f) < 7 {
			return fmt.Errorf("procnet: line %d: %d fields, want at least 7", n, len(f.f))
		}
		if len(f.f[0]) < 2 || f.f[0][len(f.f[0])-1] != ':' {
			return fmt.Errorf("procnet: line %d: slot %q does not end in ':'", n, f.f[0])
		}
		e = UnixEntry{}
		flags, err := hex(f.f[3], 8)
		if err != nil {
			return fmt.Errorf("procnet: line %d: flags: %w", n, err)
		}
		typ, err := hex(f.f[4], 4)
		if err != nil {
			return fmt.Errorf("procnet: line %d: type: %w", n, err)
		}
		st, err := hex(f.f[5], 2)
		if err != nil {
			return fmt.Errorf("procnet: line %d: state: %w", n, err)
		}
		if e.Inode, err = dec(f.f[6], 64); err != nil {
			return fmt.Errorf("procnet: line %d: inode: %w", n, err)
		}
		e.Flags, e.Type, e.State = uint32(flags), uint16(typ), uint8(st)
		// The path is everything after the single space that follows the
		// inode: it may itself hold spaces.
		if rest := line[f.end[6]:]; len(rest) > 1 && rest[0] == ' ' {
			e.Path = rest[1:]
		}
		fn(&e)
		return nil
	})
}

// ErrHeader reports a table whose first line is not the kernel's header.
var ErrHeader = errors.New("procnet: missing header line")

// eachLine calls fn for every line after the header, numbering lines from 1
// (the header). A file without the header is an error: it is not a table.
func eachLine(b []byte, fn func(n int, line []byte) error) error {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return ErrHeader
	}
	if h := b[:i]; !bytes.HasPrefix(bytes.TrimLeft(h, " "), []byte("sl ")) && !bytes.HasPrefix(h, []byte("Num ")) {
		return fmt.Errorf("%w: got %q", ErrHeader, truncate(h))
	}
	b = b[i+1:]
	for n := 2; len(b) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	return nil
}

func truncate(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}

// lineFields holds up to 12 space-separated fields of a line without
// allocating, and where each ends.
type lineFields struct {
	f   [][]byte
	arr [12][]byte
	end [12]int
}

func (lf *lineFields) split(line []byte) *lineFields {
	lf.f = lf.arr[:0]
	i := 0
	for i < len(line) && len(lf.f) < len(lf.arr) {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		if j > i {
			lf.end[len(lf.f)] = j
			lf.f = append(lf.f, line[i:j])
		}
		i = j
	}
	return lf
}

// parseAddr parses "0100007F:0050" (IPv4) or 32 hex digits and a port
// (IPv6), storing the address bytes in a.
func parseAddr(s []byte, order binary.ByteOrder, a *[16]byte) (v6 bool, port uint16, err error) {
	ip, p, ok := bytes.Cut(s, []byte{':'})
	if !ok {
		return false, 0, fmt.Errorf("%q: want ADDR:PORT", s)
	}
	switch len(ip) {
	case 8:
	case 32:
		v6 = true
	default:
		return false, 0, fmt.Errorf("%q: address of %d hex digits, want 8 or 32", s, len(ip))
	}
	for w := 0; w < len(ip)/8; w++ {
		v, err := hex(ip[w*8:w*8+8], 8)
		if err != nil {
			return false, 0, err
		}
		order.PutUint32(a[w*4:], uint32(v))
	}
	pv, err := hex(p, 4)
	if err != nil {
		return false, 0, fmt.Errorf("port: %w", err)
	}
	return v6, uint16(pv), nil
}

// hex parses 1 to max hexadecimal digits.
func hex(s []byte, max int) (uint64, error) {
	if len(s) == 0 || len(s) > max {
		return 0, fmt.Errorf("%q: want 1 to %d hex digits", s, max)
	}
	var v uint64
	for _, c := range s {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, fmt.Errorf("%q: not hexadecimal", s)
		}
		v = v<<4 | uint64(d)
	}
	return v, nil
}

// dec parses an unsigned decimal number that fits in bits bits.
func dec(s []byte, bits int) (uint64, error) {
	if len(s) == 0 || len(s) > 20 {
		return 0, fmt.Errorf("%q: not a decimal number", s)
	}
	var v uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q: not a decimal number", s)
		}
		d := uint64(c - '0')
		if v > (^uint64(0)-d)/10 {
			return 0, fmt.Errorf("%q: out of range", s)
		}
		v = v*10 + d
	}
	if bits < 64 && v>>bits != 0 {
		return 0, fmt.Errorf("%q: out of range for %d bits", s, bits)
	}
	return v, nil
}
