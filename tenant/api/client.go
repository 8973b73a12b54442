// Package api is the client of a tenant's account API (maestrano-protocol
// §4): health check and one-off bills. One Client per tenant, built from the
// tenant's configuration; it authenticates with HTTP Basic api.id:api.key
// and turns the `{success, errors, data}` envelope into typed errors.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant"
)

// Limits on what we read back from a tenant.
const (
	maxBodySize     = 1 << 20  // one object
	maxListBodySize = 32 << 20 // a list: the account API has no pagination
	// DefaultTimeout bounds one call when the caller's context has no
	// earlier deadline (the Ruby SDK reads for up to 80 s).
	DefaultTimeout = 60 * time.Second
)

// defaultHTTP is shared by every Client built without an explicit
// *http.Client, so calls to one tenant reuse connections.
var defaultHTTP = &http.Client{Transport: NewTransport(32)}

// NewTransport is an HTTP transport that keeps up to perHost idle
// connections to each host, so that a pool of perHost workers never
// re-dials (the net/http default keeps two).
func NewTransport(perHost int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = perHost
	t.MaxIdleConns = 4 * perHost
	t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.ResponseHeaderTimeout = DefaultTimeout
	return t
}

// Client calls one tenant's account API.
type Client struct {
	tenant  tenant.Key
	base    string // {api.host}{api.base}, ending in "/"
	id      string
	key     tenant.Secret
	http    *http.Client
	timeout time.Duration
	baseErr error // set when api.host is unusable; every call returns it
}

// New builds the client of cfg's account API. httpClient may be nil.
func New(cfg *tenant.Config, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = defaultHTTP
	}
	c := &Client{
		tenant:  cfg.Key,
		id:      cfg.API.ID,
		key:     cfg.API.Key,
		http:    httpClient,
		timeout: DefaultTimeout,
	}
	c.base, c.baseErr = baseURL(cfg.API.Host, cfg.APIBase())
	return c
}

// baseURL joins api.host and api.base; credentials embedded in the host are
// dropped so that no error text can carry them.
func baseURL(host, base string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(host))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: api.host %q is not an http(s) URL", tenant.ErrBadHost, tenant.RedactURL(host))
	}
	u.User = nil
	if !strings.HasPrefix(base, "/") {
		base = "/" + base
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/") + base, nil
}

// BaseURL is {api.host}{api.base}; empty when api.host is unusable.
func (c *Client) BaseURL() string { return c.base }

// Ping checks the host and the credentials: GET {base}ping.
func (c *Client) Ping(ctx context.Context) error {
	var data struct {
		Msg string `json:"msg"`
	}
	return c.do(ctx, "ping", http.MethodGet, "ping", nil, &data, maxBodySize)
}

// CreateBill submits a one-off bill: POST {base}account/bills.
func (c *Client) CreateBill(ctx context.Context, req BillRequest) (Bill, error) {
	if err := req.Validate(); err != nil {
		return Bill{}, &tenant.CallError{Op: "create bill", Tenant: c.tenant, Err: err}
	}
	var b Bill
	if err := c.do(ctx, "create bill", http.MethodPost, "account/bills", req, &b, maxBodySize); err != nil {
		return Bill{}, err
	}
	if b.ID == "" {
		return Bill{}, &tenant.CallError{Op: "create bill", Tenant: c.tenant, Err: fmt.Errorf("%w: the answer holds no bill id", ErrMalformed)}
	}
	return b, nil
}

// ListBills lists this app's bills of one group: GET {base}account/bills?group_id=.
func (c *Client) ListBills(ctx context.Context, groupID string) ([]Bill, error) {
	if groupID == "" {
		return nil, &tenant.CallError{Op: "list bills", Tenant: c.tenant, Err: errors.New("group_id is empty")}
	}
	var bills []Bill
	path := "account/bills?group_id=" + url.QueryEscape(groupID)
	if err := c.do(ctx, "list bills", http.MethodGet, path, nil, &bills, maxListBodySize); err != nil {
		return nil, err
	}
	return bills, nil
}

// CancelBill cancels a submitted bill: DELETE {base}account/bills/{id}.
// The API answers with the bill, now cancelled; cancelling a bill that is
// already cancelled answers the same. A bill already invoiced, or unknown,
// is a *tenant.CallError carrying the API's field messages (HTTP 400 on the sandbox).
func (c *Client) CancelBill(ctx context.Context, id string) (Bill, error) {
	if id == "" || strings.ContainsAny(id, "/?#") {
		return Bill{}, &tenant.CallError{Op: "cancel bill", Tenant: c.tenant, Err: fmt.Errorf("bill id %q is not usable", id)}
	}
	var b Bill
	if err := c.do(ctx, "cancel bill", http.MethodDelete, "account/bills/"+url.PathEscape(id), nil, &b, maxBodySize); err != nil {
		return Bill{}, err
	}
	if b.ID != id {
		return Bill{}, &tenant.CallError{Op: "cancel bill", Tenant: c.tenant, Err: fmt.Errorf("%w: the answer is for bill %q, not %q", ErrMalformed, b.ID, id)}
	}
	if b.Status != "" && b.Status != BillCancelled {
		return Bill{}, &tenant.CallError{Op: "cancel bill", Tenant: c.tenant, Err: fmt.Errorf("%w: the bill is %q after the cancel", ErrMalformed, b.Status)}
	}
	return b, nil
}

// envelope is the account API's answer on every endpoint.
type envelope struct {
	Success *bool           `json:"success"`
	Errors  json.RawMessage `json:"errors"`
	Data    json.RawMessage `json:"data"`
}

func (c *Client) do(ctx context.Context, op, method, path string, in, out any, limit int64) error {
	fail := func(status int, err error) error {
		return &tenant.CallError{Op: op, Tenant: c.tenant, Status: status, Err: err}
	}
	if c.baseErr != nil {
		return fail(0, c.baseErr)
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fail(0, fmt.Errorf("encode request: %w", err))
		}
		body = bytes.NewReader(b)
	}
	if _, ok := ctx.Deadline(); !ok && c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fail(0, err)
	}
	req.SetBasicAuth(c.id, c.key.Reveal())
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fail(0, c.key.Redact(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fail(resp.StatusCode, fmt.Errorf("read answer: %w", c.key.Redact(err)))
	}
	if int64(len(raw)) > limit {
		return fail(resp.StatusCode, fmt.Errorf("%w: answer larger than %d bytes", ErrMalformed, limit))
	}
	return c.decode(op, resp.StatusCode, raw, out)
}

// decode reads an envelope. A non-2xx status or success:false is a *tenant.CallError
// carrying the field messages; anything that is not an envelope is
// ErrMalformed.
func (c *Client) decode(op string, status int, raw []byte, out any) error {
	e := &tenant.CallError{Op: op, Tenant: c.tenant, Status: status}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil || env.Success == nil {
		if status/100 != 2 {
			e.Err = fmt.Errorf("HTTP %d: %s", status, c.key.RedactText(tenant.Snippet(raw)))
		} else {
			e.Err = fmt.Errorf("%w: not an account API envelope: %s", ErrMalformed, c.key.RedactText(tenant.Snippet(raw)))
		}
		return e
	}
	if !*env.Success || status/100 != 2 {
		e.Details = c.messages(env.Errors)
		if len(e.Details) == 0 {
			e.Err = fmt.Errorf("HTTP %d, success %v, no error message", status, *env.Success)
		}
		return e
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		e.Err = fmt.Errorf("%w: data: %v", ErrMalformed, err)
		return e
	}
	return nil
}

// messages reads `errors`: normally {field: [msg]}, each field becoming
// "field msg, msg" (fields sorted); a bare string or a list is kept as
// well rather than lost.
func (c *Client) messages(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var byField map[string]json.RawMessage
	if json.Unmarshal(raw, &byField) == nil {
		out := make([]string, 0, len(byField))
		for _, field := range slices.Sorted(maps.Keys(byField)) {
			out = append(out, field+" "+strings.Join(c.texts(byField[field]), ", "))
		}
		return out
	}
	if msgs := c.texts(raw); len(msgs) > 0 {
		return []string{"base " + strings.Join(msgs, ", ")}
	}
	return nil
}

func (c *Client) texts(raw json.RawMessage) []string {
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		for i := range list {
			list[i] = c.key.RedactText(list[i])
		}
		return list
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{c.key.RedactText(one)}
	}
	return []string{c.key.RedactText(tenant.Snippet(raw))}
}
