package capture

import (
	"encoding/binary"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Segment is one TCP segment decoded from a packet. It and everything it
// points to are reused by the next call to Decode; TCP.Payload is a slice of
// the packet's data.
type Segment struct {
	NetFlow   gopacket.Flow // IPv4 or IPv6 src->dst
	TCP       *layers.TCP   // reused between calls; TCP.Payload = the segment's payload
	Timestamp time.Time
	Truncated bool // packet was cut by snaplen (payload shorter than IP says)
}

// DecodeStats counts what a Decoder did. Packets = Decoded + the sum of
// Skipped; Truncated counts the decoded segments whose payload was cut.
type DecodeStats struct {
	Packets, Decoded, Truncated uint64
	// Skipped counts the packets that carried no usable TCP segment, by
	// reason token:
	//   not_ip                       the link layer carries something else (ARP, LLC, ...)
	//   not_tcp                      IP carries another protocol (UDP, ICMP, ...)
	//   ip_fragment                  an IPv4 or IPv6 fragment (not reassembled)
	//   truncated_header             cut by snaplen before the TCP header was complete
	//   malformed                    a header with impossible values or lengths
	//   unsupported_link_type:<name> a link type the Decoder does not decode
	// Only reasons that occurred are present.
	Skipped map[string]uint64
}

type reason uint8

const (
	reasonNotIP reason = iota
	reasonNotTCP
	reasonFragment
	reasonTruncatedHeader
	reasonMalformed
	numReasons
)

var reasonTokens = [numReasons]string{"not_ip", "not_tcp", "ip_fragment", "truncated_header", "malformed"}

// Decoder decodes packets down to TCP with gopacket's DecodingLayerParser.
// Its layers are allocated once and reused, so Decode does not allocate. A
// Decoder is not safe for concurrent use.
type Decoder struct {
	eth   layers.Ethernet
	dot1q layers.Dot1Q
	sll   sll
	sll2  sll2
	loop  layers.Loopback
	ip4   layers.IPv4
	ip6   ipv6
	ext   layers.IPv6ExtensionSkipper
	frag  ipv6Frag
	tcp   layers.TCP

	// One parser per first layer, all over the same layers.
	pEth, pSLL, pSLL2, pLoop, pIP4, pIP6 *gopacket.DecodingLayerParser
	decoded                              []gopacket.LayerType

	seg Segment

	packets, decodedN, truncated uint64
	skipped                      [numReasons]uint64
	unsupported                  map[LinkType]uint64
}

// NewDecoder returns a Decoder for all supported link types.
func NewDecoder() *Decoder {
	d := &Decoder{decoded: make([]gopacket.LayerType, 0, 16), unsupported: map[LinkType]uint64{}}
	var dlc gopacket.DecodingLayerContainer = gopacket.DecodingLayerSparse(nil)
	// The fragment layer is put after the extension skipper, which also
	// claims fragment headers, so that it takes them over.
	for _, l := range []gopacket.DecodingLayer{&d.eth, &d.dot1q, &d.sll, &d.sll2, &d.loop, &d.ip4, &d.ip6, &d.ext, &d.frag, &d.tcp} {
		dlc = dlc.Put(l)
	}
	parser := func(first gopacket.LayerType) *gopacket.DecodingLayerParser {
		p := gopacket.NewDecodingLayerParser(first)
		p.SetDecodingLayerContainer(dlc)
		p.IgnoreUnsupported = true
		return p
	}
	d.pEth = parser(layers.LayerTypeEthernet)
	d.pSLL = parser(layers.LayerTypeLinuxSLL)
	d.pSLL2 = parser(LayerTypeLinuxSLL2)
	d.pLoop = parser(layers.LayerTypeLoopback)
	d.pIP4 = parser(layers.LayerTypeIPv4)
	d.pIP6 = parser(layers.LayerTypeIPv6)
	d.seg.TCP = &d.tcp
	return d
}

// Decode decodes one packet down to TCP. ok is false when the packet
// carries no TCP segment that can be used; the reason is counted in Stats.
// Checksums are not verified (captures on the sending host carry
// offloaded, unfilled checksums). The Segment is valid until the next call.
func (d *Decoder) Decode(p Packet) (seg *Segment, ok bool) {
	d.packets++
	if p.LinkType == LinkTypeEthernet && d.fastTCP(p) {
		return &d.seg, true
	}
	return d.decodeLayers(p)
}

// found makes the Segment of a packet decoded down to TCP.
func (d *Decoder) found(p Packet, truncated bool, net gopacket.Flow) (*Segment, bool) {
	d.decodedN++
	d.seg.Timestamp = p.Timestamp
	d.seg.Truncated = truncated
	if truncated {
		d.truncated++
	}
	d.seg.NetFlow = net
	return &d.seg, true
}

// fastTCP decodes the most common packet, Ethernet II carrying IPv4
// without options or fragmentation carrying TCP, all of it captured,
// without the layer parser: the TCP layer is decoded by gopacket as the
// parser would, the others are read in place. Any other packet is left to
// decodeLayers (false).
func (d *Decoder) fastTCP(p Packet) bool {
	data := p.Data
	if len(data) < 14+20+20 || data[12] != 0x08 || data[13] != 0x00 {
		return false
	}
	ip := data[14:]
	if ip[0] != 0x45 || ip[9] != byte(layers.IPProtocolTCP) {
		return false
	}
	total := int(binary.BigEndian.Uint16(ip[2:4]))
	if total < 40 || total > len(ip) || binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 {
		return false // short, cut, or a fragment
	}
	if d.tcp.DecodeFromBytes(ip[20:total], gopacket.NilDecodeFeedback) != nil {
		return false
	}
	// What later calls read of the layers above TCP.
	d.decoded = append(d.decoded[:0], layers.LayerTypeEthernet, layers.LayerTypeIPv4, layers.LayerTypeTCP)
	d.ip4.SrcIP, d.ip4.DstIP = ip[12:16], ip[16:20]
	d.ip4.Length = uint16(total)
	d.ip4.Contents, d.ip4.Payload = ip[:20], ip[20:total]
	d.found(p, false, gopacket.NewFlow(layers.EndpointIPv4, ip[12:16], ip[16:20]))
	return true
}

// decodeLayers decodes a packet with the layer parser of its link type.
func (d *Decoder) decodeLayers(p Packet) (seg *Segment, ok bool) {
	var parser *gopacket.DecodingLayerParser
	switch p.LinkType {
	case LinkTypeEthernet:
		parser = d.pEth
	case LinkTypeLinuxSLL:
		parser = d.pSLL
	case LinkTypeLinuxSLL2:
		parser = d.pSLL2
	case LinkTypeNull, LinkTypeLoop:
		parser = d.pLoop
	case LinkTypeRaw, LinkTypeRawOld12, LinkTypeRawOld14, LinkTypeIPv4, LinkTypeIPv6:
		if len(p.Data) == 0 {
			return d.skip(reasonMalformed)
		}
		switch p.Data[0] >> 4 {
		case 4:
			parser = d.pIP4
		case 6:
			parser = d.pIP6
		default:
			return d.skip(reasonNotIP)
		}
	default:
		d.unsupported[p.LinkType]++
		return nil, false
	}
	err := parser.DecodeLayers(p.Data, &d.decoded)
	n := len(d.decoded)
	if err == nil && n > 0 && d.decoded[n-1] == layers.LayerTypeTCP {
		return d.found(p, d.ipShort(), d.netFlow())
	}
	return d.skip(d.classify(p, err))
}

func (d *Decoder) skip(r reason) (*Segment, bool) {
	d.skipped[r]++
	return nil, false
}

// classify says why a packet that did not reach TCP was skipped, from the
// last layer that decoded and the one it announced.
func (d *Decoder) classify(p Packet, err error) reason {
	cut := p.CaptureLength < p.Length || len(p.Data) < p.CaptureLength
	damaged := reasonMalformed
	if cut || d.ipShort() {
		damaged = reasonTruncatedHeader
	}
	n := len(d.decoded)
	if n == 0 {
		return damaged
	}
	last := d.decoded[n-1]
	var next gopacket.LayerType
	link := false
	switch last {
	case layers.LayerTypeEthernet:
		next, link = d.eth.NextLayerType(), true
	case layers.LayerTypeDot1Q:
		next, link = d.dot1q.NextLayerType(), true
	case layers.LayerTypeLinuxSLL:
		next, link = d.sll.NextLayerType(), true
	case LayerTypeLinuxSLL2:
		next, link = d.sll2.NextLayerType(), true
	case layers.LayerTypeLoopback:
		next, link = d.loop.NextLayerType(), true
	case layers.LayerTypeIPv4:
		next = d.ip4.NextLayerType()
	case layers.LayerTypeIPv6:
		next = d.ip6.NextLayerType()
	case layers.LayerTypeIPv6Fragment:
		next = d.frag.NextLayerType()
	case layers.LayerTypeIPv6HopByHop, layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6Destination:
		next = d.ext.NextLayerType()
	default:
		return damaged
	}
	switch next {
	case gopacket.LayerTypeFragment:
		return reasonFragment
	case layers.LayerTypeTCP, layers.LayerTypeIPv4, layers.LayerTypeIPv6, layers.LayerTypeDot1Q,
		layers.LayerTypeIPv6HopByHop, layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6Destination,
		layers.LayerTypeIPv6Fragment:
		// A layer we decode was announced but failed or was empty.
		return damaged
	}
	if link {
		return reasonNotIP
	}
	return reasonNotTCP
}

// lastIP returns the innermost IP layer decoded: 4, 6 or 0.
func (d *Decoder) lastIP() int {
	for i := len(d.decoded) - 1; i >= 0; i-- {
		switch d.decoded[i] {
		case layers.LayerTypeIPv4:
			return 4
		case layers.LayerTypeIPv6:
			return 6
		}
	}
	return 0
}

// ipShort reports whether the innermost IP header says its packet is longer
// than what was captured.
func (d *Decoder) ipShort() bool {
	switch d.lastIP() {
	case 4:
		return int(d.ip4.Length) > len(d.ip4.Contents)+len(d.ip4.Payload)
	case 6:
		return d.ip6.short
	}
	return false
}

func (d *Decoder) netFlow() gopacket.Flow {
	if d.lastIP() == 4 {
		return d.ip4.NetworkFlow()
	}
	return d.ip6.flow()
}

// Stats returns the counts so far. It builds a new map on each call.
func (d *Decoder) Stats() DecodeStats {
	s := DecodeStats{Packets: d.packets, Decoded: d.decodedN, Truncated: d.truncated, Skipped: map[string]uint64{}}
	for r, n := range d.skipped {
		if n > 0 {
			s.Skipped[reasonTokens[r]] = n
		}
	}
	for lt, n := range d.unsupported {
		s.Skipped["unsupported_link_type:"+lt.String()] += n
	}
	return s
}
