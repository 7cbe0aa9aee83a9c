package dissect

import (
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
		run := func(defer_ bool) []*recordSinkFrames {
			cfg := DefaultConfig()
			cfg.LateDigest = late
			if defer_ {
				cfg.Digests = sha256x.NewHasher()
			}
			var recs []*recordSinkFrames
			var cs []*Conversation
			for i := 0; i < convs; i++ {
				rec := &recordSinkFrames{}
				recs = append(recs, rec)
				cs = append(cs, NewConversation(&cfg, &ConvRef{ID: uint64(i)}, rec, ConvOptions{AssumeWebSocket: true, RolesKnown: true}))
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
						buf := append([]byte(nil), s[:n]...)
						pos[i][side] += n
						now = now.Add(time.Millisecond)
						c.Feed(side, buf, now)
						fed = append(fed, buf)
					}
				}
				if prng.Intn(4) == 0 {
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
		for i := range want {
			if !reflect.DeepEqual(got[i].events, want[i].events) {
				t.Errorf("late=%v conversation %d: events differ with deferred digests", late, i)
				for k := range want[i].events {
					if k < len(got[i].events) && !reflect.DeepEqual(got[i].events[k], want[i].events[k]) {
						t.Logf("first difference, event %d: %+v\nwant %+v", k, got[i].events[k].msg.SHA256, want[i].events[k].msg.SHA256)
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
