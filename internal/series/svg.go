package series

import (
	"cmp"
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ChartOptions configures WriteSVG.
type ChartOptions struct {
	Title  string  // the chart's title; the series' Target when empty
	Lines  int     // how many categories to draw, those that grew most first; 8 when 0
	Warmup float64 // the warm-up share to shade and to measure growth after
}

// The chart's geometry, in SVG user units (pixels).
const (
	chartW      = 900
	chartH      = 440
	plotLeft    = 64
	plotTop     = 48
	plotRight   = chartW - 250
	plotBottom  = chartH - 56
	legendLeft  = plotRight + 24
	legendLine  = 20
	maxLegendCh = 30
)

// palette is Tableau 10: distinct hues that stay apart when printed.
var palette = []string{"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"}

// WriteSVG draws the series as a line chart: one line per category, for the
// categories that grew most after the warm-up (then the largest), with
// a legend giving each one's start and end, axes with ticks (elapsed
// seconds, or iterations when the samples carry no time span), the
// warm-up shaded, and a title. It needs no fonts or scripts beyond what a
// browser has.
func (s *Series) WriteSVG(w io.Writer, o ChartOptions) error {
	if o.Lines <= 0 {
		o.Lines = 8
	}
	if o.Title == "" {
		o.Title = s.Target
	}
	if err := CheckWarmup(o.Warmup); err != nil {
		return fmt.Errorf("series: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", chartW, chartH)
	fmt.Fprintf(&b, `<text x="%d" y="28" font-size="16" font-weight="bold">%s</text>`+"\n", plotLeft, esc(o.Title))

	n := len(s.Samples)
	if n == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555555">no samples</text>`+"\n", plotLeft, plotTop+20)
		b.WriteString("</svg>\n")
		_, err := io.WriteString(w, b.String())
		return err
	}

	// x: elapsed seconds, or iterations when the samples span no time.
	xs := make([]float64, n)
	xLabel := "seconds"
	if s.Duration() > 0 {
		for i, sm := range s.Samples {
			xs[i] = sm.Time.Sub(s.Samples[0].Time).Seconds()
		}
	} else {
		xLabel = "iteration"
		for i, sm := range s.Samples {
			xs[i] = float64(sm.Iteration - s.Samples[0].Iteration)
		}
	}
	xMax := xs[n-1]
	if xMax <= 0 {
		xMax = 1
	}

	// Pick the lines: most growth after the warm-up, then largest, then by key.
	stats := s.Summary(o.Warmup)
	stats = slices.DeleteFunc(stats, func(st Stats) bool { return st.Max == 0 && st.Growth == 0 })
	slices.SortStableFunc(stats, func(a, b Stats) int {
		if c := cmp.Compare(b.Growth, a.Growth); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Max, a.Max); c != 0 {
			return c
		}
		return compareKeys(a.Key, b.Key)
	})
	total := len(stats)
	if len(stats) > o.Lines {
		stats = stats[:o.Lines]
	}
	yTop := 0
	for _, st := range stats {
		yTop = max(yTop, st.Max)
	}

	yStep := niceStep(float64(yTop), 5, 1)
	yMax := math.Max(yStep, math.Ceil(float64(yTop)/yStep)*yStep)
	xStep := niceStep(xMax, 8, 0)
	px := func(x float64) float64 { return plotLeft + x/xMax*(plotRight-plotLeft) }
	py := func(y float64) float64 { return plotBottom - y/yMax*(plotBottom-plotTop) }

	// Warm-up band.
	if skip := warmupSkip(n, o.Warmup); skip > 0 {
		x1 := px(xs[skip])
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%s" height="%d" fill="#eeeeee"/>`+"\n", plotLeft, plotTop, num(x1-plotLeft), plotBottom-plotTop)
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#777777" font-size="11">warm-up</text>`+"\n", plotLeft+4, plotTop+14)
	}

	// Grid, ticks and labels.
	for i := 0; float64(i)*yStep <= yMax+yStep/2; i++ {
		y := float64(i) * yStep
		fmt.Fprintf(&b, `<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="#dddddd"/>`+"\n", plotLeft, num(py(y)), plotRight, num(py(y)))
		fmt.Fprintf(&b, `<text x="%d" y="%s" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", plotLeft-8, num(py(y)), tick(y, yStep))
	}
	for i := 0; float64(i)*xStep <= xMax*(1+1e-9); i++ {
		x := float64(i) * xStep
		fmt.Fprintf(&b, `<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="#000000"/>`+"\n", num(px(x)), plotBottom, num(px(x)), plotBottom+5)
		fmt.Fprintf(&b, `<text x="%s" y="%d" text-anchor="middle">%s</text>`+"\n", num(px(x)), plotBottom+19, tick(x, xStep))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#000000"/>`+"\n", plotLeft, plotTop, plotLeft, plotBottom)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#000000"/>`+"\n", plotLeft, plotBottom, plotRight, plotBottom)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", (plotLeft+plotRight)/2, plotBottom+42, xLabel)
	fmt.Fprintf(&b, `<text transform="translate(16 %d) rotate(-90)" text-anchor="middle">count</text>`+"\n", (plotTop+plotBottom)/2)

	// Lines and legend.
	for i, st := range stats {
		color := palette[i%len(palette)]
		var pts strings.Builder
		for j, v := range s.Values(st.Key) {
			if j > 0 {
				pts.WriteByte(' ')
			}
			pts.WriteString(num(px(xs[j])) + "," + num(py(float64(v))))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" stroke-linejoin="round" points="%s"/>`+"\n", color, pts.String())
		ly := plotTop + 6 + i*legendLine
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", legendLeft, ly, legendLeft+18, ly, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d" dominant-baseline="middle">%s</text>`+"\n", legendLeft+24, ly, esc(legendText(st)))
	}
	if total > len(stats) {
		ly := plotTop + 6 + len(stats)*legendLine
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555555" dominant-baseline="middle">… and %d more categories</text>`+"\n", legendLeft, ly, total-len(stats))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// legendText is "sockets/tcp CLOSE_WAIT 3→41", the key shortened to fit.
func legendText(st Stats) string {
	key := []rune(st.Key)
	if len(key) > maxLegendCh {
		key = append(key[:maxLegendCh-1], '…')
	}
	return fmt.Sprintf("%s %d→%d", string(key), st.Start, st.End)
}

// niceStep returns a tick step of 1, 2 or 5 times a power of ten that
// divides span into about target parts, at least min.
func niceStep(span float64, target int, min float64) float64 {
	if !(span > 0) {
		return math.Max(min, 1)
	}
	raw := span / float64(target)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if raw <= m*mag {
			step = m * mag
			break
		}
	}
	return math.Max(step, min)
}

// tick formats a tick value with as many decimals as the step needs.
func tick(v, step float64) string {
	prec := 0
	if step < 1 {
		prec = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// num formats a coordinate with one decimal, trimming ".0".
func num(v float64) string {
	return strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0")
}

func esc(s string) string { return html.EscapeString(s) }
