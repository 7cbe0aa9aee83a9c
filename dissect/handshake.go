package dissect

import (
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"time"
)

// This file fills the Handshake record from an upgrade request and its
// answer and checks them against RFC 6455 §4 (and the hixie-76 draft).

// acceptGUID is the constant of RFC 6455 §1.3 appended to the key.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// computeAccept returns the Sec-WebSocket-Accept value a server must send
// for key: base64(SHA-1(key + GUID)), RFC 6455 §4.2.2 item 5.4.
func computeAccept(key string) string {
	sum := sha1.Sum([]byte(key + acceptGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// References used by the handshake violations.
const (
	refClientHS = "RFC 6455 §4.1"
	refServerHS = "RFC 6455 §4.2.2"
	refReadReq  = "RFC 6455 §4.2.1"
	refExt      = "RFC 6455 §9.1"
	refDeflate  = "RFC 7692 §7.1"
	refHixie76  = "draft-hixie-thewebsocketprotocol-76 §5.2"
)

type sideViolation struct {
	side int
	v    Violation
}

// hsViolate queues a violation of the handshake; queued violations are
// reported right after the handshake record.
func (p *httpPhase) hsViolate(s int, code string, sev Severity, ref, detail string, t time.Time) {
	p.hsViols = append(p.hsViols, sideViolation{s, Violation{
		Code: code, Severity: sev, Dir: p.dirOf(s), Time: t, Detail: detail, Ref: ref,
	}})
}

// requestFields fills the fields of p.hs that come from the request.
func (p *httpPhase) requestFields(s int, t time.Time) {
	h := p.hs
	hs := h.Request.Headers
	h.Host, _ = GetHeader(hs, "Host")
	if v, ok := GetHeader(hs, "Origin"); ok {
		h.Origin = v
	} else {
		h.Origin, _ = GetHeader(hs, "Sec-WebSocket-Origin")
	}
	h.UserAgent, _ = GetHeader(hs, "User-Agent")
	h.Key, _ = GetHeader(hs, "Sec-WebSocket-Key")
	h.Version, _ = GetHeader(hs, "Sec-WebSocket-Version")
	var k1, k2 bool
	h.Key1, k1 = GetHeader(hs, "Sec-WebSocket-Key1")
	h.Key2, k2 = GetHeader(hs, "Sec-WebSocket-Key2")
	_, hasKey := GetHeader(hs, "Sec-WebSocket-Key")
	h.Protocol = ProtoRFC6455
	if k1 && k2 && !hasKey {
		h.Protocol = ProtoHixie76
		h.Key3 = make([]byte, 0, 8)
	}
	for _, x := range hs {
		switch {
		case equalFold(x.Name, "Sec-WebSocket-Protocol"):
			h.OfferedSubprotocols = splitList(h.OfferedSubprotocols, x.Value)
		case equalFold(x.Name, "Sec-WebSocket-Extensions"):
			var err error
			h.OfferedExtensions, err = parseExtensions(h.OfferedExtensions, x.Value)
			if err != nil {
				p.hsViolate(s, "ws.extensions_malformed", SeverityError, refExt,
					"request Sec-WebSocket-Extensions "+err.Error(), t)
			}
		}
	}
}

// reportHandshake completes p.hs with the response (if any), checks it, and
// reports it followed by its violations.
func (p *httpPhase) reportHandshake(t time.Time) {
	h := p.hs
	if h == nil || p.hsRep {
		return
	}
	p.hsRep = true
	c := p.client
	srv := 1 - c
	if h.Response != nil {
		p.responseFields(srv, t)
	}
	p.checkRequest(c, t)
	switch {
	case h.Response == nil:
		p.hsViolate(c, "ws.upgrade_not_answered", SeverityInfo, refClientHS,
			"no response to the upgrade request was captured", t)
	case h.Response.StatusCode != 101:
		p.hsViolate(srv, "ws.upgrade_refused", SeverityInfo, refClientHS,
			"upgrade answered with "+strconv.Itoa(h.Response.StatusCode)+" "+h.Response.Reason, t)
	default:
		p.checkResponse(srv, t)
	}
	if p.onHandshake != nil {
		p.onHandshake(h)
	}
	vs := p.hsViols
	p.hsViols = nil
	for i := range vs {
		if p.onViolation != nil {
			p.onViolation(vs[i].side, &vs[i].v)
		}
	}
}

// responseFields fills the fields of p.hs that come from the response.
func (p *httpPhase) responseFields(srv int, t time.Time) {
	h := p.hs
	hs := h.Response.Headers
	h.Accept, _ = GetHeader(hs, "Sec-WebSocket-Accept")
	if h.Protocol == ProtoRFC6455 && h.Key == "" && h.Response.StatusCode == 101 {
		_, hasKey := GetHeader(h.Request.Headers, "Sec-WebSocket-Key")
		_, o := GetHeader(hs, "WebSocket-Origin")
		_, l := GetHeader(hs, "WebSocket-Location")
		if !hasKey && (o || l) {
			h.Protocol = ProtoHixie75
		}
	}
	var sub []string
	for _, x := range hs {
		switch {
		case equalFold(x.Name, "Sec-WebSocket-Protocol"):
			sub = append(sub, x.Value)
		case equalFold(x.Name, "Sec-WebSocket-Extensions"):
			var err error
			h.AcceptedExtensions, err = parseExtensions(h.AcceptedExtensions, x.Value)
			if err != nil {
				p.hsViolate(srv, "ws.extensions_malformed", SeverityError, refExt,
					"response Sec-WebSocket-Extensions "+err.Error(), t)
			}
		}
	}
	if len(sub) > 0 {
		h.Subprotocol = sub[0]
		for _, x := range sub[1:] {
			h.Subprotocol += ", " + x
		}
	}
	if h.Key != "" {
		h.ExpectedAccept = computeAccept(h.Key)
		h.AcceptValid = h.Accept != "" && h.Accept == h.ExpectedAccept
	}
}

// checkRequest checks the upgrade request (RFC 6455 §4.1, §4.2.1).
func (p *httpPhase) checkRequest(c int, t time.Time) {
	h := p.hs
	r := &h.Request
	if r.Method != "GET" {
		p.hsViolate(c, "ws.method_not_get", SeverityWarning, refClientHS,
			"upgrade request method is "+strconv.Quote(r.Method), t)
	}
	if r.Version == "HTTP/1.0" {
		p.hsViolate(c, "ws.http_version", SeverityWarning, refClientHS,
			"upgrade request uses HTTP/1.0", t)
	}
	if v, _ := GetHeader(r.Headers, "Connection"); !listHas(v, "upgrade") {
		p.hsViolate(c, "ws.connection_not_upgrade", SeverityWarning, refClientHS,
			"request Connection header lacks the upgrade token", t)
	}
	switch h.Protocol {
	case ProtoRFC6455:
		if _, ok := GetHeader(r.Headers, "Sec-WebSocket-Key"); !ok {
			p.hsViolate(c, "ws.missing_key", SeverityError, refClientHS,
				"upgrade request without Sec-WebSocket-Key", t)
		} else if b, err := base64.StdEncoding.DecodeString(h.Key); err != nil || len(b) != 16 {
			p.hsViolate(c, "ws.bad_key", SeverityWarning, refClientHS,
				"Sec-WebSocket-Key "+strconv.Quote(h.Key)+" is not 16 bytes in base64", t)
		}
		if h.Version != "13" {
			d := "Sec-WebSocket-Version is " + strconv.Quote(h.Version) + ", not 13"
			if _, ok := GetHeader(r.Headers, "Sec-WebSocket-Version"); !ok {
				d = "upgrade request without Sec-WebSocket-Version"
			}
			p.hsViolate(c, "ws.bad_version", SeverityError, refReadReq, d, t)
		}
	case ProtoHixie76, ProtoHixie75:
		if h.Key3 == nil {
			break // a draft-75 request: no keys
		}
		// A draft-76 request (also when the answer downgraded it).
		p.checkHixieKey(c, "Sec-WebSocket-Key1", h.Key1, t)
		p.checkHixieKey(c, "Sec-WebSocket-Key2", h.Key2, t)
		if len(h.Key3) < 8 {
			p.hsViolate(c, "ws.hixie_key3_short", SeverityWarning, refHixie76,
				"connection ended after "+strconv.Itoa(len(h.Key3))+" of the 8 bytes of key3", t)
		}
	}
}

// hixie75Response reports whether a 101 response has the draft-75 form:
// WebSocket-Origin or WebSocket-Location, and neither of the draft-76
// Sec-WebSocket-Origin and Sec-WebSocket-Location.
func hixie75Response(hs []Header) bool {
	if hasHeader(hs, "Sec-WebSocket-Origin") || hasHeader(hs, "Sec-WebSocket-Location") {
		return false
	}
	return hasHeader(hs, "WebSocket-Origin") || hasHeader(hs, "WebSocket-Location")
}

// checkResponse checks a 101 answer (RFC 6455 §4.1 client checks, §4.2.2).
func (p *httpPhase) checkResponse(srv int, t time.Time) {
	h := p.hs
	rs := h.Response.Headers
	up, _ := GetHeader(rs, "Upgrade")
	conn, _ := GetHeader(rs, "Connection")
	if !listHas(up, "websocket") || !listHas(conn, "upgrade") {
		p.hsViolate(srv, "ws.bad_upgrade_response", SeverityWarning, refClientHS,
			"101 response without Upgrade: websocket and Connection: upgrade", t)
	}
	switch h.Protocol {
	case ProtoRFC6455:
		switch {
		case h.Accept == "" && !hasHeader(rs, "Sec-WebSocket-Accept"):
			p.hsViolate(srv, "ws.missing_accept", SeverityError, refServerHS,
				"101 response without Sec-WebSocket-Accept", t)
		case h.Key != "" && !h.AcceptValid:
			p.hsViolate(srv, "ws.accept_mismatch", SeverityError, refServerHS,
				"Sec-WebSocket-Accept "+strconv.Quote(h.Accept)+", expected "+strconv.Quote(h.ExpectedAccept), t)
		}
	case ProtoHixie76:
		p.checkChallenge(srv, t)
	}
	if h.Subprotocol != "" && !containsString(h.OfferedSubprotocols, h.Subprotocol) {
		p.hsViolate(srv, "ws.subprotocol_not_offered", SeverityError, refClientHS,
			"server selected subprotocol "+strconv.Quote(h.Subprotocol)+" that the client did not offer", t)
	}
	for _, e := range h.AcceptedExtensions {
		if !offered(h.OfferedExtensions, e.Name) {
			p.hsViolate(srv, "ws.extension_not_offered", SeverityError, refClientHS,
				"server accepted extension "+strconv.Quote(e.Name)+" that the client did not offer", t)
		}
	}
	d, problem := negotiateDeflate(h.AcceptedExtensions)
	h.Deflate = d
	if problem != "" {
		p.hsViolate(srv, "ws.deflate_params_invalid", SeverityError, refDeflate, problem, t)
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func offered(list []Extension, name string) bool {
	for _, e := range list {
		if equalFold(e.Name, name) {
			return true
		}
	}
	return false
}

// hixieKeyNumber computes the 32-bit number of a hixie-76 key: the decimal
// digits of the key read as one number, divided by the count of spaces.
// problem is a violation code and detail when the key is unusable.
func hixieKeyNumber(key string) (n uint32, code, detail string) {
	var num uint64
	digits, spaces := 0, 0
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case '0' <= c && c <= '9':
			digits++
			if num > (1<<63)/10 {
				return 0, "ws.hixie_key_invalid", "key number too large"
			}
			num = num*10 + uint64(c-'0')
		case c == ' ':
			spaces++
		}
	}
	switch {
	case digits == 0:
		return 0, "ws.hixie_key_invalid", "key has no digits"
	case spaces == 0:
		return 0, "ws.hixie_key_no_spaces", "key has no spaces"
	case num%uint64(spaces) != 0:
		return 0, "ws.hixie_key_not_divisible", "key number " + strconv.FormatUint(num, 10) +
			" is not a multiple of its " + strconv.Itoa(spaces) + " spaces"
	}
	q := num / uint64(spaces)
	if q > 0xFFFFFFFF {
		return 0, "ws.hixie_key_invalid", "key number over 32 bits"
	}
	return uint32(q), "", ""
}

func (p *httpPhase) checkHixieKey(c int, name, key string, t time.Time) {
	if _, code, detail := hixieKeyNumber(key); code != "" {
		p.hsViolate(c, code, SeverityError, refHixie76, name+": "+detail, t)
	}
}

// hixieExpected computes the 16-byte answer to a hixie-76 challenge:
// MD5(be32(key1 number) || be32(key2 number) || key3). ok is false when a key
// is unusable or key3 is not 8 bytes.
func hixieExpected(key1, key2 string, key3 []byte) (sum [16]byte, ok bool) {
	n1, c1, _ := hixieKeyNumber(key1)
	n2, c2, _ := hixieKeyNumber(key2)
	if c1 != "" || c2 != "" || len(key3) != 8 {
		return sum, false
	}
	var in [16]byte
	binary.BigEndian.PutUint32(in[0:], n1)
	binary.BigEndian.PutUint32(in[4:], n2)
	copy(in[8:], key3)
	return md5.Sum(in[:]), true
}

func (p *httpPhase) checkChallenge(srv int, t time.Time) {
	h := p.hs
	sum, ok := hixieExpected(h.Key1, h.Key2, h.Key3)
	if !ok {
		return
	}
	h.ExpectedResponse = sum[:]
	if len(h.ChallengeAnswer) < 16 {
		p.hsViolate(srv, "ws.hixie_challenge_short", SeverityWarning, refHixie76,
			"connection ended after "+strconv.Itoa(len(h.ChallengeAnswer))+" of the 16 bytes of the challenge answer", t)
		return
	}
	h.ChallengeValid = string(h.ChallengeAnswer) == string(sum[:])
	if !h.ChallengeValid {
		p.hsViolate(srv, "ws.challenge_mismatch", SeverityError, refHixie76,
			"challenge answer does not match MD5 of the keys", t)
	}
}
