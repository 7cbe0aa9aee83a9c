package dissect

import (
	"encoding/binary"
	"math/bits"
)

// unmask XORs b in place with the masking key of RFC 6455 §5.3, starting at
// key byte pos (0 to 3), and returns the key position for the byte that
// follows b. A payload split over several chunks is unmasked by passing the
// returned position to the call for the next chunk.
//
// Masking and unmasking are the same operation. The body works on eight
// bytes at a time with the key replicated and rotated to the position.
func unmask(key [4]byte, pos int, b []byte) int {
	pos &= 3
	if len(b) >= 8 {
		k32 := bits.RotateLeft32(binary.LittleEndian.Uint32(key[:]), -8*pos)
		k64 := uint64(k32)<<32 | uint64(k32)
		for len(b) >= 32 {
			v := b[:32]
			binary.LittleEndian.PutUint64(v[0:8], binary.LittleEndian.Uint64(v[0:8])^k64)
			binary.LittleEndian.PutUint64(v[8:16], binary.LittleEndian.Uint64(v[8:16])^k64)
			binary.LittleEndian.PutUint64(v[16:24], binary.LittleEndian.Uint64(v[16:24])^k64)
			binary.LittleEndian.PutUint64(v[24:32], binary.LittleEndian.Uint64(v[24:32])^k64)
			b = b[32:]
		}
		for len(b) >= 8 {
			binary.LittleEndian.PutUint64(b[:8], binary.LittleEndian.Uint64(b[:8])^k64)
			b = b[8:]
		}
	}
	// Eight bytes are two whole turns of the key: pos is unchanged so far.
	for i := range b {
		b[i] ^= key[pos]
		pos = (pos + 1) & 3
	}
	return pos
}
