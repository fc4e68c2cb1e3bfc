package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
)

// recordHandler is a slog.Handler that passes on every record.
type recordHandler struct{ records chan<- slog.Record }

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h recordHandler) WithGroup(string) slog.Handler            { return h }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.records <- r.Clone()
	return nil
}

// listenAddr waits for Run's startup line and returns the address it bound.
func listenAddr(t *testing.T, records <-chan slog.Record) string {
	t.Helper()
	for r := range records {
		if r.Message != "serving HTTP" {
			continue
		}
		var addr string
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "addr" {
				addr = a.Value.String()
			}
			return true
		})
		return addr
	}
	t.Fatal("no startup line")
	return ""
}

func TestRunShutsDownGracefully(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "done")
	})
	records := make(chan slog.Record, 16)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- Run(ctx, "127.0.0.1:0", h, slog.New(recordHandler{records})) }()
	addr := listenAddr(t, records)

	var wg sync.WaitGroup
	var body string
	var reqErr error
	wg.Go(func() {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			reqErr = err
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		body, reqErr = string(b), err
	})
	<-entered
	cancel() // as SIGTERM would, with a request in flight
	for r := range records {
		if r.Message == "shutting down" {
			break
		}
	}
	close(release)
	wg.Wait()
	if reqErr != nil || body != "done" {
		t.Errorf("request in flight at shutdown: %q, %v; want done, nil", body, reqErr)
	}
	if err := <-ran; err != nil {
		t.Errorf("Run = %v, want nil after a graceful shutdown", err)
	}
}

func TestRunListenError(t *testing.T) {
	if err := Run(t.Context(), "127.0.0.1:http-no-such-port", http.NotFoundHandler(), slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("Run on an invalid address returned nil")
	}
}
