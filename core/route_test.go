package core_test

import (
	"net/http/httptest"
	"testing"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/internal/route"
)

// Every row of the route table: the pattern as net/http writes it, as Gin
// and Echo write it (translated by the adapters), and the one canonical
// form every core keys on.
func TestRouteTable(t *testing.T) {
	rows := []struct {
		name     string
		nethttp  string   // as http.ServeMux writes it
		colon    []string // as Gin and Echo write it
		want     string
		wantPath string // the translated Gin/Echo pattern, when colon is set
	}{
		{name: "static", nethttp: "GET /orders", colon: []string{"/orders"}, want: "/orders"},
		{name: "parameter", nethttp: "GET /items/{id}", colon: []string{"/items/:id"}, want: "/items/{}"},
		{name: "two parameters", nethttp: "/users/{user}/items/{item}", colon: []string{"/users/:uid/items/:iid"}, want: "/users/{}/items/{}"},
		{name: "rest", nethttp: "/files/{path...}", colon: []string{"/files/*path", "/files/*"}, want: "/files/{...}"},
		{name: "exact trailing slash", nethttp: "/items/{$}", colon: []string{"/items/"}, want: "/items/"},
		{name: "subtree", nethttp: "/items/", want: "/items/{...}"},
		{name: "root subtree", nethttp: "/", colon: []string{"/*path", "/*"}, want: "/{...}"},
		{name: "root exact", nethttp: "/{$}", colon: []string{"/"}, want: "/"},
		{name: "host", nethttp: "example.com/items/{id}", want: "example.com/items/{}"},
		{name: "method and host", nethttp: "POST example.com/{$}", want: "example.com/"},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			if got := core.CanonicalPattern(row.nethttp); got != row.want {
				t.Errorf("CanonicalPattern(%q) = %q; want %q", row.nethttp, got, row.want)
			}
			for _, c := range row.colon {
				if got := core.CanonicalPattern(route.FromColon(c)); got != row.want {
					t.Errorf("CanonicalPattern(FromColon(%q) = %q) = %q; want %q", c, route.FromColon(c), got, row.want)
				}
			}
		})
	}
}

func TestRoute(t *testing.T) {
	r := httptest.NewRequest("POST", "/items/7", nil)
	if got := core.Route(r); got != core.NoRoute {
		t.Fatalf("no pattern: Route = %q; want %q", got, core.NoRoute)
	}
	r.Pattern = "POST /items/{id}"
	if got := core.Route(r); got != "POST /items/{}" {
		t.Fatalf("Route = %q", got)
	}
	r.Pattern = route.FromColon("/items/:itemID")
	if got := core.Route(r); got != "POST /items/{}" {
		t.Fatalf("Route from Gin's pattern = %q", got)
	}
	// A GET pattern also serves HEAD; the route names the request's method.
	r = httptest.NewRequest("HEAD", "/items/7", nil)
	r.Pattern = "GET /items/{id}"
	if got := core.Route(r); got != "HEAD /items/{}" {
		t.Fatalf("HEAD: Route = %q", got)
	}
}

func TestFromColonUnmatched(t *testing.T) {
	if got := route.FromColon(""); got != "" {
		t.Fatalf("FromColon(\"\") = %q", got)
	}
}
