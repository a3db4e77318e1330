package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
	"unicode/utf8"

	"gatehouse/internal/config"
)

// Delivery limits.
const (
	// DefaultTimeout bounds one delivery unless [webhooks] timeout says
	// otherwise: connecting, sending and reading the answer's head and
	// excerpt.
	DefaultTimeout = 10 * time.Second
	// DefaultClaimFor is how long a claimed delivery is kept from other
	// senders unless [webhooks] claim_timeout says otherwise: longer than
	// one attempt may take. A sender that dies mid-attempt leaves the
	// delivery due again once this has passed.
	DefaultClaimFor = DefaultTimeout + 50*time.Second
	// ExcerptBytes is how much of a receiver's answer is kept for the
	// delivery log.
	ExcerptBytes = 1024
)

// ErrForbiddenTarget is the error of a delivery whose host resolved to an
// address deliveries may not reach (loopback, private, link-local, …),
// refused before connecting.
var ErrForbiddenTarget = errors.New("webhooks: the target address is internal (loopback, private, link-local or reserved); set [webhooks] allow_private_targets to allow it")

// Outcome is what one delivery attempt came to, for the delivery log.
type Outcome struct {
	// Status is the HTTP status the receiver answered; 0 when there was
	// no answer.
	Status int
	// Duration is how long the attempt took.
	Duration time.Duration
	// Excerpt is the start of the answer's body (at most ExcerptBytes,
	// valid UTF-8).
	Excerpt string
	// Err is why there was no answer (refused address, timeout,
	// connection error); nil when the receiver answered.
	Err error
}

// OK reports whether the receiver took the message: it answered 2xx.
// A redirect is not followed and counts as a failure.
func (o Outcome) OK() bool { return o.Err == nil && o.Status >= 200 && o.Status < 300 }

// Sender posts webhooks. Its HTTP client checks every address it connects
// to, after name resolution, so a host name that resolves to an internal
// address is refused as the address itself would be; it follows no
// redirects, uses no proxy and gives up after its timeout.
type Sender struct {
	client  *http.Client
	timeout time.Duration
	claim   time.Duration
}

// NewSender returns a Sender configured by cfg: its timeout and claim
// time are cfg's Timeout and ClaimTimeout (config.Validate checks them),
// DefaultTimeout and DefaultClaimFor where cfg leaves them zero.
func NewSender(cfg config.Webhooks) *Sender {
	timeout := cfg.Timeout.Duration
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	claim := cfg.ClaimTimeout.Duration
	if claim <= 0 {
		claim = max(DefaultClaimFor, timeout+50*time.Second)
	}
	dialer := &net.Dialer{Timeout: timeout}
	if !cfg.AllowPrivateTargets {
		dialer.Control = refuseInternal
	}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would be the address checked, not the target
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	return &Sender{timeout: timeout, claim: claim, client: &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// Timeout is how long one delivery attempt may take.
func (s *Sender) Timeout() time.Duration { return s.timeout }

// ClaimFor is how long a delivery claimed for this sender is kept from
// other senders: longer than an attempt may take.
func (s *Sender) ClaimFor() time.Duration { return s.claim }

// Send posts m to target, signed with secrets, and reports the outcome.
func (s *Sender) Send(ctx context.Context, target string, m Message, secrets ...string) Outcome {
	start := time.Now()
	out := s.send(ctx, target, m, secrets)
	out.Duration = time.Since(start)
	return out
}

func (s *Sender) send(ctx context.Context, target string, m Message, secrets []string) Outcome {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return Outcome{Err: errors.New("webhooks: the endpoint URL is not an http or https URL")}
	}
	h, err := m.Headers(secrets...)
	if err != nil {
		return Outcome{Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(m.Body))
	if err != nil {
		return Outcome{Err: err}
	}
	req.Header = h
	req.Header.Set("User-Agent", "Gatehouse-Webhooks/1")
	res, err := s.client.Do(req)
	if err != nil {
		return Outcome{Err: err}
	}
	defer res.Body.Close()
	out := Outcome{Status: res.StatusCode}
	buf, err := io.ReadAll(io.LimitReader(res.Body, ExcerptBytes))
	if err != nil && len(buf) == 0 {
		// The status arrived; an unreadable body is no failure of the
		// delivery, but say so in the excerpt.
		out.Excerpt = "[the answer's body could not be read]"
		return out
	}
	out.Excerpt = validUTF8Prefix(buf)
	return out
}

// validUTF8Prefix is buf as valid UTF-8 no longer than buf: a rune cut by
// the excerpt's end is dropped, other invalid bytes become '?'.
func validUTF8Prefix(buf []byte) string {
	for i := len(buf) - 1; i >= 0 && i >= len(buf)-utf8.UTFMax; i-- {
		if utf8.RuneStart(buf[i]) {
			if !utf8.FullRune(buf[i:]) {
				buf = buf[:i]
			}
			break
		}
	}
	return string(bytes.ToValidUTF8(buf, []byte("?")))
}

// refuseInternal is the dialer's Control: it runs after name resolution,
// for each address tried, before connecting.
func refuseInternal(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrForbiddenTarget, address)
	}
	if reason := Internal(ap.Addr()); reason != "" {
		return fmt.Errorf("%w (%s is %s)", ErrForbiddenTarget, ap.Addr(), reason)
	}
	return nil
}

// Ranges deliveries may not reach beyond what netip's predicates name.
var (
	cgnat        = netip.MustParsePrefix("100.64.0.0/10")   // carrier-grade NAT, RFC 6598
	thisNetwork  = netip.MustParsePrefix("0.0.0.0/8")       // RFC 1122
	ietfProtocol = netip.MustParsePrefix("192.0.0.0/24")    // RFC 6890
	benchmarking = netip.MustParsePrefix("198.18.0.0/15")   // RFC 2544
	reservedV4   = netip.MustParsePrefix("240.0.0.0/4")     // incl. 255.255.255.255
	nat64        = netip.MustParsePrefix("64:ff9b::/96")    // embeds an IPv4 address
	nat64Local   = netip.MustParsePrefix("64:ff9b:1::/48")  // RFC 8215
	sixToFour    = netip.MustParsePrefix("2002::/16")       // embeds an IPv4 address
	teredo       = netip.MustParsePrefix("2001::/32")       // tunnels to anywhere
	siteLocal    = netip.MustParsePrefix("fec0::/10")       // deprecated, still routed privately
	v4Compatible = netip.MustParsePrefix("::/96")           // deprecated ::a.b.c.d
	documentV6   = netip.MustParsePrefix("2001:db8::/32")   // documentation
	discardV6    = netip.MustParsePrefix("100::/64")        // discard-only
	orchid       = netip.MustParsePrefix("2001:10::/28")    // non-routable
	benchmarkV6  = netip.MustParsePrefix("2001:2::/48")     // benchmarking
	ietfV6       = netip.MustParsePrefix("2001::/23")       // IETF protocol assignments
	uniqueLocal  = netip.MustParsePrefix("fc00::/7")        // also netip's IsPrivate
	linkLocalV6  = netip.MustParsePrefix("fe80::/10")       // also IsLinkLocalUnicast
	multicastV6  = netip.MustParsePrefix("ff00::/8")        // also IsMulticast
	loopbackV4   = netip.MustParsePrefix("127.0.0.0/8")     // also IsLoopback
	linkLocalV4  = netip.MustParsePrefix("169.254.0.0/16")  // also IsLinkLocalUnicast; cloud metadata
	documentV4a  = netip.MustParsePrefix("192.0.2.0/24")    // TEST-NET-1
	documentV4b  = netip.MustParsePrefix("198.51.100.0/24") // TEST-NET-2
	documentV4c  = netip.MustParsePrefix("203.0.113.0/24")  // TEST-NET-3
)

// Internal says why a webhook may not be delivered to a, or "" when it
// may: a is loopback, private, link-local, unspecified, multicast,
// carrier-grade NAT or otherwise reserved, directly or as the IPv4 address
// inside an IPv4-mapped, IPv4-compatible, NAT64 or 6to4 IPv6 address.
func Internal(a netip.Addr) string {
	a = a.WithZone("")
	if a.Is4In6() {
		return Internal(a.Unmap())
	}
	switch {
	case !a.IsValid():
		return "not an address"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLoopback() || loopbackV4.Contains(a):
		return "loopback"
	case a.IsLinkLocalUnicast() || linkLocalV4.Contains(a) || linkLocalV6.Contains(a):
		return "link-local"
	case a.IsMulticast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || multicastV6.Contains(a):
		return "multicast"
	case a.IsPrivate() || uniqueLocal.Contains(a) || siteLocal.Contains(a):
		return "private"
	}
	if a.Is4() {
		for _, p := range []netip.Prefix{cgnat, thisNetwork, ietfProtocol, benchmarking, reservedV4, documentV4a, documentV4b, documentV4c} {
			if p.Contains(a) {
				return "reserved (" + p.String() + ")"
			}
		}
		return ""
	}
	b := a.As16()
	switch {
	case nat64.Contains(a), nat64Local.Contains(a):
		return embedded(netip.AddrFrom4([4]byte(b[12:16])), "NAT64")
	case v4Compatible.Contains(a):
		return embedded(netip.AddrFrom4([4]byte(b[12:16])), "IPv4-compatible")
	case sixToFour.Contains(a):
		return embedded(netip.AddrFrom4([4]byte(b[2:6])), "6to4")
	}
	for _, p := range []netip.Prefix{teredo, documentV6, discardV6, orchid, benchmarkV6, ietfV6} {
		if p.Contains(a) {
			return "reserved (" + p.String() + ")"
		}
	}
	return ""
}

// embedded checks the IPv4 address inside an IPv6 one.
func embedded(v4 netip.Addr, form string) string {
	if r := Internal(v4); r != "" {
		return r + " inside a " + form + " address"
	}
	return ""
}
