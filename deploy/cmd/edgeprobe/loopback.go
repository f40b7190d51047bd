package main

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// loopbackOnly refuses a URL whose host is not this machine's loopback:
// the probe opens hundreds of connections and floods, which is a
// measurement on one's own box and an attack anywhere else. Names other
// than localhost are refused rather than resolved, so DNS cannot point
// the probe elsewhere.
func loopbackOnly(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("read %q as a URL: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: want an http or https URL", raw)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%q: no host", raw)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err == nil && ip.Zone() == "" {
		if ip = ip.Unmap(); ip == netip.IPv6Loopback() || (ip.Is4() && ip.IsLoopback()) {
			return nil
		}
	}
	return fmt.Errorf("%q: host %q is not loopback (127.0.0.0/8, ::1 or localhost): the probe measures this machine only", raw, host)
}

// dialAddr is the host:port the probe's raw connections dial.
func dialAddr(u *url.URL) string {
	if p := u.Port(); p != "" {
		return net.JoinHostPort(u.Hostname(), p)
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}
