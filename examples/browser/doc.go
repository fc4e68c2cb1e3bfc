// Package browser holds real-browser tests of the reference app
// (examples/nethttp) in a headless Chromium, driven through
// github.com/chromedp/chromedp: TestSessionCookieInBrowser checks what the
// browser makes of the session cookie, and TestDashboardInBrowser checks
// what GET /dashboard draws. The package has no code of its own;
// everything is in its tests.
//
// It is a module of its own (examples/browser/go.mod), so that chromedp
// never becomes a dependency of the library; its go.mod replaces the
// library with the working tree (../..). `go test ./...` at the
// repository root does not reach it: CI runs it in a stage of its own
// (.ci/run, stage browser).
//
// The tests cannot import the app (a main package, and examples/internal
// is internal to the library's module), so the first test to need it
// builds it once with `go build ./examples/nethttp` at the repository
// root, into a directory TestMain removes. Each test runs the binary on a
// free port of 127.0.0.1, with its embedded miniredis, whatever Redis the
// rest of the suite uses, and starts a browser of its own with a fresh
// profile.
//
// # The session cookie
//
// TestSessionCookieInBrowser's page is the app's own /healthz, so the
// script's fetch calls are same-origin and the cookie is first-party. The
// app runs every route under the session middleware and an app-wide rate
// limit; in the browser the test checks that:
//
//   - POST /login with the form user=alice answers 200;
//   - the browser stores a cookie named session for 127.0.0.1, path /,
//     HttpOnly, Secure and SameSite=Lax (Network.getCookies);
//   - the page's script cannot read it: document.cookie shows a cookie the
//     script sets itself, but not the session cookie;
//   - navigating to GET /me answers {"user":"alice","visits":1}, and a
//     reload of that page (navigation type "reload") answers visits 2: the
//     session survives a reload; the script's fetch("/me") gets visits 3;
//   - POST /logout makes the browser drop the cookie, and a reload of /me
//     then answers 401.
//
// The app is reached as http://127.0.0.1:<port>, not localhost: Chromium
// treats 127.0.0.1, like localhost, as a potentially trustworthy origin and
// so accepts the Secure cookie over plain HTTP; the test fails, saying so,
// if a browser refuses it.
//
// # The dashboard
//
// GET /dashboard scrapes /metrics at load and every 2 seconds. Each card
// charts one series per outcome over the last five minutes (rates, which
// need two scrapes; the cache hit ratio on an axis fixed at 0-100 %; the
// mean Redis latency), beside a "since start" column drawn from the first
// scrape; the page keeps its state in window.dashboard, and
// window.dashboard.scrape() scrapes at once.
//
// TestDashboardInBrowser makes the page's timers inert before its script
// runs (Page.addScriptToEvaluateOnNewDocument replaces setInterval with a
// function that only records the interval), so the page scrapes once at
// load and then only when the test calls scrape(): what it checks after
// the first scrape is what the page shows before a second one, on any
// machine, and nothing is timed. Before opening the page the test sends,
// with net/http, two GET /cached?q=before (a miss, then a hit), a login
// and a logout, and one POST /orders; after the first scrape it checks:
//
//   - the page asked setInterval for one interval of 2000 ms;
//   - the totals: sessions 1 created and 1 destroyed, idempotency 1
//     claimed, cache 1 hit and 1 miss, no lock operation, and rate-limit
//     decisions allowed (every route but /healthz passes the app-wide
//     limit) and none denied;
//   - every card draws: each of the six charts (decisions, hitratio,
//     latency, sessions, idempotency, locks) has its axes and no line
//     yet, and its text says it waits for a second scrape; each "since
//     start" column has exactly the colours of what happened (the allowed
//     green; the hit-ratio blue; the latency purple; created green and
//     destroyed orange; claimed green; for the locks, an empty frame).
//
// Then it sends 8 GET /limited (5 answer 200 and 3 answer 429, as the
// limit of 5 requests in 10 seconds per client address says), a cache
// miss and a hit, two logins and a logout, and six POST /orders (three
// keys claimed, two replayed, one reused with another body: 422), and has
// the page scrape twice. It checks:
//
//   - the totals, exactly: policy limited 5 allowed and 3 denied; sessions
//     3 created and 2 destroyed; idempotency 4 claimed, 2 replayed and 1
//     mismatch; cache 2 hits and 2 misses; no lock operation; and the
//     same numbers in each card's text;
//   - a positive point in the series allowed, denied, created, destroyed,
//     claimed, replayed, mismatch and latency, and the hit-ratio series
//     exactly [0.5, null];
//   - the lines on the canvases, by the pixels of their colours
//     (getImageData, opaque pixels within 24 of the colour on each
//     channel): allowed and denied; hit ratio; latency; created and
//     destroyed; claimed, replayed and mismatch;
//   - the hit-ratio axis is 0 to 1, and the 50 % point is drawn halfway
//     up the chart (the mean row of its blue pixels within 2 of the
//     middle), not at the top of an axis fitted to the data.
//
// # Running them
//
// The browser is the one named by REDISWARE_CHROMIUM, else
// /usr/bin/chromium (Debian's chromium package), else chromium,
// chromium-browser or google-chrome on PATH. Without one the tests skip,
// so `go test ./...` passes on a bare machine; with
// REDISWARE_BROWSER_REQUIRED=1 they fail instead, which is what CI sets
// after installing chromium.
//
// Chromium starts with chromedp's default switches and --headless
// --no-sandbox --disable-gpu --disable-quic --no-first-run
// --disable-background-networking --disable-component-update
// --disable-sync --no-proxy-server, and a fresh --user-data-dir that
// chromedp creates and removes: without the background-networking
// switches a closed network refuses its connections many at a time. Every
// wait is bounded (the build by 10 minutes, the rest of a test by 60
// seconds, which also ends the browser), nothing is timed, and at
// clean-up, passed or failed, the browser is asked to close, then killed
// with the helpers it left, the app is interrupted, then killed, and the
// temporary directories are removed.
//
//	apt-get install -y chromium
//	cd examples/browser
//	REDISWARE_BROWSER_REQUIRED=1 go test -count=1 -v ./...
//	REDISWARE_BROWSER_REQUIRED=1 go test -count=1 -v -run Dashboard ./...
package browser
