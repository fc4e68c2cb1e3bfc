package idempotency

import (
	"errors"
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	uuid := "8e03978e-40d5-43e8-bc93-6894a57f9324"
	ok := []struct{ in, want string }{
		{`"` + uuid + `"`, uuid},
		{uuid, uuid},
		{"  " + uuid + "\t", uuid},
		{`"a:b"`, "a:b"},
		{"dGVzdA==", "dGVzdA=="},
		{strings.Repeat("k", 255), strings.Repeat("k", 255)},
		{`"` + strings.Repeat("k", 255) + `"`, strings.Repeat("k", 255)},
	}
	for _, c := range ok {
		got, err := ParseKey([]string{c.in})
		if err != nil || got != c.want {
			t.Errorf("ParseKey(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	bad := []string{
		"", `""`, " ", `"abc`, `abc"`, `"a"b"`, `"a\b"`, `"a\"b"`, // escapes decode to a forbidden quote
		strings.Repeat("k", 256), "a b", "a,b", "{tag}", "k*", "ключ", "a\x00b", `"\"`,
	}
	for _, in := range bad {
		if got, err := ParseKey([]string{in}); !errors.Is(err, ErrMalformedKey) {
			t.Errorf("ParseKey(%q) = %q, %v; want ErrMalformedKey", in, got, err)
		}
	}
	if _, err := ParseKey(nil); !errors.Is(err, ErrNoKey) {
		t.Errorf("no values: %v", err)
	}
	if _, err := ParseKey([]string{"a", "b"}); !errors.Is(err, ErrMalformedKey) {
		t.Errorf("two values: %v", err)
	}
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{`"8e03978e-40d5-43e8-bc93-6894a57f9324"`, "abc", `"a\\b"`, `"`, `""`, " x ", "a b", `"\"x\""`, strings.Repeat("z", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		k, err := ParseKey([]string{in})
		if err != nil {
			if !errors.Is(err, ErrMalformedKey) {
				t.Fatalf("ParseKey(%q): error %v does not wrap ErrMalformedKey", in, err)
			}
			return
		}
		if len(k) == 0 || len(k) > MaxKeyLength {
			t.Fatalf("ParseKey(%q) = %q: bad length", in, k)
		}
		for i := 0; i < len(k); i++ {
			if !keyChar(k[i]) {
				t.Fatalf("ParseKey(%q) = %q: forbidden character", in, k)
			}
		}
		// A valid key reads the same bare and as a structured-field string.
		for _, form := range []string{k, `"` + k + `"`} {
			if again, err := ParseKey([]string{form}); err != nil || again != k {
				t.Fatalf("ParseKey(%q) = %q, %v; want %q", form, again, err, k)
			}
		}
	})
}
