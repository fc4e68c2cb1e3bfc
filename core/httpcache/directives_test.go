package httpcache

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseCacheControl(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want cacheControl
	}{
		{nil, nil},
		{[]string{""}, nil},
		{[]string{"max-age=60"}, cacheControl{"max-age": "60"}},
		{[]string{"Max-Age=60, PUBLIC"}, cacheControl{"max-age": "60", "public": ""}},
		{[]string{"no-cache", "s-maxage=5"}, cacheControl{"no-cache": "", "s-maxage": "5"}},
		{[]string{`private="Set-Cookie, X-Foo", max-age=1`}, cacheControl{"private": "Set-Cookie, X-Foo", "max-age": "1"}},
		{[]string{`x="a\"b\\c", y`}, cacheControl{"x": `a"b\c`, "y": ""}},
		{[]string{" , ,max-age = 3 ,,"}, cacheControl{"max-age": "3"}},
		{[]string{"max-age=60 garbage, no-store"}, cacheControl{"no-store": ""}},
		{[]string{`max-age="60"`}, cacheControl{"max-age": "60"}},
		{[]string{"max-age=60, max-age=60"}, cacheControl{"max-age": "60"}},
		{[]string{"max-age=60, max-age=0"}, cacheControl{"max-age": invalid}},
		{[]string{`x="unterminated, max-age=1`}, nil},
		{[]string{"=5, max-age=2"}, cacheControl{"max-age": "2"}},
	} {
		if got := parseCacheControl(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseCacheControl(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

func TestSeconds(t *testing.T) {
	cc := parseCacheControl([]string{"a=10, b=-1, c=1.5, d=99999999999999, e, f=0x10, g=10, g=20"})
	for name, want := range map[string]time.Duration{
		"a": 10 * time.Second, "b": 0, "c": 0, "d": (1<<31 - 1) * time.Second, "e": 0, "f": 0, "g": 0,
	} {
		if got, ok := cc.seconds(name); !ok || got != want {
			t.Errorf("seconds(%s) = %v, %v; want %v", name, got, ok, want)
		}
	}
	if _, ok := cc.seconds("absent"); ok {
		t.Error("an absent directive is present")
	}
}

// FuzzParseCacheControl checks the parser on arbitrary header lines: no
// panic, names lower-case tokens, a bounded number of directives,
// formatting what it parsed then parsing that again gives the same
// directives, and privacyNamed finds every private and no-store the parser
// finds.
func FuzzParseCacheControl(f *testing.F) {
	for _, s := range []string{
		"max-age=60", "no-cache, no-store, must-revalidate", "public, s-maxage=300, stale-while-revalidate=30",
		`private="Set-Cookie", no-cache="X-A, X-B"`, `x="a\"b"`, `max-age="10"`, "max-age=10, max-age=20",
		"max-stale", "max-stale=5, min-fresh=3, only-if-cached", "  ,,  ", `"`, `a="`, `=`, "a=b=c",
		"MAX-AGE=1", "max-age=99999999999999999999", "\x00\xff, max-age=1", strings.Repeat("a,", 100),
	} {
		f.Add(s, "")
	}
	f.Add("max-age=1", "no-store")
	f.Fuzz(func(t *testing.T, a, b string) {
		cc := parseCacheControl([]string{a, b})
		if len(cc) > maxDirectives+len(restrictive) {
			t.Fatalf("%d directives", len(cc))
		}
		for name := range cc {
			if name == "" || name != strings.ToLower(name) {
				t.Fatalf("bad name %q", name)
			}
			for i := 0; i < len(name); i++ {
				if !tchar(name[i]) {
					t.Fatalf("name %q holds %q", name, name[i])
				}
			}
			_, _ = cc.seconds(name)
		}
		if again := parseCacheControl([]string{cc.String()}); len(cc) > 0 && !reflect.DeepEqual(again, cc) {
			t.Fatalf("round trip of %q: %#v became %q then %#v", []string{a, b}, cc, cc.String(), again)
		}
		_ = parseRequestCC(map[string][]string{"Cache-Control": {a, b}})
		// what parses as private or no-store is found by the loose scan too
		private, noStore := privacyNamed([]string{a, b})
		if cc.has("private") && !private || cc.has("no-store") && !noStore {
			t.Fatalf("%q: parsed %v, loose scan private=%v no-store=%v", []string{a, b}, cc, private, noStore)
		}
	})
}
