package browser_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// Bounds of the dashboard test's waits, within testTimeout. Nothing is
// timed: the page scrapes /metrics every 2 seconds, so two scrapes after
// the traffic take about 4, and dashboardWait only stops a page that never
// gets there.
const (
	// dashboardWait bounds each wait for the page's state.
	dashboardWait = 30 * time.Second
	// pollEvery is how often the test reads the page's state meanwhile.
	pollEvery = 250 * time.Millisecond
)

// The colours of the #decisions chart's lines, as the page strokes them:
// #2a7 for allowed and #d33 for denied.
var (
	allowedRGB = [3]int{34, 170, 119}
	deniedRGB  = [3]int{221, 51, 51}
)

// TestDashboardInBrowser loads the reference app's /dashboard in a headless
// Chromium, sends GET /limited from the test itself until the rate limit
// denies it, and checks that the page charts that live data: its counters
// and series (window.dashboard), its text, and the pixels of the
// #decisions canvas, where both the allowed and the denied line are drawn.
func TestDashboardInBrowser(t *testing.T) {
	ctx, base, page := setup(t)

	if err := page.navigate(ctx, base+"/dashboard"); err != nil {
		t.Fatal(err)
	}
	if doc := readDocument(ctx, t, page); doc.Status != http.StatusOK {
		t.Fatalf("GET /dashboard in the browser: status %d, want 200", doc.Status)
	}

	// The page's first scrape: from now on it has a previous sample, so
	// every further scrape adds a point to each series.
	before := waitDashboard(ctx, t, page, "the first scrape of /metrics", func(s dashState) bool {
		return s.Samples >= 1 && s.Totals != nil
	})
	t.Logf("before the traffic: %s", before)
	if before.Totals.Allowed != 0 || before.Totals.Denied != 0 {
		t.Fatalf("before any GET /limited the page shows %v allowed and %v denied decisions, want none",
			before.Totals.Allowed, before.Totals.Denied)
	}

	// Live traffic, from the test and not the browser: 5 requests in 10 s
	// per client address pass, the next are denied. The page's own
	// fetches of /metrics are not rate limited.
	client := &http.Client{Timeout: 5 * time.Second}
	var codes []int
	for range 8 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/limited", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET /limited: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	t.Logf("GET /limited x8: %v", codes)
	want := []int{200, 200, 200, 200, 200, 429, 429, 429}
	if !slices.Equal(codes, want) {
		t.Fatalf("GET /limited x8: statuses %v, want %v", codes, want)
	}

	// Two scrapes after the traffic, the last with all of it. The scrape
	// before the traffic saw no decisions and every scrape since has added
	// a point, so the points after it add up to 5 allowed and 3 denied:
	// each series has a positive point, wherever the scrapes fell.
	after := waitDashboard(ctx, t, page, "two scrapes after the traffic that count it all", func(s dashState) bool {
		return s.Samples >= before.Samples+2 && s.Totals != nil && s.Totals.Allowed >= 5 && s.Totals.Denied >= 3
	})
	t.Logf("after the traffic: %s", after)
	t.Logf("#status: %q", after.Status)
	t.Logf("#decisions-now: %q", after.DecisionsNow)

	if after.Totals.Allowed != 5 || after.Totals.Denied != 3 {
		t.Errorf("the page counts %v allowed and %v denied decisions, want exactly 5 and 3",
			after.Totals.Allowed, after.Totals.Denied)
	}
	if !hasPositive(after.Series.Allowed) {
		t.Errorf("series.allowed %s has no positive point", fmtSeries(after.Series.Allowed))
	}
	if !hasPositive(after.Series.Denied) {
		t.Errorf("series.denied %s has no positive point", fmtSeries(after.Series.Denied))
	}
	if !hasPositive(after.Series.Latency) {
		t.Errorf("series.latency %s has no positive point: the Redis calls of GET /limited were not charted",
			fmtSeries(after.Series.Latency))
	}
	if !strings.HasPrefix(after.Status, "live:") {
		t.Errorf("#status = %q, want it to start with \"live:\"", after.Status)
	}
	if !strings.Contains(after.DecisionsNow, "total 5 allowed, 3 denied") {
		t.Errorf("#decisions-now = %q, want it to mention \"total 5 allowed, 3 denied\"", after.DecisionsNow)
	}

	// The chart itself: both lines are on the canvas.
	px := canvasColours(ctx, t, page, "decisions", allowedRGB, deniedRGB)
	t.Logf("#decisions canvas %dx%d: %d pixels of rgb%v (allowed), %d of rgb%v (denied)",
		px.Width, px.Height, px.Counts[0], allowedRGB, px.Counts[1], deniedRGB)
	if px.Counts[0] == 0 {
		t.Errorf("the #decisions canvas has no pixel of the allowed line's colour rgb%v", allowedRGB)
	}
	if px.Counts[1] == 0 {
		t.Errorf("the #decisions canvas has no pixel of the denied line's colour rgb%v", deniedRGB)
	}
}

// dashState is what the test reads of the dashboard page: its
// window.dashboard and the text of #status and #decisions-now.
type dashState struct {
	// Samples is the number of scrapes of /metrics; -1 before the page's
	// script has run.
	Samples int `json:"samples"`
	// Totals are the counters of the last scrape; nil before the first.
	Totals *struct {
		Allowed    float64 `json:"allowed"`
		Denied     float64 `json:"denied"`
		RedisCount float64 `json:"redisCount"`
	} `json:"totals"`
	// Series are the charted points; nil stands for JavaScript's null.
	Series struct {
		Allowed  []*float64 `json:"allowed"`
		Denied   []*float64 `json:"denied"`
		HitRatio []*float64 `json:"hitratio"`
		Latency  []*float64 `json:"latency"`
	} `json:"series"`
	Status       string `json:"status"`
	DecisionsNow string `json:"decisionsNow"`
}

func (s dashState) String() string {
	totals := "none"
	if s.Totals != nil {
		totals = fmt.Sprintf("%v allowed, %v denied, %v Redis calls", s.Totals.Allowed, s.Totals.Denied, s.Totals.RedisCount)
	}
	return fmt.Sprintf("%d scrapes; totals %s; series allowed %s denied %s latency(ms) %s",
		s.Samples, totals, fmtSeries(s.Series.Allowed), fmtSeries(s.Series.Denied), fmtSeries(s.Series.Latency))
}

// readDashboard reads the page's state once.
func readDashboard(ctx context.Context, page *cdpPage) (dashState, error) {
	const js = `(() => {
		const d = window.dashboard, text = id => { const e = document.getElementById(id); return e ? e.textContent : ""; };
		if (!d) return {samples: -1};
		return {samples: d.samples, totals: d.totals || null, series: d.series,
			status: text("status"), decisionsNow: text("decisions-now")};
	})()`
	var s dashState
	err := page.eval(ctx, js, &s)
	return s, err
}

// waitDashboard reads the page's state every pollEvery until ok accepts it
// and returns it, or fails the test after dashboardWait with the last
// state it read.
func waitDashboard(ctx context.Context, t *testing.T, page *cdpPage, what string, ok func(dashState) bool) dashState {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, dashboardWait)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		s, err := readDashboard(ctx, page)
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

// pixelCounts is how many pixels of a canvas are close to each colour.
type pixelCounts struct {
	Width  int   `json:"width"`
	Height int   `json:"height"`
	Counts []int `json:"counts"`
}

// canvasColours reads every pixel of the canvas with the given id in the
// page (getImageData over the whole canvas) and counts, for each colour,
// the mostly opaque pixels within 24 of it on each channel. The canvas
// is cleared to transparent, so the lines' anti-aliased edges, partly
// transparent, are left out, and no other colour the page draws (the
// greys of the axes and labels, the other line) is that close.
func canvasColours(ctx context.Context, t *testing.T, page *cdpPage, id string, colours ...[3]int) pixelCounts {
	t.Helper()
	js := fmt.Sprintf(`((id, colours) => {
		const c = document.getElementById(id);
		const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		const counts = colours.map(() => 0);
		for (let i = 0; i < d.length; i += 4) {
			if (d[i + 3] < 192) continue;
			colours.forEach(([r, g, b], k) => {
				if (Math.abs(d[i] - r) <= 24 && Math.abs(d[i + 1] - g) <= 24 && Math.abs(d[i + 2] - b) <= 24) counts[k]++;
			});
		}
		return {width: c.width, height: c.height, counts};
	})(%s, %s)`, jsonOf(id), jsonOf(colours))
	var px pixelCounts
	if err := page.eval(ctx, js, &px); err != nil {
		t.Fatalf("reading the pixels of #%s: %v", id, err)
	}
	if px.Width == 0 || px.Height == 0 || len(px.Counts) != len(colours) {
		t.Fatalf("reading the pixels of #%s: %+v", id, px)
	}
	return px
}

// jsonOf writes v as JSON, which is also a JavaScript literal.
func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
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
