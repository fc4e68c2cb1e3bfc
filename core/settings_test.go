package core_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redisware/redisware/core"
)

func TestSettingsValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		s     core.Settings
		field string // "" when valid
	}{
		{name: "zero", s: core.Settings{}},
		{name: "proxies", s: core.Settings{TrustedProxies: []string{"10.0.0.0/8", " 192.168.1.1 ", "2001:db8::/32"}}},
		{name: "bad proxy", s: core.Settings{TrustedProxies: []string{"10.0.0.0/8", "not-an-ip"}}, field: "Settings.TrustedProxies"},
		{name: "zone", s: core.Settings{TrustedProxies: []string{"fe80::1%eth0"}}, field: "Settings.TrustedProxies"},
		{name: "short secret", s: core.Settings{Secret: []byte("short")}, field: "Settings.Secret"},
		{name: "secret", s: core.Settings{Secret: make([]byte, core.MinSecretBytes)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, core.ErrConfig) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate = %v; want an ErrConfig naming %s", err, tc.field)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := core.ParseTrustedProxies([]string{"10.1.2.3/8", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].String() != "10.0.0.0/8" || got[1].String() != "::1/128" {
		t.Fatalf("ParseTrustedProxies = %v", got)
	}
}

func TestRejection(t *testing.T) {
	cause := errors.New("boom")
	rej := &core.Rejection{Status: http.StatusTooManyRequests, Detail: "slow down.", Header: http.Header{"Retry-After": {"3"}}, Err: cause}
	if !errors.Is(rej, cause) {
		t.Fatal("a Rejection does not unwrap to its Err")
	}
	if got := rej.Error(); got != "rejected with 429 Too Many Requests: slow down. (boom)" {
		t.Fatalf("Error() = %q", got)
	}
	w := httptest.NewRecorder()
	w.Header().Set("X-Outer", "kept")
	rej.Write(w)
	if w.Code != 429 || w.Header().Get("Retry-After") != "3" || w.Header().Get("X-Outer") != "kept" ||
		w.Header().Get("Content-Type") != core.ProblemContentType || w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("Write: %d %v", w.Code, w.Header())
	}
	want := `{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"slow down."}`
	if w.Body.String() != want {
		t.Fatalf("body %s; want %s", w.Body, want)
	}
	custom := &core.Rejection{Status: 409, Title: "Request in flight", Type: "https://example.com/probs/in-flight"}
	want = `{"type":"https://example.com/probs/in-flight","title":"Request in flight","status":409}`
	if got := string(custom.Problem()); got != want {
		t.Fatalf("Problem = %s; want %s", got, want)
	}
}
