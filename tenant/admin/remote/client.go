package remote

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// callTimeout bounds a call whose method takes no context (reads of a
// page, a form's validation): the owner answers those in milliseconds.
const callTimeout = 60 * time.Second

// Client is admin.API in another process: the owner of the data file,
// through its control socket or its admin address.
type Client struct {
	// Name says which server this is, for messages and the window title:
	// the admin address's host:port, or "the Tenantdesk process owning X".
	Name string
	Info Info // what the server said when the client connected

	base  string
	http  *http.Client
	token string
}

// context gives a call without a context of its own a deadline.
func (c *Client) context(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx == nil {
		return context.WithTimeout(context.Background(), callTimeout)
	}
	return ctx, func() {}
}

// ErrNoOwner is returned by DialSocket when no process serves the socket:
// the data file is free (or its owner is gone), so open it directly.
var ErrNoOwner = errors.New("no Tenantdesk process serves this data file")

// DialSocket connects to the process that owns the data file at dbPath,
// through its control channel (SocketPath). Every connection is checked
// before anything is sent: a channel of another user is refused with
// ErrNotOurs.
func DialSocket(ctx context.Context, dbPath string) (*Client, error) {
	path := SocketPath(dbPath)
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) { return dialChecked(ctx, path) }
	// Probe first: a missing socket, or one nobody listens on, means no
	// owner, which the caller handles by opening the file itself.
	conn, err := dial(ctx, "", "")
	if err != nil {
		return nil, err
	}
	_ = conn.Close()
	c := &Client{
		Name: "the Tenantdesk process owning " + dbPath,
		base: "http://tenantdesk",
		http: &http.Client{Transport: &http.Transport{
			DialContext:         dial,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		}},
	}
	if err := c.hello(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Dial connects to a server's admin address (`serve --admin-addr`) with a
// bearer token. tlsConfig decides which certificate is trusted (see
// PinnedTLS and CATLS); nil trusts the system's roots.
func Dial(ctx context.Context, serverURL, token string, tlsConfig *tls.Config) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(serverURL, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("server URL %q: want https://HOST:PORT", serverURL)
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("server URL %q: the admin API speaks https only", serverURL)
	}
	if strings.TrimSpace(token) == "" {
		return nil, errors.New("no admin token given (create one on the server with `tenantdesk admin-token`)")
	}
	c := &Client{
		Name:  u.Host,
		base:  u.Scheme + "://" + u.Host,
		token: strings.TrimSpace(token),
		http: &http.Client{Transport: &http.Transport{
			TLSClientConfig:     tlsConfig,
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     60 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
		}},
	}
	if err := c.hello(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// helloTimeout bounds the first exchange: an owner that accepts but
// does not answer (stopped in a debugger, say) must not hang a verb.
const helloTimeout = 10 * time.Second

func (c *Client) hello(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, helloTimeout)
	defer cancel()
	info, err := call[Info](c, ctx, "Hello", none{})
	if err != nil {
		return err
	}
	c.Info = info
	return nil
}

// Close drops the client's idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }
