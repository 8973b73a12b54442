package settings

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// One check per kind of value; Defs says which key uses which.

// checkPublicURL wants an http(s) URL with a host and no query or fragment:
// every ACS and webhook URL is built by appending paths to it.
func checkPublicURL(v string) (string, error) {
	u, err := checkHTTPURL(v)
	if err != nil {
		return "", err
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(v, "?") || strings.HasSuffix(v, "#") {
		return "", errors.New("want a base URL without query or fragment")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func checkDevplHost(v string) (string, error) {
	u, err := checkHTTPURL(v)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func checkHTTPURL(v string) (*url.URL, error) {
	if v == "" {
		return nil, errors.New("empty; want an http(s) URL such as https://tenantdesk.example.com")
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil {
		return nil, fmt.Errorf("%q is not an http(s) URL with a host, such as https://tenantdesk.example.com", v)
	}
	return u, nil
}

// checkAddr wants HOST:PORT with a numeric port (0 picks a free one).
func checkAddr(v string) (string, error) {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return "", fmt.Errorf("%q: want HOST:PORT, such as 127.0.0.1:8765 or :8765", v)
	}
	if strings.ContainsAny(host, " /\\@") {
		return "", fmt.Errorf("%q: bad host %q", v, host)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", fmt.Errorf("%q: port %q is not a number from 0 to 65535", v, port)
	}
	return net.JoinHostPort(host, strconv.FormatUint(n, 10)), nil
}

// checkReadableFile wants a regular file this process can read now; it is
// kept as an absolute path, so that a double-click started from another
// folder finds the same file.
func checkReadableFile(v string) (string, error) {
	if v == "" {
		return "", errors.New("empty; want the path of a readable file")
	}
	abs, err := filepath.Abs(v)
	if err != nil {
		return "", fmt.Errorf("%q: %v", v, err)
	}
	f, err := os.Open(abs)
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %v", abs, unwrapPath(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %v", abs, unwrapPath(err))
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", abs)
	}
	var b [1]byte
	if _, err := f.Read(b[:]); err != nil {
		return "", fmt.Errorf("cannot read %s: %v", abs, unwrapPath(err))
	}
	return abs, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// checkAPIPath wants an absolute URL path.
func checkAPIPath(v string) (string, error) {
	if !strings.HasPrefix(v, "/") {
		return "", fmt.Errorf("%q: want a path starting with /, such as /api/config/v1/marketplaces", v)
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "" || u.Host != "" || strings.ContainsFunc(v, unicode.IsSpace) {
		return "", fmt.Errorf("%q is not a URL path", v)
	}
	return v, nil
}

// checkToken wants a non-empty printable value without spaces (keys and
// secrets go into an HTTP Basic header).
func checkToken(v string) (string, error) {
	if v == "" {
		return "", errors.New("empty")
	}
	if len(v) > 1024 {
		return "", errors.New("longer than 1024 characters")
	}
	if strings.ContainsFunc(v, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) {
		return "", errors.New("contains spaces or control characters")
	}
	return v, nil
}

// checkLabel wants a short printable name.
func checkLabel(v string) (string, error) {
	if v == "" || len(v) > 256 || strings.ContainsFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return "", errors.New("want a printable name of 1 to 256 characters")
	}
	return v, nil
}

// MinRefresh is the shortest developer-platform re-sync interval accepted:
// shorter would hammer the platform for a document that changes rarely.
const MinRefresh = time.Minute

func checkRefresh(v string) (string, error) {
	if v == "off" || v == "0" {
		return "off", nil // as the developer-platform sync reads it
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return "", fmt.Errorf("%q is not a duration such as 30m or 1h", v)
	}
	if d < MinRefresh {
		return "", fmt.Errorf("%s is shorter than %s", d, MinRefresh)
	}
	return d.String(), nil
}

// checkTrustedProxies wants IPs or CIDRs separated by commas or spaces and
// keeps them as a canonical comma-separated list of prefixes.
func checkTrustedProxies(v string) (string, error) {
	prefixes, err := ParseTrustedProxies(v)
	if err != nil {
		return "", err
	}
	if len(prefixes) == 0 {
		return "", errors.New("empty; want IPs or CIDRs such as 10.0.0.1, 192.168.0.0/16")
	}
	parts := make([]string, len(prefixes))
	for i, p := range prefixes {
		parts[i] = p.String()
	}
	return strings.Join(parts, ","), nil
}

// ParseTrustedProxies reads a list of IPs and CIDRs separated by commas or
// spaces. A single IP becomes a /32 (or /128) prefix.
func ParseTrustedProxies(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var bad []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(f); err == nil {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		bad = append(bad, strconv.Quote(f))
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%s: not an IP address or CIDR", strings.Join(bad, ", "))
	}
	return out, nil
}
