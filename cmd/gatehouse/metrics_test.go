package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// metricsURL is the /metrics URL from the "metrics listening" log line.
func metricsURL(t *testing.T, s *served) string {
	t.Helper()
	for _, l := range logLines(t, s.logs.String()) {
		if l["msg"] == "metrics listening" {
			if a, ok := l["metrics_addr"].(string); ok {
				return "http://" + a + "/metrics"
			}
		}
	}
	t.Fatalf("no metrics listening line:\n%s", s.logs.String())
	return ""
}

func metricsGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestServeMetricsListener: serve answers /metrics on metrics.listen
// only, counts the sign-ins there, closes it when it stops, and serves
// no metrics with metrics.listen empty.
func TestServeMetricsListener(t *testing.T) {
	dsn := testDSN(t)
	m := baseEnv(nil)
	mustCLI(t, m, "root-password-1\n", "user", "create", "--username", "root", "--role", "admin", "--password-stdin", "--db", dsn)
	s := startServe(t, m, "--db", dsn)
	login(t, s.url, "root", "root-password-1")
	murl := metricsURL(t, s)

	st, body := metricsGet(t, murl)
	if st != http.StatusOK || !strings.Contains(body, `gatehouse_logins_total{outcome="succeeded"} 1`) {
		t.Fatalf("GET %s: %d\n%s", murl, st, body)
	}
	if st, _ := metricsGet(t, s.url+"/metrics"); st != http.StatusNotFound {
		t.Errorf("GET /metrics on the public listener: %d, want 404", st)
	}
	if st, _ := metricsGet(t, strings.TrimSuffix(murl, "/metrics")+"/graphql"); st != http.StatusNotFound {
		t.Errorf("GET /graphql on the metrics listener: %d, want 404", st)
	}
	if code := s.stop(t); code != 0 {
		t.Fatalf("serve exited with %d", code)
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(murl, "http://"), "/metrics")
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("the metrics listener %s still accepts connections after serve stopped", addr)
	}

	off := startServe(t, baseEnv(map[string]string{"GATEHOUSE_METRICS_LISTEN": "off"}), "--db", dsn)
	if strings.Contains(off.logs.String(), "metrics listening") {
		t.Errorf("metrics listening with metrics.listen empty:\n%s", off.logs.String())
	}
}
