package clientip

import (
	"net/netip"
	"strings"
)

// parseEntry parses one forwarding header entry: spaces around it are
// ignored and it may be double-quoted (as RFC 7239 requires for IPv6 with a
// port); the rest is as for parseAddr.
func parseEntry(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return parseAddr(s)
}

// parseAddr parses a bare IPv4 or IPv6 address, "ipv4:port" or
// "[ipv6]:port", drops any IPv6 zone and unmaps IPv4-mapped IPv6. It picks
// the form from the text's shape before parsing, so valid input does not
// allocate. An IPv6 address with a port must be bracketed: "2001:db8::1:80"
// is the address it reads as.
func parseAddr(s string) (netip.Addr, bool) {
	var host string
	wantV6 := false
	switch {
	case s == "":
		return netip.Addr{}, false
	case s[0] == '[':
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		if rest := s[end+1:]; rest != "" && (rest[0] != ':' || !validPort(rest[1:])) {
			return netip.Addr{}, false
		}
		host, wantV6 = s[1:end], true
	default:
		colon := strings.LastIndexByte(s, ':')
		if colon >= 0 && strings.IndexByte(s[:colon], ':') < 0 {
			// Exactly one colon: "ipv4:port".
			if !validPort(s[colon+1:]) {
				return netip.Addr{}, false
			}
			host = s[:colon] // has no colon, so parses only as IPv4
		} else {
			host = s // no colon (IPv4) or several (IPv6)
		}
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || (wantV6 && !addr.Is6()) {
		return netip.Addr{}, false
	}
	return addr.WithZone("").Unmap(), true
}

// validPort reports whether s is a decimal port number, 0 to 65535.
func validPort(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}
