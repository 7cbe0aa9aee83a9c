package capture

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Live capture.
//
// OpenLive reads packets from a network interface. The default build on
// Linux needs neither cgo nor libpcap: it reads an AF_PACKET socket and
// attaches capture filters in the kernel as classic BPF, compiled by an
// installed tcpdump (CompileFilter), so that a filter means exactly what it
// means to tcpdump. Built with the tag libpcap, the package uses libpcap
// through gopacket/pcap instead, on any system libpcap supports, with
// libpcap's own filter compiler. Other systems without that tag report
// ErrLiveUnsupported.

// DefaultReadTimeout is how long Next of a live source waits for a packet
// before it returns ErrTimeout.
const DefaultReadTimeout = 200 * time.Millisecond

// DefaultLiveBuffer is the kernel buffer asked for when LiveOptions gives
// none (the size tcpdump uses on Linux).
const DefaultLiveBuffer = 2 << 20

// LiveOptions tune OpenLive.
type LiveOptions struct {
	// SnapLen is how many bytes of each packet are kept; 0, or more than
	// MaxPacketSize, keeps MaxPacketSize.
	SnapLen int
	// Promiscuous asks the interface to pass up traffic not addressed to
	// this host.
	Promiscuous bool
	// Filter is a capture filter in pcap-filter(7) syntax; empty keeps
	// every packet.
	Filter string
	// BufferSize is the kernel buffer in bytes; 0 uses DefaultLiveBuffer.
	BufferSize int
	// Timeout is how long Next waits for a packet before it returns
	// ErrTimeout; 0 uses DefaultReadTimeout.
	Timeout time.Duration
}

func (o LiveOptions) withDefaults() LiveOptions {
	if o.SnapLen <= 0 || o.SnapLen > MaxPacketSize {
		o.SnapLen = MaxPacketSize
	}
	if o.BufferSize <= 0 {
		o.BufferSize = DefaultLiveBuffer
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultReadTimeout
	}
	return o
}

// LiveSource is a Source reading a network interface.
//
// Next returns a packet, or ErrTimeout when none came within the read
// timeout: then the Packet it returns holds only the Timestamp, the time of
// the capture clock (the wall clock) at the timeout, so that a consumer can
// let its own timers run. ErrTimeout is not sticky: Next may be called
// again. Any other error is, as for every Source.
type LiveSource interface {
	Source
	// Interface is the name of the interface being read.
	Interface() string
	// LinkType is the link type of every packet.
	LinkType() LinkType
	// SnapLen is the number of bytes kept of each packet.
	SnapLen() int
	// Stats returns the counters so far.
	Stats() LiveStats
}

// LiveStats count the packets of a live capture.
type LiveStats struct {
	// Captured counts the packets Next returned.
	Captured uint64
	// KernelDropped counts the packets that passed the filter but were
	// dropped by the kernel because the buffer was full.
	KernelDropped uint64
	// KernelDroppedKnown is false when the backend cannot tell.
	KernelDroppedKnown bool
}

// Errors of live capture, to test with errors.Is.
var (
	// ErrTimeout: no packet came within the read timeout (not a failure).
	ErrTimeout = errors.New("capture: no packet within the read timeout")
	// ErrPermission: the system refused to open the interface for capture.
	ErrPermission = errors.New("capturing is not permitted")
	// ErrNoSuchInterface: there is no interface of that name.
	ErrNoSuchInterface = errors.New("no such interface")
	// ErrFilter: the capture filter is not valid.
	ErrFilter = errors.New("invalid capture filter")
	// ErrNoFilterCompiler: nothing can compile the capture filter.
	ErrNoFilterCompiler = errors.New("no capture filter compiler")
	// ErrLiveUnsupported: this build cannot capture live on this system.
	ErrLiveUnsupported = errors.New("live capture needs the libpcap build on this system")
)

// LiveError is the error of OpenLive and of a live source: what failed
// (Op: "open", "filter", "read"), on which interface, and why.
type LiveError struct {
	Op     string
	Iface  string
	Detail string
	Err    error
}

func (e *LiveError) Error() string {
	s := fmt.Sprintf("capture: %s %q: %v", e.Op, e.Iface, e.Err)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *LiveError) Unwrap() error { return e.Err }

// Interface describes a network interface that can be captured.
type Interface struct {
	Name        string
	Description string   // empty when the system gives none
	Addresses   []string // addresses in CIDR notation
	Up          bool
	Running     bool
	Loopback    bool
}

// Flags returns the interface's state as tcpdump -D shows it:
// "Up, Running, Loopback".
func (i Interface) Flags() string {
	var s string
	add := func(ok bool, name string) {
		if !ok {
			return
		}
		if s != "" {
			s += ", "
		}
		s += name
	}
	add(i.Up, "Up")
	add(i.Running, "Running")
	add(i.Loopback, "Loopback")
	return s
}

// netInterfaces lists the interfaces the operating system reports.
func netInterfaces() ([]Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("capture: listing interfaces: %w", err)
	}
	out := make([]Interface, 0, len(ifs))
	for _, ifi := range ifs {
		i := Interface{
			Name:     ifi.Name,
			Up:       ifi.Flags&net.FlagUp != 0,
			Running:  ifi.Flags&net.FlagRunning != 0,
			Loopback: ifi.Flags&net.FlagLoopback != 0,
		}
		if addrs, err := ifi.Addrs(); err == nil {
			for _, a := range addrs {
				i.Addresses = append(i.Addresses, a.String())
			}
		}
		out = append(out, i)
	}
	return out, nil
}
