package dissect

import "unicode/utf8"

// Finding frames without a handshake.
//
// A capture that starts after the opening handshake, and a direction that
// lost bytes in a gap, leave the decoder without a frame boundary. Frames
// are found again by their headers: a run of consecutive headers, each
// plausible on its own (a defined opcode, no RSV bit but RSV1 on a data
// frame, a minimal length encoding, a short unfragmented control frame, the
// same mask bit throughout, text that is UTF-8) and each starting exactly
// where the previous frame's payload ends. Requiring several in a row is
// what keeps this from firing on other protocols: ASCII text (HTTP, SMTP,
// SSH banners) sets RSV2 or RSV3 in almost every byte, TLS record types do
// too, and random bytes chain by chance with a probability near 2^-16 per
// header.

const (
	// probeScan is how many start offsets are tried: a stream picked up in
	// the middle of a frame reaches the next header within a few segments.
	probeScan = 4096
	// probeCap caps the bytes held for one side while frames are looked
	// for; beyond it the side is given up.
	probeCap = 256 << 10
	// probeMaxLen is the largest payload length taken as plausible.
	probeMaxLen = 1 << 26
	// probeNeedStart is how many chained headers confirm frames found at
	// the very start of a side's bytes; probeNeedScan elsewhere.
	probeNeedStart = 3
	probeNeedScan  = 4
	// probeMaxFragments is how many frames past the needed ones a chain may
	// run without a final frame (FIN) before it is not taken.
	probeMaxFragments = 8
)

// chainResult says what a search for frames found.
type chainResult struct {
	found  bool // a chain starts at off
	off    int
	masked bool // the chain's frames are masked (a client's)
	rsv1   bool // a frame of the chain has RSV1 set
	more   bool // not found yet, but more bytes may change that
}

// maskRule says which mask bit the frames must have.
type maskRule uint8

const (
	maskAny maskRule = iota
	maskSet
	maskClear
)

// findChain looks for the first offset in b (up to probeScan) where a chain
// of plausible frame headers starts. At offset 0 needStart headers confirm
// it, elsewhere needScan.
func findChain(b []byte, rule maskRule, needStart, needScan int) chainResult {
	var res chainResult
	last := min(len(b), probeScan)
	for off := 0; off < last; off++ {
		need := needScan
		if off == 0 {
			need = needStart
		}
		ok, more, masked, rsv1 := chainAt(b[off:], rule, need)
		if ok {
			return chainResult{found: true, off: off, masked: masked, rsv1: rsv1}
		}
		res.more = res.more || more
	}
	if len(b) < probeScan {
		res.more = true // later offsets are still to come
	}
	return res
}

// chainAt reports whether need plausible frame headers follow each other
// from the start of b. more is true when b ends before that is decided.
func chainAt(b []byte, rule maskRule, need int) (ok, more, masked, rsv1 bool) {
	var scratch [256]byte
	i, frames := 0, 0
	inFrag, sawFin := false, false
	for {
		h, n := parseFrameHeader(b[i:])
		if n == 0 {
			return false, true, masked, rsv1
		}
		if frames == 0 {
			masked = h.masked
			if h.opcode == OpContinuation {
				// Start at a message's first frame, never inside one.
				return false, false, false, false
			}
		}
		if !plausibleHeader(&h, masked, inFrag) {
			return false, false, false, false
		}
		switch rule {
		case maskSet:
			if !h.masked {
				return false, false, false, false
			}
		case maskClear:
			if h.masked {
				return false, false, false, false
			}
		}
		if h.rsv != 0 {
			rsv1 = true
		}
		if !h.opcode.IsControl() {
			inFrag = !h.fin
		}
		if h.fin {
			sawFin = true
		}
		frames++
		if frames >= need && sawFin {
			return true, false, masked, rsv1
		}
		if frames >= need+probeMaxFragments {
			return false, false, false, false
		}
		end := uint64(i) + uint64(n) + h.length
		if end > uint64(len(b)) {
			return false, true, masked, rsv1
		}
		payload := b[i+n : end]
		if !plausiblePayload(&h, payload, scratch[:]) {
			return false, false, false, false
		}
		i = int(end)
	}
}

// plausibleHeader checks one header on its own and against the chain so far.
func plausibleHeader(h *frameHeader, masked, inFrag bool) bool {
	switch {
	case h.opcode.IsReserved(), h.nonMinimal, h.topBit, h.length > probeMaxLen, h.masked != masked:
		return false
	case h.rsv != 0 && (h.rsv != 0x4 || (h.opcode != OpText && h.opcode != OpBinary)):
		return false
	case h.opcode.IsControl():
		return h.fin && h.length <= 125
	case !h.fin && h.length == 0:
		// Empty fragments are legal but nobody sends them, while runs of
		// zero bytes in other protocols read as exactly that.
		return false
	case h.opcode == OpContinuation:
		return inFrag
	}
	return !inFrag
}

// plausiblePayload checks what can be checked of a short payload: a close
// frame's code, and that a whole uncompressed text frame is UTF-8.
func plausiblePayload(h *frameHeader, p, scratch []byte) bool {
	if len(p) > len(scratch) {
		return true
	}
	q := scratch[:copy(scratch, p)]
	if h.masked {
		unmask(h.mask, 0, q)
	}
	switch {
	case h.opcode == OpClose:
		if len(q) == 1 {
			return false
		}
		if len(q) >= 2 {
			if _, _, valid := closeCodeInfo(uint16(q[0])<<8 | uint16(q[1])); !valid {
				return false
			}
		}
	case h.opcode == OpText && h.fin && h.rsv == 0:
		return utf8.Valid(q)
	}
	if h.rsv&0x4 != 0 && len(q) > 0 && (q[0]>>1)&3 == 3 {
		return false // a compressed payload cannot start with block type 3
	}
	return true
}
