package session

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/redistest"
)

// An Incr whose reply is lost after the script ran has added once, never
// twice: go-redis would re-send the script on the connection error
// (MaxRetries, 3 by default) and add again. Incr fails with ErrUnavailable
// instead (the session's outage answer), or returns the single sum; either
// way the stored count went up by one. Both of Incr's paths are covered:
// on a session not loaded yet (load.lua adds) and on a loaded one
// (incr.lua), on a client and on its AutoPipeliner.
func TestIncrLostReplyAddsOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		loadFirst bool
		face      string
	}{{false, "client"}, {true, "client"}, {false, "autopipeline"}, {true, "autopipeline"}} {
		loadFirst := tc.loadFirst
		t.Run(tc.face+"/loadFirst="+strconv.FormatBool(loadFirst), func(t *testing.T) {
			t.Parallel()
			srv := redistest.New(t)
			var f redistest.Faults
			var rdb redis.UniversalClient = srv.FaultyClient(&f)
			if tc.face == "autopipeline" { // script calls wait on its deferred face
				rdb = redistest.AutoPipeline(t, rdb, redistest.Blocking)
			}
			m, err := New(rdb, testOptions(srv))
			if err != nil {
				t.Fatal(err)
			}
			var (
				drop   atomic.Bool
				n      int64
				incErr error
				sent   int64 // script calls made by the Incr with a lost reply
			)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := FromContext(r.Context())
				if loadFirst {
					if err := s.Load(r.Context()); err != nil {
						t.Error(err)
					}
				}
				if drop.Load() {
					f.ResetScriptCalls()
					f.DropScriptReplies(1)
				}
				n, incErr = s.Incr(r.Context(), "n", 1)
				sent = f.ScriptCalls()
			})
			c := &client{t: t, m: m, h: app(t)}
			c.do("/incr?k=n") // a new session, stored with n = 1
			if c.cookie == "" {
				t.Fatal("no session was created")
			}
			// The same Incr once more, so that its node has the scripts (a
			// NOSCRIPT reply, which means the script did not run, is not what
			// is tested): n = 2.
			c.h = h
			if c.do("/"); incErr != nil || n != 2 {
				t.Fatalf("warm-up Incr = %d, %v; want 2", n, incErr)
			}

			drop.Store(true)
			c.do("/")
			drop.Store(false)
			switch {
			case incErr != nil && !errors.Is(incErr, ErrUnavailable):
				t.Fatalf("Incr with a lost reply failed with %v; want an error wrapping ErrUnavailable", incErr)
			case incErr == nil && n != 3:
				t.Fatalf("Incr with a lost reply = %d; want 3 (or ErrUnavailable): the script ran more than once", n)
			}
			if got := sent; got != 1 {
				t.Errorf("the Incr script was sent %d times; want once", got)
			}
			c.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, FromContext(r.Context()).GetInt64("n"))
			})
			if got := c.do("/").Body.String(); got != "3" {
				t.Fatalf("stored count %s after the lost reply; want 3: exactly one increment", got)
			}
		})
	}
}
