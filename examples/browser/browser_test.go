package browser_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The environment variables the test reads.
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
	// compile from a cold cache.
	buildTimeout = 2 * time.Minute
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

// TestSessionCookieInBrowser logs in through the reference app
// (examples/nethttp) in a headless Chromium and checks what a browser makes
// of the session cookie: stored with HttpOnly, Secure and SameSite=Lax,
// invisible to the page's script, sent again by a reload, and dropped at
// logout.
func TestSessionCookieInBrowser(t *testing.T) {
	ctx, base, page := setup(t)

	// A page of the app's origin, so that the script's fetch calls are
	// same-origin and the cookie first-party.
	if err := page.navigate(ctx, base+"/healthz"); err != nil {
		t.Fatal(err)
	}
	if doc := readDocument(ctx, t, page); doc.Status != http.StatusOK {
		t.Fatalf("GET /healthz in the browser: %+v, want status 200", doc)
	}

	// Log in with a form, as a login page's script would.
	ans := fetch(ctx, t, page, "POST", "/login", "user=alice")
	var login struct {
		User string `json:"user"`
	}
	if ans.Status != http.StatusOK || json.Unmarshal([]byte(ans.Body), &login) != nil || login.User != "alice" {
		t.Fatalf("POST /login user=alice: %d %q, want 200 {\"user\":\"alice\"}", ans.Status, ans.Body)
	}
	t.Logf("POST /login user=alice: %d %s", ans.Status, strings.TrimSpace(ans.Body))

	// The browser holds the cookie, with the attributes the app gave it.
	c, ok := sessionCookie(ctx, t, page, base)
	if !ok {
		t.Fatalf("after login the browser holds no cookie named session for %s: the Secure cookie "+
			"was refused over http://%s, or never sent", base, host)
	}
	t.Logf("cookie in the browser: session (%d bytes) domain=%s path=%s httpOnly=%t secure=%t sameSite=%s session-only=%t",
		len(c.Value), c.Domain, c.Path, c.HTTPOnly, c.Secure, c.SameSite, c.Session)
	if c.Value == "" || !c.HTTPOnly || !c.Secure || c.SameSite != "Lax" || c.Path != "/" || c.Domain != host {
		t.Errorf("session cookie %+v: want a value, httpOnly, secure, sameSite Lax, path / and domain %s", c, host)
	}

	// HttpOnly: the page's script cannot read it. A cookie the script sets
	// itself shows that document.cookie works at all on this page.
	var jar string
	const cookieJS = `(() => { document.cookie = "probe=1; path=/"; const jar = document.cookie; ` +
		`document.cookie = "probe=; max-age=0; path=/"; return jar; })()`
	if err := page.eval(ctx, cookieJS, &jar); err != nil {
		t.Fatal(err)
	}
	t.Logf("document.cookie: %q", jar)
	if !strings.Contains(jar, "probe=1") {
		t.Errorf("document.cookie = %q: a cookie the script sets is not readable, so the HttpOnly check proves nothing", jar)
	}
	if strings.Contains(jar, "session=") || strings.Contains(jar, c.Value) {
		t.Errorf("document.cookie = %q: the page's script can read the session cookie", jar)
	}

	// A navigation carries the cookie, and so does a reload: the session
	// survives it. The visit counter shows it is the same session.
	if err := page.navigate(ctx, base+"/me"); err != nil {
		t.Fatal(err)
	}
	checkMe(t, "GET /me (navigation)", readDocument(ctx, t, page), "navigate", 1)
	if err := page.reload(ctx); err != nil {
		t.Fatal(err)
	}
	checkMe(t, "GET /me (reload)", readDocument(ctx, t, page), "reload", 2)

	// The script's own requests carry it too, though the script cannot
	// see it.
	ans = fetch(ctx, t, page, "GET", "/me", "")
	checkMe(t, "fetch /me", document{Status: ans.Status, Body: ans.Body}, "", 3)

	// Logout: the app clears the cookie, the browser drops it, and the
	// session is gone for a reload too.
	ans = fetch(ctx, t, page, "POST", "/logout", "")
	t.Logf("POST /logout: %d %s", ans.Status, strings.TrimSpace(ans.Body))
	if ans.Status != http.StatusOK {
		t.Fatalf("POST /logout: %d %q, want 200", ans.Status, ans.Body)
	}
	if c, ok := sessionCookie(ctx, t, page, base); ok {
		t.Errorf("after logout the browser still holds the session cookie %+v", c)
	}
	if err := page.reload(ctx); err != nil {
		t.Fatal(err)
	}
	doc := readDocument(ctx, t, page)
	t.Logf("GET /me (reload after logout): %d %s", doc.Status, strings.TrimSpace(doc.Body))
	if doc.Status != http.StatusUnauthorized {
		t.Errorf("GET /me (reload after logout): %d %q, want 401", doc.Status, doc.Body)
	}
}

// setup is what every test here starts with: it finds chromium (skipping,
// or failing when REDISWARE_BROWSER_REQUIRED is set, if it cannot run),
// builds and starts the reference app, starts the browser and opens a
// blank page. It returns a context bounded by testTimeout, the app's base
// URL and the page; clean-up stops everything.
func setup(t *testing.T) (context.Context, string, *cdpPage) {
	t.Helper()
	chromium, why := findChromium()
	if chromium == "" || !pipeSupported {
		if !pipeSupported {
			why = "driving chromium through --remote-debugging-pipe needs Unix (file descriptors 3 and 4)"
		}
		if required() {
			t.Fatalf("%s is set, but no browser can run: %s", envRequired, why)
		}
		t.Skipf("skipping the browser test: %s (set %s=1 to make this a failure)", why, envRequired)
	}
	t.Logf("browser: %s", chromium)

	appBin := buildApp(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	base := startApp(ctx, t, appBin)
	browser := startChromium(t, chromium)
	var version struct {
		Product string `json:"product"`
	}
	if err := browser.call(ctx, "", "Browser.getVersion", nil, &version); err != nil {
		t.Fatal(err)
	}
	t.Logf("DevTools connected: %s", version.Product)
	page, err := browser.newPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, base, page
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

// buildApp builds the reference app on net/http and returns its binary.
// A main package cannot be imported, so the test runs the real program.
func buildApp(t *testing.T) string {
	t.Helper()
	gocmd, err := exec.LookPath("go") // go test puts its own go first on PATH
	if err != nil {
		t.Fatalf("the go command is needed to build examples/nethttp: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "app")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	ctx, cancel := context.WithTimeout(t.Context(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, gocmd, "build", "-o", bin, ".")
	cmd.Dir = filepath.Join("..", "nethttp")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/nethttp: %v\n%s", err, out)
	}
	return bin
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

	dir := t.TempDir()
	logPath := filepath.Join(dir, "app.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-addr", addr)
	// No REDIS_URL nor REDIS_CLUSTER_ADDRS: the app starts its embedded
	// miniredis, whatever Redis the rest of the suite runs against.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "REDIS_URL=") || strings.HasPrefix(kv, "REDIS_CLUSTER_ADDRS=") ||
			strings.HasPrefix(kv, "PORT=")
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
		stop(cmd.Process, exited, cmd.Process.Kill)
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

// startChromium starts a headless chromium with a fresh profile and the
// DevTools protocol on a pipe, and returns the connection. At clean-up it
// asks the browser to close, kills it (and its helpers) if it does not,
// and the profile is removed.
func startChromium(t *testing.T, bin string) *cdpConn {
	t.Helper()
	profile := t.TempDir()
	logDir := t.TempDir()
	logPath := filepath.Join(logDir, "chromium.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	toBrowser, ourW, err := os.Pipe() // the browser reads commands on fd 3
	if err != nil {
		t.Fatal(err)
	}
	ourR, fromBrowser, err := os.Pipe() // and writes answers on fd 4
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin,
		"--headless",
		"--no-sandbox",
		"--disable-gpu",
		"--disable-quic",
		"--no-first-run",
		"--disable-background-networking",
		"--disable-component-update",
		"--disable-sync",
		"--no-proxy-server", // the app is on loopback; never ask a proxy
		"--user-data-dir="+profile,
		"--remote-debugging-pipe",
		"about:blank",
	)
	cmd.ExtraFiles = []*os.File{toBrowser, fromBrowser}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	inOwnGroup(cmd)
	err = cmd.Start()
	// Only the browser keeps these ends: it sees EOF on fd 3 when we close
	// ourW, and we see EOF on ourR when it exits.
	_ = toBrowser.Close()
	_ = fromBrowser.Close()
	if err != nil {
		_ = ourW.Close()
		_ = ourR.Close()
		_ = logFile.Close()
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	c := newCDPConn(ourW, ourR)
	t.Cleanup(func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		err := c.call(closeCtx, "", "Browser.close", nil, nil)
		cancel()
		if err != nil {
			t.Logf("Browser.close: %v", err) // it may exit before it answers
		}
		stop(nil, exited, func() error { killGroup(cmd.Process); return nil })
		killGroup(cmd.Process) // helpers that outlived the browser
		c.close()
		_ = logFile.Close()
		if t.Failed() {
			t.Logf("chromium log (%s):\n%s", logPath, tail(logPath))
		}
	})
	return c
}

// stop waits up to stopTimeout for a process to exit (exited is closed),
// after an interrupt when p is not nil, then kills it and waits again.
func stop(p *os.Process, exited <-chan struct{}, kill func() error) {
	if p != nil {
		if err := p.Signal(os.Interrupt); err != nil { // not on Windows
			_ = kill()
		}
	}
	select {
	case <-exited:
		return
	case <-time.After(stopTimeout):
	}
	_ = kill()
	select {
	case <-exited:
	case <-time.After(stopTimeout):
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
func readDocument(ctx context.Context, t *testing.T, page *cdpPage) document {
	t.Helper()
	const js = `(() => {
		const nav = performance.getEntriesByType("navigation")[0];
		const pre = document.querySelector("pre");
		return {url: location.href, type: nav ? nav.type : "", status: nav ? nav.responseStatus : 0,
			body: pre ? pre.textContent : document.body.innerText};
	})()`
	var d document
	if err := page.eval(ctx, js, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// answer is the status and body of a fetch.
type answer struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// fetch runs fetch(path) in the page with method and, when form is not
// empty, a form body.
func fetch(ctx context.Context, t *testing.T, page *cdpPage, method, path, form string) answer {
	t.Helper()
	init := map[string]any{"method": method}
	if form != "" {
		init["headers"] = map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		init["body"] = form
	}
	p, _ := json.Marshal(path)
	i, _ := json.Marshal(init)
	js := fmt.Sprintf(`(async () => { const r = await fetch(%s, %s); return {status: r.status, body: await r.text()}; })()`, p, i)
	var a answer
	if err := page.eval(ctx, js, &a); err != nil {
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

// cookie is a cookie as the browser stores it (Network.Cookie).
type cookie struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Domain   string `json:"domain"`
	Path     string `json:"path"`
	HTTPOnly bool   `json:"httpOnly"`
	Secure   bool   `json:"secure"`
	SameSite string `json:"sameSite"`
	Session  bool   `json:"session"`
}

// sessionCookie returns the cookie named session that the browser would
// send to base, if it holds one.
func sessionCookie(ctx context.Context, t *testing.T, page *cdpPage, base string) (cookie, bool) {
	t.Helper()
	var res struct {
		Cookies []cookie `json:"cookies"`
	}
	if err := page.call(ctx, "Network.getCookies", map[string]any{"urls": []string{base + "/"}}, &res); err != nil {
		t.Fatal(err)
	}
	var found []cookie
	for _, c := range res.Cookies {
		if c.Name == "session" {
			found = append(found, c)
		}
	}
	if len(found) > 1 {
		t.Fatalf("the browser holds %d cookies named session: %+v", len(found), found)
	}
	if len(found) == 0 {
		return cookie{}, false
	}
	return found[0], true
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
