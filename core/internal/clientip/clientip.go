package clientip

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ErrNoAddress is returned when RemoteAddr holds no parseable address.
var ErrNoAddress = errors.New("clientip: request has no client address")

const (
	// defaultIPv6Prefix groups IPv6 clients by /64, the usual size of one
	// subscriber's network, so a client cannot dodge a limit by rotating
	// through its own addresses.
	defaultIPv6Prefix = 64

	// maxHops caps the X-Forwarded-For entries examined per request, so a
	// huge header costs bounded work.
	maxHops = 64

	headerForwardedFor = "X-Forwarded-For"
	headerRealIP       = "X-Real-Ip" // canonical form of X-Real-IP
)

// ParseTrusted parses CIDRs ("10.0.0.0/8", "2001:db8::/32") and bare
// addresses ("10.0.0.1" becomes 10.0.0.1/32, "::1" becomes ::1/128) into
// prefixes, for use with New. Surrounding spaces are ignored. Host bits are
// cleared ("10.1.2.3/8" becomes 10.0.0.0/8). Any invalid entry, including an
// empty one or one with an IPv6 zone, is an error that names it.
func ParseTrusted(cidrs []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, raw := range cidrs {
		s := strings.TrimSpace(raw)
		var p netip.Prefix
		if strings.IndexByte(s, '/') >= 0 {
			var err error
			if p, err = netip.ParsePrefix(s); err != nil {
				return nil, fmt.Errorf("clientip: invalid trusted proxy %q: %w", raw, err)
			}
		} else {
			addr, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("clientip: invalid trusted proxy %q: %w", raw, err)
			}
			if addr.Zone() != "" {
				return nil, fmt.Errorf("clientip: invalid trusted proxy %q: IPv6 zones are not allowed", raw)
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Resolver finds the client address of requests. It holds the trusted
// proxies and the IPv6 grouping given to New, never changes after New, and is
// safe for concurrent use. The zero Resolver trusts nobody and groups IPv6
// clients by /64.
type Resolver struct {
	trusted    []netip.Prefix
	ipv6Prefix int // 0 means defaultIPv6Prefix
}

// New returns a Resolver.
//
// trusted lists the proxies whose forwarding headers are believed; nil or
// empty trusts nobody, so only RemoteAddr counts and X-Forwarded-For and
// X-Real-IP are ignored. Trust only the proxies in front of this server: any
// client inside a trusted prefix can claim to be anyone. IPv4-mapped IPv6
// prefixes of /96 or longer (::ffff:10.0.0.0/104) are treated as the IPv4
// prefix they map (10.0.0.0/8), because client addresses are unmapped before
// they are matched. An invalid prefix is an error.
//
// ipv6Prefix is how many leading bits of an IPv6 client address form its
// Key: 0 means the default 64, 1 to 128 are used as given, and anything else
// is an error. IPv4 addresses are always keyed whole.
func New(trusted []netip.Prefix, ipv6Prefix int) (*Resolver, error) {
	if ipv6Prefix < 0 || ipv6Prefix > 128 {
		return nil, fmt.Errorf("clientip: IPv6 prefix length %d out of range 1..128 (0 for the default %d)", ipv6Prefix, defaultIPv6Prefix)
	}
	r := &Resolver{ipv6Prefix: ipv6Prefix}
	if len(trusted) > 0 {
		r.trusted = make([]netip.Prefix, 0, len(trusted))
	}
	for _, p := range trusted {
		if !p.IsValid() {
			return nil, fmt.Errorf("clientip: invalid trusted proxy prefix %v", p)
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		r.trusted = append(r.trusted, p.Masked())
	}
	return r, nil
}

// ClientIP returns the client's address, not masked, without any IPv6 zone
// and with IPv4-mapped IPv6 addresses unmapped.
//
// If the peer in req.RemoteAddr is not a trusted proxy, the peer is the
// answer, whatever the headers say. If it is trusted, every X-Forwarded-For
// line is read as one comma-separated list and walked from the right: the
// first entry that is not a trusted proxy is the answer; if every entry is
// trusted, the leftmost is. An entry that does not parse stops the walk, and
// the last trusted hop walked past (or the peer) is the answer, since nothing
// to its left can be believed; the walk also stops there after 64 entries.
// Without X-Forwarded-For, a trusted peer's X-Real-IP is the answer when it
// parses. Entries may be bare addresses, "ip:port", "[ipv6]:port", and may be
// double-quoted.
//
// The only error is ErrNoAddress (wrapped), when req is nil or RemoteAddr
// does not parse.
func (r *Resolver) ClientIP(req *http.Request) (netip.Addr, error) {
	if req == nil {
		return netip.Addr{}, fmt.Errorf("%w: nil request", ErrNoAddress)
	}
	peer, ok := parseAddr(req.RemoteAddr)
	if !ok {
		return netip.Addr{}, fmt.Errorf("%w: RemoteAddr %q", ErrNoAddress, req.RemoteAddr)
	}
	if !r.isTrusted(peer) {
		return peer, nil
	}
	if lines := req.Header.Values(headerForwardedFor); len(lines) > 0 {
		return r.walkForwarded(peer, lines), nil
	}
	if addr, ok := parseEntry(req.Header.Get(headerRealIP)); ok {
		return addr, nil
	}
	return peer, nil
}

// Key returns the client address of req as a key: an IPv4 address as its
// dotted string ("203.0.113.7"); an IPv6 address masked to the Resolver's
// IPv6 prefix length as a prefix string ("2001:db8:1:2::/64"), or as the bare
// address when that length is 128. The key holds only the characters
// 0-9 a-f . : and /. Errors are those of ClientIP.
func (r *Resolver) Key(req *http.Request) (string, error) {
	addr, err := r.ClientIP(req)
	if err != nil {
		return "", err
	}
	return r.key(addr), nil
}

func (r *Resolver) key(addr netip.Addr) string {
	bits := r.ipv6Prefix
	if bits == 0 {
		bits = defaultIPv6Prefix
	}
	if addr.Is4() || bits == 128 {
		return addr.String()
	}
	p, err := addr.Prefix(bits)
	if err != nil { // unreachable: bits is 1..128 and addr is IPv6
		return addr.String()
	}
	// Appending to a stack buffer costs one allocation, where p.String()
	// costs two.
	var buf [len("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128")]byte
	return string(p.AppendTo(buf[:0]))
}

// walkForwarded walks the X-Forwarded-For entries from the right, as
// documented on ClientIP, without allocating.
func (r *Resolver) walkForwarded(peer netip.Addr, lines []string) netip.Addr {
	last := peer // the last trusted hop walked past
	hops := 0
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for {
			comma := strings.LastIndexByte(line, ',')
			addr, ok := parseEntry(line[comma+1:])
			if !ok {
				return last
			}
			if !r.isTrusted(addr) {
				return addr
			}
			last = addr
			if hops++; hops == maxHops {
				return last
			}
			if comma < 0 {
				break
			}
			line = line[:comma]
		}
	}
	return last // every entry was trusted: last is the leftmost
}

func (r *Resolver) isTrusted(addr netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
