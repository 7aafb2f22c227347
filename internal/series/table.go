package series

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteTable writes stats as a table with aligned columns, categories
// indented under their resource's total:
//
//	category                  start  end  max  slope/iter  slope/s
//	fds                           8   48   48     +1.000    +9.98
//	  file                        2   42   42     +1.000    +9.98
//	sockets                       1    1    1      0.000     0.00
//
// A slope that could not be fitted prints as "-".
func WriteTable(w io.Writer, stats []Stats) error {
	rows := [][]string{{"category", "start", "end", "max", "slope/iter", "slope/s"}}
	for _, st := range stats {
		name := st.Key
		if _, cat, ok := strings.Cut(st.Key, "/"); ok {
			name = "  " + cat
		}
		perIter, perSec := "-", "-"
		if st.Fitted {
			perIter, perSec = formatSlope(st.PerIteration, 3), formatSlope(st.PerSecond, 2)
		}
		rows = append(rows, []string{name, strconv.Itoa(st.Start), strconv.Itoa(st.End), strconv.Itoa(st.Max), perIter, perSec})
	}
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			width[i] = max(width[i], len([]rune(cell)))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, cell := range r {
			pad := strings.Repeat(" ", width[i]-len([]rune(cell)))
			switch {
			case i == 0:
				b.WriteString(cell + pad)
			default:
				b.WriteString("  " + pad + cell) // numbers align right
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// formatSlope prints a growth rate with a sign when it is not zero.
func formatSlope(v float64, prec int) string {
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Trim(s, "-0.") == "" {
		return strconv.FormatFloat(0, 'f', prec, 64)
	}
	if v > 0 {
		return "+" + s
	}
	return s
}

// String renders the stats in one line, as progress displays and threshold
// messages show it: "sockets 3 → 41 (max 41, +0.95/iter, +9.50/s)".
func (st Stats) String() string {
	slopes := "no slope"
	if st.Fitted {
		slopes = fmt.Sprintf("%s/iter, %s/s", formatSlope(st.PerIteration, 3), formatSlope(st.PerSecond, 2))
	}
	return fmt.Sprintf("%s %d → %d (max %d, %s)", st.Key, st.Start, st.End, st.Max, slopes)
}
