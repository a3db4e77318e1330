package dashboard

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// exportBatch is how many rows an export reads at a time: it holds no
// more in memory, however many rows it streams.
const exportBatch = 1000

// export streams the list, with its search, filters and sort, as CSV: every
// matching row, read exportBatch at a time in the list's order.
func (rs *resource[T, F]) export(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	l := rs.parse(r.URL.Query())
	where := rs.where(l)
	s := rs.seekOf(l, nil)
	s.size = exportBatch
	cur := rs.cursorOf(l)

	name := rs.plural + "-" + rs.d.svc.Now().UTC().Format("2006-01-02") + ".csv"
	name = strings.ReplaceAll(name, " ", "-")
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")

	bw := bufio.NewWriterSize(w, 32<<10)
	for first := true; ; first = false {
		rows, err := rs.table.rows(ctx, append(where[:len(where):len(where)], s.where()), s.order(), s.size)
		var counts map[int]int
		if err == nil {
			counts, err = rs.counts(ctx, rows)
		}
		if err != nil {
			if first {
				// Nothing was sent yet: the answer is still an error page.
				h.Del("Content-Disposition")
				rs.d.failure(w, r, err)
				return
			}
			// The download ends short; the log says why.
			rs.d.log.ErrorContext(ctx, "dashboard export", "path", r.URL.Path, "err", err)
			_ = bw.Flush()
			return
		}
		if first {
			head := []string{"id"}
			for _, c := range rs.columns {
				if c.csv != nil {
					head = append(head, c.title)
				}
			}
			writeCSV(bw, head)
		}
		for _, row := range rows {
			id := rs.id(row)
			rec := []string{strconv.Itoa(id)}
			for _, c := range rs.columns {
				if c.csv != nil {
					rec = append(rec, c.csv(row, counts[id]))
				}
			}
			writeCSV(bw, rec)
		}
		if len(rows) < s.size || ctx.Err() != nil {
			break
		}
		c := cur(rows[len(rows)-1])
		s.cursor = &c
	}
	_ = bw.Flush()
}

// writeCSV writes one record, every field quoted. A field a spreadsheet
// would read as a formula (starting with =, +, -, @, a tab or a carriage
// return) is prefixed with a single quote, as OWASP advises against CSV
// injection.
func writeCSV(w *bufio.Writer, rec []string) {
	for i, f := range rec {
		if i > 0 {
			_ = w.WriteByte(',')
		}
		_ = w.WriteByte('"')
		if f != "" && strings.ContainsRune("=+-@\t\r", rune(f[0])) {
			_ = w.WriteByte('\'')
		}
		_, _ = w.WriteString(strings.ReplaceAll(f, `"`, `""`))
		_ = w.WriteByte('"')
	}
	_, _ = w.WriteString("\r\n")
}

// csvTime is a time in an export: RFC 3339, UTC.
func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func csvTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return csvTime(*t)
}
