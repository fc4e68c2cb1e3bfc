package browser_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The environment variables the tests read.
const (
	// envChromium names the browser binary to use; when it is set, no
	// other is looked for.
	envChromium = "REDISWARE_CHROMIUM"
	// envRequired, set to 1 (or true), turns a missing browser from a
	// skip into a failure: CI sets it after installing chromium.
	envRequired = "REDISWARE_BROWSER_REQUIRED"
)

// Bounds of the waits. Nothing is timed: these only stop a test that
// would otherwise hang.
const (
	// buildTimeout bounds `go build` of the reference app, which may
	// compile from a cold cache: well over two minutes on a loaded 2-core
	// machine.
	buildTimeout = 10 * time.Minute
	// testTimeout bounds everything after the build: starting the app and
	// the browser, and every step in the browser.
	testTimeout = 60 * time.Second
	// stopTimeout bounds each graceful stop at clean-up, before a kill.
	stopTimeout = 5 * time.Second
)

// host is the host name the browser uses for the app. Chromium treats
// http://127.0.0.1 as a potentially trustworthy origin and so stores the
// app's Secure cookie over plain HTTP; the test checks that it does.
const host = "127.0.0.1"

// binDir holds the app binary that appBinary builds; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "redisware-browser-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// buildApp builds the reference app on net/http once per test binary, on
// the first call. This module cannot import the app (a main package, and
// examples/internal is internal to the library's module), so the tests
// run the real program, built from the repository root with the library's
// own go.mod.
var buildApp = sync.OnceValues(func() (string, error) {
	gocmd, err := exec.LookPath("go") // go test puts its own go first on PATH
	if err != nil {
		return "", fmt.Errorf("the go command is needed to build examples/nethttp: %w", err)
	}
	bin := filepath.Join(binDir, "app")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, gocmd, "build", "-o", bin, "./examples/nethttp")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./examples/nethttp: %w\n%s", err, out)
	}
	return bin, nil
})

// TestSessionCookieInBrowser logs in through the reference app
// (examples/nethttp) in a headless Chromium and checks what a browser makes
// of the session cookie: stored with HttpOnly, Secure and SameSite=Lax,
// invisible to the page's script, sent again by a reload, and dropped at
// logout.
func TestSessionCookieInBrowser(t *testing.T) {
	ctx, base := setup(t)

	// A page of the app's origin, so that the script's fetch calls are
	// same-origin and the cookie first-party.
	do(ctx, t, chromedp.Navigate(base+"/healthz"))
	if doc := readDocument(ctx, t); doc.Status != http.StatusOK {
		t.Fatalf("GET /healthz in the browser: %+v, want status 200", doc)
	}

	// Log in with a form, as a login page's script would.
	ans := fetch(ctx, t, "POST", "/login", "user=alice")
	var login struct {
		User string `json:"user"`
	}
	if ans.Status != http.StatusOK || json.Unmarshal([]byte(ans.Body), &login) != nil || login.User != "alice" {
		t.Fatalf("POST /login user=alice: %d %q, want 200 {\"user\":\"alice\"}", ans.Status, ans.Body)
	}
	t.Logf("POST /login user=alice: %d %s", ans.Status, strings.TrimSpace(ans.Body))

	// The browser holds the cookie, with the attributes the app gave it.
	c := sessionCookie(ctx, t, base)
	if c == nil {
		t.Fatalf("after login the browser holds no cookie named session for %s: the Secure cookie "+
			"was refused over http://%s, or never sent", base, host)
	}
	t.Logf("cookie in the browser: session (%d bytes) domain=%s path=%s httpOnly=%t secure=%t sameSite=%s session-only=%t",
		len(c.Value), c.Domain, c.Path, c.HTTPOnly, c.Secure, c.SameSite, c.Session)
	if c.Value == "" || !c.HTTPOnly || !c.Secure || c.SameSite != network.CookieSameSiteLax || c.Path != "/" || c.Domain != host {
		t.Errorf("session cookie %+v: want a value, httpOnly, secure, sameSite Lax, path / and domain %s", *c, host)
	}

	// HttpOnly: the page's script cannot read it. A cookie the script sets
	// itself shows that document.cookie works at all on this page.
	const cookieJS = `(() => { document.cookie = "probe=1; path=/"; const jar = document.cookie; ` +
		`document.cookie = "probe=; max-age=0; path=/"; return jar; })()`
	jar := run(ctx, t, chromedp.Evaluate[string](cookieJS))
	t.Logf("document.cookie: %q", jar)
	if !strings.Contains(jar, "probe=1") {
		t.Errorf("document.cookie = %q: a cookie the script sets is not readable, so the HttpOnly check proves nothing", jar)
	}
	if strings.Contains(jar, "session=") || strings.Contains(jar, c.Value) {
		t.Errorf("document.cookie = %q: the page's script can read the session cookie", jar)
	}

	// A navigation carries the cookie, and so does a reload: the session
	// survives it. The visit counter shows it is the same session.
	do(ctx, t, chromedp.Navigate(base+"/me"))
	checkMe(t, "GET /me (navigation)", readDocument(ctx, t), "navigate", 1)
	do(ctx, t, chromedp.Reload())
	checkMe(t, "GET /me (reload)", readDocument(ctx, t), "reload", 2)

	// The script's own requests carry it too, though the script cannot
	// see it.
	ans = fetch(ctx, t, "GET", "/me", "")
	checkMe(t, "fetch /me", document{Status: ans.Status, Body: ans.Body}, "", 3)

	// Logout: the app clears the cookie, the browser drops it, and the
	// session is gone for a reload too.
	ans = fetch(ctx, t, "POST", "/logout", "")
	t.Logf("POST /logout: %d %s", ans.Status, strings.TrimSpace(ans.Body))
	if ans.Status != http.StatusOK {
		t.Fatalf("POST /logout: %d %q, want 200", ans.Status, ans.Body)
	}
	if c := sessionCookie(ctx, t, base); c != nil {
		t.Errorf("after logout the browser still holds the session cookie %+v", *c)
	}
	do(ctx, t, chromedp.Reload())
	doc := readDocument(ctx, t)
	t.Logf("GET /me (reload after logout): %d %s", doc.Status, strings.TrimSpace(doc.Body))
	if doc.Status != http.StatusUnauthorized {
		t.Errorf("GET /me (reload after logout): %d %q, want 401", doc.Status, doc.Body)
	}
}

// setup is what every test here starts with: it finds chromium (skipping,
// or failing when REDISWARE_BROWSER_REQUIRED is set, if there is none),
// builds and starts the reference app, and starts the browser. It returns
// the chromedp context of the browser's tab, bounded by testTimeout, and
// the app's base URL; clean-up stops everything.
func setup(t *testing.T) (context.Context, string) {
	t.Helper()
	chromium, why := findChromium()
	if chromium == "" {
		if required() {
			t.Fatalf("%s is set, but no browser can run: %s", envRequired, why)
		}
		t.Skipf("skipping the browser test: %s (set %s=1 to make this a failure)", why, envRequired)
	}
	t.Logf("browser: %s", chromium)

	start := time.Now()
	bin, err := buildApp()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("app binary: %s (waited %v for the build)", bin, time.Since(start).Round(time.Millisecond))
	// Not t.Context(): that ends before clean-up, which must still close
	// the browser gracefully.
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	base := startApp(ctx, t, bin)
	return startChromium(ctx, t, chromium), base
}

// findChromium returns the browser binary to use, or "" and why there is
// none: the one named by REDISWARE_CHROMIUM when it is set, else
// /usr/bin/chromium, else chromium, chromium-browser or google-chrome on
// PATH.
func findChromium() (path, why string) {
	if name := os.Getenv(envChromium); name != "" {
		p, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Sprintf("%s=%q: %v", envChromium, name, err)
		}
		return p, ""
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, ""
		}
	}
	return "", fmt.Sprintf("no browser found (set %s, or install one: apt-get install chromium)", envChromium)
}

// required reports whether REDISWARE_BROWSER_REQUIRED asks for the browser.
func required() bool {
	v, _ := strconv.ParseBool(os.Getenv(envRequired))
	return v
}

// startApp runs the app binary on a free port of 127.0.0.1, with its
// embedded miniredis, waits until GET /healthz answers 200 and returns its
// base URL. It stops the app at clean-up.
func startApp(ctx context.Context, t *testing.T, bin string) string {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()

	logPath := filepath.Join(t.TempDir(), "app.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-addr", addr)
	// No REDIS_URL, REDIS_CLUSTER_ADDRS nor REDIS_SENTINEL_ADDRS: the app
	// starts its embedded miniredis, whatever Redis the rest of the suite
	// runs against.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "REDIS_URL=") || strings.HasPrefix(kv, "REDIS_CLUSTER_ADDRS=") ||
			strings.HasPrefix(kv, "REDIS_SENTINEL_ADDRS=") || strings.HasPrefix(kv, "PORT=")
	})
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		t.Fatalf("starting the app: %v", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		stop(cmd.Process, exited)
		_ = logFile.Close()
		if t.Failed() {
			t.Logf("app log (%s):\n%s", logPath, tail(logPath))
		}
	})

	base := "http://" + addr
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Logf("app: %s", base)
				return base
			}
		}
		select {
		case <-tick.C:
		case <-exited:
			t.Fatalf("the app exited before answering /healthz: %v\n%s", waitErr, tail(logPath))
		case <-ctx.Done():
			t.Fatalf("the app did not answer GET %s/healthz: %v\n%s", base, context.Cause(ctx), tail(logPath))
		}
	}
}

// stop interrupts a process and waits up to stopTimeout for it to exit
// (exited is closed), then kills it and waits again.
func stop(p *os.Process, exited <-chan struct{}) {
	if err := p.Signal(os.Interrupt); err != nil { // not on Windows
		_ = p.Kill()
	}
	select {
	case <-exited:
		return
	case <-time.After(stopTimeout):
	}
	_ = p.Kill()
	select {
	case <-exited:
	case <-time.After(stopTimeout):
	}
}

// chromiumFlags are the switches the browser starts with, on top of
// chromedp's defaults (which already hold most of them): headless, no
// sandbox (CI runs as root), no GPU, and nothing that reaches out to the
// network by itself. On a closed network, Chromium's background
// connections are refused many at a time otherwise.
var chromiumFlags = []chromedp.ExecAllocatorOption{
	chromedp.Headless,
	chromedp.NoSandbox,
	chromedp.NoFirstRun,
	chromedp.Flag("disable-gpu", true),
	chromedp.Flag("disable-quic", true),
	chromedp.Flag("disable-background-networking", true),
	chromedp.Flag("disable-component-update", true),
	chromedp.Flag("disable-sync", true),
	chromedp.Flag("no-proxy-server", true), // the app is on loopback; never ask a proxy
}

// startChromium starts a headless chromium through chromedp, with a fresh
// profile (a temporary user-data-dir that chromedp removes), and returns
// the chromedp context of its first tab. The browser lives until ctx ends;
// at clean-up it is asked to close, then killed with the helpers it left.
// Its output and chromedp's own errors go to a log shown if the test
// fails.
func startChromium(ctx context.Context, t *testing.T, bin string) context.Context {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "chromium.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	log := &lockedWriter{w: logFile}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.CombinedOutput(log))
	opts = append(opts, chromiumFlags...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(log.printf), chromedp.WithLogf(log.printf))
	t.Cleanup(func() {
		closeCtx, cancel := context.WithTimeout(tabCtx, stopTimeout)
		if err := chromedp.Cancel(closeCtx); err != nil {
			t.Logf("closing chromium: %v", err) // it is killed below
		}
		cancel()
		cancelTab()
		cancelAlloc() // waits until the browser has exited and its profile is gone
		log.close()
		if t.Failed() {
			t.Logf("chromium log (%s):\n%s", logPath, tail(logPath))
		}
	})
	// The first call starts the browser; its lifetime is ctx's.
	version, err := chromedp.CallBrowser(tabCtx, browser.GetVersion, cdp.Empty{})
	if err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Logf("DevTools connected: %s", version.Product)
	return tabCtx
}

// lockedWriter is the browser's log: its output and chromedp's messages,
// written from several goroutines, and dropped once the file is closed.
type lockedWriter struct {
	mu     sync.Mutex
	w      io.WriteCloser
	closed bool
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return len(p), nil
	}
	return l.w.Write(p)
}

func (l *lockedWriter) printf(format string, args ...any) {
	_, _ = fmt.Fprintf(l, "chromedp: "+strings.TrimSuffix(format, "\n")+"\n", args...)
}

func (l *lockedWriter) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	_ = l.w.Close()
}

// run runs a chromedp action that returns a value on the tab, and fails the
// test if it fails.
func run[T any](ctx context.Context, t *testing.T, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// do runs chromedp actions without a value on the tab, and fails the test
// if one fails.
func do(ctx context.Context, t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// document is what a navigation loaded: its HTTP status, its kind
// (navigate, reload, ...) and its text.
type document struct {
	URL    string `json:"url"`
	Type   string `json:"type"`
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// readDocument reads the page's document through the Navigation Timing
// API. Chromium shows a JSON answer as text in a <pre>.
func readDocument(ctx context.Context, t *testing.T) document {
	t.Helper()
	const js = `(() => {
		const nav = performance.getEntriesByType("navigation")[0];
		const pre = document.querySelector("pre");
		return {url: location.href, type: nav ? nav.type : "", status: nav ? nav.responseStatus : 0,
			body: pre ? pre.textContent : document.body.innerText};
	})()`
	return run(ctx, t, chromedp.Evaluate[document](js))
}

// answer is the status and body of a fetch.
type answer struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// fetch runs fetch(path) in the page with method and, when form is not
// empty, a form body.
func fetch(ctx context.Context, t *testing.T, method, path, form string) answer {
	t.Helper()
	init := map[string]any{"method": method}
	if form != "" {
		init["headers"] = map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		init["body"] = form
	}
	js := fmt.Sprintf(`(async () => { const r = await fetch(%s, %s); return {status: r.status, body: await r.text()}; })()`,
		jsonOf(path), jsonOf(init))
	a, err := chromedp.Run(ctx, chromedp.Evaluate[answer](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return a
}

// checkMe checks an answer of GET /me: 200 for alice with visits, and, if
// kind is not empty, that the page was loaded that way.
func checkMe(t *testing.T, what string, d document, kind string, visits int) {
	t.Helper()
	t.Logf("%s: %d %s", what, d.Status, strings.TrimSpace(d.Body))
	if kind != "" && d.Type != kind {
		t.Errorf("%s: navigation type %q, want %q", what, d.Type, kind)
	}
	var me struct {
		User   string `json:"user"`
		Visits int    `json:"visits"`
	}
	if d.Status != http.StatusOK || json.Unmarshal([]byte(d.Body), &me) != nil || me.User != "alice" || me.Visits != visits {
		t.Fatalf("%s: %d %q, want 200 {\"user\":\"alice\",\"visits\":%d}: the session did not survive", what, d.Status, d.Body, visits)
	}
}

// sessionCookie returns the cookie named session that the browser would
// send to base (Network.getCookies), or nil if it holds none.
func sessionCookie(ctx context.Context, t *testing.T, base string) *network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	var found []*network.Cookie
	for _, c := range res.Cookies {
		if c.Name == "session" {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return nil
	case 1:
		return found[0]
	}
	t.Fatalf("the browser holds %d cookies named session", len(found))
	return nil
}

// jsonOf writes v as JSON, which is also a JavaScript literal.
func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// tail returns the end of the file at path, for a failure message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	const limit = 8 << 10
	if len(b) > limit {
		b = append([]byte("...\n"), b[len(b)-limit:]...)
	}
	return string(b)
}
