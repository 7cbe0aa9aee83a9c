package capture

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// pcapReader reads the classic libpcap format: a 24-byte file header, then
// records of a 16-byte header and the captured bytes.
type pcapReader struct {
	input
	big  bool
	nano bool
	link LinkType
}

func newPcapReader(in *input) (*pcapReader, error) {
	h, err := in.peek(24)
	if err != nil {
		e := in.fail("open", 0, 0, err, fmt.Sprintf("pcap file header needs 24 bytes, %d present", len(h)))
		if err == errShort {
			e.Err = ErrTruncated
		}
		return nil, e
	}
	r := &pcapReader{input: *in}
	magic := binary.LittleEndian.Uint32(h)
	switch magic {
	case magicPcapMicro:
	case magicPcapNano:
		r.nano = true
	default:
		r.big = true
		r.nano = binary.BigEndian.Uint32(h) == magicPcapNano
	}
	if major := u16(r.big, h[4:]); major != 2 {
		return nil, in.fail("open", 0, 0, ErrDamaged, fmt.Sprintf("unsupported pcap version %d.%d", major, u16(r.big, h[6:])))
	}
	// The link type is the low 16 bits; the upper bits carry FCS details.
	r.link = LinkType(u32(r.big, h[20:]) & 0xFFFF)
	if !r.link.Supported() {
		r.warnf("capture %q has unsupported link type %s (%d); its packets are skipped", r.name, r.link, uint32(r.link))
	}
	if err := r.discard(24); err != nil {
		return nil, in.fail("open", 0, 0, ErrTruncated, "")
	}
	return r, nil
}

// Next returns the next packet.
func (r *pcapReader) Next() (Packet, error) {
	if r.err != nil {
		return Packet{}, r.err
	}
	start := r.off
	h, err := r.peek(16)
	if err != nil {
		if err == errShort && len(h) == 0 {
			r.err = io.EOF
			return Packet{}, io.EOF
		}
		return Packet{}, r.readErr(start, err, fmt.Sprintf("record header needs 16 bytes, %d present", len(h)))
	}
	sec := u32(r.big, h[0:])
	frac := u32(r.big, h[4:])
	caplen := u32(r.big, h[8:])
	origlen := u32(r.big, h[12:])
	if caplen > MaxPacketSize {
		return Packet{}, r.readErr(start, ErrDamaged, fmt.Sprintf("captured length %d exceeds the limit of %d bytes", caplen, MaxPacketSize))
	}
	n := 16 + int(caplen)
	rec, err := r.peek(n)
	if err != nil {
		return Packet{}, r.readErr(start, err, fmt.Sprintf("record needs %d bytes, %d present", n, len(rec)))
	}
	if err := r.discard(n); err != nil {
		return Packet{}, r.readErr(start, err, "")
	}
	nsec := int64(frac)
	if !r.nano {
		nsec *= 1000
	}
	r.packets++
	return Packet{
		Data:          rec[16:n:n],
		Timestamp:     time.Unix(int64(sec), nsec).UTC(),
		CaptureLength: int(caplen),
		Length:        int(origlen),
		LinkType:      r.link,
	}, nil
}
