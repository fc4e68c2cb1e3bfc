package httpcache

import (
	"testing"

	"github.com/dunglas/httpsfv"
)

// With ShowKey, a key the client chose (quotes, backslashes, non-ASCII,
// controls) still makes a Cache-Status member that an RFC 9651 parser
// reads back as the cache's name with its parameters, the key a string.
func TestCacheStatusKeyIsAStructuredString(t *testing.T) {
	t.Parallel()
	c := &Cache{engine: &engine{opts: Options{StatusName: "edge", ShowKey: true}}}
	for _, tc := range []struct{ key, want string }{
		{"http://example.com/a", "http://example.com/a"},
		{`http://example.com/"quoted"\back`, `http://example.com/"quoted"\back`},
		{"http://example.com/café", "http://example.com/caf?"},
		{"http://example.com/a\tb", "http://example.com/a?b"},
	} {
		field := c.format(cacheStatus{fwd: "miss", stored: true}, tc.key)
		list, err := httpsfv.UnmarshalList([]string{field})
		if err != nil {
			t.Fatalf("%q: %q does not parse: %v", tc.key, field, err)
		}
		if len(list) != 1 {
			t.Fatalf("%q: %d members in %q", tc.key, len(list), field)
		}
		item := list[0].(httpsfv.Item)
		if item.Value != httpsfv.Token("edge") {
			t.Errorf("%q: member %v", tc.key, item.Value)
		}
		if key, ok := item.Params.Get("key"); !ok || key != tc.want {
			t.Errorf("%q: key %#v, want %q (field %q)", tc.key, key, tc.want, field)
		}
		if fwd, _ := item.Params.Get("fwd"); fwd != httpsfv.Token("miss") {
			t.Errorf("%q: fwd %#v", tc.key, fwd)
		}
		if stored, _ := item.Params.Get("stored"); stored != true {
			t.Errorf("%q: stored %#v", tc.key, stored)
		}
	}
}
