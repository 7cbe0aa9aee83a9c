package capture

import (
	"encoding/binary"
	"errors"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Decoding layers the package adds to gopacket's: Linux cooked capture v2
// (gopacket v1.1.19 has none), and small versions of Linux cooked capture
// v1, IPv6 and the IPv6 fragment header that never panic, never allocate and
// keep what the Decoder needs to classify a packet.

// LayerTypeLinuxSLL2 is the layer type of a Linux cooked capture v2 header.
var LayerTypeLinuxSLL2 = gopacket.RegisterLayerType(1276, gopacket.LayerTypeMetadata{
	Name:    "LinuxSLL2",
	Decoder: gopacket.DecodeFunc(func([]byte, gopacket.PacketBuilder) error { return errUseDecoder }),
})

var errUseDecoder = errors.New("capture: LinuxSLL2 is decoded by capture.Decoder only")

// Errors of the layers below, made once so that a damaged packet costs no
// allocation either.
var (
	errShortSLL  = errors.New("linux cooked header cut short")
	errShortIPv6 = errors.New("IPv6 header cut short")
	errNotIPv6   = errors.New("IPv6 header with another version")
	errShortFrag = errors.New("IPv6 fragment header cut short")
)

// sll decodes the 16-byte Linux cooked capture v1 header (LINKTYPE_LINUX_SLL):
// packet type, ARPHRD type, address length, 8 address bytes, protocol.
type sll struct {
	proto   layers.EthernetType
	payload []byte
}

func (s *sll) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 16 {
		return errShortSLL
	}
	s.proto = layers.EthernetType(binary.BigEndian.Uint16(data[14:]))
	s.payload = data[16:]
	return nil
}
func (s *sll) CanDecode() gopacket.LayerClass                                 { return layers.LayerTypeLinuxSLL }
func (s *sll) NextLayerType() gopacket.LayerType                              { return s.proto.LayerType() }
func (s *sll) LayerPayload() []byte                                           { return s.payload }
func (s *sll2) CanDecode() gopacket.LayerClass                                { return LayerTypeLinuxSLL2 }
func (s *sll2) NextLayerType() gopacket.LayerType                             { return s.proto.LayerType() }
func (s *sll2) LayerPayload() []byte                                          { return s.payload }
func (f *ipv6Frag) CanDecode() gopacket.LayerClass                            { return layers.LayerTypeIPv6Fragment }
func (f *ipv6Frag) LayerPayload() []byte                                      { return f.payload }
func (ip *ipv6) CanDecode() gopacket.LayerClass                               { return layers.LayerTypeIPv6 }
func (ip *ipv6) NextLayerType() gopacket.LayerType                            { return ip.next.LayerType() }
func (ip *ipv6) LayerPayload() []byte                                         { return ip.payload }
func (f *ipv6Frag) isFragment() bool                                          { return f.offset != 0 || f.more }
func (ip *ipv6) flow() gopacket.Flow                                          { return gopacket.NewFlow(layers.EndpointIPv6, ip.src, ip.dst) }
func (s *sll2) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error { return s.decode(data) }

// sll2 decodes the 20-byte Linux cooked capture v2 header
// (LINKTYPE_LINUX_SLL2): protocol, reserved, interface index, ARPHRD type,
// packet type, address length, 8 address bytes.
type sll2 struct {
	proto   layers.EthernetType
	ifindex uint32
	payload []byte
}

func (s *sll2) decode(data []byte) error {
	if len(data) < 20 {
		return errShortSLL
	}
	s.proto = layers.EthernetType(binary.BigEndian.Uint16(data))
	s.ifindex = binary.BigEndian.Uint32(data[4:])
	s.payload = data[20:]
	return nil
}

// ipv6 decodes the fixed IPv6 header. Extension headers are separate layers.
type ipv6 struct {
	src, dst []byte
	next     layers.IPProtocol
	payload  []byte
	// short is set when the payload length says more than was captured.
	short bool
}

func (ip *ipv6) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	ip.short = false
	if len(data) < 40 {
		df.SetTruncated()
		ip.short = true
		return errShortIPv6
	}
	if data[0]>>4 != 6 {
		return errNotIPv6
	}
	n := int(binary.BigEndian.Uint16(data[4:]))
	ip.next = layers.IPProtocol(data[6])
	ip.src = data[8:24]
	ip.dst = data[24:40]
	ip.payload = data[40:]
	switch {
	case n == 0:
		// A jumbogram, or a packet captured before segmentation offload
		// filled in the length: take what was captured.
	case n <= len(ip.payload):
		ip.payload = ip.payload[:n]
	default:
		ip.short = true
		df.SetTruncated()
	}
	return nil
}

// ipv6Frag decodes the IPv6 fragment extension header. A packet that is a
// real fragment (offset or more-fragments set) leads nowhere; an atomic
// fragment (RFC 6946) is decoded on.
type ipv6Frag struct {
	next    layers.IPProtocol
	offset  uint16
	more    bool
	payload []byte
}

func (f *ipv6Frag) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 8 {
		df.SetTruncated()
		return errShortFrag
	}
	f.next = layers.IPProtocol(data[0])
	v := binary.BigEndian.Uint16(data[2:])
	f.offset = v >> 3
	f.more = v&1 != 0
	f.payload = data[8:]
	return nil
}

func (f *ipv6Frag) NextLayerType() gopacket.LayerType {
	if f.isFragment() {
		return gopacket.LayerTypeFragment
	}
	return f.next.LayerType()
}
