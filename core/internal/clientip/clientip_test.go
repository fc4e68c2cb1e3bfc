package clientip

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// testTrusted is the proxy set most tests use.
var testTrusted = []string{"10.0.0.0/8", "192.168.1.1", "2001:db8:ffff::/48", "::1"}

func newTestResolver(t testing.TB, trusted []string, ipv6Prefix int) *Resolver {
	t.Helper()
	prefixes, err := ParseTrusted(trusted)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(prefixes, ipv6Prefix)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newRequest(remote string, xff []string, realIP string) *http.Request {
	req := &http.Request{RemoteAddr: remote, Header: http.Header{}}
	for _, v := range xff {
		req.Header.Add("X-Forwarded-For", v)
	}
	if realIP != "" {
		req.Header.Set("X-Real-IP", realIP)
	}
	return req
}

// chain returns n comma-separated trusted addresses 10.0.i/256.i%256, the
// first (leftmost) being 10.0.0.1.
func chain(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("10.0.%d.%d", (i+1)/256, (i+1)%256)
	}
	return strings.Join(parts, ", ")
}

func TestClientIP(t *testing.T) {
	tests := []struct {
		name   string
		remote string
		xff    []string
		realIP string
		want   string
	}{
		// The peer alone.
		{"untrusted peer", "203.0.113.7:51234", nil, "", "203.0.113.7"},
		{"untrusted peer ignores spoofed XFF", "203.0.113.7:51234", []string{"1.1.1.1, 10.0.0.1"}, "", "203.0.113.7"},
		{"untrusted peer ignores spoofed X-Real-IP", "203.0.113.7:51234", nil, "1.1.1.1", "203.0.113.7"},
		{"untrusted peer ignores both", "[2001:db8::7]:443", []string{"1.1.1.1"}, "2.2.2.2", "2001:db8::7"},
		{"trusted peer without headers", "10.0.0.1:80", nil, "", "10.0.0.1"},
		{"bare IPv4 peer", "203.0.113.7", nil, "", "203.0.113.7"},
		{"bare IPv6 peer", "2001:db8::7", nil, "", "2001:db8::7"},
		{"bracketed IPv6 peer without port", "[2001:db8::7]", nil, "", "2001:db8::7"},
		{"IPv4-mapped peer", "[::ffff:203.0.113.7]:80", nil, "", "203.0.113.7"},
		{"bare IPv4-mapped peer", "::ffff:203.0.113.7", nil, "", "203.0.113.7"},
		{"zoned peer", "[fe80::1%eth0]:80", nil, "", "fe80::1"},
		{"bare zoned peer", "fe80::1%eth0", nil, "", "fe80::1"},
		{"IPv4-mapped trusted peer", "[::ffff:10.0.0.1]:80", []string{"203.0.113.7"}, "", "203.0.113.7"},
		{"trusted IPv6 peer", "[::1]:80", []string{"2001:db8:1:2:3:4:5:6"}, "", "2001:db8:1:2:3:4:5:6"},

		// X-Forwarded-For walked from the right.
		{"one hop", "10.0.0.1:80", []string{"203.0.113.7"}, "", "203.0.113.7"},
		{"several trusted hops", "10.0.0.1:80", []string{"198.51.100.9, 203.0.113.7, 10.1.1.1, 192.168.1.1"}, "", "203.0.113.7"},
		{"client-prepended entries ignored", "10.0.0.1:80", []string{"6.6.6.6, 1.2.3.4, 203.0.113.7, 10.1.1.1"}, "", "203.0.113.7"},
		{"no spaces", "10.0.0.1:80", []string{"6.6.6.6,203.0.113.7,10.1.1.1"}, "", "203.0.113.7"},
		{"extra spaces and tabs", "10.0.0.1:80", []string{" 6.6.6.6 ,\t203.0.113.7 ,  10.1.1.1 "}, "", "203.0.113.7"},
		{"multiple lines", "10.0.0.1:80", []string{"6.6.6.6, 203.0.113.7", "10.1.1.1", "10.2.2.2"}, "", "203.0.113.7"},
		{"multiple lines, answer in last line", "10.0.0.1:80", []string{"203.0.113.7", "198.51.100.9, 10.1.1.1"}, "", "198.51.100.9"},
		{"multiple lines, answer in first line", "10.0.0.1:80", []string{"6.6.6.6, 203.0.113.7", "10.1.1.1, 10.3.3.3", "192.168.1.1"}, "", "203.0.113.7"},
		{"all trusted answers leftmost", "10.0.0.1:80", []string{"10.3.3.3, 10.2.2.2"}, "", "10.3.3.3"},
		{"all trusted across lines", "10.0.0.1:80", []string{"10.3.3.3", "192.168.1.1, 10.2.2.2"}, "", "10.3.3.3"},
		{"all trusted IPv6", "[::1]:80", []string{"2001:db8:ffff::5, ::1"}, "", "2001:db8:ffff::5"},

		// Garbage stops the walk at the last trusted hop.
		{"garbage entry", "10.0.0.1:80", []string{"203.0.113.7, unknown, 10.1.1.1"}, "", "10.1.1.1"},
		{"garbage rightmost answers peer", "10.0.0.1:80", []string{"203.0.113.7, bogus"}, "", "10.0.0.1"},
		{"garbage in last line answers peer", "10.0.0.1:80", []string{"203.0.113.7", "bogus"}, "", "10.0.0.1"},
		{"garbage in earlier line", "10.0.0.1:80", []string{"203.0.113.7, junk", "10.1.1.1"}, "", "10.1.1.1"},
		{"empty entry", "10.0.0.1:80", []string{"203.0.113.7,,10.1.1.1"}, "", "10.1.1.1"},
		{"trailing comma", "10.0.0.1:80", []string{"203.0.113.7,"}, "", "10.0.0.1"},
		{"empty XFF line answers peer, not X-Real-IP", "10.0.0.1:80", []string{""}, "203.0.113.7", "10.0.0.1"},
		{"IPv4 with zone", "10.0.0.1:80", []string{"203.0.113.7%eth0"}, "", "10.0.0.1"},
		{"bracketed IPv4", "10.0.0.1:80", []string{"[203.0.113.7]:80"}, "", "10.0.0.1"},
		{"port out of range", "10.0.0.1:80", []string{"203.0.113.7:65536"}, "", "10.0.0.1"},
		{"empty port", "10.0.0.1:80", []string{"203.0.113.7:"}, "", "10.0.0.1"},
		{"leading zeros", "10.0.0.1:80", []string{"203.0.113.007"}, "", "10.0.0.1"},
		{"unterminated quote", "10.0.0.1:80", []string{`"203.0.113.7`}, "", "10.0.0.1"},
		{"RFC 7239 syntax is not XFF", "10.0.0.1:80", []string{"for=203.0.113.7"}, "", "10.0.0.1"},
		{"garbage left of untrusted is never reached", "10.0.0.1:80", []string{"junk, 203.0.113.7, 10.1.1.1"}, "", "203.0.113.7"},

		// Entry forms.
		{"IPv4 with port", "10.0.0.1:80", []string{"203.0.113.7:8080, 10.1.1.1:443"}, "", "203.0.113.7"},
		{"bracketed IPv6 with port", "10.0.0.1:80", []string{"[2001:db8:1:2::7]:4711, 10.1.1.1:8080"}, "", "2001:db8:1:2::7"},
		{"bracketed IPv6 without port", "10.0.0.1:80", []string{"[2001:db8::7]"}, "", "2001:db8::7"},
		{"quoted bracketed IPv6", "10.0.0.1:80", []string{`"[2001:db8::7]:4711"`}, "", "2001:db8::7"},
		{"quoted IPv4", "10.0.0.1:80", []string{`"203.0.113.7"`}, "", "203.0.113.7"},
		{"IPv4-mapped entry", "10.0.0.1:80", []string{"::ffff:203.0.113.7"}, "", "203.0.113.7"},
		{"IPv4-mapped trusted entry", "10.0.0.1:80", []string{"203.0.113.7, ::ffff:10.9.9.9"}, "", "203.0.113.7"},
		{"zoned entry", "10.0.0.1:80", []string{"[fe80::1%25eth0]:80"}, "", "fe80::1"},
		{"uppercase IPv6", "10.0.0.1:80", []string{"2001:DB8::A"}, "", "2001:db8::a"},

		// X-Real-IP only from a trusted peer, only without X-Forwarded-For.
		{"X-Real-IP from trusted peer", "10.0.0.1:80", nil, "203.0.113.7", "203.0.113.7"},
		{"X-Real-IP IPv6 from trusted peer", "[::1]:80", nil, "2001:db8::9", "2001:db8::9"},
		{"X-Real-IP with port", "10.0.0.1:80", nil, "203.0.113.7:1234", "203.0.113.7"},
		{"X-Real-IP garbage answers peer", "10.0.0.1:80", nil, "nope", "10.0.0.1"},
		{"X-Real-IP list is garbage", "10.0.0.1:80", nil, "203.0.113.7, 10.1.1.1", "10.0.0.1"},
		{"X-Real-IP ignored when XFF present", "10.0.0.1:80", []string{"198.51.100.9"}, "203.0.113.7", "198.51.100.9"},
		{"X-Real-IP ignored from untrusted peer", "198.51.100.1:80", nil, "203.0.113.7", "198.51.100.1"},

		// The cap on entries examined.
		{"64 trusted entries answers leftmost", "10.0.0.1:80", []string{chain(64)}, "", "10.0.0.1"},
		{"over the cap answers 64th from right", "10.0.0.1:80", []string{"203.0.113.7, " + chain(100)}, "", "10.0.0.37"},
		{"untrusted at the cap", "10.0.0.1:80", []string{"203.0.113.7, " + chain(63)}, "", "203.0.113.7"},
		{"untrusted beyond the cap", "10.0.0.1:80", []string{"203.0.113.7, " + chain(64)}, "", "10.0.0.1"},
		{"cap across lines", "10.0.0.1:80", []string{"203.0.113.7", chain(40), chain(40)}, "", "10.0.0.17"},
	}
	r := newTestResolver(t, testTrusted, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.ClientIP(newRequest(tt.remote, tt.xff, tt.realIP))
			if err != nil {
				t.Fatalf("ClientIP: %v", err)
			}
			if got.String() != tt.want {
				t.Errorf("ClientIP = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestClientIPTrustNobody(t *testing.T) {
	for _, trusted := range [][]netip.Prefix{nil, {}} {
		r, err := New(trusted, 0)
		if err != nil {
			t.Fatal(err)
		}
		req := newRequest("10.0.0.1:80", []string{"203.0.113.7"}, "198.51.100.9")
		if got, err := r.ClientIP(req); err != nil || got.String() != "10.0.0.1" {
			t.Errorf("ClientIP = %v, %v; want 10.0.0.1", got, err)
		}
	}
	var zero Resolver
	req := newRequest("[2001:db8:1:2:3:4:5:6]:80", []string{"203.0.113.7"}, "")
	if got, err := zero.Key(req); err != nil || got != "2001:db8:1:2::/64" {
		t.Errorf("zero Resolver Key = %q, %v; want 2001:db8:1:2::/64", got, err)
	}
}

func TestClientIPNoAddress(t *testing.T) {
	r := newTestResolver(t, testTrusted, 0)
	for _, remote := range []string{
		"", " ", "garbage", "203.0.113.7:", "203.0.113.7:port", ":80", "[::1", "[::1]x", "[::1]:",
		"[203.0.113.7]:80", "203.0.113.7%eth0", "2001:db8::1::2", "256.0.0.1", "@", "[]:80",
		"[fe80::1%]:80", "\"203.0.113.7\"", " 203.0.113.7",
	} {
		_, err := r.ClientIP(newRequest(remote, []string{"203.0.113.7"}, "198.51.100.9"))
		if !errors.Is(err, ErrNoAddress) {
			t.Errorf("ClientIP(%q) error = %v, want ErrNoAddress", remote, err)
			continue
		}
		if want := fmt.Sprintf("%q", remote); !strings.Contains(err.Error(), want) {
			t.Errorf("ClientIP(%q) error %q does not name the value", remote, err)
		}
		if key, err := r.Key(newRequest(remote, nil, "")); key != "" || !errors.Is(err, ErrNoAddress) {
			t.Errorf("Key(%q) = %q, %v; want \"\", ErrNoAddress", remote, key, err)
		}
	}
	if _, err := r.ClientIP(nil); !errors.Is(err, ErrNoAddress) {
		t.Errorf("ClientIP(nil) error = %v, want ErrNoAddress", err)
	}
}

func TestKey(t *testing.T) {
	tests := []struct {
		name       string
		ipv6Prefix int
		remote     string
		xff        []string
		want       string
	}{
		{"IPv4", 0, "203.0.113.7:80", nil, "203.0.113.7"},
		{"IPv4 ignores IPv6 prefix", 48, "203.0.113.7:80", nil, "203.0.113.7"},
		{"IPv4-mapped is IPv4", 0, "[::ffff:203.0.113.7]:80", nil, "203.0.113.7"},
		{"IPv6 default /64", 0, "[2001:db8:1:2:3:4:5:6]:80", nil, "2001:db8:1:2::/64"},
		{"IPv6 explicit /64", 64, "[2001:db8:1:2:3:4:5:6]:80", nil, "2001:db8:1:2::/64"},
		{"IPv6 /48", 48, "[2001:db8:1:2:3:4:5:6]:80", nil, "2001:db8:1::/48"},
		{"IPv6 /128 is the bare address", 128, "[2001:db8:1:2:3:4:5:6]:80", nil, "2001:db8:1:2:3:4:5:6"},
		{"IPv6 /1", 1, "[2001:db8::1]:80", nil, "::/1"},
		{"IPv6 /56", 56, "[2001:db8:1:2ff:3:4:5:6]:80", nil, "2001:db8:1:200::/56"},
		{"zoned IPv6", 0, "[fe80::1:2:3:4%eth0]:80", nil, "fe80::/64"},
		{"zoned IPv6 /128", 128, "[fe80::1%eth0]:80", nil, "fe80::1"},
		{"IPv6 from XFF", 0, "10.0.0.1:80", []string{"2001:db8:1:2:3:4:5:6, 10.1.1.1"}, "2001:db8:1:2::/64"},
		{"same /64, same key", 0, "10.0.0.1:80", []string{"2001:db8:1:2:ffff:ffff:ffff:ffff"}, "2001:db8:1:2::/64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestResolver(t, testTrusted, tt.ipv6Prefix)
			got, err := r.Key(newRequest(tt.remote, tt.xff, ""))
			if err != nil {
				t.Fatalf("Key: %v", err)
			}
			if got != tt.want {
				t.Errorf("Key = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseTrusted(t *testing.T) {
	got, err := ParseTrusted([]string{
		"10.0.0.0/8", "10.1.2.3/8", "10.0.0.1", " 192.168.0.0/16 ", "::1", "2001:db8::/32",
		"2001:db8:1:2::5/64", "::ffff:10.0.0.1", "0.0.0.0/0",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"10.0.0.0/8", "10.0.0.0/8", "10.0.0.1/32", "192.168.0.0/16", "::1/128", "2001:db8::/32",
		"2001:db8:1:2::/64", "::ffff:10.0.0.1/128", "0.0.0.0/0",
	}
	if len(got) != len(want) {
		t.Fatalf("ParseTrusted returned %d prefixes, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("prefix %d = %s, want %s", i, got[i], want[i])
		}
	}
	if got, err := ParseTrusted(nil); err != nil || len(got) != 0 {
		t.Errorf("ParseTrusted(nil) = %v, %v; want empty, nil", got, err)
	}
}

func TestParseTrustedErrors(t *testing.T) {
	for _, bad := range []string{
		"", "  ", "not-an-ip", "10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "10.0.0.0/-1",
		"10.0.0.256", "010.0.0.1", "fe80::1%eth0", "fe80::/10%eth0", "10.0.0.0/8/8", "*",
	} {
		_, err := ParseTrusted([]string{"10.0.0.0/8", bad, "::1"})
		if err == nil {
			t.Errorf("ParseTrusted(%q) succeeded, want an error", bad)
			continue
		}
		if want := fmt.Sprintf("%q", bad); !strings.Contains(err.Error(), want) {
			t.Errorf("ParseTrusted(%q) error %q does not name the entry", bad, err)
		}
	}
}

func TestNew(t *testing.T) {
	for _, bits := range []int{-1, 129, -64, 1 << 20} {
		if r, err := New(nil, bits); err == nil || r != nil {
			t.Errorf("New(nil, %d) = %v, %v; want nil, error", bits, r, err)
		}
	}
	for _, bits := range []int{0, 1, 48, 64, 128} {
		if _, err := New(nil, bits); err != nil {
			t.Errorf("New(nil, %d): %v", bits, err)
		}
	}
	if _, err := New([]netip.Prefix{{}}, 0); err == nil {
		t.Error("New with an invalid prefix succeeded, want an error")
	}

	// New masks its prefixes, and matches IPv4-mapped prefixes against IPv4
	// clients.
	r, err := New([]netip.Prefix{
		netip.MustParsePrefix("10.1.2.3/8"),
		netip.MustParsePrefix("::ffff:192.168.0.0/112"),
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for remote, want := range map[string]string{
		"10.200.0.1:80":    "203.0.113.7",
		"192.168.7.7:80":   "203.0.113.7",
		"192.169.0.1:80":   "192.169.0.1",
		"[::ffff:a00:1]:1": "203.0.113.7",
	} {
		got, err := r.ClientIP(newRequest(remote, []string{"203.0.113.7"}, ""))
		if err != nil || got.String() != want {
			t.Errorf("ClientIP(%q) = %v, %v; want %s", remote, got, err, want)
		}
	}

	// New copies the slice it is given.
	prefixes := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	r, err = New(prefixes, 0)
	if err != nil {
		t.Fatal(err)
	}
	prefixes[0] = netip.MustParsePrefix("0.0.0.0/0")
	if got, _ := r.ClientIP(newRequest("203.0.113.9:1", []string{"1.1.1.1"}, "")); got.String() != "203.0.113.9" {
		t.Errorf("Resolver changed with the caller's slice: ClientIP = %s", got)
	}
}

func TestClientIPAllocations(t *testing.T) {
	r := newTestResolver(t, testTrusted, 0)
	req := newRequest("10.0.0.1:54321", []string{"6.6.6.6, 203.0.113.7, 10.1.1.1", "[::1]:80"}, "")
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := r.ClientIP(req); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ClientIP allocates %v times per call, want 0", allocs)
	}
}

func BenchmarkClientIP(b *testing.B) {
	r := newTestResolver(b, testTrusted, 0)
	req := newRequest("10.0.0.1:54321", []string{"6.6.6.6, 203.0.113.7, 10.1.1.1, 192.168.1.1"}, "")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ClientIP(req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKey(b *testing.B) {
	r := newTestResolver(b, testTrusted, 0)
	req := newRequest("10.0.0.1:54321", []string{"2001:db8:1:2:3:4:5:6, 10.1.1.1"}, "")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Key(req); err != nil {
			b.Fatal(err)
		}
	}
}
