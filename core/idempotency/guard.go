package idempotency

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/internal/capture"
	"github.com/redisware/redisware/core/internal/keys"
	"github.com/redisware/redisware/core/internal/rediscall"
	"github.com/redisware/redisware/core/internal/script"
	"github.com/redisware/redisware/core/internal/settings"
	"github.com/redisware/redisware/core/internal/telemetry"
	"github.com/redisware/redisware/core/session"
)

var (
	//go:embed claim.lua
	claimLua string
	//go:embed store.lua
	storeLua string
	//go:embed refresh.lua
	refreshLua string
	//go:embed release.lua
	releaseLua string

	// Each runs at most once per call: a claim whose reply was lost fails
	// (503) rather than being re-sent by go-redis and finding itself in
	// flight (see package script).
	claimScript   = script.New(claimLua)
	storeScript   = script.New(storeLua)
	refreshScript = script.New(refreshLua)
	releaseScript = script.New(releaseLua)
)

// Defaults of Options.
const (
	DefaultHeader          = "Idempotency-Key"
	DefaultMaxBodyBytes    = 1 << 20
	DefaultMaxStoredBytes  = 1 << 20
	DefaultRetention       = 24 * time.Hour
	DefaultClaimTTL        = 10 * time.Second
	DefaultWaitPollInitial = 25 * time.Millisecond
)

// MinClaimTTL is the shortest Options.ClaimTTL accepted: the claim is
// refreshed every third of it.
const MinClaimTTL = 30 * time.Millisecond

// Options configures a Guard. Every field is optional; New rejects a field
// that cannot work, naming it.
type Options struct {
	// Settings are the deployment-wide settings (core.Settings): key
	// prefix, call timeout, logger, error hook, telemetry providers,
	// trusted proxies, secret and rejection writer. Copy the shared value
	// in; a field set here after that applies to this guard only.
	//
	// The guard uses Prefix; Timeout (a request whose claim cannot be made
	// in time is refused with 503: the handler never runs without a
	// claim); Logger (Redis failures and lost claims; idempotency keys
	// never appear in its lines); OnError (Redis failures); MeterProvider
	// (redisware.idempotency.requests by guard and outcome: claimed,
	// replayed, conflict, mismatch, invalid, too_large, unavailable,
	// unguarded; redisware.redis.duration); TracerProvider (a span per
	// guarded request); TrustedProxies (the client address, the default
	// scope's last resort); and OnReject (every rejection: 400, 409, 413,
	// 422, 503). Secret is unused.
	core.Settings
	// Name separates the records of several guards; it is part of every
	// key. Zero means "default".
	Name string
	// Header is the request header that carries the key; it must be a
	// valid header field name. Zero means "Idempotency-Key".
	Header string
	// Methods are the methods the guard applies to, each a token,
	// upper-cased; others pass through untouched. Zero means POST and PATCH
	// (PUT and DELETE are idempotent by definition).
	Methods []string
	// Required answers 400 to a request of a guarded method without a key.
	// By default such a request runs unprotected.
	Required bool
	// Scope returns who a request belongs to. Records are kept per scope,
	// method, route and key, so one client can never receive a response
	// stored for another, even with the same key. Return "" to fall back
	// to the default. Zero uses Guard.DefaultScope: Principal, then the
	// user of the request's session (the session middleware mounted
	// outside the guard), then a hash of the Authorization header, then
	// the guest's stored session, and only then the client address.
	Scope func(r *http.Request) string
	// Principal, when set, returns the authenticated user of a request
	// ("" if none); the default scope uses it first. It shares its kind of
	// scope with the session's user, so a user's retry matches whether it
	// carries an API token or the session cookie: return users named as
	// the app names them to session.Session.Login, and prefix anything
	// else (an API client's ID, say) so it cannot pass for a user.
	Principal func(r *http.Request) string
	// MaxBodyBytes caps the request body read for the fingerprint, in
	// bytes; larger requests get 413. Zero means 1 MiB; negative is
	// invalid.
	MaxBodyBytes int64
	// MaxStoredBytes caps the response body kept for replay, in bytes. A
	// larger response is delivered, and its record completed without the
	// body: a retry then gets 409, never a second execution. Zero means
	// 1 MiB; negative is invalid.
	MaxStoredBytes int
	// Retention is how long a completed response is kept for replay. Zero
	// means 24 hours; anything else under a second is invalid.
	Retention time.Duration
	// ClaimTTL is how long an in-flight claim lives without a refresh;
	// the guard refreshes it every third of that while the handler runs.
	// It bounds how long a request whose server died blocks its retries.
	// Zero means 10 seconds; anything else under MinClaimTTL (30ms) is
	// invalid.
	ClaimTTL time.Duration
	// WaitInFlight, when positive, makes a duplicate of a request still in
	// flight wait up to this long for its response and replay it, instead
	// of getting 409 at once. It still gets 409 if the wait runs out, and
	// 422 if the key meanwhile came to hold another request's record. If
	// the first claim is released (its handler panicked, or answered 5xx
	// under ReleaseOn5xx), one waiting duplicate claims the key and runs
	// the handler, and the others wait for it. Polls start 25ms apart and
	// back off to one every 500ms, each one round trip. Zero means no
	// wait; negative is invalid.
	WaitInFlight time.Duration
	// ReleaseOn5xx forgets the claim when the handler answers 5xx, so the
	// client's retry runs the handler again. By default 5xx responses are
	// stored and replayed like any other, as the IETF draft recommends.
	ReleaseOn5xx bool
	// StoreSetCookie keeps the Set-Cookie fields of a response in its
	// record, so replays carry them too. By default they are left out of
	// the record: the first response still carries them to its client,
	// but a replay never hands a cookie (a session, a CSRF token) minted
	// for one request to whoever retries it. Set it only when the cookies
	// a guarded handler sets are safe to send again.
	StoreSetCookie bool
}

// Guard makes retried requests safe: the first request with a key runs,
// and every retry gets its stored response. It is safe for concurrent use.
type Guard struct {
	res     *settings.Resolved
	client  redis.UniversalClient
	call    rediscall.Caller
	space   keys.Space
	opts    Options
	methods map[string]bool
	tel     *instruments
}

var _ core.Middleware = (*Guard)(nil)

// New returns a Guard on client. It validates opts once, up front: an
// option that cannot work is an error that names it and wraps
// core.ErrConfig.
func New(client redis.UniversalClient, opts Options) (*Guard, error) {
	res, err := settings.Resolve("idempotency", client, opts.Settings)
	if err != nil {
		return nil, err
	}
	if opts.Name == "" {
		opts.Name = "default"
	}
	if opts.Header == "" {
		opts.Header = DefaultHeader
	}
	if !isToken(opts.Header) {
		return nil, res.Invalid("Header", "%q is not a valid header field name", opts.Header)
	}
	opts.Header = http.CanonicalHeaderKey(opts.Header)
	if len(opts.Methods) == 0 {
		opts.Methods = []string{http.MethodPost, http.MethodPatch}
	}
	methods := make(map[string]bool, len(opts.Methods))
	for i, m := range opts.Methods {
		if !isToken(m) {
			return nil, res.Invalid("Methods", "entry %d, %q, is not a method name", i, m)
		}
		methods[strings.ToUpper(m)] = true
	}
	switch {
	case opts.MaxBodyBytes < 0:
		return nil, res.Invalid("MaxBodyBytes", "is negative (%d); zero means %d bytes", opts.MaxBodyBytes, DefaultMaxBodyBytes)
	case opts.MaxBodyBytes == 0:
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	switch {
	case opts.MaxStoredBytes < 0:
		return nil, res.Invalid("MaxStoredBytes", "is negative (%d); zero means %d bytes", opts.MaxStoredBytes, DefaultMaxStoredBytes)
	case opts.MaxStoredBytes == 0:
		opts.MaxStoredBytes = DefaultMaxStoredBytes
	}
	switch {
	case opts.Retention == 0:
		opts.Retention = DefaultRetention
	case opts.Retention < time.Second:
		return nil, res.Invalid("Retention", "%v is under a second", opts.Retention)
	}
	switch {
	case opts.ClaimTTL == 0:
		opts.ClaimTTL = DefaultClaimTTL
	case opts.ClaimTTL < MinClaimTTL:
		return nil, res.Invalid("ClaimTTL", "%v is under %v", opts.ClaimTTL, MinClaimTTL)
	}
	if opts.WaitInFlight < 0 {
		return nil, res.Invalid("WaitInFlight", "is negative (%v); zero means no wait", opts.WaitInFlight)
	}
	g := &Guard{
		res:     res,
		client:  client,
		call:    res.Call,
		space:   keys.NewSpace(res.Prefix, "idem", opts.Name),
		opts:    opts,
		methods: methods,
	}
	g.tel = newInstruments(opts)
	res.WarnIfEvicting("idempotency records (a retried request may run twice)")
	return g, nil
}

// isToken reports whether s is an RFC 9110 token, the syntax of header
// field names and methods.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// keyContext is the context key of KeyFromContext.
type keyContext struct{}

// KeyFromContext returns the Idempotency-Key that a Guard claimed for the
// request whose context is ctx, as parsed (without the quotes of the
// structured-field form): what a handler passes on to a payment provider
// as its own idempotency key, for instance. It is set in the context of
// the request the guard hands to the handler, and only when the guard
// claimed a key; ok is false otherwise (an unguarded method, a request
// without a key, no guard at all).
func KeyFromContext(ctx context.Context) (key string, ok bool) {
	key, ok = ctx.Value(keyContext{}).(string)
	return key, ok
}

// Reject writes rej: through Settings.OnReject when set (rej.Header is set
// on w first), else as an RFC 9457 problem body (core.Rejection.Write).
func (g *Guard) Reject(w http.ResponseWriter, r *http.Request, rej *core.Rejection) {
	g.res.Reject(w, r, rej)
}

// ServeHTTP guards next for r, writing any rejection with Reject.
func (g *Guard) ServeHTTP(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if rej := g.Serve(w, r, next); rej != nil {
		g.Reject(w, r, rej)
	}
}

// Serve guards next for r. It returns a rejection, which the caller must
// write (Reject, or an adapter in its framework's idiom), or nil when the
// request was served: by next, or by replaying a stored response. The
// route of the record is core.Route(r): the method and r.Pattern, or
// core.NoRoute when r matched no route pattern.
//
// A rejection's Status is 400 (missing or malformed key, unreadable body),
// 409 (the same request is in flight, with Retry-After: 1; or its response
// was too large to keep), 413 (body over MaxBodyBytes), 422 (the key was
// used for a different request) or 503 (Redis unavailable, or the
// request's session could not be loaded to tell its scope; with
// Retry-After: 1).
func (g *Guard) Serve(w http.ResponseWriter, r *http.Request, next http.Handler) *core.Rejection {
	t := g.tel.t
	var outcome string
	if !t.On {
		return g.serve(w, r, next, &outcome)
	}
	// A span only as a child of the request's span.
	var span trace.Span
	if trace.SpanContextFromContext(r.Context()).IsValid() {
		var ctx context.Context
		ctx, span = t.Tracer.Start(r.Context(), "redisware.idempotency", g.tel.spanStart...)
		if span.IsRecording() {
			r = r.WithContext(ctx)
		}
	}
	rej := g.serve(w, r, next, &outcome)
	if rej != nil {
		outcome = rejectionOutcome(rej.Status)
	}
	g.tel.requests.Add(r.Context(), 1, g.tel.outcomes[outcome])
	if span != nil {
		if span.IsRecording() {
			span.SetAttributes(telemetry.Outcome.String(outcome))
		}
		span.End()
	}
	return rej
}

// retryAfter1 is the header of the rejections a client should retry in a
// second.
func retryAfter1() http.Header { return http.Header{"Retry-After": {"1"}} }

func (g *Guard) serve(w http.ResponseWriter, r *http.Request, next http.Handler, outcome *string) *core.Rejection {
	*outcome = outcomeUnguarded
	if !g.methods[r.Method] {
		next.ServeHTTP(w, r)
		return nil
	}
	values := r.Header.Values(g.opts.Header)
	if len(values) == 0 {
		if g.opts.Required {
			return &core.Rejection{Status: http.StatusBadRequest, Detail: "This request requires an " + g.opts.Header + " header."}
		}
		next.ServeHTTP(w, r)
		return nil
	}
	clientKey, err := ParseKey(values)
	if err != nil {
		return &core.Rejection{Status: http.StatusBadRequest, Detail: strings.Replace(strings.TrimPrefix(err.Error(), "idempotency: "), "Idempotency-Key", g.opts.Header, 1) + ".", Err: err}
	}
	body, rej := g.readBody(r)
	if rej != nil {
		return rej
	}
	scope, err := g.scope(r)
	if err != nil {
		return g.noScope(r.Context(), err)
	}
	recordKey := g.recordKey(scope, r.Method, core.Route(r), clientKey)
	fp := fingerprint(r, body)
	token := newToken()

	// Claim the record, or read it. A duplicate of a request in flight
	// that may wait polls with the same script: each poll is one round
	// trip, sees the fingerprint of whatever record is there by then, and
	// claims the key afresh if the first claim was released meanwhile.
	op := g.tel.claim
	var deadline time.Time
	pause := DefaultWaitPollInitial
	for {
		claimed, st, storedFP, resp, err := g.claim(r.Context(), op, recordKey, token, fp)
		if err != nil {
			if !script.Unsent(err) {
				// The claim may have been made and its reply lost: give it
				// up (only if it is this request's), in the background, so
				// a retry need not wait ClaimTTL for it to lapse.
				go g.giveUp(recordKey, token)
			}
			return g.unavailable(r.Context(), err)
		}
		if claimed {
			*outcome = outcomeClaimed
			g.run(w, r.WithContext(context.WithValue(r.Context(), keyContext{}, clientKey)), recordKey, token, next)
			return nil
		}
		if storedFP != fp {
			return &core.Rejection{Status: http.StatusUnprocessableEntity,
				Detail: "This " + g.opts.Header + " was already used for a different request (method, path or body differ)."}
		}
		if st == "d" {
			*outcome = outcomeReplayed
			return g.replay(w, r, resp)
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(g.opts.WaitInFlight)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return &core.Rejection{Status: http.StatusConflict, Header: retryAfter1(),
				Detail: "A request with this " + g.opts.Header + " is still being processed; retry shortly."}
		}
		if err := sleep(r.Context(), min(pause, left)); err != nil {
			return g.unavailable(r.Context(), err)
		}
		pause = min(pause*2, 500*time.Millisecond)
		op = g.tel.wait
	}
}

// claim runs the claim script: it claims the record for token when there
// is none, and otherwise returns its state ("p" in flight, "d" done), its
// fingerprint and its stored response.
func (g *Guard) claim(ctx context.Context, op *telemetry.RedisOp, recordKey, token, fp string) (claimed bool, st, storedFP, resp string, err error) {
	var reply []interface{}
	err = g.call.DoScriptMeasured(ctx, op, func(ctx context.Context) error {
		v, err := claimScript.Run(ctx, g.client, []string{recordKey}, token, fp, g.opts.ClaimTTL.Milliseconds()).Slice()
		reply = v
		return err
	})
	if err != nil {
		return false, "", "", "", err
	}
	if len(reply) == 1 {
		return true, "", "", "", nil
	}
	st, storedFP, resp, err = parseRecord(reply)
	return false, st, storedFP, resp, err
}

// sleep waits for d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// run executes next under a claim: refreshed while it runs, completed
// with the response afterwards, released if the handler panics.
func (g *Guard) run(w http.ResponseWriter, r *http.Request, recordKey, token string, next http.Handler) {
	rec := capture.New(w, g.opts.MaxStoredBytes)
	// Headers set before the handler (by outer middleware, such as a rate
	// limiter) are not part of the response to keep: they are set afresh
	// on every request, replays included.
	before := w.Header().Clone()
	stop := g.keepClaim(r.Context(), recordKey, token)
	completed := false
	defer func() {
		stop()
		if completed {
			return
		}
		// The handler panicked (or called runtime.Goexit): let the client
		// retry, and let the panic go on.
		g.release(recordKey, token)
	}()
	next.ServeHTTP(rec, r)
	completed = true

	status := rec.Status()
	header := rec.SentHeader()
	if !rec.Wrote() {
		status, header = http.StatusOK, w.Header().Clone()
	}
	if status >= 500 && g.opts.ReleaseOn5xx {
		g.release(recordKey, token)
		return
	}
	kept := changed(header, before)
	if !g.opts.StoreSetCookie {
		for k := range kept {
			if http.CanonicalHeaderKey(k) == "Set-Cookie" {
				delete(kept, k)
			}
		}
	}
	resp := &response{status: status, header: kept, body: rec.Body(), complete: rec.Complete()}
	if !resp.complete {
		resp.body = nil
	}
	var stored int64
	// A fresh context: the client may have gone, but the record must
	// still be completed, or a retry would block until the claim expires.
	ctx := context.WithoutCancel(r.Context())
	err := g.call.DoScriptMeasured(ctx, g.tel.store, func(ctx context.Context) error {
		v, err := storeScript.Run(ctx, g.client, []string{recordKey}, token, resp.encode(), g.opts.Retention.Milliseconds()).Int64()
		stored = v
		return err
	})
	switch {
	case err != nil:
		g.report(ctx, fmt.Errorf("idempotency: storing the response: %w", err))
	case stored == 0:
		g.res.Logger.LogAttrs(ctx, slog.LevelWarn, "idempotency: claim lost before the response was stored; raise ClaimTTL if handlers stall",
			slog.String("guard", g.opts.Name))
	}
}

// keepClaim refreshes the claim every third of ClaimTTL until stopped.
func (g *Guard) keepClaim(ctx context.Context, recordKey, token string) (stop func()) {
	ctx = context.WithoutCancel(ctx)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(g.opts.ClaimTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			var ok int64
			err := g.call.DoScriptMeasured(ctx, g.tel.refresh, func(ctx context.Context) error {
				v, err := refreshScript.Run(ctx, g.client, []string{recordKey}, token, g.opts.ClaimTTL.Milliseconds()).Int64()
				ok = v
				return err
			})
			if err != nil {
				g.report(ctx, fmt.Errorf("idempotency: refreshing a claim: %w", err))
				continue
			}
			if ok == 0 {
				g.res.Logger.LogAttrs(ctx, slog.LevelWarn, "idempotency: claim lost while the handler ran", slog.String("guard", g.opts.Name))
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// giveUp releases a claim the request may hold without knowing it (its
// claim call failed after it may have reached Redis), best effort: it runs
// after the request was answered, so it neither logs nor reports nor
// records anything; if it fails too, the claim lapses at ClaimTTL.
func (g *Guard) giveUp(recordKey, token string) {
	_ = g.call.DoScript(context.Background(), func(ctx context.Context) error {
		return releaseScript.Run(ctx, g.client, []string{recordKey}, token).Err()
	})
}

func (g *Guard) release(recordKey, token string) {
	ctx := context.Background()
	err := g.call.DoScriptMeasured(ctx, g.tel.release, func(ctx context.Context) error {
		return releaseScript.Run(ctx, g.client, []string{recordKey}, token).Err()
	})
	if err != nil {
		g.report(ctx, fmt.Errorf("idempotency: releasing a claim: %w", err))
	}
}

// replay writes a stored response.
func (g *Guard) replay(w http.ResponseWriter, r *http.Request, raw string) *core.Rejection {
	resp, err := decode([]byte(raw))
	if err != nil {
		return g.unavailable(r.Context(), err)
	}
	if !resp.complete {
		return &core.Rejection{Status: http.StatusConflict,
			Detail: "The request with this " + g.opts.Header + " completed, but its response was too large to keep for replay."}
	}
	h := w.Header()
	for k, vs := range resp.header {
		h[k] = vs
	}
	h.Set("Idempotent-Replayed", "true")
	w.WriteHeader(resp.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(resp.body)
	}
	return nil
}

func (g *Guard) readBody(r *http.Request) ([]byte, *core.Rejection) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > g.opts.MaxBodyBytes {
		return nil, g.tooLarge()
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, g.opts.MaxBodyBytes+1))
	if err != nil {
		return nil, &core.Rejection{Status: http.StatusBadRequest, Detail: "The request body could not be read.", Err: err}
	}
	if int64(len(body)) > g.opts.MaxBodyBytes {
		return nil, g.tooLarge()
	}
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

func (g *Guard) tooLarge() *core.Rejection {
	return &core.Rejection{Status: http.StatusRequestEntityTooLarge,
		Detail: "The request body is larger than " + strconv.FormatInt(g.opts.MaxBodyBytes, 10) + " bytes, the most an idempotent request may carry."}
}

func (g *Guard) unavailable(ctx context.Context, err error) *core.Rejection {
	err = fmt.Errorf("idempotency: %w", err)
	g.report(ctx, err)
	return &core.Rejection{Status: http.StatusServiceUnavailable, Header: retryAfter1(), Err: err,
		Detail: "Idempotency records are unavailable, so the request was not run; retry shortly with the same key."}
}

// noScope is the rejection of a request whose scope could not be told:
// its session could not be loaded.
func (g *Guard) noScope(ctx context.Context, err error) *core.Rejection {
	if !errors.Is(err, session.ErrUnavailable) {
		g.report(ctx, err) // the session manager reports its own failures
	}
	return &core.Rejection{Status: http.StatusServiceUnavailable, Header: retryAfter1(), Err: fmt.Errorf("idempotency: loading the session: %w", err),
		Detail: "The session could not be loaded, so the request was not run; retry shortly with the same key."}
}

// report logs a Redis failure at warn level and passes it to
// Settings.OnError.
func (g *Guard) report(ctx context.Context, err error) {
	g.res.Report(ctx, "idempotency: redis call failed", err, slog.String("guard", g.opts.Name))
}

// scope returns the owner of r for record keys.
func (g *Guard) scope(r *http.Request) (string, error) {
	if g.opts.Scope != nil {
		if s := g.opts.Scope(r); s != "" {
			return "custom\x00" + s, nil
		}
	}
	return g.DefaultScope(r)
}

// DefaultScope returns the scope g gives r unless Options.Scope returns
// one, the first of:
//
//   - the user Options.Principal returns;
//   - the user the app bound the request's session to with
//     Session.Login, when the session middleware is mounted outside the
//     guard (session.FromContext); the guard loads the session
//     (Session.Load) if nothing has yet;
//   - a hash of the Authorization header;
//   - the request's stored session, for a guest: a hash of its ID
//     (Session.Ref);
//   - the client address (the connection's, or what
//     Settings.TrustedProxies forwarded; IPv6 kept whole), as a last
//     resort: every client behind one NAT or proxy shares it, so mount the
//     session middleware, or set Principal, wherever users can be told
//     apart.
//
// Principal and the session user share one kind of scope, a user name, so
// a retry of one user's request matches whether it comes with an API
// token or a session cookie: Principal must then name users as the app
// names them to Session.Login (prefix anything else it returns, such as
// an API client's ID, or use Options.Scope). Each kind is tagged, so two
// kinds never share a scope; the raw Cookie header is never part of one.
//
// Two requests with different scopes never share a record. The error,
// wrapping session.ErrUnavailable, means the session could not be loaded:
// the guard then refuses the request with 503 rather than guess a scope
// (the session middleware, outside, answers it with its own 503).
// Call DefaultScope from Options.Scope to refine the default rather than
// replace it; on an error, return "" and the guard refuses the request.
func (g *Guard) DefaultScope(r *http.Request) (string, error) {
	if g.opts.Principal != nil {
		if p := g.opts.Principal(r); p != "" {
			return "user\x00" + p, nil
		}
	}
	s := session.FromContext(r.Context())
	if s != nil {
		if err := s.Load(r.Context()); err != nil {
			return "", err
		}
		if u := s.User(); u != "" {
			return "user\x00" + u, nil
		}
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		sum := sha256.Sum256([]byte(auth))
		return "authorization\x00" + hex.EncodeToString(sum[:]), nil
	}
	if s != nil {
		if ref := s.Ref(); ref != "" {
			return "session\x00" + ref, nil
		}
	}
	if addr, err := g.res.IP.ClientIP(r); err == nil {
		return "address\x00" + addr.String(), nil
	}
	return "address\x00" + r.RemoteAddr, nil
}

// changed returns the fields of after that before lacks or holds with
// other values.
func changed(after, before http.Header) http.Header {
	out := make(http.Header, len(after))
	for k, vs := range after {
		if old, ok := before[k]; ok && slices.Equal(old, vs) {
			continue
		}
		out[k] = vs
	}
	return out
}

// recordKey hashes everything that identifies a record, so no client
// string reaches the key itself.
func (g *Guard) recordKey(scope, method, route, clientKey string) string {
	h := sha256.New()
	for _, s := range []string{scope, method, route, clientKey} {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	return g.space.Tagged(hex.EncodeToString(h.Sum(nil)[:20]), "")
}

// fingerprint identifies the request a key was first used for.
func fingerprint(r *http.Request, body []byte) string {
	h := sha256.New()
	target := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	for _, s := range []string{r.Method, target} {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	h.Write(body)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func parseRecord(reply []interface{}) (st, fp, resp string, err error) {
	if len(reply) != 3 {
		return "", "", "", fmt.Errorf("unexpected claim reply of %d values", len(reply))
	}
	st, _ = reply[0].(string)
	fp, _ = reply[1].(string)
	resp, _ = reply[2].(string)
	if st != "p" && st != "d" {
		return "", "", "", fmt.Errorf("unexpected record state %q", st)
	}
	return st, fp, resp, nil
}
