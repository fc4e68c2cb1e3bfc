// Package browser holds a real-browser test of the reference app's session
// cookie (issue 5): a headless Chromium logs in through examples/nethttp,
// and the test checks what the browser makes of the cookie. The package has
// no code of its own; everything is in its tests.
//
// The test builds examples/nethttp with `go build` (a main package cannot
// be imported) and runs it on a free port of 127.0.0.1, with its embedded
// miniredis, whatever Redis the rest of the suite uses. It starts chromium
// with a fresh profile and drives it through the Chrome DevTools Protocol
// on --remote-debugging-pipe (JSON messages separated by NUL bytes on file
// descriptors 3 and 4), with the standard library alone. The page is the
// app's own /healthz, so the script's fetch calls are same-origin and the
// cookie is first-party. In the browser it checks that:
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
// The browser is the one named by REDISWARE_CHROMIUM, else
// /usr/bin/chromium (Debian's chromium package), else chromium,
// chromium-browser or google-chrome on PATH. Without one the test skips,
// so `go test ./...` passes on a bare machine; with
// REDISWARE_BROWSER_REQUIRED=1 it fails instead, which is what CI sets
// after installing chromium. It runs on Unix only (the pipe needs file
// descriptors 3 and 4) and skips elsewhere, or fails if required.
//
// Chromium is started with --headless --no-sandbox --disable-gpu
// --disable-quic --no-first-run --disable-background-networking
// --disable-component-update --disable-sync --no-proxy-server: without the
// background-networking flags a closed network refuses its connections.
// Every wait is bounded (the build by 2 minutes, the rest by 60 seconds),
// nothing is timed, and at clean-up, passed or failed, the browser is asked
// to close, then killed with its process group, the app is interrupted,
// then killed, and the temporary directories are removed.
//
//	apt-get install -y chromium
//	REDISWARE_BROWSER_REQUIRED=1 go test -count=1 -v ./examples/browser/
package browser
