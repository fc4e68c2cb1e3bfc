package httpcache

import (
	"bytes"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestEntryCodec(t *testing.T) {
	for _, body := range [][]byte{nil, []byte("short"), bytes.Repeat([]byte("squeeze me "), 500)} {
		e := &entry{
			status: 203, body: body,
			header: http.Header{"X-Multi": {"one", "two"}, "Content-Type": {"text/plain"}, "Empty": {""}},
			stored: 1_700_000_000_123, initAge: 1500, lifetime: 60_000, swr: 5000, sie: 7000, keep: 70_000,
			noStale: true, tags: []string{"a", "b c"},
		}
		blob := e.encode(1024)
		if len(body) > 1024 && len(blob) > len(body)/4 {
			t.Fatalf("%d-byte body encoded in %d bytes: not compressed", len(body), len(blob))
		}
		got, err := decodeEntry(blob, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.body) == 0 {
			got.body = nil
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, e)
		}
		// Every truncation and every flipped version is refused, never a panic.
		for i := 0; i < len(blob); i++ {
			if _, err := decodeEntry(blob[:i], 1<<20); err == nil {
				t.Fatalf("truncated at %d of %d: accepted", i, len(blob))
			}
		}
	}
	big := &entry{status: 200, body: bytes.Repeat([]byte("x"), 4096), keep: 1}
	if _, err := decodeEntry(big.encode(0), 1024); err == nil {
		t.Fatal("a body inflating past the limit was accepted")
	}
	if _, err := decodeEntry([]byte{9, 0, 0}, -1); err == nil {
		t.Fatal("an unknown version was accepted")
	}
	// Equal entries encode equally whatever the map order.
	a := &entry{status: 200, header: http.Header{"A": {"1"}, "B": {"2"}, "C": {"3"}}, keep: 1}
	for i := 0; i < 20; i++ {
		if !bytes.Equal(a.encode(-1), a.encode(-1)) {
			t.Fatal("encoding is not deterministic")
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	f := paramFilter{ignore: []string{"utm_*", "x"}}
	for in, want := range map[string]string{
		"":                     "",
		"b=2&a=1":              "a=1&b=2",
		"a=2&a=1":              "a=2&a=1",
		"b=1&a=2&b=0&a=1":      "a=2&a=1&b=1&b=0",
		"a=1;b=2":              "a=1;b=2",
		"a=1%3Bb%3D2":          "a=1%3Bb%3D2",
		"y=1&a=1;b=2":          "a=1;b=2&y=1",
		"a=%41&b=x+y":          "a=A&b=x+y",
		"b=x%20y":              "b=x+y",
		"flag&a=1":             "a=1&flag",
		"a=1&&b=2&":            "a=1&b=2",
		"utm_source=1&x=2&y=3": "y=3",
		"bad=%zz&a=1":          "a=1&bad=%zz",
		"%E2%82%AC=1":          "%E2%82%AC=1",
		"a=1&a=1":              "a=1&a=1",
		"k=v%26w&k=v":          "k=v%26w&k=v",
	} {
		if got := f.canonicalQuery(in); got != want {
			t.Errorf("canonicalQuery(%q) = %q, want %q", in, got, want)
		}
	}
	keep := paramFilter{keep: []string{"page", "sort*"}}
	if got := keep.canonicalQuery("sid=1&page=2&sortby=name&x=3"); got != "page=2&sortby=name" {
		t.Errorf("keep: %q", got)
	}
}

func TestVisiblePath(t *testing.T) {
	long := "/" + strings.Repeat("é/x", 40)
	for _, p := range []string{"/", "/a/b", "/a b", long, "/{tag}*?[x]"} {
		v := visiblePath(p)
		if len(v) > maxVisiblePath || strings.ContainsAny(v, "{}*?[]\\") {
			t.Errorf("visiblePath(%q) = %q", p, v)
		}
		// prefix-preserving for every prefix that fits
		for i := 1; i <= len(p); i++ {
			pre := visiblePath(p[:i])
			if len(pre) < maxVisiblePath-3 && !strings.HasPrefix(v, pre) {
				t.Errorf("visiblePath(%q) = %q does not start with visiblePath(%q) = %q", p, v, p[:i], pre)
			}
		}
	}
}

func TestVaryAndVariants(t *testing.T) {
	h := http.Header{"Vary": {"Accept-Encoding, accept-language", "Accept-Encoding"}}
	if got := varyNames(h); got != "accept-encoding,accept-language" {
		t.Fatalf("varyNames = %q", got)
	}
	if got := varyNames(http.Header{"Vary": {"Origin, *"}}); got != "*" {
		t.Fatalf("varyNames with * = %q", got)
	}
	r1 := http.Header{"Accept-Encoding": {"gzip, br"}}
	r2 := http.Header{"Accept-Encoding": {"gzip,br"}}
	r3 := http.Header{"Accept-Encoding": {"gzip", "br"}}
	r4 := http.Header{"Accept-Encoding": {"br, gzip"}}
	sel := func(h http.Header) selector { return selector{h: h, scheme: "https"} }
	f := variantField("accept-encoding", sel(r1))
	if variantField("accept-encoding", sel(r2)) != f || variantField("accept-encoding", sel(r3)) != f || variantField("accept-encoding", sel(r4)) == f {
		t.Fatal("normalisation")
	}
	// absent and empty differ
	if variantField("accept-encoding", sel(http.Header{})) == variantField("accept-encoding", sel(http.Header{"Accept-Encoding": {""}})) {
		t.Fatal("an absent field selects the variant of an empty one")
	}
	// the scheme and the session are part of the variant
	if variantField("", sel(r1)) != "e:https|" || variantField("", selector{h: r1, scheme: "http"}) != "e:http|" {
		t.Fatalf("scheme: %q", variantField("", sel(r1)))
	}
	guest := selector{h: r1, scheme: "https", hasSession: true}
	user := selector{h: r1, scheme: "https", hasSession: true, session: "k1"}
	if a, b, c := variantField(sessionName, guest), variantField(sessionName, user), variantField(sessionName, sel(r1)); a == b || a == c || b == c {
		t.Fatalf("session variants %q %q %q", a, b, c)
	}
	if varyNames(http.Header{"Vary": {"@session, Accept"}}) != "accept" {
		t.Fatal("a response named the session in its Vary")
	}
	// long fields are hashed, as lookup.lua does
	long := variantField("cookie", sel(http.Header{"Cookie": {strings.Repeat("c", 500)}}))
	if !strings.HasPrefix(long, "e:#") || len(long) != 43 {
		t.Fatalf("long variant field %q", long)
	}
}
