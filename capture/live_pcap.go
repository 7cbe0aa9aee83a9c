//go:build libpcap

package capture

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/gopacket/pcap"
)

// pcapLive reads an interface through libpcap (gopacket/pcap), with
// libpcap's own filter compiler.
type pcapLive struct {
	h        *pcap.Handle
	name     string
	link     LinkType
	snap     int
	captured uint64
	last     pcap.Stats
	err      error
}

// OpenLive starts capturing on the interface called name through libpcap.
//
// Errors wrap ErrNoSuchInterface, ErrPermission or ErrFilter.
func OpenLive(name string, o LiveOptions) (LiveSource, error) {
	o = o.withDefaults()
	ih, err := pcap.NewInactiveHandle(name)
	if err != nil {
		return nil, pcapOpenError(name, err)
	}
	defer ih.CleanUp()
	ih.SetSnapLen(o.SnapLen)
	ih.SetPromisc(o.Promiscuous)
	ih.SetTimeout(o.Timeout)
	ih.SetBufferSize(o.BufferSize)
	ih.SetImmediateMode(true)
	h, err := ih.Activate()
	if err != nil {
		return nil, pcapOpenError(name, err)
	}
	s := &pcapLive{h: h, name: name, link: LinkType(h.LinkType()), snap: h.SnapLen()}
	if strings.TrimSpace(o.Filter) != "" {
		if err := h.SetBPFFilter(o.Filter); err != nil {
			h.Close()
			return nil, fmt.Errorf("capture: filter %q: %w: %v", o.Filter, ErrFilter, err)
		}
	}
	return s, nil
}

func pcapOpenError(name string, err error) error {
	msg := err.Error()
	l := strings.ToLower(msg)
	switch {
	case strings.Contains(l, "permission") || strings.Contains(l, "not permitted"):
		return &LiveError{Op: "open", Iface: name, Err: ErrPermission, Detail: msg}
	case strings.Contains(l, "no such device") || strings.Contains(l, "doesn't exist") || strings.Contains(l, "no such interface"):
		return &LiveError{Op: "open", Iface: name, Err: ErrNoSuchInterface, Detail: msg}
	}
	return &LiveError{Op: "open", Iface: name, Err: err}
}

// Next returns the next packet; Data is valid until the next call.
func (s *pcapLive) Next() (Packet, error) {
	if s.err != nil {
		return Packet{}, s.err
	}
	for {
		data, ci, err := s.h.ZeroCopyReadPacketData()
		switch {
		case err == nil:
			s.captured++
			return Packet{
				Data:          data,
				Timestamp:     ci.Timestamp,
				CaptureLength: ci.CaptureLength,
				Length:        ci.Length,
				LinkType:      s.link,
			}, nil
		case errors.Is(err, pcap.NextErrorTimeoutExpired):
			return Packet{Timestamp: time.Now()}, ErrTimeout
		case errors.Is(err, io.EOF):
			s.err = io.EOF
		default:
			s.err = &LiveError{Op: "read", Iface: s.name, Err: err}
		}
		return Packet{}, s.err
	}
}

func (s *pcapLive) Stats() LiveStats {
	if s.h != nil {
		if st, err := s.h.Stats(); err == nil {
			s.last = *st
		}
	}
	return LiveStats{Captured: s.captured, KernelDropped: uint64(s.last.PacketsDropped), KernelDroppedKnown: true}
}

func (s *pcapLive) Interface() string  { return s.name }
func (s *pcapLive) LinkType() LinkType { return s.link }
func (s *pcapLive) SnapLen() int       { return s.snap }

// Close stops the capture; Stats stays valid.
func (s *pcapLive) Close() error {
	if s.h == nil {
		return nil
	}
	s.Stats()
	s.h.Close()
	s.h = nil
	if s.err == nil {
		s.err = errClosed
	}
	return nil
}

// Interfaces lists the interfaces libpcap can capture.
func Interfaces() ([]Interface, error) {
	devs, err := pcap.FindAllDevs()
	if err != nil {
		return nil, fmt.Errorf("capture: listing interfaces: %w", err)
	}
	out := make([]Interface, 0, len(devs))
	for _, d := range devs {
		i := Interface{
			Name:        d.Name,
			Description: d.Description,
			Up:          d.Flags&0x2 != 0, // PCAP_IF_UP
			Running:     d.Flags&0x4 != 0, // PCAP_IF_RUNNING
			Loopback:    d.Flags&0x1 != 0, // PCAP_IF_LOOPBACK
		}
		for _, a := range d.Addresses {
			if ones, _ := a.Netmask.Size(); a.Netmask != nil {
				i.Addresses = append(i.Addresses, fmt.Sprintf("%s/%d", a.IP, ones))
			} else {
				i.Addresses = append(i.Addresses, a.IP.String())
			}
		}
		out = append(out, i)
	}
	return out, nil
}
