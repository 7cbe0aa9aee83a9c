package capture

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadAndDecode reads arbitrary bytes as a capture file and decodes
// every packet: no panic, no packet larger than the cap, every packet
// counted once, and a damaged file ends with an error, never a hang.
func FuzzReadAndDecode(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "*.pcap*"))
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		src, err := OpenReader(bytes.NewReader(b), "fuzz")
		if err != nil {
			return
		}
		defer src.Close()
		dec := NewDecoder()
		var n uint64
		for i := 0; i < 1<<16; i++ {
			p, err := src.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if _, again := src.Next(); again == nil {
					t.Fatalf("a read after the error %v gave a packet", err)
				}
				break
			}
			if len(p.Data) > MaxPacketSize {
				t.Fatalf("packet of %d bytes; cap %d", len(p.Data), MaxPacketSize)
			}
			n++
			dec.Decode(p)
		}
		st := dec.Stats()
		var skipped uint64
		for _, v := range st.Skipped {
			skipped += v
		}
		if st.Packets != n || st.Decoded+skipped != n {
			t.Fatalf("%d packets read; decoder counted %d (%d decoded, %d skipped)", n, st.Packets, st.Decoded, skipped)
		}
	})
}
