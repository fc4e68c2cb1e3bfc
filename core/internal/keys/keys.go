// Package keys builds every Redis key redisware uses, in one place.
//
// A key has the form
//
//	<prefix><capability>:<name>:{<tag>}<suffix>
//
// where the part in braces is the Redis Cluster hash tag: every key one
// script touches shares it, so no script ever spans two slots. Anything a
// client controls goes through Escape before it becomes part of a key, so it
// can neither forge a hash tag, nor a SCAN glob, nor another tenant's key.
package keys

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// DefaultPrefix is the prefix of every key when the user sets none.
const DefaultPrefix = "redisware:"

// maxEscaped is the longest escaped string kept verbatim; longer ones are
// replaced by a hash so keys stay short whatever a client sends.
const maxEscaped = 96

// Escape returns s in a form that is safe inside a key and a hash tag.
// Letters, digits and ". - _ @ /" are kept; every other byte becomes %XX.
// Results longer than 96 bytes are replaced by "~" and the hex SHA-256 of s
// ("~" itself is always escaped, so the two forms cannot collide). Escape is
// injective on its short form: two different strings never share a key.
func Escape(s string) string {
	safe := true
	for i := 0; i < len(s); i++ {
		if !plain(s[i]) {
			safe = false
			break
		}
	}
	if safe && len(s) <= maxEscaped && s != "" {
		return s
	}
	if s == "" {
		return "%"
	}
	const hexdigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plain(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hexdigits[c>>4])
			b.WriteByte(hexdigits[c&15])
		}
		if b.Len() > maxEscaped {
			return Hash(s)
		}
	}
	return b.String()
}

// Hash returns "~" followed by the hex SHA-256 of s: a fixed-length stand-in
// for a value too long, or too secret, to appear in a key.
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "~" + hex.EncodeToString(sum[:])
}

func plain(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '-' || c == '_' || c == '@' || c == '/'
}

// Space builds the keys of one capability under one prefix.
type Space struct {
	base string // "<prefix><capability>:<name>:"
}

// NewSpace returns the key space of capability (such as "rl") for the named
// instance (such as a rate-limit policy). An empty prefix means
// DefaultPrefix. The prefix is the user's own and is used verbatim; the name
// is escaped, and an empty name is left out ("<prefix><capability>:").
func NewSpace(prefix, capability, name string) Space {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if name == "" {
		return Space{base: prefix + capability + ":"}
	}
	return Space{base: prefix + capability + ":" + Escape(name) + ":"}
}

// Tagged returns the key for the client-controlled value tag, which is
// escaped and becomes the hash tag, followed by suffix (a constant chosen
// by the caller, never client input).
func (s Space) Tagged(tag, suffix string) string {
	return s.base + "{" + Escape(tag) + "}" + suffix
}

// TaggedSet returns one key per suffix, all sharing the hash tag of tag, so
// one script may touch them all on a Cluster.
func (s Space) TaggedSet(tag string, suffixes []string) []string {
	head := s.base + "{" + Escape(tag) + "}"
	out := make([]string, len(suffixes))
	for i, suf := range suffixes {
		out[i] = head + suf
	}
	return out
}

// Pattern returns a SCAN MATCH pattern for every key of this space.
func (s Space) Pattern() string {
	return GlobEscape(s.base) + "*"
}

// GlobEscape escapes the glob metacharacters of s (* ? [ ] \) so that a SCAN
// MATCH pattern matches s literally.
func GlobEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
