package browser_test

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Bounds of the dashboard test's waits, within testTimeout. Nothing is
// timed: dashboardWait only stops a page that never gets there.
const (
	// dashboardWait bounds each wait for the page's state.
	dashboardWait = 30 * time.Second
	// pollEvery is how often the test reads the page's state meanwhile.
	pollEvery = 100 * time.Millisecond
)

// rgb is a colour the page draws with.
type rgb [3]int

// The colours of the page's lines and columns, as it strokes and fills
// them.
var (
	green  = rgb{34, 170, 119} // #2a7
	red    = rgb{221, 51, 51}  // #d33
	orange = rgb{238, 136, 0}  // #e80
	blue   = rgb{51, 102, 204} // #36c
	purple = rgb{170, 85, 204} // #a5c
	brown  = rgb{153, 102, 51} // #963
)

// charts are the page's charts, and the colours of each one's lines: its
// canvas is id, its "since start" column id-all, its text id-now.
var charts = []struct {
	id      string
	colours []rgb
}{
	{"decisions", []rgb{green, red, orange}},                        // allowed, denied, shadow-denied
	{"hitratio", []rgb{blue}},                                       // hit ratio
	{"latency", []rgb{purple}},                                      // mean Redis latency
	{"sessions", []rgb{green, blue, orange, red, purple}},           // created, renewed, destroyed, revoked, load failures
	{"idempotency", []rgb{green, blue, orange, red, brown, purple}}, // claimed, replayed, conflict, mismatch, rejected, unavailable
	{"locks", []rgb{green, orange, red}},                            // obtained, contended, lost
}

// holdTimers runs in the page before its own script: it records the
// intervals the page asks setInterval for and never starts them, so the
// page scrapes /metrics once at load and then only when the test calls
// window.dashboard.scrape(). What the page shows after its first scrape
// is then what it shows before a second one, however slow the machine.
const holdTimers = `window.__intervals = [];
window.setInterval = (fn, ms) => { window.__intervals.push(ms); return 0; };`

// TestDashboardInBrowser loads the reference app's /dashboard in a headless
// Chromium and checks, in the page's state, its text and the pixels of its
// canvases, that every card draws from the first scrape of /metrics (the
// "since start" columns, and each chart's axes), that the session,
// idempotency and lock panels count what the app did, that the cache hit
// ratio is drawn on a fixed 0-100 % axis, and that traffic between two
// scrapes draws the lines of each panel. The test drives the scrapes
// itself (holdTimers), and checks the page asks for one every 2 seconds.
func TestDashboardInBrowser(t *testing.T) {
	ctx, base := setup(t)
	app := &appClient{t: t, ctx: ctx, base: base}

	// Traffic before the page opens, so that its first scrape has
	// something in every panel but the locks (the app takes none).
	app.want("GET", "/cached?q=before", nil, "", 200) // a miss
	app.want("GET", "/cached?q=before", nil, "", 200) // a hit
	alice := app.login("alice")                       // a session created
	app.want("POST", "/logout", alice, "", 200)       // and destroyed
	app.order("before-1", "widget", 201)              // a key claimed

	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: holdTimers}); err != nil {
		t.Fatal(err)
	}
	do(ctx, t, chromedp.Navigate(base+"/dashboard"))
	if doc := readDocument(ctx, t); doc.Status != http.StatusOK {
		t.Fatalf("GET /dashboard in the browser: status %d, want 200", doc.Status)
	}

	// The first scrape, and no other.
	first := waitDashboard(ctx, t, "the first scrape of /metrics", func(s dashState) bool { return s.Samples >= 1 })
	t.Logf("after the first scrape: %s", first)
	if first.Samples != 1 {
		t.Fatalf("the page scraped /metrics %d times on its own, want once at load", first.Samples)
	}
	if !slices.Equal(first.Intervals, []int{2000}) {
		t.Errorf("the page asked setInterval for %v ms, want one interval of 2000", first.Intervals)
	}
	if !strings.HasPrefix(first.Status, "live: 1 scrapes") {
		t.Errorf("#status = %q, want it to start with \"live: 1 scrapes\"", first.Status)
	}
	checkCounts(t, "first scrape: sessions", first.Totals.Sessions, counts{"created": 1, "destroyed": 1})
	checkCounts(t, "first scrape: idempotency", first.Totals.Idempotency, counts{"claimed": 1})
	checkCounts(t, "first scrape: locks", first.Totals.Locks, counts{})
	checkCounts(t, "first scrape: cache", first.Totals.Cache, counts{"hits": 1, "misses": 1})
	if first.Totals.Decisions["allowed"] <= 0 || first.Totals.Decisions["denied"] != 0 {
		t.Errorf("first scrape: decisions %v, want some allowed (every request but /healthz passes the app-wide limit) and none denied",
			first.Totals.Decisions)
	}

	// Every card draws from the first scrape: each chart's axes, with no
	// line yet (a rate needs two scrapes, and the text says so), and each
	// "since start" column in the colours of what happened.
	for _, c := range charts {
		px := canvasColours(ctx, t, c.id, c.colours...)
		if px.Opaque == 0 {
			t.Errorf("first scrape: #%s is blank, want its axes drawn", c.id)
		}
		if slices.ContainsFunc(px.Counts, func(n int) bool { return n > 0 }) {
			t.Errorf("first scrape: #%s has line colours %v (counts %v) before a second scrape", c.id, c.colours, px.Counts)
		}
		if now := first.Now[c.id]; !strings.Contains(now, "waiting for a second scrape") {
			t.Errorf("first scrape: #%s-now = %q, want it to say it is waiting for a second scrape", c.id, now)
		}
	}
	wantColumn := map[string][]rgb{
		"decisions":   {green},         // allowed
		"hitratio":    {blue},          // 50 %
		"latency":     {purple},        // the mean so far
		"sessions":    {green, orange}, // created, destroyed
		"idempotency": {green},         // claimed
	}
	for _, c := range charts {
		px := canvasColours(ctx, t, c.id+"-all", c.colours...)
		t.Logf("first scrape: #%s-all: %d opaque pixels; of %v: %v", c.id, px.Opaque, c.colours, px.Counts)
		for k, col := range c.colours {
			want := slices.Contains(wantColumn[c.id], col)
			if got := px.Counts[k] > 0; got != want {
				t.Errorf("first scrape: #%s-all has %d pixels of rgb%v, want them %s", c.id, px.Counts[k], col, map[bool]string{true: "drawn", false: "absent"}[want])
			}
		}
		if px.Opaque == 0 {
			t.Errorf("first scrape: #%s-all is blank, want at least its frame", c.id)
		}
	}
	if now := first.Now["hitratio"]; !strings.Contains(now, "since start: 50% (1 hits, 1 misses)") {
		t.Errorf("first scrape: #hitratio-now = %q, want \"since start: 50%% (1 hits, 1 misses)\"", now)
	}

	// Traffic between the first scrape and the second, from the test and
	// not the browser: 5 GET /limited in 10 s per client address pass and
	// the next are denied; a cache miss and a hit; two sessions created and
	// one destroyed; three keys claimed, two replayed and one reused with
	// another body. Each panel's counts differ, so no line hides another.
	var codes []int
	for range 8 {
		codes = append(codes, app.status("GET", "/limited", nil, ""))
	}
	if want := []int{200, 200, 200, 200, 200, 429, 429, 429}; !slices.Equal(codes, want) {
		t.Fatalf("GET /limited x8: statuses %v, want %v", codes, want)
	}
	app.want("GET", "/cached?q=between", nil, "", 200)
	app.want("GET", "/cached?q=between", nil, "", 200)
	app.login("bob")
	carol := app.login("carol")
	app.want("POST", "/logout", carol, "", 200)
	app.order("a1", "widget", 201)
	app.order("a1", "widget", 201) // replayed
	app.order("a2", "widget", 201)
	app.order("a2", "gadget", 422) // mismatch
	app.order("a3", "widget", 201)
	app.order("a3", "widget", 201) // replayed

	// Two scrapes: the second draws a point per series, the third (with
	// no traffic of the test's before it) a line to it.
	scrape(ctx, t)
	scrape(ctx, t)
	after := waitDashboard(ctx, t, "three scrapes", func(s dashState) bool { return s.Samples >= 3 })
	t.Logf("after the traffic: %s", after)
	for _, c := range charts {
		t.Logf("#%s-now: %q", c.id, after.Now[c.id])
	}
	if after.Samples != 3 {
		t.Fatalf("the page scraped %d times, want 3", after.Samples)
	}
	checkCounts(t, "policy limited", after.Totals.Policies["limited"], counts{"allowed": 5, "denied": 3})
	checkCounts(t, "sessions", after.Totals.Sessions, counts{"created": 3, "destroyed": 2})
	checkCounts(t, "idempotency", after.Totals.Idempotency, counts{"claimed": 4, "replayed": 2, "mismatch": 1})
	checkCounts(t, "locks", after.Totals.Locks, counts{})
	checkCounts(t, "cache", after.Totals.Cache, counts{"hits": 2, "misses": 2})
	for id, want := range map[string]string{
		"decisions":   "limited 5 allowed, 3 denied",
		"sessions":    "total 3 created, 0 renewed, 2 destroyed, 0 revoked, 0 load failures",
		"idempotency": "total 4 claimed, 2 replayed, 0 conflict, 1 mismatch, 0 invalid, 0 too large, 0 unavailable, 0 unguarded",
		"locks":       "total 0 obtained, 0 contended, 0 lost",
		"hitratio":    "since start: 50% (2 hits, 2 misses)",
	} {
		if !strings.Contains(after.Now[id], want) {
			t.Errorf("#%s-now = %q, want it to contain %q", id, after.Now[id], want)
		}
	}
	if !strings.HasPrefix(after.Status, "live: 3 scrapes") {
		t.Errorf("#status = %q, want it to start with \"live: 3 scrapes\"", after.Status)
	}

	// The series: a positive point where there was traffic.
	positive := map[string][]*float64{
		"decisions allowed":    after.Series.Decisions["allowed"],
		"decisions denied":     after.Series.Decisions["denied"],
		"sessions created":     after.Series.Sessions["created"],
		"sessions destroyed":   after.Series.Sessions["destroyed"],
		"idempotency claimed":  after.Series.Idempotency["claimed"],
		"idempotency replayed": after.Series.Idempotency["replayed"],
		"idempotency mismatch": after.Series.Idempotency["mismatch"],
		"latency":              after.Series.Latency,
	}
	for name, s := range positive {
		if !hasPositive(s) {
			t.Errorf("series %s %s has no positive point", name, fmtSeries(s))
		}
	}
	// One interval with a miss and a hit, then one without lookups.
	if s := after.Series.HitRatio; len(s) != 2 || s[0] == nil || *s[0] != 0.5 || s[1] != nil {
		t.Errorf("series hitratio %s, want [0.5 null]", fmtSeries(s))
	}

	// The lines on the canvases.
	wantLines := map[string][]rgb{
		"decisions":   {green, red},
		"hitratio":    {blue},
		"latency":     {purple},
		"sessions":    {green, orange},
		"idempotency": {green, blue, red},
	}
	for _, c := range charts {
		px := canvasColours(ctx, t, c.id, c.colours...)
		t.Logf("#%s: of %v: %v pixels", c.id, c.colours, px.Counts)
		for k, col := range c.colours {
			if slices.Contains(wantLines[c.id], col) && px.Counts[k] == 0 {
				t.Errorf("#%s has no pixel of rgb%v: that line is not drawn", c.id, col)
			}
		}
	}

	// The ratio axis is fixed at 0-100 %: the interval's 50 % is drawn
	// halfway up the chart, not at the top of an axis fitted to the data.
	axis := after.Charts["hitratio"]
	if axis.Min != 0 || axis.Max != 1 {
		t.Errorf("hit ratio axis %v to %v, want 0 to 1 (0-100 %%)", axis.Min, axis.Max)
	}
	px := canvasColours(ctx, t, "hitratio", blue)
	wantY := axis.Bottom - (axis.Bottom-axis.Top)*0.5
	if px.Counts[0] == 0 || math.Abs(px.MeanY[0]-wantY) > 2 {
		t.Errorf("the 50 %% hit ratio point is drawn at y=%.1f (%d pixels), want y=%.1f, halfway between %v (100 %%) and %v (0 %%)",
			px.MeanY[0], px.Counts[0], wantY, axis.Top, axis.Bottom)
	}
}

// counts are a panel's totals, by the page's key. A key left out stands
// for 0.
type counts map[string]float64

// checkCounts checks that every count in got is the one in want, or 0
// where want has none, and that got has a count at all.
func checkCounts(t *testing.T, what string, got, want counts) {
	t.Helper()
	if len(got) == 0 {
		t.Errorf("%s: the page shows no counts, want %v", what, want)
		return
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if _, ok := got[k]; !ok {
			t.Errorf("%s: the page has no count %q, want %v", what, k, want[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if got[k] != want[k] {
			t.Errorf("%s: %s = %v, want %v (all: %v)", what, k, got[k], want[k], got)
		}
	}
}

// dashState is what the test reads of the dashboard page: its
// window.dashboard, the intervals it asked setInterval for, and the text
// of #status and of each chart's #id-now.
type dashState struct {
	// Samples is the number of scrapes of /metrics; -1 before the page's
	// script has run.
	Samples   int               `json:"samples"`
	Intervals []int             `json:"intervals"`
	Status    string            `json:"status"`
	Now       map[string]string `json:"now"`
	// Totals are the counters of the last scrape.
	Totals struct {
		Decisions   counts            `json:"decisions"`
		Policies    map[string]counts `json:"policies"`
		Cache       counts            `json:"cache"`
		Redis       counts            `json:"redis"`
		Sessions    counts            `json:"sessions"`
		Idempotency counts            `json:"idempotency"`
		Locks       counts            `json:"locks"`
	} `json:"totals"`
	// Series are the charted points; nil stands for JavaScript's null.
	Series struct {
		Decisions   map[string][]*float64 `json:"decisions"`
		Sessions    map[string][]*float64 `json:"sessions"`
		Idempotency map[string][]*float64 `json:"idempotency"`
		Locks       map[string][]*float64 `json:"locks"`
		HitRatio    []*float64            `json:"hitratio"`
		Latency     []*float64            `json:"latency"`
	} `json:"series"`
	// Charts are the axes each chart was last drawn with.
	Charts map[string]struct {
		Min    float64 `json:"min"`
		Max    float64 `json:"max"`
		Top    float64 `json:"top"`
		Bottom float64 `json:"bottom"`
	} `json:"charts"`
}

func (s dashState) String() string {
	return fmt.Sprintf("%d scrapes; decisions %v by policy %v; cache %v; redis %v; sessions %v; idempotency %v; locks %v; "+
		"series allowed %s denied %s hitratio %s latency(ms) %s",
		s.Samples, s.Totals.Decisions, s.Totals.Policies, s.Totals.Cache, s.Totals.Redis, s.Totals.Sessions,
		s.Totals.Idempotency, s.Totals.Locks, fmtSeries(s.Series.Decisions["allowed"]), fmtSeries(s.Series.Decisions["denied"]),
		fmtSeries(s.Series.HitRatio), fmtSeries(s.Series.Latency))
}

// readDashboard reads the page's state once.
func readDashboard(ctx context.Context) (dashState, error) {
	ids := make([]string, len(charts))
	for i, c := range charts {
		ids[i] = c.id
	}
	js := fmt.Sprintf(`((ids) => {
		const d = window.dashboard, text = id => { const e = document.getElementById(id); return e ? e.textContent : ""; };
		if (!d) return {samples: -1};
		const now = {};
		for (const id of ids) now[id] = text(id + "-now");
		return {samples: d.samples, intervals: window.__intervals || null, status: text("status"), now,
			totals: d.totals || {}, series: d.series || {}, charts: d.charts || {}};
	})(%s)`, jsonOf(ids))
	return chromedp.Run(ctx, chromedp.Evaluate[dashState](js))
}

// waitDashboard reads the page's state every pollEvery until ok accepts it
// and returns it, or fails the test after dashboardWait with the last
// state it read.
func waitDashboard(ctx context.Context, t *testing.T, what string, ok func(dashState) bool) dashState {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, dashboardWait)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		s, err := readDashboard(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: reading the page: %v", what, err)
		}
		if ok(s) {
			return s
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v; the page's last state: %s; #status %q",
				what, context.Cause(ctx), s, s.Status)
		}
	}
}

// scrape makes the page scrape /metrics now, and waits until it has drawn.
func scrape(ctx context.Context, t *testing.T) {
	t.Helper()
	const js = `(async () => { if (!window.dashboard || !window.dashboard.scrape) return false; await window.dashboard.scrape(); return true; })()`
	if ok := run(ctx, t, chromedp.Evaluate[bool](js, chromedp.EvalAwaitPromise)); !ok {
		t.Fatal("the page has no window.dashboard.scrape()")
	}
}

// pixels is what canvasColours found on a canvas.
type pixels struct {
	Width  int `json:"width"`
	Height int `json:"height"`
	// Opaque counts the pixels drawn at all (alpha 192 or more).
	Opaque int `json:"opaque"`
	// Counts holds, for each colour asked for, the opaque pixels within
	// 24 of it on each channel, and MeanY their mean row (-1 for none).
	Counts []int     `json:"counts"`
	MeanY  []float64 `json:"meanY"`
}

// canvasColours reads every pixel of the canvas with the given id in the
// page (getImageData over the whole canvas) and counts, for each colour,
// the mostly opaque pixels within 24 of it on each channel. The canvas
// is cleared to transparent, so the lines' anti-aliased edges, partly
// transparent, are left out, and no other colour the page draws (the
// greys of the axes and labels, the other lines) is that close.
func canvasColours(ctx context.Context, t *testing.T, id string, colours ...rgb) pixels {
	t.Helper()
	if colours == nil {
		colours = []rgb{}
	}
	js := fmt.Sprintf(`((id, colours) => {
		const c = document.getElementById(id);
		if (!c) return {width: 0, height: 0, opaque: 0, counts: [], meanY: []};
		const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		const counts = colours.map(() => 0), sumY = colours.map(() => 0);
		let opaque = 0;
		for (let i = 0; i < d.length; i += 4) {
			if (d[i + 3] < 192) continue;
			opaque++;
			const y = Math.floor(i / 4 / c.width);
			colours.forEach(([r, g, b], k) => {
				if (Math.abs(d[i] - r) <= 24 && Math.abs(d[i + 1] - g) <= 24 && Math.abs(d[i + 2] - b) <= 24) { counts[k]++; sumY[k] += y; }
			});
		}
		return {width: c.width, height: c.height, opaque, counts, meanY: counts.map((n, k) => n ? sumY[k] / n : -1)};
	})(%s, %s)`, jsonOf(id), jsonOf(colours))
	px := run(ctx, t, chromedp.Evaluate[pixels](js))
	if px.Width == 0 || px.Height == 0 || len(px.Counts) != len(colours) {
		t.Fatalf("reading the pixels of #%s: %+v: no such canvas", id, px)
	}
	return px
}

// hasPositive reports whether a series has a point, not null, above 0.
func hasPositive(series []*float64) bool {
	return slices.ContainsFunc(series, func(v *float64) bool { return v != nil && *v > 0 })
}

// fmtSeries writes a series for a message, null for a missing point.
func fmtSeries(series []*float64) string {
	parts := make([]string, len(series))
	for i, v := range series {
		if v == nil {
			parts[i] = "null"
		} else {
			parts[i] = fmt.Sprintf("%.3g", *v)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// appClient sends the test's own requests to the app, with net/http.
type appClient struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// send sends a request, with the session cookie when cookie is not nil,
// and returns the response with its body read.
func (a *appClient) send(method, path string, cookie *http.Cookie, header http.Header, body string) (*http.Response, string) {
	a.t.Helper()
	req, err := http.NewRequestWithContext(a.ctx, method, a.base+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	maps.Copy(req.Header, header)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp, string(b)
}

// status sends a request and returns its status.
func (a *appClient) status(method, path string, cookie *http.Cookie, form string) int {
	a.t.Helper()
	h := http.Header{}
	if form != "" {
		h.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, _ := a.send(method, path, cookie, h, form)
	return resp.StatusCode
}

// want sends a request and fails the test unless it answers status.
func (a *appClient) want(method, path string, cookie *http.Cookie, form string, status int) {
	a.t.Helper()
	if got := a.status(method, path, cookie, form); got != status {
		a.t.Fatalf("%s %s: status %d, want %d", method, path, got, status)
	}
}

// login logs user in with a session of its own and returns the session
// cookie. (net/http/cookiejar never sends the app's Secure cookie over
// http, so the test carries it itself.)
func (a *appClient) login(user string) *http.Cookie {
	a.t.Helper()
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	resp, body := a.send("POST", "/login", nil, h, "user="+user)
	if resp.StatusCode != http.StatusOK {
		a.t.Fatalf("POST /login user=%s: %d %q, want 200", user, resp.StatusCode, body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "session" && c.Value != "" {
			return &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	a.t.Fatalf("POST /login user=%s: no session cookie in %q", user, resp.Header.Values("Set-Cookie"))
	return nil
}

// order sends POST /orders with an Idempotency-Key and fails the test
// unless it answers status.
func (a *appClient) order(key, item string, status int) {
	a.t.Helper()
	h := http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {key}}
	resp, body := a.send("POST", "/orders", nil, h, fmt.Sprintf(`{"item":%q,"qty":1}`, item))
	if resp.StatusCode != status {
		a.t.Fatalf("POST /orders Idempotency-Key %s item %s: %d %q, want %d", key, item, resp.StatusCode, body, status)
	}
}
