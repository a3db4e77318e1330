package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// ParseOrigin checks that s is an exact browser origin,
// scheme://host[:port] with scheme http or https and nothing after the
// host and port, and returns it in the form browsers send (lower case,
// no default port).
func ParseOrigin(s string) (string, error) {
	if s == "*" || strings.Contains(s, "*") {
		return "", fmt.Errorf("%q: wildcards are refused: /graphql accepts the Authorization header, so list each origin exactly (scheme://host[:port])", s)
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("%q is not an origin such as https://app.example.com or http://localhost:5173", s)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("%q: an origin's scheme must be http or https", s)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || strings.HasSuffix(s, "/") {
		return "", fmt.Errorf("%q: an origin is scheme://host[:port] only, without user, path, query or fragment", s)
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", fmt.Errorf("%q: an origin needs a host", s)
	}
	port := u.Port()
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%q has an invalid port %q", s, port)
		}
		if (scheme == "http" && n == 80) || (scheme == "https" && n == 443) {
			port = ""
		}
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	out := scheme + "://" + host
	if port != "" {
		out += ":" + port
	}
	return out, nil
}

// AllowedOrigins returns CORSOrigins in the form browsers send (entries
// that Validate refuses are skipped).
func (s Server) AllowedOrigins() []string {
	out := make([]string, 0, len(s.CORSOrigins))
	for _, o := range s.CORSOrigins {
		if n, err := ParseOrigin(o); err == nil {
			out = append(out, n)
		}
	}
	return out
}
