package nethttp

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRouteOf(t *testing.T) {
	mux := http.NewServeMux()
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	mux.Handle("GET /items/{id}", ok)
	mux.Handle("/files/", ok)
	mux.Handle("GET /dirs/{d}/", ok)
	for _, tc := range []struct{ method, target, want string }{
		{"GET", "/items/7", "GET /items/{id}"},
		{"HEAD", "/items/7", "GET /items/{id}"},
		{"GET", "/files/a/b", "/files/"},
		{"GET", "/nowhere", ""},
		{"POST", "/items/7", ""},                // 405
		{"GET", "/files", ""},                   // redirect to /files/
		{"GET", "/dirs/abc", ""},                // redirect to /dirs/abc/: the client's path, never a route
		{"GET", "/x/../items/7", ""},            // redirect to the cleaned path
		{"GET", "/dirs/abc/", "GET /dirs/{d}/"}, // the subtree itself
	} {
		r := httptest.NewRequest(tc.method, tc.target, nil)
		if got := routeOf(mux, r); got != tc.want {
			t.Errorf("%s %s: route %q; want %q", tc.method, tc.target, got, tc.want)
		}
	}
}
