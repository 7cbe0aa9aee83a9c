package capture

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"time"
)

// pcapng block types (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html).
const (
	ngSectionHeader      = 0x0A0D0D0A
	ngInterfaceBlock     = 0x00000001
	ngObsoletePacket     = 0x00000002
	ngSimplePacket       = 0x00000003
	ngEnhancedPacket     = 0x00000006
	ngByteOrderMagic     = 0x1A2B3C4D
	ngOptEnd             = 0
	ngOptIfTsresol       = 9
	ngOptIfTsoffset      = 14
	maxNgInterfaceBlock  = 64 << 10 // an interface description larger than this is damaged
	maxNgInterfaces      = 1 << 16  // per section
	defaultNgTicksPerSec = 1000000
)

type ngInterface struct {
	link    LinkType
	snaplen uint32
	ticks   uint64 // timestamp units per second
	offset  int64  // seconds added to every timestamp
}

// pcapngReader reads pcapng: sections of blocks, each block framed by its
// type and total length. Packets come from enhanced, simple and obsolete
// packet blocks; blocks of other types are skipped.
type pcapngReader struct {
	input
	big    bool
	ifaces []ngInterface
	// spill holds a packet whose block is larger than the read buffer (a
	// packet with very large options); allocated once, MaxPacketSize.
	spill []byte
}

func newPcapngReader(in *input) (*pcapngReader, error) {
	r := &pcapngReader{input: *in}
	// The first block must be a section header; reading it through the
	// normal path reports a damaged or cut one like any other.
	if _, err := r.readSectionHeader(); err != nil {
		e := err.(*Error)
		e.Op = "open"
		return nil, e
	}
	return r, nil
}

// readSectionHeader reads the section header block at the current offset.
// It returns false, nil at a clean end of input.
func (r *pcapngReader) readSectionHeader() (bool, error) {
	start := r.off
	h, err := r.peek(16)
	if err != nil {
		return false, r.readErr(start, err, fmt.Sprintf("section header block needs at least 16 bytes, %d present", len(h)))
	}
	switch {
	case binary.BigEndian.Uint32(h[8:]) == ngByteOrderMagic:
		r.big = true
	case binary.LittleEndian.Uint32(h[8:]) == ngByteOrderMagic:
		r.big = false
	default:
		return false, r.readErr(start, ErrDamaged, fmt.Sprintf("section header has byte-order magic 0x%08x", binary.BigEndian.Uint32(h[8:])))
	}
	blen := u32(r.big, h[4:])
	if blen < 28 || blen%4 != 0 {
		return false, r.readErr(start, ErrDamaged, fmt.Sprintf("section header block length %d is invalid", blen))
	}
	if major := u16(r.big, h[12:]); major != 1 {
		return false, r.readErr(start, ErrDamaged, fmt.Sprintf("unsupported pcapng version %d.%d", major, u16(r.big, h[14:])))
	}
	r.ifaces = r.ifaces[:0]
	if err := r.discard(int(blen)); err != nil {
		return false, r.readErr(start, err, fmt.Sprintf("block needs %d bytes", blen))
	}
	return true, nil
}

// Next returns the next packet.
func (r *pcapngReader) Next() (Packet, error) {
	if r.err != nil {
		return Packet{}, r.err
	}
	for {
		start := r.off
		h, err := r.peek(8)
		if err != nil {
			if err == errShort && len(h) == 0 {
				r.err = io.EOF
				return Packet{}, io.EOF
			}
			return Packet{}, r.readErr(start, err, fmt.Sprintf("block header needs 8 bytes, %d present", len(h)))
		}
		typ := u32(r.big, h)
		if typ == ngSectionHeader {
			if _, err := r.readSectionHeader(); err != nil {
				return Packet{}, err
			}
			continue
		}
		blen := u32(r.big, h[4:])
		if blen < 12 || blen%4 != 0 {
			return Packet{}, r.readErr(start, ErrDamaged, fmt.Sprintf("block of type 0x%x has invalid length %d", typ, blen))
		}
		switch typ {
		case ngEnhancedPacket, ngObsoletePacket, ngSimplePacket:
			return r.readPacket(start, typ, blen)
		case ngInterfaceBlock:
			if err := r.readInterface(start, blen); err != nil {
				return Packet{}, err
			}
		default:
			if err := r.discard(int(blen)); err != nil {
				return Packet{}, r.readErr(start, err, fmt.Sprintf("block of type 0x%x needs %d bytes", typ, blen))
			}
		}
	}
}

func (r *pcapngReader) readInterface(start int64, blen uint32) error {
	if blen > maxNgInterfaceBlock || blen < 20 {
		return r.readErr(start, ErrDamaged, fmt.Sprintf("interface description block length %d is invalid", blen))
	}
	if len(r.ifaces) >= maxNgInterfaces {
		return r.readErr(start, ErrDamaged, fmt.Sprintf("more than %d interfaces in one section", maxNgInterfaces))
	}
	b, err := r.peek(int(blen))
	if err != nil {
		return r.readErr(start, err, fmt.Sprintf("interface description block needs %d bytes, %d present", blen, len(b)))
	}
	if t := u32(r.big, b[blen-4:]); t != blen {
		return r.readErr(start, ErrDamaged, fmt.Sprintf("block length %d does not match trailing length %d", blen, t))
	}
	ifc := ngInterface{
		link:    LinkType(u16(r.big, b[8:])),
		snaplen: u32(r.big, b[12:]),
		ticks:   defaultNgTicksPerSec,
	}
	opts := b[16 : blen-4]
	for len(opts) >= 4 {
		code := u16(r.big, opts)
		olen := int(u16(r.big, opts[2:]))
		if code == ngOptEnd {
			break
		}
		if 4+olen > len(opts) {
			return r.readErr(start, ErrDamaged, fmt.Sprintf("interface option %d overruns its block", code))
		}
		val := opts[4 : 4+olen]
		switch {
		case code == ngOptIfTsresol && olen >= 1:
			v := val[0]
			if v&0x80 == 0 {
				if v > 19 {
					return r.readErr(start, ErrDamaged, fmt.Sprintf("interface timestamp resolution 10^-%d is out of range", v))
				}
				ifc.ticks = 1
				for i := byte(0); i < v; i++ {
					ifc.ticks *= 10
				}
			} else {
				v &= 0x7f
				if v > 63 {
					return r.readErr(start, ErrDamaged, fmt.Sprintf("interface timestamp resolution 2^-%d is out of range", v))
				}
				ifc.ticks = 1 << v
			}
		case code == ngOptIfTsoffset && olen >= 8:
			if r.big {
				ifc.offset = int64(binary.BigEndian.Uint64(val))
			} else {
				ifc.offset = int64(binary.LittleEndian.Uint64(val))
			}
		}
		opts = opts[4+(olen+3)&^3:]
	}
	if err := r.discard(int(blen)); err != nil {
		return r.readErr(start, err, "")
	}
	id := len(r.ifaces)
	r.ifaces = append(r.ifaces, ifc)
	if !ifc.link.Supported() {
		r.warnf("pcapng interface %d has unsupported link type %s (%d); its packets are skipped", id, ifc.link, uint32(ifc.link))
	}
	return nil
}

func (r *pcapngReader) readPacket(start int64, typ, blen uint32) (Packet, error) {
	hdrLen := 28 // enhanced and obsolete packet blocks
	if typ == ngSimplePacket {
		hdrLen = 12
	}
	if int(blen) < hdrLen+4 {
		return Packet{}, r.readErr(start, ErrDamaged, fmt.Sprintf("packet block length %d is too small", blen))
	}
	h, err := r.peek(hdrLen)
	if err != nil {
		return Packet{}, r.readErr(start, err, fmt.Sprintf("packet block header needs %d bytes, %d present", hdrLen, len(h)))
	}
	var p Packet
	var caplen uint32
	var ifc *ngInterface
	switch typ {
	case ngSimplePacket:
		if len(r.ifaces) == 0 {
			return Packet{}, r.readErr(start, ErrDamaged, "simple packet block before any interface description")
		}
		ifc = &r.ifaces[0]
		orig := u32(r.big, h[8:])
		caplen = min(orig, blen-16)
		if ifc.snaplen != 0 {
			caplen = min(caplen, ifc.snaplen)
		}
		p.Length = int(orig)
	default:
		var id uint32
		if typ == ngEnhancedPacket {
			id = u32(r.big, h[8:])
		} else {
			id = uint32(u16(r.big, h[8:]))
		}
		if id >= uint32(len(r.ifaces)) {
			return Packet{}, r.readErr(start, ErrDamaged, fmt.Sprintf("packet names interface %d, the section has %d", id, len(r.ifaces)))
		}
		ifc = &r.ifaces[id]
		p.Interface = int(id)
		ts := uint64(u32(r.big, h[12:]))<<32 | uint64(u32(r.big, h[16:]))
		sec := ts / ifc.ticks
		frac := ts % ifc.ticks
		hi, lo := bits.Mul64(frac, 1e9)
		nsec, _ := bits.Div64(hi, lo, ifc.ticks)
		p.Timestamp = time.Unix(int64(sec)+ifc.offset, int64(nsec)).UTC()
		caplen = u32(r.big, h[20:])
		p.Length = int(u32(r.big, h[24:]))
		if uint64(hdrLen)+uint64(caplen)+4 > uint64(blen) {
			return Packet{}, r.readErr(start, ErrDamaged, fmt.Sprintf("captured length %d exceeds its block of %d bytes", caplen, blen))
		}
	}
	if caplen > MaxPacketSize {
		return Packet{}, r.readErr(start, ErrDamaged, fmt.Sprintf("captured length %d exceeds the limit of %d bytes", caplen, MaxPacketSize))
	}
	p.CaptureLength = int(caplen)
	p.LinkType = ifc.link
	end := hdrLen + int(caplen)
	if blen <= bufferSize {
		b, err := r.peek(int(blen))
		if err != nil {
			return Packet{}, r.readErr(start, err, fmt.Sprintf("packet block needs %d bytes, %d present", blen, len(b)))
		}
		if t := u32(r.big, b[blen-4:]); t != blen {
			return Packet{}, r.readErr(start, ErrDamaged, fmt.Sprintf("block length %d does not match trailing length %d", blen, t))
		}
		p.Data = b[hdrLen:end:end]
	} else {
		// Options make the block larger than the buffer: keep the packet
		// bytes aside before skipping the rest.
		b, err := r.peek(end)
		if err != nil {
			return Packet{}, r.readErr(start, err, fmt.Sprintf("packet block needs %d bytes, %d present", blen, len(b)))
		}
		if r.spill == nil {
			r.spill = make([]byte, MaxPacketSize)
		}
		p.Data = r.spill[:copy(r.spill, b[hdrLen:end])]
	}
	if err := r.discard(int(blen)); err != nil {
		return Packet{}, r.readErr(start, err, fmt.Sprintf("packet block needs %d bytes", blen))
	}
	r.packets++
	return p, nil
}
