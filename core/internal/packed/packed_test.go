package packed

import (
	"errors"
	"net/http"
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	h := http.Header{"Set-Cookie": {"a=1", "b=2"}, "X-Empty": {""}, "Content-Type": {"text/plain"}}
	b := AppendUvarint(nil, 201)
	b = AppendVarint(b, -5)
	b = AppendStrings(b, []string{"t1", "t2"})
	b = AppendHeader(b, h)
	b = AppendString(b, "body\x00\xff")
	d := NewDecoder(b)
	if d.Uvarint() != 201 || d.Varint() != -5 || !reflect.DeepEqual(d.Strings(), []string{"t1", "t2"}) ||
		!reflect.DeepEqual(d.Header(), h) || d.String() != "body\x00\xff" || d.Err() != nil || d.Len() != 0 {
		t.Fatal("round trip differs")
	}
	if HeaderSize(h) < len(AppendHeader(nil, h)) {
		t.Fatal("HeaderSize underestimates")
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add(AppendHeader(nil, http.Header{"A": {"b", "c"}}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder(b)
		h := d.Header()
		if d.Err() != nil {
			if !errors.Is(d.Err(), ErrCorrupt) || d.Uvarint() != 0 {
				t.Fatal("a failed decoder keeps reading")
			}
			return
		}
		again := NewDecoder(AppendHeader(nil, h)).Header()
		if !reflect.DeepEqual(again, h) {
			t.Fatalf("re-encoding changes the header: %v vs %v", again, h)
		}
	})
}
