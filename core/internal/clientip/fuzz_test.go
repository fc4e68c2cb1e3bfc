package clientip

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// FuzzClientIP checks ClientIP's and Key's invariants on arbitrary input:
// no panic, an untrusted peer is always the answer, any answer comes from
// RemoteAddr or a header, and keys are non-empty and use a small alphabet.
func FuzzClientIP(f *testing.F) {
	seeds := []struct{ remote, xff1, xff2, realIP string }{
		{"203.0.113.7:51234", "", "", ""},
		{"203.0.113.7:51234", "1.1.1.1, 10.0.0.1", "", "2.2.2.2"},
		{"10.0.0.1:80", "198.51.100.9, 203.0.113.7, 10.1.1.1", "", ""},
		{"10.0.0.1:80", "6.6.6.6, 203.0.113.7", "10.1.1.1, 192.168.1.1", ""},
		{"10.0.0.1:80", "203.0.113.7, unknown, 10.1.1.1", "", ""},
		{"10.0.0.1:80", "10.3.3.3, 10.2.2.2", "", ""},
		{"10.0.0.1:80", "", "", "203.0.113.7"},
		{"10.0.0.1:80", "", "", "junk"},
		{"[::1]:80", "[2001:db8:1:2::7]:4711, 10.1.1.1:8080", "", ""},
		{"[::1]:80", `"[2001:db8::7]:4711"`, `"203.0.113.7"`, ""},
		{"[::ffff:10.0.0.1]:80", "::ffff:203.0.113.7", "", ""},
		{"[fe80::1%eth0]:80", "fe80::2%eth1", "", ""},
		{"2001:db8:ffff::1", "2001:db8:1:2:3:4:5:6, 2001:db8:ffff::9", "", "2001:db8::9"},
		{"10.0.0.1", "203.0.113.7:65536, [203.0.113.8]:80, 203.0.113.007", "", ""},
		{"10.0.0.1:80", ",,,", " , ", "\"\""},
		{"10.0.0.1:80", "\"", "[", "]"},
		{"10.0.0.1:80", "for=203.0.113.7;proto=https", "", ""},
		{"", "203.0.113.7", "", "203.0.113.7"},
		{"garbage", "", "", ""},
		{"[::1", "[::1]:", "::1%", "1.2.3.4%eth0"},
		{"10.0.0.1:80", "203.0.113.7, " + chain(100), chain(64), ""},
		{"10.0.0.1:80", "\x00\xff, 203.0.113.7\r\n", "\t10.1.1.1\t", ""},
	}
	for _, s := range seeds {
		f.Add(s.remote, s.xff1, s.xff2, s.realIP)
	}

	trusting := newTestResolver(f, testTrusted, 0)
	nobody := newTestResolver(f, nil, 0)
	keyers := []*Resolver{
		trusting,
		newTestResolver(f, testTrusted, 48),
		newTestResolver(f, testTrusted, 128),
		newTestResolver(f, testTrusted, 1),
	}

	f.Fuzz(func(t *testing.T, remote, xff1, xff2, realIP string) {
		req := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		var xff []string
		for _, v := range []string{xff1, xff2} {
			if v != "" {
				req.Header.Add("X-Forwarded-For", v)
				xff = append(xff, v)
			}
		}
		if realIP != "" {
			req.Header.Set("X-Real-IP", realIP)
		}

		// Trusting nobody, the answer is the peer.
		peer, peerErr := nobody.ClientIP(req)
		got, err := trusting.ClientIP(req)
		if (err == nil) != (peerErr == nil) {
			t.Fatalf("errors disagree: trusting %v, trusting nobody %v", err, peerErr)
		}
		if err != nil {
			if !errors.Is(err, ErrNoAddress) {
				t.Fatalf("ClientIP error %v is not ErrNoAddress", err)
			}
			for _, r := range keyers {
				if key, kerr := r.Key(req); key != "" || kerr == nil {
					t.Fatalf("Key = %q, %v after ClientIP failed", key, kerr)
				}
			}
			return
		}
		if !got.IsValid() || got.Zone() != "" || got.Is4In6() {
			t.Fatalf("ClientIP = %#v: invalid, zoned or IPv4-mapped", got)
		}
		if !peer.IsValid() || peer.Zone() != "" || peer.Is4In6() {
			t.Fatalf("peer = %#v: invalid, zoned or IPv4-mapped", peer)
		}

		// An untrusted peer is the answer, whatever the headers say.
		if !trusting.isTrusted(peer) && got != peer {
			t.Fatalf("untrusted peer %s, but ClientIP = %s", peer, got)
		}

		// The answer appears in RemoteAddr or the headers.
		if got != peer && !appearsIn(got, nobody, xff, realIP) {
			t.Fatalf("ClientIP = %s appears neither in RemoteAddr %q nor in headers %q / %q", got, remote, xff, realIP)
		}
		// X-Real-IP counts only without X-Forwarded-For.
		if len(xff) > 0 && got != peer && !appearsIn(got, nobody, xff, "") {
			t.Fatalf("ClientIP = %s comes from X-Real-IP although X-Forwarded-For is present", got)
		}

		for _, r := range keyers {
			key, kerr := r.Key(req)
			if kerr != nil {
				t.Fatalf("Key failed after ClientIP succeeded: %v", kerr)
			}
			if key == "" {
				t.Fatal("Key is empty")
			}
			if i := strings.IndexFunc(key, func(c rune) bool {
				return !strings.ContainsRune("0123456789abcdefABCDEF.:/", c)
			}); i >= 0 {
				t.Fatalf("Key %q holds %q", key, key[i])
			}
		}
	})
}

// appearsIn reports whether addr is, after normalisation, one of the
// comma-separated entries of xff or the value of realIP. It parses each
// candidate as a RemoteAddr through a Resolver that trusts nobody.
func appearsIn(addr netip.Addr, nobody *Resolver, xff []string, realIP string) bool {
	candidates := []string{realIP}
	for _, line := range xff {
		candidates = append(candidates, strings.Split(line, ",")...)
	}
	for _, c := range candidates {
		c = strings.TrimSpace(c)
		if len(c) >= 2 && c[0] == '"' && c[len(c)-1] == '"' {
			c = c[1 : len(c)-1]
		}
		if a, err := nobody.ClientIP(&http.Request{RemoteAddr: c}); err == nil && a == addr {
			return true
		}
	}
	return false
}
