package core_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/redisware/redisware/core"
)

// One Settings value for the deployment, embedded in every core's Options;
// a field set on one core's Options after copying changes that core only.
func ExampleSettings() {
	shared := core.Settings{
		Prefix:         "shop:",
		TrustedProxies: []string{"10.0.0.0/8"},
		OnReject: func(w http.ResponseWriter, r *http.Request, rej *core.Rejection) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rej.Status)
			fmt.Fprintf(w, `{"error":%q}`+"\n", rej.TitleOrStatusText())
		},
	}
	if err := shared.Validate(); err != nil {
		panic(err)
	}
	// ratelimit.Options{Settings: shared, ...}, session.Options{Settings: shared}, ...
	w := httptest.NewRecorder()
	shared.OnReject(w, httptest.NewRequest("GET", "/", nil), &core.Rejection{Status: 429})
	fmt.Print(w.Code, " ", w.Body.String())
	// Output: 429 {"error":"Too Many Requests"}
}

// The default answer of every core's rejection: an RFC 9457 problem.
func ExampleRejection() {
	rej := &core.Rejection{
		Status: http.StatusConflict,
		Detail: "A request with this Idempotency-Key is still being processed; retry shortly.",
		Header: http.Header{"Retry-After": {"1"}},
	}
	w := httptest.NewRecorder()
	rej.Write(w)
	fmt.Println(w.Code, w.Header().Get("Content-Type"), w.Header().Get("Retry-After"))
	fmt.Println(w.Body.String())
	// Output:
	// 409 application/problem+json 1
	// {"type":"about:blank","title":"Conflict","status":409,"detail":"A request with this Idempotency-Key is still being processed; retry shortly."}
}

// The route every core keys on is the same whatever framework wrote the
// pattern.
func ExampleRoute() {
	r := httptest.NewRequest("GET", "/items/42", nil)
	r.Pattern = "GET /items/{id}" // set by http.ServeMux; the Gin and Echo adapters set theirs
	fmt.Println(core.Route(r))
	r.Pattern = ""
	fmt.Println(core.Route(r))
	// Output:
	// GET /items/{}
	// (no route)
}
