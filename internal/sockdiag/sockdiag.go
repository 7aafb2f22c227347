package sockdiag

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
)

// Netlink framing, from include/uapi/linux/netlink.h.
const (
	nlmsgHdrLen = 16 // struct nlmsghdr: len u32, type u16, flags u16, seq u32, pid u32
	nlaHdrLen   = 4  // struct nlattr: len u16, type u16

	nlmsgError = 2 // NLMSG_ERROR
	nlmsgDone  = 3 // NLMSG_DONE

	flagRequest = 0x1   // NLM_F_REQUEST
	flagDump    = 0x300 // NLM_F_ROOT|NLM_F_MATCH
)

// SockDiagByFamily is the request type of every dump (SOCK_DIAG_BY_FAMILY,
// include/uapi/linux/sock_diag.h).
const SockDiagByFamily = 20

// Address families and protocols a request names.
const (
	AFUnix  = 1  // AF_UNIX
	AFInet  = 2  // AF_INET
	AFInet6 = 10 // AF_INET6

	ProtoTCP = 6  // IPPROTO_TCP
	ProtoUDP = 17 // IPPROTO_UDP
)

// What a unix_diag request asks the kernel to add to each socket, as
// attributes (UDIAG_SHOW_*, include/uapi/linux/unix_diag.h).
const (
	UnixShowName  = 0x01 // UDIAG_SHOW_NAME: the bound address
	UnixShowPeer  = 0x04 // UDIAG_SHOW_PEER: the peer's inode
	UnixShowRQLen = 0x10 // UDIAG_SHOW_RQLEN: receive and send queue
	UnixShowUID   = 0x40 // UDIAG_SHOW_UID: the owner (Linux ≥ 5.3)
)

// Attribute types of a unix_diag reply (enum in include/uapi/linux/unix_diag.h).
const (
	unixDiagName  = 0 // UNIX_DIAG_NAME
	unixDiagPeer  = 2 // UNIX_DIAG_PEER
	unixDiagRQLen = 4 // UNIX_DIAG_RQLEN
	unixDiagUID   = 7 // UNIX_DIAG_UID
)

// Sizes of the kernel structures mirrored below.
const (
	inetDiagSockIDLen = 48 // struct inet_diag_sockid
	inetDiagReqV2Len  = 8 + inetDiagSockIDLen
	inetDiagMsgLen    = 4 + inetDiagSockIDLen + 20
	unixDiagReqLen    = 24
	unixDiagMsgLen    = 16
)

// inetDiagReqV2 mirrors struct inet_diag_req_v2 (include/uapi/linux/inet_diag.h):
//
//	__u8  sdiag_family;
//	__u8  sdiag_protocol;
//	__u8  idiag_ext;
//	__u8  pad;
//	__u32 idiag_states;
//	struct inet_diag_sockid id; // 48 bytes, all zero for a dump
type inetDiagReqV2 struct {
	family   uint8
	protocol uint8
	ext      uint8
	states   uint32
}

func (r inetDiagReqV2) put(b []byte) {
	b[0], b[1], b[2], b[3] = r.family, r.protocol, r.ext, 0
	binary.NativeEndian.PutUint32(b[4:], r.states)
	clear(b[8:inetDiagReqV2Len])
}

// unixDiagReq mirrors struct unix_diag_req (include/uapi/linux/unix_diag.h):
//
//	__u8  sdiag_family;
//	__u8  sdiag_protocol;
//	__u16 pad;
//	__u32 udiag_states;
//	__u32 udiag_ino;
//	__u32 udiag_show;
//	__u32 udiag_cookie[2];
type unixDiagReq struct {
	states uint32
	show   uint32
}

func (r unixDiagReq) put(b []byte) {
	clear(b[:unixDiagReqLen])
	b[0] = AFUnix
	binary.NativeEndian.PutUint32(b[4:], r.states)
	binary.NativeEndian.PutUint32(b[12:], r.show)
}

func putHeader(b []byte, total int, seq uint32) {
	binary.NativeEndian.PutUint32(b[0:], uint32(total))
	binary.NativeEndian.PutUint16(b[4:], SockDiagByFamily)
	binary.NativeEndian.PutUint16(b[6:], flagRequest|flagDump)
	binary.NativeEndian.PutUint32(b[8:], seq)
	binary.NativeEndian.PutUint32(b[12:], 0)
}

// AllStates selects every state in a request's state mask.
const AllStates = ^uint32(0)

// InetRequest returns a netlink message asking for a dump of every socket of
// family (AFInet, AFInet6) and protocol (ProtoTCP, ProtoUDP) whose state is
// in states, a mask with bit N set for TCP state N.
func InetRequest(seq uint32, family, protocol uint8, states uint32) []byte {
	b := make([]byte, nlmsgHdrLen+inetDiagReqV2Len)
	putHeader(b, len(b), seq)
	inetDiagReqV2{family: family, protocol: protocol, states: states}.put(b[nlmsgHdrLen:])
	return b
}

// UnixRequest returns a netlink message asking for a dump of every unix
// socket whose state is in states, with the attributes show selects
// (UnixShow*).
func UnixRequest(seq uint32, states, show uint32) []byte {
	b := make([]byte, nlmsgHdrLen+unixDiagReqLen)
	putHeader(b, len(b), seq)
	unixDiagReq{states: states, show: show}.put(b[nlmsgHdrLen:])
	return b
}

// InetSock is one socket of an inet_diag reply: struct inet_diag_msg
// (include/uapi/linux/inet_diag.h), decoded.
//
//	__u8  idiag_family, idiag_state, idiag_timer, idiag_retrans;
//	struct inet_diag_sockid id; // sport, dport (__be16), src[4], dst[4] (__be32), if, cookie[2]
//	__u32 idiag_expires, idiag_rqueue, idiag_wqueue, idiag_uid, idiag_inode;
type InetSock struct {
	Family  uint8
	State   uint8 // TCP state number; UDP uses 1 connected, 7 unconnected
	SrcPort uint16
	DstPort uint16
	Src     [16]byte // an IPv4 address fills the first 4 bytes
	Dst     [16]byte
	IfIndex uint32
	RQueue  uint32
	WQueue  uint32
	UID     uint32
	Inode   uint32 // 0 for sockets no file refers to (TIME_WAIT, orphans)
}

// UnixSock is one socket of a unix_diag reply: struct unix_diag_msg
// (include/uapi/linux/unix_diag.h) and the attributes that follow it.
//
//	__u8  udiag_family, udiag_type, udiag_state, pad;
//	__u32 udiag_ino;
//	__u32 udiag_cookie[2];
type UnixSock struct {
	Type  uint8 // SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_SEQPACKET 5
	State uint8 // TCP numbering: 10 listening, 1 connected, 7 unconnected
	Inode uint32

	// Name is the bound address as UNIX_DIAG_NAME gives it: a path
	// (possibly NUL-terminated), or for an abstract socket a leading NUL
	// then the name. Nil when unbound or not requested. It points into the
	// buffer being parsed.
	Name []byte

	HasPeer bool
	Peer    uint32 // inode of the connected peer

	HasQueues bool
	RQueue    uint32
	WQueue    uint32

	HasUID bool
	UID    uint32
}

// ErrTruncated reports a reply that ends inside a message or attribute.
var ErrTruncated = errors.New("sockdiag: truncated netlink message")

// ParseInet decodes the inet_diag messages of one received buffer, calling
// fn for each socket with a record reused across calls. done is true once
// the dump's NLMSG_DONE has been seen. A message of another sequence number
// than seq, a malformed message, or an NLMSG_ERROR is an error; the kernel's
// error comes back as a syscall.Errno.
func ParseInet(b []byte, seq uint32, fn func(*InetSock)) (done bool, err error) {
	var s InetSock
	return walk(b, seq, func(p []byte) error {
		if len(p) < inetDiagMsgLen {
			return fmt.Errorf("sockdiag: inet_diag_msg of %d bytes, want %d: %w", len(p), inetDiagMsgLen, ErrTruncated)
		}
		s = InetSock{
			Family:  p[0],
			State:   p[1],
			SrcPort: binary.BigEndian.Uint16(p[4:]),
			DstPort: binary.BigEndian.Uint16(p[6:]),
		}
		copy(s.Src[:], p[8:24])
		copy(s.Dst[:], p[24:40])
		s.IfIndex = binary.NativeEndian.Uint32(p[40:])
		// cookie at 44..52, expires at 52
		s.RQueue = binary.NativeEndian.Uint32(p[56:])
		s.WQueue = binary.NativeEndian.Uint32(p[60:])
		s.UID = binary.NativeEndian.Uint32(p[64:])
		s.Inode = binary.NativeEndian.Uint32(p[68:])
		switch s.Family {
		case AFInet, AFInet6:
		default:
			return fmt.Errorf("sockdiag: inet_diag_msg of address family %d", s.Family)
		}
		// Attributes (none are requested) follow; they are skipped, but
		// must be well-formed.
		return eachAttr(p[inetDiagMsgLen:], func(uint16, []byte) error { return nil })
	}, fn, &s)
}

// ParseUnix is ParseInet for unix_diag replies.
func ParseUnix(b []byte, seq uint32, fn func(*UnixSock)) (done bool, err error) {
	var s UnixSock
	return walk(b, seq, func(p []byte) error {
		if len(p) < unixDiagMsgLen {
			return fmt.Errorf("sockdiag: unix_diag_msg of %d bytes, want %d: %w", len(p), unixDiagMsgLen, ErrTruncated)
		}
		if p[0] != AFUnix {
			return fmt.Errorf("sockdiag: unix_diag_msg of address family %d", p[0])
		}
		s = UnixSock{Type: p[1], State: p[2], Inode: binary.NativeEndian.Uint32(p[4:])}
		return eachAttr(p[unixDiagMsgLen:], func(typ uint16, v []byte) error {
			switch typ {
			case unixDiagName:
				s.Name = v
			case unixDiagPeer:
				if len(v) < 4 {
					return fmt.Errorf("sockdiag: UNIX_DIAG_PEER of %d bytes: %w", len(v), ErrTruncated)
				}
				s.HasPeer, s.Peer = true, binary.NativeEndian.Uint32(v)
			case unixDiagRQLen:
				if len(v) < 8 {
					return fmt.Errorf("sockdiag: UNIX_DIAG_RQLEN of %d bytes: %w", len(v), ErrTruncated)
				}
				s.HasQueues = true
				s.RQueue = binary.NativeEndian.Uint32(v)
				s.WQueue = binary.NativeEndian.Uint32(v[4:])
			case unixDiagUID:
				if len(v) < 4 {
					return fmt.Errorf("sockdiag: UNIX_DIAG_UID of %d bytes: %w", len(v), ErrTruncated)
				}
				s.HasUID, s.UID = true, binary.NativeEndian.Uint32(v)
			}
			return nil
		})
	}, fn, &s)
}

// walk splits b into netlink messages, decodes each payload of the diag
// reply type with decode, and hands the decoded record to fn.
func walk[T any](b []byte, seq uint32, decode func([]byte) error, fn func(*T), rec *T) (bool, error) {
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return false, fmt.Errorf("sockdiag: %d bytes left, less than a message header: %w", len(b), ErrTruncated)
		}
		n := int(binary.NativeEndian.Uint32(b))
		typ := binary.NativeEndian.Uint16(b[4:])
		mseq := binary.NativeEndian.Uint32(b[8:])
		if n < nlmsgHdrLen {
			return false, fmt.Errorf("sockdiag: message length %d is shorter than its header", n)
		}
		if n > len(b) {
			return false, fmt.Errorf("sockdiag: message of %d bytes with %d left: %w", n, len(b), ErrTruncated)
		}
		if mseq != seq {
			return false, fmt.Errorf("sockdiag: reply to sequence %d while waiting for %d", mseq, seq)
		}
		p := b[nlmsgHdrLen:n]
		switch typ {
		case nlmsgDone:
			// The dump's status follows as an int; negative is an error.
			if len(p) >= 4 {
				if code := int32(binary.NativeEndian.Uint32(p)); code < 0 {
					return true, fmt.Errorf("sockdiag: dump ended with error: %w", syscall.Errno(-code))
				}
			}
			return true, nil
		case nlmsgError:
			if len(p) < 4 {
				return false, fmt.Errorf("sockdiag: NLMSG_ERROR of %d bytes: %w", len(p), ErrTruncated)
			}
			code := int32(binary.NativeEndian.Uint32(p))
			if code == 0 {
				return true, nil // an acknowledgement
			}
			if code > 0 || code < -4095 {
				return false, fmt.Errorf("sockdiag: NLMSG_ERROR with code %d", code)
			}
			return false, fmt.Errorf("sockdiag: kernel refused the request: %w", syscall.Errno(-code))
		case SockDiagByFamily:
			if err := decode(p); err != nil {
				return false, err
			}
			fn(rec)
		default:
			return false, fmt.Errorf("sockdiag: unexpected message type %d", typ)
		}
		b = b[min(align4(n), len(b)):]
	}
	return false, nil
}

// eachAttr walks netlink attributes (struct nlattr, 4-byte aligned).
func eachAttr(b []byte, fn func(typ uint16, v []byte) error) error {
	for len(b) > 0 {
		if len(b) < nlaHdrLen {
			return fmt.Errorf("sockdiag: %d bytes left, less than an attribute header: %w", len(b), ErrTruncated)
		}
		n := int(binary.NativeEndian.Uint16(b))
		typ := binary.NativeEndian.Uint16(b[2:]) &^ 0xc000 // NLA_F_NESTED, NLA_F_NET_BYTEORDER
		if n < nlaHdrLen {
			return fmt.Errorf("sockdiag: attribute length %d is shorter than its header", n)
		}
		if n > len(b) {
			return fmt.Errorf("sockdiag: attribute of %d bytes with %d left: %w", n, len(b), ErrTruncated)
		}
		if err := fn(typ, b[nlaHdrLen:n]); err != nil {
			return err
		}
		b = b[min(align4(n), len(b)):]
	}
	return nil
}

func align4(n int) int { return (n + 3) &^ 3 }
