//go:build linux && !386 && !libpcap

package capture

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
	"unsafe"
)

// Linux constants the syscall package does not all name.
const (
	ethPAll             = 0x0003 // ETH_P_ALL
	packetAddMembership = 1      // PACKET_ADD_MEMBERSHIP
	packetMRPromisc     = 1      // PACKET_MR_PROMISC
	packetStatistics    = 6      // PACKET_STATISTICS
	packetOutgoing      = 4      // PACKET_OUTGOING
	packetAuxdata       = 8      // PACKET_AUXDATA
	arphrdEther         = 1      // ARPHRD_ETHER
	arphrdLoopback      = 772    // ARPHRD_LOOPBACK
	arphrdNone          = 0xFFFE // ARPHRD_NONE: tun devices, raw IP
)

// packetMreq is struct packet_mreq.
type packetMreq struct {
	ifindex int32
	typ     uint16
	alen    uint16
	address [8]byte
}

// tpacketStats is struct tpacket_stats.
type tpacketStats struct {
	packets uint32
	drops   uint32
}

// tpacketAuxdata is struct tpacket_auxdata, the PACKET_AUXDATA control
// message.
type tpacketAuxdata struct {
	status   uint32
	len      uint32 // length on the wire
	snaplen  uint32
	mac, net uint16
	vlanTCI  uint16
	vlanTPID uint16
}

// sockFprog is struct sock_fprog.
type sockFprog struct {
	len    uint16
	filter *BPFInstruction
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// afPacket reads one interface through an AF_PACKET socket, one packet per
// recvmsg, with kernel timestamps (SO_TIMESTAMPNS) and a receive timeout
// (SO_RCVTIMEO) so that Next returns ErrTimeout when the link is quiet.
type afPacket struct {
	fd       int
	name     string
	loopback bool
	link     LinkType
	snap     int

	buf  []byte
	oob  []byte
	from syscall.RawSockaddrLinklayer
	iov  syscall.Iovec
	msg  syscall.Msghdr

	captured      uint64
	kernelDropped uint64
	err           error
}

// OpenLive starts capturing on the interface called name.
//
// Errors wrap ErrNoSuchInterface, ErrPermission (no root or CAP_NET_RAW),
// ErrFilter (an expression tcpdump rejects) or ErrNoFilterCompiler.
func OpenLive(name string, o LiveOptions) (LiveSource, error) {
	o = o.withDefaults()
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, &LiveError{Op: "open", Iface: name, Err: ErrNoSuchInterface}
	}
	// Protocol 0: the socket receives nothing until it is bound with
	// ETH_P_ALL, after the filter is in place, so no unfiltered packet
	// slips in.
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return nil, &LiveError{Op: "open", Iface: name, Err: ErrPermission, Detail: err.Error()}
		}
		return nil, &LiveError{Op: "open", Iface: name, Err: err, Detail: "AF_PACKET socket"}
	}
	s := &afPacket{fd: fd, name: name, snap: o.SnapLen}
	if err := s.setup(ifi, o); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return s, nil
}

func (s *afPacket) fail(detail string, err error) error {
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		return &LiveError{Op: "open", Iface: s.name, Err: ErrPermission, Detail: detail + ": " + err.Error()}
	}
	return &LiveError{Op: "open", Iface: s.name, Err: err, Detail: detail}
}

func (s *afPacket) setup(ifi *net.Interface, o LiveOptions) error {
	sa := &syscall.SockaddrLinklayer{Ifindex: ifi.Index}
	if err := syscall.Bind(s.fd, sa); err != nil {
		return s.fail("bind", err)
	}
	got, err := syscall.Getsockname(s.fd)
	if err != nil {
		return s.fail("getsockname", err)
	}
	ll, ok := got.(*syscall.SockaddrLinklayer)
	if !ok {
		return s.fail("getsockname", errors.New("not a link-layer address"))
	}
	switch ll.Hatype {
	case arphrdEther:
		s.link = LinkTypeEthernet
	case arphrdLoopback:
		s.link = LinkTypeEthernet
		s.loopback = true
	case arphrdNone:
		s.link = LinkTypeRaw
	default:
		return &LiveError{Op: "open", Iface: s.name, Err: fmt.Errorf("hardware type ARPHRD %d is not supported by this build", ll.Hatype)}
	}

	prog, err := CompileFilter(o.Filter, s.link, s.snap)
	if err != nil {
		return err
	}
	if len(prog) > 0 {
		fp := sockFprog{len: uint16(len(prog)), filter: &prog[0]}
		if err := setsockopt(s.fd, syscall.SOL_SOCKET, syscall.SO_ATTACH_FILTER, unsafe.Pointer(&fp), unsafe.Sizeof(fp)); err != nil {
			return &LiveError{Op: "filter", Iface: s.name, Err: fmt.Errorf("%w: the kernel refused the program: %v", ErrFilter, err)}
		}
	}
	if o.Promiscuous {
		mr := packetMreq{ifindex: int32(ifi.Index), typ: packetMRPromisc}
		if err := setsockopt(s.fd, syscall.SOL_PACKET, packetAddMembership, unsafe.Pointer(&mr), unsafe.Sizeof(mr)); err != nil {
			return s.fail("promiscuous mode", err)
		}
	}
	if err := syscall.SetsockoptInt(s.fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1); err != nil {
		return s.fail("SO_TIMESTAMPNS", err)
	}
	// The filter's snap length cuts packets in the kernel: their length on
	// the wire comes in the auxiliary data.
	if err := syscall.SetsockoptInt(s.fd, syscall.SOL_PACKET, packetAuxdata, 1); err != nil {
		return s.fail("PACKET_AUXDATA", err)
	}
	tv := syscall.NsecToTimeval(o.Timeout.Nanoseconds())
	if err := syscall.SetsockoptTimeval(s.fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return s.fail("SO_RCVTIMEO", err)
	}
	// SO_RCVBUFFORCE passes net.core.rmem_max when permitted (root or
	// CAP_NET_ADMIN); otherwise the kernel caps SO_RCVBUF.
	if err := syscall.SetsockoptInt(s.fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, o.BufferSize); err != nil {
		syscall.SetsockoptInt(s.fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, o.BufferSize)
	}
	sa.Protocol = htons(ethPAll)
	if err := syscall.Bind(s.fd, sa); err != nil {
		return s.fail("bind", err)
	}

	s.buf = make([]byte, s.snap)
	s.oob = make([]byte, syscall.CmsgSpace(int(unsafe.Sizeof(syscall.Timespec{})))+syscall.CmsgSpace(int(unsafe.Sizeof(tpacketAuxdata{}))))
	s.iov.Base = &s.buf[0]
	s.iov.SetLen(len(s.buf))
	s.msg.Name = (*byte)(unsafe.Pointer(&s.from))
	s.msg.Iov = &s.iov
	s.msg.Iovlen = 1
	s.msg.Control = &s.oob[0]
	return nil
}

func setsockopt(fd, level, opt int, p unsafe.Pointer, size uintptr) error {
	_, _, e := syscall.Syscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt), uintptr(p), size, 0)
	if e != 0 {
		return e
	}
	return nil
}

// Next returns the next packet; Data is valid until the next call.
func (s *afPacket) Next() (Packet, error) {
	if s.err != nil {
		return Packet{}, s.err
	}
	for {
		s.msg.Namelen = uint32(unsafe.Sizeof(s.from))
		s.msg.SetControllen(len(s.oob))
		s.msg.Flags = 0
		n, _, e := syscall.Syscall(syscall.SYS_RECVMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.msg)), syscall.MSG_TRUNC)
		if e != 0 {
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return Packet{Timestamp: time.Now()}, ErrTimeout
			}
			s.err = &LiveError{Op: "read", Iface: s.name, Err: e}
			return Packet{}, s.err
		}
		if s.loopback && s.from.Pkttype == packetOutgoing {
			// Loopback hands every packet up twice, going out and
			// coming in; keep one, as libpcap does.
			continue
		}
		// With MSG_TRUNC, n is the length of the packet as the kernel
		// kept it, which the filter may have cut to the snap length.
		kept := int(n)
		caplen := min(kept, len(s.buf))
		ts, wire := s.control()
		if wire < kept {
			wire = kept
		}
		s.captured++
		return Packet{
			Data:          s.buf[:caplen:caplen],
			Timestamp:     ts,
			CaptureLength: caplen,
			Length:        wire,
			LinkType:      s.link,
		}, nil
	}
}

// control reads the control messages of the packet just read: the
// kernel's receive time (the current time when it gave none) and the
// packet's length on the wire (0 when unknown).
func (s *afPacket) control() (ts time.Time, wire int) {
	oob := s.oob[:min(int(s.msg.Controllen), len(s.oob))]
	hdr := syscall.CmsgLen(0)
	for len(oob) >= hdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			break
		}
		data := oob[hdr:l]
		switch {
		case h.Level == syscall.SOL_SOCKET && h.Type == syscall.SO_TIMESTAMPNS && len(data) >= int(unsafe.Sizeof(syscall.Timespec{})):
			t := (*syscall.Timespec)(unsafe.Pointer(&data[0]))
			ts = time.Unix(int64(t.Sec), int64(t.Nsec))
		case h.Level == syscall.SOL_PACKET && h.Type == packetAuxdata && len(data) >= int(unsafe.Sizeof(tpacketAuxdata{})):
			a := (*tpacketAuxdata)(unsafe.Pointer(&data[0]))
			wire = int(a.len)
		}
		next := syscall.CmsgSpace(l - hdr)
		if next > len(oob) {
			break
		}
		oob = oob[next:]
	}
	if ts.IsZero() {
		ts = time.Now()
	}
	return ts, wire
}

// kernelStats adds the kernel's counters since the last call (reading
// PACKET_STATISTICS resets them).
func (s *afPacket) kernelStats() {
	if s.fd < 0 {
		return
	}
	var st tpacketStats
	size := uint32(unsafe.Sizeof(st))
	_, _, e := syscall.Syscall6(syscall.SYS_GETSOCKOPT, uintptr(s.fd), syscall.SOL_PACKET, packetStatistics,
		uintptr(unsafe.Pointer(&st)), uintptr(unsafe.Pointer(&size)), 0)
	if e == 0 {
		s.kernelDropped += uint64(st.drops)
	}
}

func (s *afPacket) Stats() LiveStats {
	s.kernelStats()
	return LiveStats{Captured: s.captured, KernelDropped: s.kernelDropped, KernelDroppedKnown: true}
}

func (s *afPacket) Interface() string  { return s.name }
func (s *afPacket) LinkType() LinkType { return s.link }
func (s *afPacket) SnapLen() int       { return s.snap }

// Close stops the capture; Stats stays valid.
func (s *afPacket) Close() error {
	if s.fd < 0 {
		return nil
	}
	s.kernelStats()
	err := syscall.Close(s.fd)
	s.fd = -1
	if s.err == nil {
		s.err = errClosed
	}
	return err
}

// Interfaces lists the network interfaces.
func Interfaces() ([]Interface, error) {
	return netInterfaces()
}
