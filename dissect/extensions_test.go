package dissect

import (
	"fmt"
	"strings"
	"testing"
)

func fmtExts(es []Extension) string {
	var parts []string
	for _, e := range es {
		s := e.Name
		for _, p := range e.Params {
			s += ";" + p.Name
			if p.HasValue {
				s += "=" + p.Value
			}
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ",")
}

func TestParseExtensions(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // fmtExts of the result, or "ERR@pos"
	}{
		{"permessage-deflate", "permessage-deflate"},
		{"permessage-deflate; client_max_window_bits", "permessage-deflate;client_max_window_bits"},
		{"permessage-deflate;client_max_window_bits=10;server_no_context_takeover", "permessage-deflate;client_max_window_bits=10;server_no_context_takeover"},
		{`permessage-deflate; server_max_window_bits="10"`, "permessage-deflate;server_max_window_bits=10"},
		{`foo; a="b\c"`, "foo;a=bc"},
		{"foo , bar;x=1 ,  baz", "foo,bar;x=1,baz"},
		{"foo, , bar", "foo,bar"},
		{", foo,", "foo"},
		{"foo ; x = 1", "foo;x=1"},
		{"\tfoo\t;\tx\t", "foo;x"},
		{"x-webkit-deflate-frame; no_context_takeover", "x-webkit-deflate-frame;no_context_takeover"},
		// Malformed.
		{"", "ERR@0"},
		{" , ,", "ERR@0"},
		{"foo;", "ERR@4"},
		{"foo;;", "ERR@4"},
		{"; foo", "ERR@0"},
		{"foo bar", "ERR@4"},
		{"foo; x=", "ERR@7"},
		{"foo; x=1 2", "ERR@9"},
		{`foo; x="1 2"`, "ERR@12"},
		{`foo; x="`, "ERR@7"},
		{`foo; x="abc\`, "ERR@11"},
		{`foo; x="a"b`, "ERR@10"},
		{`foo; x=""`, "ERR@9"},
		{"foo; x=a=b", "ERR@8"},
		{"f\x00o", "ERR@1"},
		{"foo; =1", "ERR@5"},
		{"[foo]", "ERR@0"},
	} {
		got, err := parseExtensions(nil, tc.in)
		g := fmtExts(got)
		if err != nil {
			g = fmt.Sprintf("ERR@%d", err.(*extError).Pos)
		}
		if g != tc.want {
			t.Errorf("parseExtensions(%q) = %s (%v); want %s", tc.in, g, err, tc.want)
		}
	}
}

// Values of several headers are appended in order; HasValue tells a bare
// parameter from an empty one.
func TestParseExtensionsAppend(t *testing.T) {
	es, err := parseExtensions(nil, "a; p")
	if err != nil {
		t.Fatal(err)
	}
	es, err = parseExtensions(es, `b; q="v"`)
	if err != nil {
		t.Fatal(err)
	}
	want := []Extension{
		{Name: "a", Params: []ExtensionParam{{Name: "p"}}},
		{Name: "b", Params: []ExtensionParam{{Name: "q", Value: "v", HasValue: true}}},
	}
	if fmt.Sprintf("%+v", es) != fmt.Sprintf("%+v", want) {
		t.Errorf("got %+v; want %+v", es, want)
	}
	// On error the extensions before it are kept.
	es, err = parseExtensions(nil, "a, b;")
	if err == nil || fmtExts(es) != "a" {
		t.Errorf("got %s, %v; want a and an error", fmtExts(es), err)
	}
}

func TestSplitListAndListHas(t *testing.T) {
	if got := fmt.Sprint(splitList(nil, " chat ,superchat,, \tv1.x ")); got != "[chat superchat v1.x]" {
		t.Errorf("splitList: got %s", got)
	}
	if got := splitList(nil, " , "); len(got) != 0 {
		t.Errorf("splitList of empty elements: got %q", got)
	}
	for _, tc := range []struct {
		v, tok string
		want   bool
	}{
		{"keep-alive, Upgrade", "upgrade", true},
		{"UPGRADE", "upgrade", true},
		{"upgrade2", "upgrade", false},
		{"keep-alive", "upgrade", false},
		{"", "upgrade", false},
		{"h2c,  websocket ", "websocket", true},
	} {
		if got := listHas(tc.v, tc.tok); got != tc.want {
			t.Errorf("listHas(%q, %q) = %v; want %v", tc.v, tc.tok, got, tc.want)
		}
	}
}

func TestNegotiateDeflate(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    string // fmt of *DeflateParams, or "nil"
		problem bool
	}{
		{"x-other", "nil", false},
		{"permessage-deflate", "{Extension:permessage-deflate PerFrame:false NoContextTakeover:[false false] MaxWindowBits:[15 15]}", false},
		{"permessage-deflate; client_no_context_takeover; server_max_window_bits=8", "{Extension:permessage-deflate PerFrame:false NoContextTakeover:[true false] MaxWindowBits:[15 8]}", false},
		{"permessage-deflate; client_max_window_bits=15", "{Extension:permessage-deflate PerFrame:false NoContextTakeover:[false false] MaxWindowBits:[15 15]}", false},
		{"permessage-deflate; server_max_window_bits=7", "{Extension:permessage-deflate PerFrame:false NoContextTakeover:[false false] MaxWindowBits:[15 15]}", true},
		{"permessage-deflate; server_max_window_bits=010", "{Extension:permessage-deflate PerFrame:false NoContextTakeover:[false false] MaxWindowBits:[15 15]}", true},
		{"permessage-deflate; server_no_context_takeover=1", "{Extension:permessage-deflate PerFrame:false NoContextTakeover:[false true] MaxWindowBits:[15 15]}", true},
		{"permessage-deflate; server_no_context_takeover; server_no_context_takeover", "{Extension:permessage-deflate PerFrame:false NoContextTakeover:[false true] MaxWindowBits:[15 15]}", true},
		{"permessage-deflate; foo", "{Extension:permessage-deflate PerFrame:false NoContextTakeover:[false false] MaxWindowBits:[15 15]}", true},
		{"x-webkit-deflate-frame; no_context_takeover; max_window_bits=9", "{Extension:x-webkit-deflate-frame PerFrame:true NoContextTakeover:[true false] MaxWindowBits:[9 15]}", false},
		{"foo, deflate-frame", "{Extension:deflate-frame PerFrame:true NoContextTakeover:[false false] MaxWindowBits:[15 15]}", false},
	} {
		es, err := parseExtensions(nil, tc.in)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		d, problem := negotiateDeflate(es)
		got := "nil"
		if d != nil {
			got = fmt.Sprintf("%+v", *d)
		}
		if got != tc.want || (problem != "") != tc.problem {
			t.Errorf("negotiateDeflate(%q) = %s, %q; want %s, problem=%v", tc.in, got, problem, tc.want, tc.problem)
		}
	}
}

func FuzzParseExtensions(f *testing.F) {
	for _, s := range []string{
		"permessage-deflate; client_max_window_bits",
		`foo; a="b\"c", bar`,
		"x-webkit-deflate-frame; no_context_takeover; max_window_bits=9",
		", ,a;b=c;d,e",
		`a; b="`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		es, err := parseExtensions(nil, s)
		if err != nil {
			if e, ok := err.(*extError); !ok || e.Pos < 0 || e.Pos > len(s) {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		if len(es) == 0 {
			t.Fatalf("no extension and no error for %q", s)
		}
		// What parsed is made of tokens, and printing it back parses to the
		// same list.
		for _, e := range es {
			if !isToken(e.Name) {
				t.Fatalf("name %q is not a token", e.Name)
			}
			for _, p := range e.Params {
				if !isToken(p.Name) || p.HasValue && !isToken(p.Value) || !p.HasValue && p.Value != "" {
					t.Fatalf("param %+v", p)
				}
			}
		}
		again, err := parseExtensions(nil, fmtExts(es))
		if err != nil || fmtExts(again) != fmtExts(es) {
			t.Fatalf("round trip of %q: %q, %v", s, fmtExts(again), err)
		}
		negotiateDeflate(es)
	})
}
