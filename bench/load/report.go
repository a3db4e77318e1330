package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"gatehouse/bench/internal/seed"
)

// Results is everything a run measured: the JSON file's content.
type Results struct {
	Started    time.Time      `json:"started"`
	DB         string         `json:"db"`
	Commit     string         `json:"commit"`
	Go         string         `json:"go"`
	CPUs       int            `json:"cpus"`
	DurationS  float64        `json:"duration_s"`
	Rounds     int            `json:"rounds"`
	Conns      map[string]int `json:"connections"`
	W3Rate     int            `json:"w3_w1_rate"`
	PocketBase bool           `json:"pocketbase"` // W2 and W5 also against PocketBase
	// PocketBaseW2Fields: its W2 asked for W2's fields only.
	PocketBaseW2Fields bool       `json:"pocketbase_w2_fields,omitempty"`
	ServerEnv          []string   `json:"server_env,omitempty"`
	Seed               SeedInfo   `json:"seed"`
	Statements         Statements `json:"statements_per_request"`
	BcryptBound        float64    `json:"bcrypt_bound_logins_per_s"`
	HashBound          float64    `json:"hashing_bound_logins_per_s"`
	Samples            []Sample   `json:"samples"`
	W3Rounds           []W3       `json:"w3_rounds,omitempty"`

	// Medians over the rounds, by "workload/system".
	Median  map[string]Sample  `json:"median"`
	Ratios  map[string]float64 `json:"ratios"`
	Targets []Target           `json:"targets"`
}

// SeedInfo is the data set.
type SeedInfo struct {
	Users       int     `json:"users"`
	DeepUsers   int     `json:"deep_users"`
	Packages    int     `json:"packages"`
	Contents    int     `json:"contents_per_package"`
	Assignments int     `json:"assignments"`
	Sessions    int     `json:"sessions"`
	Tokens      int     `json:"tokens"`
	TookS       float64 `json:"took_s"`
}

func seedInfo(o seed.Options, d *seed.Data) SeedInfo {
	return SeedInfo{Users: o.Users, DeepUsers: o.DeepUsers, Packages: o.Packages, Contents: o.Contents,
		Assignments: o.Assignments, Sessions: o.Sessions, Tokens: len(d.Tokens), TookS: d.Took.Seconds()}
}

// Target is one of the targets and whether this run met it.
type Target struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Want  string  `json:"want"`
	Pass  bool    `json:"pass"`
	// Info marks a figure given for information, not a target of this
	// run (PocketBase's writes/s measured on another machine).
	Info bool `json:"info,omitempty"`
}

func (s Sample) line() string {
	l := fmt.Sprintf("%9.1f req/s  p50 %8.2f ms  p99 %8.2f ms  errors %5d  CPU %8.0f µs/req  peak RSS %6.1f MiB",
		s.RPS, s.P50Ms, s.P99Ms, s.Errors, s.CPUPerReq, s.PeakRSSMiB)
	if s.FirstError != "" {
		l += "\n      first error: " + s.FirstError
	}
	return l
}

// summarize computes the medians, the ratios and the targets.
func (r *Results) summarize() {
	by := map[string][]Sample{}
	var order []string
	for _, s := range r.Samples {
		k := s.Workload + "/" + s.System
		if by[k] == nil {
			order = append(order, k)
		}
		by[k] = append(by[k], s)
	}
	r.Median = map[string]Sample{}
	for _, k := range order {
		r.Median[k] = medianSample(by[k])
	}
	r.Ratios = map[string]float64{}
	// The ratio of a round's two figures, Gatehouse and the other system
	// (the floor, PocketBase) measured one after the other, then the
	// median over the rounds: steadier on a busy machine than the ratio of
	// the medians.
	ratioOf := func(name, w, other string, fig func(Sample) float64) (float64, bool) {
		by := map[int]map[string]float64{}
		for _, s := range r.Samples {
			if s.Workload == w {
				if by[s.Round] == nil {
					by[s.Round] = map[string]float64{}
				}
				by[s.Round][s.System] = fig(s)
			}
		}
		var rs []float64
		for _, c := range by {
			if c[other] > 0 && c["gatehouse"] > 0 {
				rs = append(rs, c["gatehouse"]/c[other])
			}
		}
		if len(rs) == 0 {
			return 0, false
		}
		v := median(rs)
		r.Ratios[name] = v
		return v, true
	}
	cpuOf := func(s Sample) float64 { return s.CPUPerReq }
	ratio := func(name, w string) (float64, bool) { return ratioOf(name, w, "floor", cpuOf) }
	add := func(name string, v float64, want string, pass bool) {
		r.Targets = append(r.Targets, Target{Name: name, Value: v, Want: want, Pass: pass})
	}
	if v, ok := ratio("W1_cpu_gatehouse_over_floor", "W1"); ok {
		add("W1 CPU/request, Gatehouse ÷ floor (per round)", v, "≤ 2", v <= 2)
	}
	if v, ok := ratio("W4_cpu_gatehouse_over_floor", "W4"); ok {
		add("W4 CPU/request, Gatehouse ÷ floor (per round)", v, "≤ 2", v <= 2)
	}
	if w2, ok := r.Median["W2/gatehouse"]; ok {
		add("W2 CPU per page of 100 users (ms)", w2.CPUPerReq/1000, "≤ 7", w2.CPUPerReq/1000 <= 7)
		if d, ok := r.Median["W2-deep/gatehouse"]; ok {
			add("W2-deep CPU per page (ms)", d.CPUPerReq/1000, "≤ 7", d.CPUPerReq/1000 <= 7)
			peak := max(w2.PeakRSSMiB, d.PeakRSSMiB)
			add("peak RSS during W2 (MiB)", peak, "≤ 120", peak <= 120)
		}
		add("W2 statements, page 1 − deep page", float64(r.Statements.W2-r.Statements.W2Deep), "= 0", r.Statements.W2 == r.Statements.W2Deep)
		// The 7 ms was 5× below PocketBase's CPU per page.
		if v, ok := ratioOf("W2_cpu_gatehouse_over_pocketbase", "W2", "pocketbase", cpuOf); ok {
			add("W2 CPU per page, Gatehouse ÷ PocketBase (per round)", v, "≤ 0.2", v <= 0.2)
		}
	}
	add("me (W1) SQL statements", float64(r.Statements.W1), "≤ 4", r.Statements.W1 <= 4)
	if w5, ok := r.Median["W5/gatehouse"]; ok && r.DB == "sqlite" {
		if v, ok := ratioOf("W5_writes_per_s_gatehouse_over_pocketbase", "W5", "pocketbase", func(s Sample) float64 { return s.RPS }); ok {
			add("W5 writes/s, Gatehouse ÷ PocketBase (per round)", v, "≥ 1", v >= 1)
			// For information: steadier than the rates on a busy machine.
			ratioOf("W5_cpu_gatehouse_over_pocketbase", "W5", "pocketbase", cpuOf)
		} else {
			// Without -pocketbase: the PocketBase figure, from
			// another machine, for information.
			r.Targets = append(r.Targets, Target{Name: "W5 writes/s (PocketBase's 2,340 from another machine)", Value: w5.RPS,
				Want: "≥ 2340", Pass: w5.RPS >= 2340, Info: true})
		}
		add("W5 p99 (ms)", w5.P99Ms, "≤ 50", w5.P99Ms <= 50)
		add("W5 errors", float64(w5.Errors), "= 0", w5.Errors == 0)
	}
	if len(r.W3Rounds) > 0 {
		var ratios, logins []float64
		for _, w := range r.W3Rounds {
			ratios = append(ratios, w.P99Ratio)
			logins = append(logins, w.Logins.RPS)
		}
		v := median(ratios)
		r.Ratios["W3_w1_p99_flood_over_idle"] = v
		add("W3: W1 p99 during the login flood ÷ idle", v, "≤ 3", v <= 3)
		if r.HashBound > 0 {
			b := median(logins) / r.HashBound
			r.Ratios["W3_logins_over_hashing_bound"] = b
			add("W3 logins/s ÷ bound at the server's hashing concurrency", b, "≥ 0.8 (load generator shares the cores)", b >= 0.8)
		}
		if r.BcryptBound > 0 {
			// For information: the bound with every core hashing, which
			// password_hash_concurrency keeps the server from reaching.
			r.Ratios["W3_logins_over_bcrypt_bound_all_cores"] = median(logins) / r.BcryptBound
		}
	}
}

func (r *Results) print(w io.Writer) {
	fmt.Fprintf(w, "\n%s, %s, %d cores, %s, %d rounds of %gs, medians (errors summed, peak RSS the highest)\n",
		r.DB, r.Commit, r.CPUs, r.Go, r.Rounds, r.DurationS)
	fmt.Fprintf(w, "%-11s %-10s %5s %10s %9s %9s %7s %11s %9s %6s\n",
		"workload", "system", "conns", "req/s", "p50 ms", "p99 ms", "errors", "CPU µs/req", "peak MiB", "stmts")
	for _, k := range []string{"W1/gatehouse", "W1/floor", "W4/gatehouse", "W4/floor", "W2/gatehouse", "W2/pocketbase", "W2-deep/gatehouse",
		"W3-W1-idle/gatehouse", "W3-login/gatehouse", "W3-W1-flood/gatehouse", "W5/gatehouse", "W5/pocketbase"} {
		s, ok := r.Median[k]
		if !ok {
			continue
		}
		conns := r.Conns[s.Workload]
		stmts := ""
		switch {
		case s.Workload == "W3-login":
			conns = r.Conns["W3-login"]
		case s.System != "gatehouse":
			if s.Workload == "W2" {
				conns = r.Conns["W2"]
			}
		case s.Workload == "W1":
			stmts = fmt.Sprint(r.Statements.W1)
		case s.Workload == "W2":
			stmts = fmt.Sprint(r.Statements.W2)
			conns = r.Conns["W2"]
		case s.Workload == "W2-deep":
			stmts = fmt.Sprint(r.Statements.W2Deep)
			conns = r.Conns["W2"]
		case s.Workload == "W4":
			stmts = fmt.Sprint(r.Statements.W4)
		}
		c := fmt.Sprint(conns)
		if s.Workload == "W3-W1-idle" || s.Workload == "W3-W1-flood" {
			c = fmt.Sprintf("%d/s", r.W3Rate)
		}
		cpu, peak := fmt.Sprintf("%.0f", s.CPUPerReq), fmt.Sprintf("%.1f", s.PeakRSSMiB)
		if s.Workload == "W3-W1-flood" {
			cpu, peak = "(login)", "(login)" // measured over the flood as a whole
		}
		fmt.Fprintf(w, "%-11s %-10s %5s %10.1f %9.2f %9.2f %7d %11s %9s %6s\n",
			s.Workload, s.System, c, s.RPS, s.P50Ms, s.P99Ms, s.Errors, cpu, peak, stmts)
	}
	if len(r.Targets) > 0 {
		fmt.Fprintln(w, "\ntargets")
		for _, t := range r.Targets {
			mark := "MISS"
			switch {
			case t.Info:
				mark = "info"
			case t.Pass:
				mark = "ok"
			}
			fmt.Fprintf(w, "  %-4s %-54s %9.2f  (want %s)\n", mark, t.Name, t.Value, t.Want)
		}
	}
}

func (r *Results) write(path string) error {
	if path == "" {
		path = filepath.Join("bench", "results", fmt.Sprintf("%s-%s.json", r.Started.Format("2006-01-02-1504"), r.DB))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Println("\nresults written to", path)
	return nil
}
