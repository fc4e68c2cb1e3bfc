package idempotency

import (
	"net/http"
	"reflect"
	"testing"
)

func TestCodecRoundTrip(t *testing.T) {
	in := &response{status: 201, complete: true, body: []byte("{\"a\":1}\x00\xff"),
		header: http.Header{"Set-Cookie": {"a=1", "b=2"}, "Content-Type": {"application/json"}, "X-Empty": {""}}}
	out, err := decode(in.encode())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip: %+v != %+v", out, in)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add((&response{status: 200, complete: true, header: http.Header{"A": {"b"}}, body: []byte("x")}).encode())
	f.Add([]byte{1, 1, 200, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decode(b)
		if err != nil {
			return
		}
		again, err := decode(r.encode())
		if err != nil || !reflect.DeepEqual(r, again) {
			t.Fatalf("decode(encode(r)) differs: %+v vs %+v (%v)", r, again, err)
		}
	})
}
