package keys

import (
	"strings"
	"testing"
)

func TestEscape(t *testing.T) {
	cases := []struct{ in, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{"user@example.com", "user@example.com"},
		{"2001:db8::/64", "2001%3Adb8%3A%3A/64"},
		{"{evil}", "%7Bevil%7D"},
		{"a*b?c[d]", "a%2Ab%3Fc%5Bd%5D"},
		{"~x", "%7Ex"},
		{"", "%"},
		{"%", "%25"},
	}
	for _, c := range cases {
		if got := Escape(c.in); got != c.want {
			t.Errorf("Escape(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	long := strings.Repeat("x", 200)
	if got := Escape(long); got != Hash(long) || len(got) != 65 {
		t.Errorf("Escape(long) = %q, want the hash form", got)
	}
	if got := Escape(strings.Repeat("{", 40)); got != Hash(strings.Repeat("{", 40)) {
		t.Errorf("escaped form over the cap must hash, got %q", got)
	}
}

func TestSpace(t *testing.T) {
	s := NewSpace("", "rl", "api v1")
	if got := s.Tagged("{1.2.3.4}", ":g"); got != "redisware:rl:api%20v1:{%7B1.2.3.4%7D}:g" {
		t.Errorf("Tagged = %q", got)
	}
	set := NewSpace("app:", "rl", "default").TaggedSet("k", []string{":a", ":b"})
	if set[0] != "app:rl:default:{k}:a" || set[1] != "app:rl:default:{k}:b" {
		t.Errorf("TaggedSet = %q", set)
	}
	if got := NewSpace("p*[", "rl", "x").Pattern(); got != `p\*\[rl:x:*` {
		t.Errorf("Pattern = %q", got)
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "a", "{x}", "1.2.3.4", "ü", strings.Repeat("%", 50)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := Escape(s)
		if strings.ContainsAny(e, "{}*?[]\\ :\x00") {
			t.Fatalf("Escape(%q) = %q keeps a special character", s, e)
		}
		if e == "" {
			t.Fatalf("Escape(%q) is empty", s)
		}
	})
}
