// Package pcaptest writes capture files for tests: TCP conversations
// scripted segment by segment (Conn), kept in order in a Capture that tests
// may edit (reorder, drop, duplicate), and written as pcap or pcapng for any
// of the link types wsdump decodes. IP and TCP headers are built with
// gopacket's serializer, with correct lengths and checksums. A small
// WebSocket frame and handshake builder (ws.go) makes conversations easy to
// write, and Generate makes the captures under testdata/pcaps.
//
// Everything is deterministic: timestamps come from the Capture's clock, not
// from the system's.
package pcaptest

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// LinkType is a LINKTYPE_ value. gopacket v1.1.19's layers.LinkType is a
// uint8 and cannot hold LINKTYPE_LINUX_SLL2 (276), hence this type.
type LinkType uint32

// Link types the writers emit.
const (
	LinkNull      LinkType = 0   // BSD loopback, little-endian address family
	LinkEthernet  LinkType = 1   // Ethernet II, with Capture.VLANs tags
	LinkRaw       LinkType = 101 // raw IPv4 or IPv6
	LinkLoop      LinkType = 108 // OpenBSD loopback, big-endian address family
	LinkLinuxSLL  LinkType = 113 // Linux cooked capture v1
	LinkIPv4      LinkType = 228 // raw IPv4 only
	LinkIPv6      LinkType = 229 // raw IPv6 only
	LinkLinuxSLL2 LinkType = 276 // Linux cooked capture v2
)

// Endpoint is one end of a TCP connection.
type Endpoint struct {
	IP   netip.Addr
	Port uint16
}

// TCP flag bits of Packet.Flags.
const (
	FIN = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
)

// Packet is one packet of a Capture: a TCP segment described by its fields,
// or, when IP is set, a complete IP packet written as it is.
type Packet struct {
	Time      time.Time
	Interface int // pcapng interface, see WritePcapngInterfaces
	Src, Dst  Endpoint
	Seq, Ack  uint32
	Flags     uint8
	Window    uint16
	Payload   []byte
	IP        []byte
}

// DefaultStart is the time of the first packet of a new Capture.
var DefaultStart = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// Capture is an ordered list of packets and the clock that stamps them.
// Packets may be edited freely before writing.
type Capture struct {
	Packets []Packet
	// Clock is the timestamp of the next packet added; Step is added to it
	// after each packet.
	Clock time.Time
	Step  time.Duration
	// SnapLen, when > 0, cuts longer packets to that many bytes when written
	// (the link-layer header counts), as a capture with a snaplen would.
	SnapLen int
	// VLANs are the 802.1Q tags of Ethernet frames, outermost first. With
	// two or more, all but the innermost are 802.1ad (0x88a8) tags.
	VLANs []uint16
	// LoopbackAF6 is the address family written for IPv6 on LinkNull and
	// LinkLoop: 24 (NetBSD/OpenBSD), 28 (FreeBSD) or 30 (macOS, default).
	LoopbackAF6 uint32
}

// NewCapture returns an empty Capture starting at DefaultStart, one
// millisecond between packets.
func NewCapture() *Capture {
	return &Capture{Clock: DefaultStart, Step: time.Millisecond, LoopbackAF6: 30}
}

// Add appends p, stamped with the clock unless p.Time is set, and returns
// its index.
func (c *Capture) Add(p Packet) int {
	if p.Time.IsZero() {
		p.Time = c.Clock
		c.Clock = c.Clock.Add(c.Step)
	}
	c.Packets = append(c.Packets, p)
	return len(c.Packets) - 1
}

// AddIP appends a complete IP packet (built by the test) and returns its index.
func (c *Capture) AddIP(ip []byte) int { return c.Add(Packet{IP: ip}) }

// Advance moves the clock forward by d.
func (c *Capture) Advance(d time.Duration) { c.Clock = c.Clock.Add(d) }

// IPPacket returns the IP packet of p: p.IP, or the TCP segment serialized
// with gopacket (lengths fixed, checksums computed).
func IPPacket(p Packet) ([]byte, error) {
	if p.IP != nil {
		return p.IP, nil
	}
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(p.Src.Port), DstPort: layers.TCPPort(p.Dst.Port),
		Seq: p.Seq, Ack: p.Ack, Window: p.Window,
		FIN: p.Flags&FIN != 0, SYN: p.Flags&SYN != 0, RST: p.Flags&RST != 0,
		PSH: p.Flags&PSH != 0, ACK: p.Flags&ACK != 0, URG: p.Flags&URG != 0,
	}
	var ip gopacket.SerializableLayer
	switch {
	case p.Src.IP.Is4() && p.Dst.IP.Is4():
		s, d := p.Src.IP.As4(), p.Dst.IP.As4()
		ip4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Flags: layers.IPv4DontFragment,
			Protocol: layers.IPProtocolTCP, SrcIP: s[:], DstIP: d[:]}
		tcp.SetNetworkLayerForChecksum(ip4)
		ip = ip4
	case p.Src.IP.Is6() && p.Dst.IP.Is6():
		s, d := p.Src.IP.As16(), p.Dst.IP.As16()
		ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: s[:], DstIP: d[:]}
		tcp.SetNetworkLayerForChecksum(ip6)
		ip = ip6
	default:
		return nil, fmt.Errorf("pcaptest: endpoints %v and %v are not of one IP version", p.Src.IP, p.Dst.IP)
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ip, tcp, gopacket.Payload(p.Payload)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Frame returns the whole link-layer frame of p for the link type.
func (c *Capture) Frame(p Packet, link LinkType) ([]byte, error) {
	ip, err := IPPacket(p)
	if err != nil {
		return nil, err
	}
	v6 := len(ip) > 0 && ip[0]>>4 == 6
	etype := layers.EthernetTypeIPv4
	if v6 {
		etype = layers.EthernetTypeIPv6
	}
	var hdr []byte
	switch link {
	case LinkEthernet:
		return c.ethernet(ip, etype)
	case LinkRaw:
	case LinkIPv4, LinkIPv6:
		if v6 != (link == LinkIPv6) {
			return nil, fmt.Errorf("pcaptest: link type %d cannot carry this IP version", link)
		}
	case LinkNull, LinkLoop:
		af := uint32(2)
		if v6 {
			af = c.LoopbackAF6
		}
		hdr = make([]byte, 4)
		if link == LinkNull {
			binary.LittleEndian.PutUint32(hdr, af)
		} else {
			binary.BigEndian.PutUint32(hdr, af)
		}
	case LinkLinuxSLL:
		// packet type 0 (to us) or 4 (sent by us), ARPHRD_ETHER, 6-byte address.
		hdr = make([]byte, 16)
		binary.BigEndian.PutUint16(hdr[2:], 1)
		binary.BigEndian.PutUint16(hdr[4:], 6)
		copy(hdr[6:], macOf(p.Src.IP))
		binary.BigEndian.PutUint16(hdr[14:], uint16(etype))
	case LinkLinuxSLL2:
		hdr = make([]byte, 20)
		binary.BigEndian.PutUint16(hdr[0:], uint16(etype))
		binary.BigEndian.PutUint32(hdr[4:], 2) // interface index
		binary.BigEndian.PutUint16(hdr[8:], 1) // ARPHRD_ETHER
		hdr[11] = 6
		copy(hdr[12:], macOf(p.Src.IP))
	default:
		return nil, fmt.Errorf("pcaptest: cannot write link type %d", link)
	}
	return append(hdr, ip...), nil
}

func (c *Capture) ethernet(ip []byte, etype layers.EthernetType) ([]byte, error) {
	// Addresses are derived from the IP header so that each host keeps one.
	var src, dst netip.Addr
	if ip[0]>>4 == 6 && len(ip) >= 40 {
		src, _ = netip.AddrFromSlice(ip[8:24])
		dst, _ = netip.AddrFromSlice(ip[24:40])
	} else if len(ip) >= 20 {
		src, _ = netip.AddrFromSlice(ip[12:16])
		dst, _ = netip.AddrFromSlice(ip[16:20])
	}
	ls := []gopacket.SerializableLayer{}
	eth := &layers.Ethernet{SrcMAC: macOf(src), DstMAC: macOf(dst), EthernetType: etype}
	ls = append(ls, eth)
	if len(c.VLANs) > 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		if len(c.VLANs) > 1 {
			eth.EthernetType = layers.EthernetTypeQinQ
		}
		for i, id := range c.VLANs {
			t := &layers.Dot1Q{VLANIdentifier: id, Type: etype}
			switch {
			case i+2 < len(c.VLANs):
				t.Type = layers.EthernetTypeQinQ
			case i+1 < len(c.VLANs):
				t.Type = layers.EthernetTypeDot1Q
			}
			ls = append(ls, t)
		}
	}
	ls = append(ls, gopacket.Payload(ip))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, ls...); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// macOf makes a locally administered MAC address from an IP address.
func macOf(a netip.Addr) []byte {
	b := a.AsSlice()
	m := []byte{0x02, 0, 0, 0, 0, 0}
	if len(b) >= 4 {
		copy(m[2:], b[len(b)-4:])
	}
	return m
}

// PcapOptions choose the variant of the pcap format.
type PcapOptions struct {
	Link       LinkType
	Nanosecond bool // nanosecond timestamps (magic a1b23c4d)
	BigEndian  bool // big-endian headers
}

// WritePcap writes the capture as a pcap file of one link type.
func (c *Capture) WritePcap(w io.Writer, link LinkType, nanosecond bool) error {
	return c.WritePcapOptions(w, PcapOptions{Link: link, Nanosecond: nanosecond})
}

// WritePcapOptions writes the capture as a pcap file.
func (c *Capture) WritePcapOptions(w io.Writer, o PcapOptions) error {
	var order binary.ByteOrder = binary.LittleEndian
	if o.BigEndian {
		order = binary.BigEndian
	}
	var b bytes.Buffer
	h := make([]byte, 24)
	magic := uint32(0xA1B2C3D4)
	if o.Nanosecond {
		magic = 0xA1B23C4D
	}
	order.PutUint32(h[0:], magic)
	order.PutUint16(h[4:], 2)
	order.PutUint16(h[6:], 4)
	order.PutUint32(h[16:], uint32(c.snaplen()))
	order.PutUint32(h[20:], uint32(o.Link))
	b.Write(h)
	for i, p := range c.Packets {
		f, err := c.Frame(p, o.Link)
		if err != nil {
			return fmt.Errorf("packet %d: %w", i+1, err)
		}
		data := c.cut(f)
		r := make([]byte, 16)
		order.PutUint32(r[0:], uint32(p.Time.Unix()))
		frac := p.Time.Nanosecond()
		if !o.Nanosecond {
			frac /= 1000
		}
		order.PutUint32(r[4:], uint32(frac))
		order.PutUint32(r[8:], uint32(len(data)))
		order.PutUint32(r[12:], uint32(len(f)))
		b.Write(r)
		b.Write(data)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func (c *Capture) snaplen() int {
	if c.SnapLen > 0 {
		return c.SnapLen
	}
	return 262144
}

func (c *Capture) cut(f []byte) []byte {
	if c.SnapLen > 0 && len(f) > c.SnapLen {
		return f[:c.SnapLen]
	}
	return f
}

// WritePcapng writes the capture as a little-endian pcapng file with one
// interface.
func (c *Capture) WritePcapng(w io.Writer, link LinkType) error {
	return c.WritePcapngInterfaces(w, []LinkType{link})
}

// WritePcapngInterfaces writes a pcapng file with one interface per entry
// of links; each packet goes to the interface its Interface field names.
// Interface 0 keeps the default microsecond resolution, the others declare
// nanoseconds (if_tsresol 9).
func (c *Capture) WritePcapngInterfaces(w io.Writer, links []LinkType) error {
	var b bytes.Buffer
	le := binary.LittleEndian
	block := func(typ uint32, body []byte) {
		n := 12 + (len(body)+3)&^3
		h := make([]byte, 8)
		le.PutUint32(h, typ)
		le.PutUint32(h[4:], uint32(n))
		b.Write(h)
		b.Write(body)
		b.Write(make([]byte, (4-len(body)%4)%4))
		t := make([]byte, 4)
		le.PutUint32(t, uint32(n))
		b.Write(t)
	}
	// Section header: byte-order magic, version 1.0, unknown section length.
	shb := make([]byte, 16)
	le.PutUint32(shb, 0x1A2B3C4D)
	le.PutUint16(shb[4:], 1)
	le.PutUint64(shb[8:], ^uint64(0))
	block(0x0A0D0D0A, shb)
	for i, l := range links {
		if uint32(l) > 0xFFFF {
			return fmt.Errorf("pcaptest: link type %d does not fit pcapng", l)
		}
		idb := make([]byte, 8)
		le.PutUint16(idb, uint16(l))
		le.PutUint32(idb[4:], uint32(c.snaplen()))
		if i > 0 {
			// if_tsresol = 9 (nanoseconds), then end of options.
			idb = append(idb, 9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0)
		}
		block(1, idb)
	}
	for i, p := range c.Packets {
		if p.Interface < 0 || p.Interface >= len(links) {
			return fmt.Errorf("packet %d: interface %d not written", i+1, p.Interface)
		}
		f, err := c.Frame(p, links[p.Interface])
		if err != nil {
			return fmt.Errorf("packet %d: %w", i+1, err)
		}
		data := c.cut(f)
		ts := uint64(p.Time.UnixNano())
		if p.Interface == 0 {
			ts = uint64(p.Time.UnixMicro())
		}
		epb := make([]byte, 20, 20+len(data))
		le.PutUint32(epb, uint32(p.Interface))
		le.PutUint32(epb[4:], uint32(ts>>32))
		le.PutUint32(epb[8:], uint32(ts))
		le.PutUint32(epb[12:], uint32(len(data)))
		le.PutUint32(epb[16:], uint32(len(f)))
		block(6, append(epb, data...))
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Gzip compresses b (no name, no time stamp in the gzip header).
func Gzip(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}
