// Package browser holds real-browser tests of the reference app
// (examples/nethttp) in a headless Chromium: TestSessionCookieInBrowser
// checks what the browser makes of the session cookie (issue 5), and
// TestDashboardInBrowser checks that GET /dashboard charts live data
// (issue 6). The package has no code of its own; everything is in its
// tests.
//
// Each test builds examples/nethttp with `go build` (a main package cannot
// be imported) and runs it on a free port of 127.0.0.1, with its embedded
// miniredis, whatever Redis the rest of the suite uses. It starts chromium
// with a fresh profile and drives it through the Chrome DevTools Protocol
// on --remote-debugging-pipe (JSON messages separated by NUL bytes on file
// descriptors 3 and 4), with the standard library alone; the two tests
// share these helpers (setup), and each has its own app and browser.
//
// # The session cookie
//
// TestSessionCookieInBrowser's page is the app's own /healthz, so the
// script's fetch calls are same-origin and the cookie is first-party. In
// the browser it checks that:
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
// TestDashboardInBrowser opens GET /dashboard, a page that scrapes
// /metrics every 2 seconds, charts rates between scrapes on three canvases
// and keeps its state in window.dashboard. The test reads that state with
// Runtime.evaluate every 250 ms, each wait bounded by 30 seconds. Once the
// page has scraped once, it sends 8 GET /limited itself, with net/http
// (the page's own fetches of /metrics are not rate limited): 5 answer 200
// and 3 answer 429, as the limit of 5 requests in 10 seconds per client
// address says. When the page has scraped twice more and counts that
// traffic, it checks that:
//
//   - window.dashboard.totals counts exactly 5 allowed and 3 denied
//     decisions;
//   - series.allowed and series.denied each hold a point above 0, and
//     series.latency (mean Redis latency) a point, not null, above 0;
//   - #status starts with "live:" and #decisions-now says
//     "total 5 allowed, 3 denied";
//   - the #decisions canvas has drawn both lines: getImageData over the
//     whole canvas finds opaque pixels close to rgb(34,170,119) (#2a7,
//     allowed) and to rgb(221,51,51) (#d33, denied).
//
// None of this depends on where the scrapes fall: the scrape before the
// traffic counts no decision and every later scrape adds a point to each
// series, so the points after it add up to 5 allowed and 3 denied (one of
// each series is above 0, and the denied line rises from 0 to it even if
// all the denials fall in one interval), and at least two points make a
// line. The latency canvas is not read: a point without Redis calls is
// null and breaks its line, so traffic within one interval may draw none.
//
// # Running them
//
// The browser is the one named by REDISWARE_CHROMIUM, else
// /usr/bin/chromium (Debian's chromium package), else chromium,
// chromium-browser or google-chrome on PATH. Without one the tests skip,
// so `go test ./...` passes on a bare machine; with
// REDISWARE_BROWSER_REQUIRED=1 they fail instead, which is what CI sets
// after installing chromium. They run on Unix only (the pipe needs file
// descriptors 3 and 4) and skip elsewhere, or fail if required.
//
// Chromium is started with --headless --no-sandbox --disable-gpu
// --disable-quic --no-first-run --disable-background-networking
// --disable-component-update --disable-sync --no-proxy-server: without the
// background-networking flags a closed network refuses its connections.
// Every wait is bounded (the build by 2 minutes, the rest of a test by 60
// seconds), nothing is timed, and at clean-up, passed or failed, the
// browser is asked to close, then killed with its process group, the app
// is interrupted, then killed, and the temporary directories are removed.
//
//	apt-get install -y chromium
//	REDISWARE_BROWSER_REQUIRED=1 go test -count=1 -v ./examples/browser/
//	REDISWARE_BROWSER_REQUIRED=1 go test -count=1 -v -run Dashboard ./examples/browser/
package browser
