package report

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/wsdump/wsdump/dissect"
)

// feedInterleaved sends n conversations to sink with their events
// interleaved: conversation i gets msgs messages (text, binary, a ping,
// payloads with quotes, escapes, markup characters and invalid UTF-8),
// every 7th event a violation and every 11th a gap. Conversations differ:
// upgraded, refused, unanswered and plain TCP ones, and they end in an
// order other than the one they started in. The same n and msgs always
// give the same events.
func feedInterleaved(sink dissect.Sink, n, msgs, size int) {
	t0 := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	convs := make([]*dissect.ConvRef, n)
	hss := make([]*dissect.Handshake, n)
	for i := range convs {
		c := &dissect.ConvRef{ID: uint64(i + 1), Client: fmt.Sprintf("10.0.%d.%d:%d", i/250, i%250+1, 40000+i), Server: "[2001:db8::1]:443"}
		convs[i] = c
		if i%5 == 4 {
			continue // plain TCP: no handshake
		}
		hs := &dissect.Handshake{
			Protocol: dissect.ProtoRFC6455,
			Request: dissect.Request{Method: "GET", URI: fmt.Sprintf("/chat/%d?room=a%%20b&x", i), Version: "HTTP/1.1",
				Headers: []dissect.Header{{Name: "Host", Value: "example.org"}, {Name: "Upgrade", Value: "websocket"}}, Time: t0},
			Host: "example.org", Key: "dGhlIHNhbXBsZSBub25jZQ==",
		}
		switch i % 5 {
		case 0, 1:
			hs.Upgraded = true
			hs.Accept, hs.AcceptValid = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", true
			hs.Response = &dissect.Response{Version: "HTTP/1.1", StatusCode: 101, Reason: "Switching Protocols",
				Headers: []dissect.Header{{Name: "Upgrade", Value: "websocket"}}, Time: t0.Add(time.Millisecond)}
		case 2:
			hs.Response = &dissect.Response{Version: "HTTP/1.1", StatusCode: 302, Reason: "Found",
				Headers: []dissect.Header{{Name: "Location", Value: "https://example.org/<login>&a"}}, Time: t0.Add(2 * time.Millisecond)}
		}
		hss[i] = hs
		sink.Handshake(c, hs)
	}
	base := bytes.Repeat([]byte("<b>\"q\" & \\ é\t"), size/8+1)[:size]
	ev := 0
	for k := 0; k < msgs; k++ {
		for i, c := range convs {
			ev++
			at := t0.Add(time.Duration(ev) * time.Microsecond)
			m := &dissect.Message{Dir: dissect.Direction(k % 2), Index: uint64(k), Frames: 1, Start: at, End: at}
			p := append([]byte(fmt.Sprintf("%d/%d ", i, k)), base[:(k*37+i*11)%(size+1)]...)
			switch k % 4 {
			case 0, 1:
				m.Opcode = dissect.OpText
				m.ValidUTF8 = true
			case 2:
				m.Opcode = dissect.OpBinary
				p = append(p, 0xff, 0x00, 0xc3)
			case 3:
				m.Opcode = dissect.OpPing
				p = p[:min(len(p), 125)]
			}
			m.Payload, m.Length, m.WirePayload, m.WireLength = p, uint64(len(p)), uint64(len(p)), uint64(len(p)+6)
			m.SHA256 = sha256.Sum256(p)
			sink.Message(c, m)
			if ev%7 == 0 {
				sink.Violation(c, &dissect.Violation{Code: "ws.test_violation", Severity: dissect.SeverityError, Dir: m.Dir,
					HasFrame: true, Frame: uint64(k), Time: at, Detail: fmt.Sprintf("event %d <&>", ev), Ref: "RFC 6455 §5.1"})
			}
			if ev%11 == 0 {
				sink.Gap(c, &dissect.Gap{Dir: m.Dir, Time: at, Offset: uint64(ev * 100), Length: uint64(ev), InFrame: ev%2 == 0})
			}
		}
	}
	// End in a scrambled order.
	for j := 0; j < n; j++ {
		i := (j*7 + 3) % n
		if n%7 == 0 {
			i = n - 1 - j
		}
		s := &dissect.Summary{Handshake: hss[i], Start: t0, End: t0.Add(time.Second), EndReason: dissect.EndFIN}
		if hss[i] != nil && hss[i].Upgraded {
			s.IsWebSocket, s.Protocol = true, dissect.ProtoRFC6455
		}
		sink.End(convs[i], s)
	}
}
