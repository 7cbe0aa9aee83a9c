package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestWritesSameBytesForSameFlags(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.pcap"), filepath.Join(dir, "b.pcap")
	var out bytes.Buffer
	if err := run([]string{"-mb", "1", "-o", a}, &out); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-mb", "1", "-o", b}, &out); err != nil {
		t.Fatal(err)
	}
	da, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(da, db) {
		t.Errorf("two runs with the same flags wrote different files (%d and %d bytes)", len(da), len(db))
	}
	// The connections open at the size limit finish their message and
	// close: at most one largest message (96 KiB) each, with headers.
	if max := 1<<20 + 200*(100<<10); len(da) < 1<<20 || len(da) > max {
		t.Errorf("-mb 1 wrote %d bytes; want 1 MiB to %d", len(da), max)
	}
	// pcap magic, little-endian, microseconds
	if !bytes.HasPrefix(da, []byte{0xD4, 0xC3, 0xB2, 0xA1}) {
		t.Errorf("file starts % x; want a pcap header", da[:4])
	}
	if !strings.Contains(out.String(), a+": ") || !strings.Contains(out.String(), " packets, ") {
		t.Errorf("summary %q does not name the file and its packets", out.String())
	}
	if fi, err := os.Stat(a); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o644 {
		t.Errorf("file mode %v; want -rw-r--r--", fi.Mode())
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(left) > 0 {
		t.Errorf("temporary files left behind: %q", left)
	}

	var out2 bytes.Buffer
	c := filepath.Join(dir, "c.pcap")
	if err := run([]string{"-mb", "1", "-seed", "2", "-o", c}, &out2); err != nil {
		t.Fatal(err)
	}
	dc, _ := os.ReadFile(c)
	if bytes.Equal(da, dc) {
		t.Error("another seed wrote the same file")
	}
}

func TestRejectsBadFlags(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-mb", "1"},
		{"-mb", "0", "-o", filepath.Join(dir, "x.pcap")},
		{"-mb", "-5", "-o", filepath.Join(dir, "x.pcap")},
		{"-mb", "1", "-o", filepath.Join(dir, "x.pcap"), "extra"},
		{"-mb", "1", "-o", filepath.Join(dir, "no", "such", "dir", "x.pcap")},
		{"-mb", "1", "-deflate", "101", "-o", filepath.Join(dir, "x.pcap")},
		{"-mb", "1", "-deflate", "-1", "-o", filepath.Join(dir, "x.pcap")},
		{"-mb", "1", "-loss", "1", "-o", filepath.Join(dir, "x.pcap")},
		{"-mb", "1", "-reorder", "-2", "-o", filepath.Join(dir, "x.pcap")},
	} {
		if err := run(args, &bytes.Buffer{}); err == nil {
			t.Errorf("benchcap %q: no error", args)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.pcap")); err == nil {
		t.Error("a refused run wrote a file")
	}
}

// TestFlags checks that -deflate defaults to a quarter of the connections
// and that -deflate, -loss and -reorder reach the generator.
func TestFlags(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"permessage-deflate: ", " compressed messages"}},
		{[]string{"-deflate", "0"}, []string{"permessage-deflate: 0 connections, 0 compressed messages"}},
		{[]string{"-deflate", "0", "-loss", "5", "-reorder", "4"}, []string{"loss: ", " segments (", " reordered"}},
	} {
		var out bytes.Buffer
		p := filepath.Join(dir, "f.pcap")
		if err := run(append([]string{"-mb", "1", "-o", p}, tc.args...), &out); err != nil {
			t.Fatalf("benchcap %q: %v", tc.args, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("benchcap %q: summary %q lacks %q", tc.args, out.String(), w)
			}
		}
		// A quarter of the connections by default, rounded down.
		m := regexp.MustCompile(`(\d+) connections, .*\npermessage-deflate: (\d+) connections`).FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("benchcap %q: summary %q", tc.args, out.String())
		}
		conns, _ := strconv.Atoi(m[1])
		deflate, _ := strconv.Atoi(m[2])
		if want := conns / 4; tc.args == nil && deflate != want || tc.args != nil && deflate != 0 {
			t.Errorf("benchcap %q: %d of %d connections with permessage-deflate", tc.args, deflate, conns)
		}
		if strings.Contains(out.String(), "loss: 0 segments") {
			t.Errorf("benchcap %q: nothing dropped: %q", tc.args, out.String())
		}
	}
}
