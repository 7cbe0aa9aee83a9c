package pcaptest

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"strings"
)

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	OpCont   = 0x0
	OpText   = 0x1
	OpBinary = 0x2
	OpClose  = 0x8
	OpPing   = 0x9
	OpPong   = 0xA
)

// Frame is a WebSocket frame written field by field (RFC 6455 section 5.2).
// Nothing is checked, so tests can write frames that break the rules.
type Frame struct {
	Fin    bool
	Rsv    uint8 // RSV1, RSV2, RSV3 as bits 2, 1, 0 (RSV1 = 4)
	Opcode uint8
	Masked bool
	Mask   [4]byte
	// Payload is written masked when Masked is set.
	Payload []byte
	// LengthBits forces the length encoding: 7, 16 or 64. 0 picks the
	// shortest, as the RFC requires.
	LengthBits int
}

// Append appends the wire bytes of the frame to b.
func (f Frame) Append(b []byte) []byte {
	b0 := f.Opcode&0x0F | (f.Rsv&7)<<4
	if f.Fin {
		b0 |= 0x80
	}
	var b1 byte
	if f.Masked {
		b1 = 0x80
	}
	n := uint64(len(f.Payload))
	bitsN := f.LengthBits
	if bitsN == 0 {
		switch {
		case n <= 125:
			bitsN = 7
		case n <= 0xFFFF:
			bitsN = 16
		default:
			bitsN = 64
		}
	}
	switch bitsN {
	case 7:
		b = append(b, b0, b1|byte(n&0x7F))
	case 16:
		b = append(b, b0, b1|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, b0, b1|127)
		b = binary.BigEndian.AppendUint64(b, n)
	}
	if !f.Masked {
		return append(b, f.Payload...)
	}
	b = append(b, f.Mask[:]...)
	for i, c := range f.Payload {
		b = append(b, c^f.Mask[i&3])
	}
	return b
}

// Bytes returns the wire bytes of the frame.
func (f Frame) Bytes() []byte { return f.Append(nil) }

// ClientFrame returns a final, masked frame as a client sends it.
func ClientFrame(op uint8, payload []byte, mask [4]byte) []byte {
	return Frame{Fin: true, Opcode: op, Masked: true, Mask: mask, Payload: payload}.Bytes()
}

// ServerFrame returns a final, unmasked frame as a server sends it.
func ServerFrame(op uint8, payload []byte) []byte {
	return Frame{Fin: true, Opcode: op, Payload: payload}.Bytes()
}

// ClosePayload returns the payload of a close frame: status code and reason.
func ClosePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// AcceptKey computes Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455
// section 4.2.2): base64 of the SHA-1 of the key and the fixed GUID.
func AcceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// UpgradeRequest returns an RFC 6455 opening handshake request. extra
// header lines ("Name: value") are added before the blank line.
func UpgradeRequest(host, path, key string, extra ...string) []byte {
	lines := []string{
		"GET " + path + " HTTP/1.1",
		"Host: " + host,
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Key: " + key,
		"Sec-WebSocket-Version: 13",
	}
	return httpBlock(append(lines, extra...))
}

// UpgradeResponse returns the 101 response accepting key, with extra
// header lines.
func UpgradeResponse(key string, extra ...string) []byte {
	lines := []string{
		"HTTP/1.1 101 Switching Protocols",
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Accept: " + AcceptKey(key),
	}
	return httpBlock(append(lines, extra...))
}

func httpBlock(lines []string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\n\r\n")
}
