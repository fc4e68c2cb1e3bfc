package harness

// What the three commands (ratebench, sessionbench, cachebench) share to
// measure auto-pipelining: the -c list of concurrencies, and the table
// comparing redisware with the same on the client's AutoPipeliner at each
// of them.

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PlainLibrary and AutoPipelineLibrary name the rows the auto-pipelining
// table compares: redisware with its defaults on the shared client, and
// the same on that client's AutoPipeliner (rdb.AutoPipeline()).
const (
	PlainLibrary        = "redisware"
	AutoPipelineLibrary = "redisware-autopipeline"
)

// ParseConcurrencies parses a -c flag: a comma-separated list of numbers of
// at least 1 ("32", "1,32,256").
func ParseConcurrencies(s string) ([]int, error) {
	var conc []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-c %q: want a comma-separated list of numbers of at least 1", s)
		}
		conc = append(conc, n)
	}
	return conc, nil
}

// Spread formats the median of f over ms (the middle value; of an even
// count, the upper of the two), with the range when there are several.
func Spread[M any](ms []M, format string, f func(M) float64) string {
	lo, mid, hi := spread(ms, f)
	s := fmt.Sprintf(format, mid)
	if len(ms) > 1 {
		s += fmt.Sprintf(" ("+format+"–"+format+")", lo, hi)
	}
	return s
}

// Median returns the median of f over ms, as Spread takes it.
func Median[M any](ms []M, f func(M) float64) float64 {
	_, mid, _ := spread(ms, f)
	return mid
}

// spread returns the smallest, the median (as Spread takes it) and the
// largest of f over ms.
func spread[M any](ms []M, f func(M) float64) (lo, mid, hi float64) {
	vs := make([]float64, len(ms))
	for i, m := range ms {
		vs[i] = f(m)
	}
	slices.Sort(vs)
	return vs[0], vs[len(vs)/2], vs[len(vs)-1]
}

// PipelineRound is what the auto-pipelining table reads of one round of
// one row: its rate, and its round trips and CPU times per decision (or
// request).
type PipelineRound struct {
	PerSecond          float64
	RoundTrips         float64
	BenchCPU, RedisCPU time.Duration
}

// PipelineRow is one row of a command's table, as the auto-pipelining
// table reads it: its scenario, library and concurrency, and its rounds.
type PipelineRow struct {
	Scenario, Library string
	C                 int
	Rounds            []PipelineRound
}

// NewPipelineRow returns the row of scenario, library and c measured ms,
// one per round.
func NewPipelineRow[M interface{ PipelineRound() PipelineRound }](scenario, library string, c int, ms []M) PipelineRow {
	r := PipelineRow{Scenario: scenario, Library: library, C: c}
	for _, m := range ms {
		r.Rounds = append(r.Rounds, m.PipelineRound())
	}
	return r
}

// PipelineRound returns what the auto-pipelining table reads of m.
func (m Measurement) PipelineRound() PipelineRound {
	bench, redis := m.CPUPerDecision()
	return PipelineRound{PerSecond: m.PerSecond(), RoundTrips: m.RoundTripsPerDecision(), BenchCPU: bench, RedisCPU: redis}
}

// PipelineRound returns what the auto-pipelining table reads of m.
func (m SessionMeasurement) PipelineRound() PipelineRound {
	return PipelineRound{PerSecond: m.PerSecond(), RoundTrips: m.RoundTripsPerRequest(),
		BenchCPU: m.PerRequest(m.ProcessCPU), RedisCPU: m.PerRequest(m.RedisCPU)}
}

// PipelineRound returns what the auto-pipelining table reads of m.
func (m CacheMeasurement) PipelineRound() PipelineRound {
	bench, redis := m.CPUPerRequest()
	return PipelineRound{PerSecond: m.PerSecond(), RoundTrips: m.RoundTripsPerRequest(), BenchCPU: bench, RedisCPU: redis}
}

// WritePipelineTable writes to w, for every scenario and concurrency of
// rows measured both with PlainLibrary and with AutoPipelineLibrary (in the
// order of the PlainLibrary rows), the medians of both rates (with their
// ranges), their ratio, the auto-pipelined row's round trips, and both
// rows' CPU times, plain → auto-pipelined. The ratio says "level" when the
// two ranges overlap. callers names who sends ("goroutines", "clients"),
// per what is counted ("decision", "request"). It writes nothing when no
// such pair was measured.
func WritePipelineTable(w io.Writer, callers, per string, rows []PipelineRow) {
	type pair struct{ plain, ap *PipelineRow }
	var pairs []pair
	for i := range rows {
		if rows[i].Library != PlainLibrary {
			continue
		}
		for j := range rows {
			if rows[j].Library == AutoPipelineLibrary && rows[j].Scenario == rows[i].Scenario && rows[j].C == rows[i].C &&
				len(rows[i].Rounds) > 0 && len(rows[j].Rounds) > 0 {
				pairs = append(pairs, pair{&rows[i], &rows[j]})
			}
		}
	}
	if len(pairs) == 0 {
		return
	}
	rate := func(r PipelineRound) float64 { return r.PerSecond }
	rates := func(rs []PipelineRound) (lo, hi float64) {
		lo, _, hi = spread(rs, rate)
		return lo, hi
	}
	fmt.Fprintf(w, "\nAuto-pipelining, by number of %s (%s against %s):\n\n", callers, AutoPipelineLibrary, PlainLibrary)
	fmt.Fprintf(w, "| scenario | %s | %s | %s | ratio | round trips/%s (pipelined) | bench CPU µs/%s | Redis CPU µs/%s |\n",
		callers, PlainLibrary, AutoPipelineLibrary, per, per, per)
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---|---|")
	for _, p := range pairs {
		plain, ap := pipelineMedians(p.plain.Rounds), pipelineMedians(p.ap.Rounds)
		ratio := fmt.Sprintf("%.2fx", ap.PerSecond/plain.PerSecond)
		if len(p.plain.Rounds) > 1 && len(p.ap.Rounds) > 1 {
			plo, phi := rates(p.plain.Rounds)
			alo, ahi := rates(p.ap.Rounds)
			if alo <= phi && plo <= ahi {
				ratio += " (level)"
			}
		}
		rt := fmt.Sprintf("%.4f", ap.RoundTrips)
		if ap.RoundTrips > 0 && ap.RoundTrips < 0.01 {
			rt = fmt.Sprintf("%.6f", ap.RoundTrips)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %.1f → %.1f | %.1f → %.1f |\n",
			p.plain.Scenario, p.plain.C,
			Spread(p.plain.Rounds, "%.0f", rate), Spread(p.ap.Rounds, "%.0f", rate), ratio, rt,
			Micros(plain.BenchCPU), Micros(ap.BenchCPU), Micros(plain.RedisCPU), Micros(ap.RedisCPU))
	}
}

// pipelineMedians returns the median of each figure of rs, as Spread takes
// it.
func pipelineMedians(rs []PipelineRound) PipelineRound {
	mid := func(f func(PipelineRound) float64) float64 { return Median(rs, f) }
	return PipelineRound{
		PerSecond:  mid(func(r PipelineRound) float64 { return r.PerSecond }),
		RoundTrips: mid(func(r PipelineRound) float64 { return r.RoundTrips }),
		BenchCPU:   time.Duration(mid(func(r PipelineRound) float64 { return float64(r.BenchCPU) })),
		RedisCPU:   time.Duration(mid(func(r PipelineRound) float64 { return float64(r.RedisCPU) })),
	}
}

// Micros returns d in microseconds.
func Micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
