package dissect

import (
	"encoding/binary"
	"time"
)

// maxFrameHeaderLen is the longest frame header of RFC 6455 §5.2: two
// bytes, a 64-bit extended length and a masking key.
const maxFrameHeaderLen = 14

// maxControlPayload is the longest payload a control frame may carry
// (RFC 6455 §5.5).
const maxControlPayload = 125

// frameHeader is the header of one frame as laid out in RFC 6455 §5.2:
//
//	 0               1               2               3
//	|F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//	|I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//	|N|V|V|V|       |S|             |   (if payload len==126/127)   |
//	| |1|2|3|       |K|             |                               |
//	... masking key (4 bytes, if MASK is set), then the payload.
type frameHeader struct {
	fin       bool
	rsv       uint8 // RSV1 is 0x4, RSV2 0x2, RSV3 0x1
	opcode    Opcode
	masked    bool
	mask      [4]byte
	length    uint64 // payload length as announced
	headerLen int    // 2 to 14

	// nonMinimal is set when the length used a longer form than needed:
	// the 16-bit form for less than 126 or the 64-bit form for less than
	// 65536 (§5.2: "the minimal number of bytes MUST be used").
	nonMinimal bool
	// topBit is set when the 64-bit length has its most significant bit
	// set (§5.2 requires it to be 0). length still holds the whole value.
	topBit bool
}

// parseFrameHeader decodes the frame header at the start of b. It returns
// n = 0 when b holds only part of a header; otherwise n is the header
// length. Every byte pattern is a header: rule breaking fields are flagged
// in h and left to the caller to report. It does not allocate.
func parseFrameHeader(b []byte) (h frameHeader, n int) {
	if len(b) < 2 {
		return frameHeader{}, 0
	}
	b0, b1 := b[0], b[1]
	l7 := b1 & 0x7F
	n = 2
	switch l7 {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	if len(b) < n {
		return frameHeader{}, 0
	}
	h.fin = b0&0x80 != 0
	h.rsv = (b0 >> 4) & 0x7
	h.opcode = Opcode(b0 & 0xF)
	h.masked = b1&0x80 != 0
	switch l7 {
	case 126:
		h.length = uint64(binary.BigEndian.Uint16(b[2:4]))
		h.nonMinimal = h.length < 126
	case 127:
		h.length = binary.BigEndian.Uint64(b[2:10])
		h.topBit = h.length>>63 != 0
		h.nonMinimal = h.length <= 0xFFFF
	default:
		h.length = uint64(l7)
	}
	if h.masked {
		copy(h.mask[:], b[n-4:n])
	}
	h.headerLen = n
	return h, n
}

// frameHandler receives what a frameDecoder finds, in this order for each
// frame: frameHeader once, framePayload zero or more times, frameEnd once.
type frameHandler interface {
	// frameHeader is called when the header is complete. start is the
	// time of the chunk that held its first byte, t of the chunk that
	// completed it.
	frameHeader(h *frameHeader, start, t time.Time)
	// framePayload passes the next payload bytes, unmasked. p is valid
	// only during the call.
	framePayload(p []byte)
	// frameEnd is called when the whole payload has been passed.
	frameEnd(t time.Time)
}

// unmaskScratchLen is the size of the buffer masked payload is unmasked in
// before it is passed on.
const unmaskScratchLen = 4096

// frameDecoder splits the byte stream of one direction into frames. It is
// fed chunks of any size, the header of a frame may be split anywhere, and
// it never holds more than one header and a fixed scratch buffer: payload
// bytes are streamed to the handler as they arrive.
type frameDecoder struct {
	hdr     [maxFrameHeaderLen]byte // a header split over chunks
	hdrN    int
	start   time.Time // time of the first byte of the current frame
	h       frameHeader
	inBody  bool
	left    uint64 // payload bytes still to come
	maskPos int
	scratch *[unmaskScratchLen]byte // shared by the decoders of a session
}

// midFrame reports whether the decoder is inside a frame (part of a header
// or of a payload has been seen).
func (d *frameDecoder) midFrame() bool { return d.hdrN > 0 || d.inBody }

// feed decodes data, which arrived at time t. The decoder does not keep
// data after the call.
func (d *frameDecoder) feed(data []byte, t time.Time, fh frameHandler) {
	for len(data) > 0 {
		if !d.inBody {
			var n int
			if d.hdrN == 0 {
				d.start = t
				d.h, n = parseFrameHeader(data)
				if n == 0 {
					d.hdrN = copy(d.hdr[:], data)
					return
				}
				data = data[n:]
			} else {
				old := d.hdrN
				d.hdrN += copy(d.hdr[d.hdrN:], data)
				d.h, n = parseFrameHeader(d.hdr[:d.hdrN])
				if n == 0 {
					return // all of data went into hdr
				}
				data = data[n-old:]
				d.hdrN = 0
			}
			d.left = d.h.length
			d.maskPos = 0
			fh.frameHeader(&d.h, d.start, t)
			if d.left == 0 {
				fh.frameEnd(t)
				continue
			}
			d.inBody = true
			continue
		}
		k := len(data)
		if uint64(k) > d.left {
			k = int(d.left)
		}
		chunk := data[:k]
		data = data[k:]
		d.left -= uint64(k)
		if d.h.masked {
			for len(chunk) > 0 {
				s := d.scratch[:copy(d.scratch[:], chunk)]
				chunk = chunk[len(s):]
				d.maskPos = unmask(d.h.mask, d.maskPos, s)
				fh.framePayload(s)
			}
		} else {
			fh.framePayload(chunk)
		}
		if d.left == 0 {
			d.inBody = false
			fh.frameEnd(t)
		}
	}
}
