package dissect

import (
	"crypto/sha256"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/wsdump/wsdump/internal/sha256x"
)

// deferStreams builds the two sides of a conversation: masked client
// messages (unmasked into the session's scratch: hashed at once) and
// server messages of every kind (one frame or fragmented, short, long,
// longer than the payload cap).
func deferStreams(rng *rand.Rand) (client, server []byte) {
	mask := [4]byte{1, 2, 3, 4}
	for i := 0; i < 30; i++ {
		p := make([]byte, []int{10, 300, 5000, 70000, 150000}[rng.Intn(5)])
		rng.Read(p)
		if rng.Intn(3) == 0 {
			h := len(p) / 3
			server = append(server, buildWSFrame(wsTestFrame{op: OpBinary, payload: p[:h]})...)
			server = append(server, buildWSFrame(wsTestFrame{fin: true, op: OpContinuation, payload: p[h:]})...)
		} else {
			server = append(server, buildWSFrame(wsTestFrame{fin: true, op: OpBinary, payload: p})...)
		}
		q := make([]byte, rng.Intn(3000))
		rng.Read(q)
		client = append(client, buildWSFrame(wsTestFrame{fin: true, op: OpBinary, mask: &mask, payload: q})...)
	}
	return client, server
}

// TestDeferredDigests: with Config.Digests, digests queue the payload
// bytes fed to them and hash them at the caller's Flush, several messages
// at a time; the events are those of digests computed at once. The fed
// bytes are overwritten after every Flush, so a digest that read them
// later would differ.
func TestDeferredDigests(t *testing.T) {
	if sha256x.NewHasher() == nil {
		t.Log("no SHA extensions here: Config.Digests is nil, digests are computed at once")
	}
	for _, late := range []bool{false, true} {
		rng := rand.New(rand.NewSource(7))
		const convs = 3
		var streams [convs][2][]byte
		for i := range streams {
			streams[i][0], streams[i][1] = deferStreams(rng)
		}
		maxPending := 0 // digests with bytes queued, at most, at a flush
		run := func(defer_ bool) []*recordSinkFrames {
			cfg := DefaultConfig()
			cfg.LateDigest = late
			if defer_ {
				// As in the staged pipeline: payloads handed off and
				// given back, so that buffers are reused.
				cfg.Digests = sha256x.NewHasher()
				cfg.HandOff = true
			}
			var recs []*recordSinkFrames
			var cs []*Conversation
			for i := 0; i < convs; i++ {
				rec := &recordSinkFrames{}
				recs = append(recs, rec)
				cs = append(cs, NewConversation(&cfg, &ConvRef{ID: uint64(i)}, releasingSink{rec}, ConvOptions{AssumeWebSocket: true, RolesKnown: true}))
			}
			prng := rand.New(rand.NewSource(8))
			var pos [convs][2]int
			var fed [][]byte
			now := time.Unix(0, 0)
			for left := true; left; {
				left = false
				for i, c := range cs {
					for side := 0; side < 2; side++ {
						s := streams[i][side][pos[i][side]:]
						if len(s) == 0 {
							continue
						}
						left = true
						n := min(len(s), 1+prng.Intn(3000))
						if prng.Intn(8) == 0 {
							n = min(len(s), 1+prng.Intn(50000))
						}
						buf := append([]byte(nil), s[:n]...)
						pos[i][side] += n
						now = now.Add(time.Millisecond)
						c.Feed(side, buf, now)
						fed = append(fed, buf)
					}
				}
				if prng.Intn(4) == 0 {
					maxPending = max(maxPending, cfg.Digests.Pending())
					cfg.Digests.Flush()
					for _, b := range fed {
						for k := range b {
							b[k] = 0xEE
						}
					}
					fed = fed[:0]
				}
			}
			for i, c := range cs {
				recs[i].End(nil, c.End(EndFIN, now))
			}
			return recs
		}
		want, got := run(false), run(true)
		if sha256x.NewHasher() != nil && maxPending < 2 {
			// Nothing to compare if no bytes waited, or no two digests
			// were there to hash together.
			t.Errorf("late=%v: at most %d digests had bytes queued at a flush; want 2 or more", late, maxPending)
		}
		for i := range want {
			if !reflect.DeepEqual(got[i].events, want[i].events) {
				t.Errorf("late=%v conversation %d: events differ with deferred digests", late, i)
				for k := range want[i].events {
					if k < len(got[i].events) && !reflect.DeepEqual(got[i].events[k], want[i].events[k]) {
						g, w := got[i].events[k].msg, want[i].events[k].msg
						t.Logf("first difference, event %d: %d bytes, %d frames, cut %v, digest %x; want %x", k, g.Length, g.Frames, g.Truncated, g.SHA256, w.SHA256)
						break
					}
				}
			}
		}
	}
}

// TestLateDigestFill: with LateDigest, a message kept whole (of one frame,
// fragmented or inflated) comes without its digest and FillDigest gives the
// one computed as it goes; a message cut at the payload cap comes with its
// digest, even when it was known to be cut only on the way.
func TestLateDigestFill(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	client, server := deferStreams(rng)
	run := func(late bool) []Message {
		cfg := DefaultConfig()
		cfg.LateDigest = late
		rec := &recordSinkFrames{}
		c := NewConversation(&cfg, &ConvRef{ID: 1}, rec, ConvOptions{AssumeWebSocket: true, RolesKnown: true})
		now := time.Unix(0, 0)
		for _, side := range []int{0, 1} {
			s := [][]byte{client, server}[side]
			for len(s) > 0 {
				n := min(len(s), 1+rng.Intn(5000))
				c.Feed(side, s[:n], now)
				s = s[n:]
			}
		}
		rec.End(nil, c.End(EndFIN, now))
		return rec.messages()
	}
	want, got := run(false), run(true)
	if len(got) != len(want) {
		t.Fatalf("%d messages with LateDigest, %d without", len(got), len(want))
	}
	var filled, cut int
	for i := range got {
		m := got[i]
		if m.Truncated {
			cut++
			if m.SHA256 == ([32]byte{}) {
				t.Errorf("message %d (cut at %d of %d bytes, %d frames) has no digest", i, len(m.Payload), m.Length, m.Frames)
			}
		} else if m.SHA256 == ([32]byte{}) {
			filled++
			FillDigest(&m)
		}
		if m.SHA256 != want[i].SHA256 {
			t.Errorf("message %d (%d bytes, %d frames, cut %v): digest %x; want %x", i, m.Length, m.Frames, m.Truncated, m.SHA256, want[i].SHA256)
		}
	}
	if filled == 0 || cut == 0 {
		t.Errorf("%d messages left to FillDigest, %d cut; want some of each", filled, cut)
	}
}

// releasingSink records events, and gives back at once the payloads handed
// off to it (recorded as copies, as if they had not been).
type releasingSink struct{ *recordSinkFrames }

func (r releasingSink) Message(c *ConvRef, m *Message) {
	rec := *m // the flag stays as the dissector set it
	rec.PayloadHandedOff = false
	r.recordSinkFrames.Message(c, &rec)
	if m.PayloadHandedOff {
		ReleasePayload(m.Payload)
	}
}

// TestLazyCutGrowth: a fragmented message whose buffer grows in the very
// piece that takes it past the payload cap hashes the bytes it kept in
// their new buffer: the old one goes back to the free buffers, where
// another message takes it before the digest is taken.
func TestLazyCutGrowth(t *testing.T) {
	hs := sha256x.NewHasher()
	if hs == nil {
		t.Skip("no SHA extensions: nothing is hashed later")
	}
	cfg := DefaultConfig()
	cfg.LateDigest, cfg.HandOff, cfg.Digests = true, true, hs
	rng := rand.New(rand.NewSource(10))
	payload := make([]byte, 120000)
	rng.Read(payload)
	recA, recB := &recordSinkFrames{}, &recordSinkFrames{}
	a := NewConversation(&cfg, &ConvRef{ID: 1}, releasingSink{recA}, ConvOptions{AssumeWebSocket: true, RolesKnown: true})
	b := NewConversation(&cfg, &ConvRef{ID: 2}, releasingSink{recB}, ConvOptions{AssumeWebSocket: true, RolesKnown: true})
	now := time.Unix(0, 0)
	// A: 20 000 bytes (a buffer of 32 KiB), then 80 000 in one piece: the
	// buffer grows to 64 KiB and the payload is cut at 65 536.
	a.Feed(1, buildWSFrame(wsTestFrame{op: OpBinary, payload: payload[:20000]}), now)
	a.Feed(1, buildWSFrame(wsTestFrame{op: OpContinuation, payload: payload[20000:100000]}), now)
	// B, meanwhile: a fragmented message that takes a 32 KiB buffer and
	// fills it.
	other := make([]byte, 30000)
	for i := range other {
		other[i] = 0xAB
	}
	b.Feed(1, buildWSFrame(wsTestFrame{op: OpBinary, payload: other[:10000]}), now)
	b.Feed(1, buildWSFrame(wsTestFrame{op: OpContinuation, payload: other[10000:]}), now)
	// A ends: its digest is taken now.
	a.Feed(1, buildWSFrame(wsTestFrame{fin: true, op: OpContinuation, payload: payload[100000:]}), now)
	ms := recA.messages()
	if len(ms) != 1 {
		t.Fatalf("%d messages; want 1", len(ms))
	}
	if want := sha256.Sum256(payload); ms[0].SHA256 != want || !ms[0].Truncated {
		t.Errorf("digest %x (cut %v); want %x, cut", ms[0].SHA256, ms[0].Truncated, want)
	}
}
