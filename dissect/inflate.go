package dissect

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"strconv"
	"sync"
)

// This file is a DEFLATE decoder (RFC 1951) made for WebSocket compression:
// it takes the compressed bytes as they arrive, in pieces of any size, and
// can stop between any two of them; its output goes into a window that
// stays with the direction from one message to the next (context
// takeover), so nothing is copied in or out of a decoder per message and no
// compressed message is held whole.
//
// Output is written into buf: the last window of earlier output (the
// history back-references may reach), then new output. New output is handed
// to the sink when buf is nearly full (after which the last window is moved
// to the front) and when the caller flushes. A piece of input that ends
// inside a dynamic block header is kept (carry) until the next piece; any
// other stop keeps its state in the bit buffer and a few fields.

const (
	inflateWindow  = 1 << 15 // the largest DEFLATE window
	inflateBufSize = 2 * inflateWindow
	maxMatchLen    = 258
	// matchRoom is the room kept free after the write position: a whole
	// match, copied 8 bytes at a time (up to 7 bytes beyond its end).
	matchRoom    = maxMatchLen + 8
	litRootBits  = 9
	distRootBits = 7
	clRootBits   = 7
	// maxHeaderCarry bounds the input kept across pieces inside a dynamic
	// block header, which needs at most about 560 bytes.
	maxHeaderCarry = 1 << 10
)

// Decoder states.
const (
	stBlock  uint8 = iota // at a block header
	stStored              // in a stored block
	stHuff                // in a Huffman block
	stFinal               // after the final block: further input is ignored
	stFailed              // an error stopped decoding
	stHalted              // the sink stopped decoding
)

// inflateSink receives inflated output; returning false stops decoding.
type inflateSink interface {
	inflated(p []byte) bool
}

// inflateStream is the decoder of one compressed direction.
type inflateStream struct {
	buf       []byte // history then new output; inflateBufSize bytes
	w         int    // write position in buf
	emitted   int    // buf[emitted:w] is not handed out yet
	histStart int    // buf[histStart:w] is valid history
	maxDist   int    // negotiated window: the farthest back-reference allowed

	bits  uint64 // bit buffer, least significant bit first
	nb    uint   // valid bits in bits; bits above them are upcoming input or zero
	state uint8
	final bool // the block in progress is the last one
	left  int  // bytes left in the stored block in progress

	lit, dist []uint32 // tables of the Huffman block in progress
	dynLit    []uint32
	dynDist   []uint32
	lens      [320]uint8
	carry     []byte
	consumed  int64 // input bytes of the unit before the current piece
	err       error
}

var inflateStreamPool = sync.Pool{New: func() any {
	return &inflateStream{buf: make([]byte, inflateBufSize)}
}}

// getInflateStream returns a decoder whose window holds nothing.
func getInflateStream(maxDist int) *inflateStream {
	s := inflateStreamPool.Get().(*inflateStream)
	s.w, s.emitted, s.histStart = 0, 0, 0
	s.maxDist = maxDist
	s.beginUnit(false)
	return s
}

func putInflateStream(s *inflateStream) {
	s.lit, s.dist = nil, nil
	s.err = nil
	inflateStreamPool.Put(s)
}

// beginUnit starts a compressed unit at a block boundary. Without keep the
// history is forgotten.
func (s *inflateStream) beginUnit(keep bool) {
	if !keep {
		s.histStart = s.w
	}
	s.emitted = s.w
	s.bits, s.nb = 0, 0
	s.state = stBlock
	s.final = false
	s.left = 0
	s.carry = s.carry[:0]
	s.consumed = 0
	s.err = nil
}

// atBoundary reports that all input so far ends where a block ends.
func (s *inflateStream) atBoundary() bool {
	return (s.state == stBlock && len(s.carry) == 0) || s.state == stFinal
}

// flush hands out the output not yet handed out.
func (s *inflateStream) flush(sink inflateSink) bool {
	if s.w > s.emitted {
		p := s.buf[s.emitted:s.w]
		s.emitted = s.w
		if !sink.inflated(p) {
			s.state = stHalted
			return false
		}
	}
	return true
}

// makeRoom hands out pending output and moves the last window of it to the
// front of buf.
func (s *inflateStream) makeRoom(sink inflateSink) bool {
	if !s.flush(sink) {
		return false
	}
	shift := s.w - inflateWindow
	copy(s.buf, s.buf[shift:s.w])
	s.w -= shift
	s.emitted = s.w
	s.histStart = max(0, s.histStart-shift)
	return true
}

// fail stops decoding with an error found in the input before pos, with
// nb bits of it still in the bit buffer.
func (s *inflateStream) fail(pos int, nb uint, format string) {
	s.state = stFailed
	at := s.consumed + (int64(pos)*8-int64(nb))/8
	s.err = errors.New("deflate: " + format + " (compressed byte " + strconv.FormatInt(max(at, 0), 10) + ")")
}

// feed decodes the next piece of the unit.
func (s *inflateStream) feed(p []byte, sink inflateSink) {
	if s.state >= stFinal {
		return
	}
	in := p
	if len(s.carry) > 0 {
		s.carry = append(s.carry, p...)
		in = s.carry
	}
	pos := s.decode(in, sink)
	if s.state == stBlock && pos < len(in) {
		// Stopped inside a dynamic block header: keep the rest.
		rest := in[pos:]
		if len(rest) > maxHeaderCarry {
			s.fail(pos, s.nb, "dynamic block header too long")
			return
		}
		s.consumed += int64(pos)
		s.carry = append(s.carry[:0], rest...)
		return
	}
	s.consumed += int64(len(in))
	if cap(s.carry) > 4*maxHeaderCarry {
		s.carry = nil // it held a large piece once
	}
	s.carry = s.carry[:0]
}

// Length and distance codes (RFC 1951 §3.2.5).
var (
	lenBase = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
		35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
		3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
		257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
		7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	clOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

// Fixed Huffman tables (RFC 1951 §3.2.6).
var fixedLit, fixedDist = func() ([]uint32, []uint32) {
	var l [288]uint8
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	var d [32]uint8
	for i := range d {
		d[i] = 5
	}
	lit, _ := buildHuffTable(l[:], litRootBits, nil)
	dist, _ := buildHuffTable(d[:], distRootBits, nil)
	return lit, dist
}()

// A table entry: bits 0-3 the code length (0: no such code), bit 4 set for
// a link to a subtable, bits 8 and up the symbol, or the subtable's offset
// with the bits it is indexed by in bits 0-3.
const entryLink = 1 << 4

// buildHuffTable builds the decoding table of a canonical Huffman code
// from its code lengths, in tab's memory when it is large enough: 2^root
// entries indexed by the next root bits of input, with subtables for
// longer codes. As zlib does, it accepts a complete code, no code at all
// and a single code of one bit, and fails on any other set of lengths.
func buildHuffTable(lengths []uint8, root uint, tab []uint32) ([]uint32, bool) {
	var count [16]int
	for _, l := range lengths {
		count[l&15]++
	}
	return buildHuffTableCounted(lengths, &count, root, tab)
}

// buildHuffTableCounted is buildHuffTable with the number of codes of each
// length counted already.
func buildHuffTableCounted(lengths []uint8, count *[16]int, root uint, tab []uint32) ([]uint32, bool) {
	count[0] = 0
	left := 1
	maxLen := 0
	for l := 1; l <= 15; l++ {
		left = left*2 - count[l]
		if left < 0 {
			return tab, false
		}
		if count[l] > 0 {
			maxLen = l
		}
	}
	if left > 0 && maxLen > 1 {
		return tab, false
	}
	var next [16]int
	code := 0
	for l := 1; l <= 15; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	rootSize := 1 << root
	rootMask := rootSize - 1
	size := rootSize
	// Subtable sizes: the longest code under each root prefix.
	var subLen [1 << 9]uint8
	if uint(maxLen) > root {
		n := next
		for _, l := range lengths {
			if uint(l) <= root {
				if l > 0 {
					n[l]++
				}
				continue
			}
			rev := int(bits.Reverse16(uint16(n[l])) >> (16 - l))
			n[l]++
			pre := rev & rootMask
			subLen[pre] = max(subLen[pre], l-uint8(root))
		}
		for pre := 0; pre < rootSize; pre++ {
			if subLen[pre] > 0 {
				size += 1 << subLen[pre]
			}
		}
	}
	if cap(tab) < size {
		tab = make([]uint32, size)
	}
	tab = tab[:size]
	if left > 0 {
		// Incomplete: the entries no code fills stay invalid.
		clear(tab)
	}
	if size > rootSize {
		off := rootSize
		for pre := 0; pre < rootSize; pre++ {
			if sl := subLen[pre]; sl > 0 {
				tab[pre] = uint32(off)<<8 | entryLink | uint32(sl)
				off += 1 << sl
			}
		}
	}
	for sym, l := range lengths {
		if l == 0 {
			continue
		}
		rev := int(bits.Reverse16(uint16(next[l])) >> (16 - l))
		next[l]++
		e := uint32(sym)<<8 | uint32(l)
		if uint(l) <= root {
			for i := rev; i < rootSize; i += 1 << l {
				tab[i] = e
			}
			continue
		}
		link := tab[rev&rootMask]
		base := int(link >> 8)
		sl := int(link & 15)
		step := 1 << (uint(l) - root)
		for i := rev >> root; i < 1<<sl; i += step {
			tab[base+i] = e
		}
	}
	return tab, true
}

// lookup returns the entry of the code at the start of b.
func lookup(tab []uint32, b uint64, root uint) uint32 {
	e := tab[b&(1<<root-1)]
	if e&entryLink != 0 {
		e = tab[int(e>>8)+int((b>>root)&(1<<(e&15)-1))]
	}
	return e
}

// decode decodes in until it runs out or decoding stops, and returns how
// much of in it used: all of it, except when it stopped inside a dynamic
// block header (the rest is needed again with more input).
func (s *inflateStream) decode(in []byte, sink inflateSink) int {
	pos := 0
	bitBuf, nb := s.bits, s.nb
	defer func() { s.bits, s.nb = bitBuf, nb }()
	refill := func() { pos, bitBuf, nb = fillBits(in, pos, bitBuf, nb) }
	for {
		switch s.state {
		case stBlock:
			if nb < 3 {
				refill()
				if nb < 3 {
					return pos
				}
			}
			s.final = bitBuf&1 != 0
			switch (bitBuf >> 1) & 3 {
			case 0:
				bitBuf >>= 3
				nb -= 3
				// Skip to a byte boundary.
				bitBuf >>= nb & 7
				nb -= nb & 7
				s.state = stStored
				s.left = -1
			case 1:
				bitBuf >>= 3
				nb -= 3
				s.lit, s.dist = fixedLit, fixedDist
				s.state = stHuff
			case 2:
				s.bits, s.nb = bitBuf, nb
				next, ok := s.readDynamicHeader(in, pos)
				if !ok {
					if s.state == stFailed {
						return len(in)
					}
					return pos // more input needed
				}
				pos = next
				bitBuf, nb = s.bits, s.nb
				s.state = stHuff
			default:
				s.fail(pos, nb, "reserved block type 3")
				return len(in)
			}
		case stStored:
			if s.left < 0 {
				if nb < 32 {
					refill()
					if nb < 32 {
						return pos
					}
				}
				n := int(bitBuf & 0xffff)
				if uint16(bitBuf>>16) != ^uint16(n) {
					s.fail(pos, nb, "stored block length does not match its complement")
					return len(in)
				}
				bitBuf >>= 32
				nb -= 32
				s.left = n
			}
			for s.left > 0 {
				if s.w > inflateBufSize-matchRoom && !s.makeRoom(sink) {
					return len(in)
				}
				room := min(s.left, inflateBufSize-s.w)
				if nb > 0 {
					// Whole bytes still in the bit buffer come first.
					k := 0
					for nb >= 8 && k < room {
						s.buf[s.w+k] = byte(bitBuf)
						bitBuf >>= 8
						nb -= 8
						k++
					}
					s.w += k
					s.left -= k
					continue
				}
				bitBuf = 0
				k := copy(s.buf[s.w:s.w+room], in[pos:])
				if k == 0 {
					return pos
				}
				pos += k
				s.w += k
				s.left -= k
			}
			s.endBlock()
		case stHuff:
			if !s.huffman(in, &pos, &bitBuf, &nb, sink) {
				return len(in)
			}
			if s.state == stHuff {
				return pos // more input needed
			}
		default:
			return len(in)
		}
	}
}

func (s *inflateStream) endBlock() {
	if s.final {
		s.state = stFinal
	} else {
		s.state = stBlock
	}
}

// huffman decodes symbols of the block in progress until the block ends
// (state changes) or the input runs out (state stays). It returns false
// when decoding stopped for good.
func (s *inflateStream) huffman(in []byte, posp *int, bitp *uint64, nbp *uint, sink inflateSink) (ok bool) {
	pos, bitBuf, nb := *posp, *bitp, *nbp
	lit, dist := s.lit, s.dist
	buf := s.buf
	w := s.w
	ok = true
	bad := "" // why the input is not valid DEFLATE
	for {
		if w > inflateBufSize-matchRoom {
			s.w = w
			if !s.makeRoom(sink) {
				ok = false
				break
			}
			w = s.w
		}
		if nb < 48 {
			pos, bitBuf, nb = fillBits(in, pos, bitBuf, nb)
		}
		e := lookup(lit, bitBuf, litRootBits)
		n := uint(e & 15)
		if n > nb || (n == 0 && nb < 15) {
			break // more input needed
		}
		if n == 0 {
			bad = "invalid literal/length code"
			break
		}
		sym := e >> 8
		if sym < 256 {
			buf[w] = byte(sym)
			w++
			bitBuf >>= n
			nb -= n
			continue
		}
		if sym == 256 {
			bitBuf >>= n
			nb -= n
			s.endBlock()
			break
		}
		li := sym - 257
		if li >= 29 {
			bad = "invalid length symbol " + strconv.Itoa(int(sym))
			break
		}
		ext := uint(lenExtra[li])
		tot := n + ext
		if tot > nb {
			break
		}
		length := int(lenBase[li]) + int((bitBuf>>n)&(1<<ext-1))
		b2 := bitBuf >> tot
		de := lookup(dist, b2, distRootBits)
		dn := uint(de & 15)
		if tot+dn > nb || (dn == 0 && tot+15 > nb) {
			break
		}
		if dn == 0 {
			bad = "invalid distance code"
			break
		}
		dsym := de >> 8
		if dsym >= 30 {
			bad = "invalid distance symbol " + strconv.Itoa(int(dsym))
			break
		}
		dext := uint(distExtra[dsym])
		tot += dn + dext
		if tot > nb {
			break
		}
		d := int(distBase[dsym]) + int((b2>>dn)&(1<<dext-1))
		if d > w-s.histStart {
			bad = "back-reference " + strconv.Itoa(d) + " bytes back, before the start of the data"
			break
		}
		if d > s.maxDist {
			bad = "back-reference " + strconv.Itoa(d) + " bytes back, beyond the window of " + strconv.Itoa(s.maxDist) + " bytes"
			break
		}
		bitBuf >>= tot
		nb -= tot
		src := w - d
		if d >= 8 {
			// Eight bytes at a time: each read is of bytes written
			// already (d >= 8); the last write may go up to 7 bytes past
			// the match, into room nothing has used yet.
			if length <= 32 {
				for i := 0; i < length; i += 8 {
					binary.LittleEndian.PutUint64(buf[w+i:], binary.LittleEndian.Uint64(buf[src+i:]))
				}
			} else if d >= length {
				copy(buf[w:w+length], buf[src:src+length])
			} else {
				for i := 0; i < length; i += 8 {
					binary.LittleEndian.PutUint64(buf[w+i:], binary.LittleEndian.Uint64(buf[src+i:]))
				}
			}
			w += length
			continue
		}
		// Overlapping: the copy repeats the last d bytes.
		end := w + length
		for w < end {
			w += copy(buf[w:end], buf[src:w])
		}
	}
	s.w = w
	if bad != "" {
		s.fail(pos, nb, bad)
		ok = false
	}
	*posp, *bitp, *nbp = pos, bitBuf, nb
	return ok
}

// fillBits loads input bytes from in[pos:] into the bit buffer b holding
// nb bits: eight at once when there are eight, which may leave bits of
// the next bytes above nb (they are loaded again, the same, next time),
// otherwise byte by byte while the buffer has room.
func fillBits(in []byte, pos int, b uint64, nb uint) (int, uint64, uint) {
	if pos+8 <= len(in) {
		b |= binary.LittleEndian.Uint64(in[pos:]) << nb
		return pos + int((63-nb)>>3), b, nb | 56
	}
	for nb <= 56 && pos < len(in) {
		b |= uint64(in[pos]) << nb
		pos++
		nb += 8
	}
	return pos, b, nb
}

// readDynamicHeader reads a dynamic block's code lengths (the three block
// header bits not yet consumed) from the bit buffer and in, and builds its
// tables. It reads in from pos and returns where it stopped and true, or
// false when in ends first (nothing consumed) or the header is invalid
// (state stFailed).
func (s *inflateStream) readDynamicHeader(in []byte, pos int) (int, bool) {
	b, nb := s.bits, s.nb
	need := func(n uint) bool {
		for nb < n {
			if pos >= len(in) {
				return false
			}
			b |= uint64(in[pos]) << nb
			pos++
			nb += 8
		}
		return true
	}
	if !need(17) {
		return 0, false
	}
	b >>= 3
	nb -= 3
	nlit := int(b&31) + 257
	ndist := int((b>>5)&31) + 1
	nclen := int((b>>10)&15) + 4
	b >>= 14
	nb -= 14
	if nlit > 286 || ndist > 30 {
		s.fail(pos, nb, "too many length or distance codes")
		return 0, false
	}
	var cl [19]uint8
	for i := 0; i < nclen; i++ {
		if !need(3) {
			return 0, false
		}
		cl[clOrder[i]] = uint8(b & 7)
		b >>= 3
		nb -= 3
	}
	var clTab [1 << clRootBits]uint32
	if _, ok := buildHuffTable(cl[:], clRootBits, clTab[:0:len(clTab)]); !ok {
		s.fail(pos, nb, "invalid code length code lengths")
		return 0, false
	}
	lens := s.lens[:nlit+ndist]
	var litCount, distCount [16]int
	for i := 0; i < len(lens); {
		if !need(7) {
			// A code may be shorter than 7 bits: try with what there is.
			if nb == 0 {
				return 0, false
			}
		}
		e := clTab[b&(1<<clRootBits-1)]
		n := uint(e & 15)
		if n == 0 && nb < clRootBits {
			return 0, false
		}
		if n == 0 {
			s.fail(pos, nb, "invalid code length code")
			return 0, false
		}
		if n > nb {
			return 0, false
		}
		b >>= n
		nb -= n
		sym := e >> 8
		if sym < 16 {
			lens[i] = uint8(sym)
			if i < nlit {
				litCount[sym]++
			} else {
				distCount[sym]++
			}
			i++
			continue
		}
		var rep int
		var val uint8
		switch sym {
		case 16:
			if i == 0 {
				s.fail(pos, nb, "repeated code length without a previous one")
				return 0, false
			}
			if !need(2) {
				return 0, false
			}
			rep = 3 + int(b&3)
			b >>= 2
			nb -= 2
			val = lens[i-1]
		case 17:
			if !need(3) {
				return 0, false
			}
			rep = 3 + int(b&7)
			b >>= 3
			nb -= 3
		default:
			if !need(7) {
				return 0, false
			}
			rep = 11 + int(b&127)
			b >>= 7
			nb -= 7
		}
		if i+rep > len(lens) {
			s.fail(pos, nb, "code lengths overflow the codes")
			return 0, false
		}
		inLit := max(0, min(i+rep, nlit)-i)
		litCount[val&15] += inLit
		distCount[val&15] += rep - inLit
		for ; rep > 0; rep-- {
			lens[i] = val
			i++
		}
	}
	if lens[256] == 0 {
		s.fail(pos, nb, "no end-of-block code")
		return 0, false
	}
	var ok bool
	if s.dynLit, ok = buildHuffTableCounted(lens[:nlit], &litCount, litRootBits, s.dynLit); !ok {
		s.fail(pos, nb, "invalid literal/length code lengths")
		return 0, false
	}
	if s.dynDist, ok = buildHuffTableCounted(lens[nlit:], &distCount, distRootBits, s.dynDist); !ok {
		s.fail(pos, nb, "invalid distance code lengths")
		return 0, false
	}
	s.lit, s.dist = s.dynLit, s.dynDist
	s.bits, s.nb = b, nb
	return pos, true
}
