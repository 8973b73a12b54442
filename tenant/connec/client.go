package connec

// This file is the HTTP client of a tenant's Connec! API: the outbox pushes
// records with it, pulls read pages and link records back (maestrano-protocol
// §5.1–§5.4).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tenantdesk/tenantdesk/tenant"
)

// maxAnswerSize bounds what a push reads back: one record.
const maxAnswerSize = 4 << 20

// ErrMalformedAnswer matches an answer that is not a Connec! record envelope.
var ErrMalformedAnswer = errors.New("malformed answer")

// APIError is one entry of Connec!'s `{"errors": […]}`.
type APIError struct {
	ID     string `json:"id,omitempty"`
	Href   string `json:"href,omitempty"`
	Status string `json:"status,omitempty"`
	Code   string `json:"code,omitempty"`
	Title  string `json:"title,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// UnmarshalJSON accepts numbers where Connec! documents strings ("status": 404).
func (e *APIError) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	str := func(k string) string {
		switch v := m[k].(type) {
		case string:
			return v
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		case nil:
			return ""
		default:
			b, _ := json.Marshal(v)
			return string(b)
		}
	}
	*e = APIError{ID: str("id"), Href: str("href"), Status: str("status"), Code: str("code"), Title: str("title"), Detail: str("detail")}
	if e.Detail == "" {
		e.Detail = str("message") // the connector's {errors:[{message, code}]}
	}
	return nil
}

// text is one entry as a message: "title: detail", or whichever is set.
func (e APIError) text() string {
	switch {
	case e.Title == "" || e.Title == e.Detail:
		return e.Detail
	case e.Detail == "":
		return e.Title
	}
	return e.Title + ": " + e.Detail
}

func apiDetails(errs []APIError) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.text()
	}
	return out
}

// Client calls one tenant's Connec! API.
type Client struct {
	cfg     *tenant.Config
	base    string // {connec.host}{connec.base_path}, no trailing slash
	host    string // {connec.host}, no trailing slash (the batch endpoint)
	baseErr error
	http    *http.Client
}

// NewClient builds the Connec! client of cfg. httpClient may be nil; each
// call is bounded by connec.timeout either way.
func NewClient(cfg *tenant.Config, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	c := &Client{cfg: cfg, http: httpClient}
	u, err := url.Parse(strings.TrimSpace(cfg.Connec.Host))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.baseErr = fmt.Errorf("%w: connec.host %q is not an http(s) URL", tenant.ErrBadHost, tenant.RedactURL(cfg.Connec.Host))
		return c
	}
	u.User = nil
	c.host = strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/")
	c.base = c.host + "/" + strings.Trim(cfg.ConnecBasePath(), "/")
	return c
}

// Push writes one record of a group's collection: POST
// {base}/{group}/{collection} when connecID is empty, PUT …/{connecID}
// otherwise. It returns the ids of the record Connec! answered with.
func (c *Client) Push(ctx context.Context, groupUID, collection, connecID string, record any) (IDSet, error) {
	method, path := http.MethodPost, "/"+url.PathEscape(groupUID)+"/"+url.PathEscape(collection)
	if connecID != "" {
		method, path = http.MethodPut, path+"/"+url.PathEscape(connecID)
	}
	e := &tenant.CallError{Op: "connec " + method + " " + collection, Tenant: c.cfg.Key}
	if c.baseErr != nil {
		e.Err = c.baseErr
		return nil, e
	}
	body, err := json.Marshal(map[string]any{collection: record})
	if err != nil {
		e.Err = fmt.Errorf("encode record: %w", err)
		return nil, e
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnecTimeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		e.Err = err
		return nil, e
	}
	req.SetBasicAuth(c.cfg.API.ID, string(c.cfg.API.Key))
	req.Header.Set("Content-Type", "application/vnd.api+json")
	req.Header.Set("Accept", "application/vnd.api+json")
	if c.cfg.ExternalIDs() {
		req.Header.Set("CONNEC-EXTERNAL-IDS", "true")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		e.Err = c.cfg.API.Key.Redact(err)
		return nil, e
	}
	defer resp.Body.Close()
	e.Status = resp.StatusCode
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerSize+1))
	switch {
	case err != nil:
		e.Err = fmt.Errorf("read answer: %w", c.cfg.API.Key.Redact(err))
		return nil, e
	case len(raw) > maxAnswerSize:
		e.Err = fmt.Errorf("%w: larger than %d bytes", ErrMalformedAnswer, maxAnswerSize)
		return nil, e
	}
	ids, err := decodeAnswer(resp.StatusCode, raw, collection)
	if err != nil {
		var ae apiErrors
		if errors.As(err, &ae) {
			e.Details = apiDetails(ae)
		} else {
			e.Err = c.cfg.API.Key.Redact(err)
		}
		return nil, e
	}
	return ids, nil
}

type apiErrors []APIError

func (a apiErrors) Error() string { return fmt.Sprintf("%d errors", len(a)) }

// decodeAnswer reads a push answer: on 2xx the record's ids, otherwise the
// `errors` list (apiErrors) or a description of what came back.
func decodeAnswer(status int, raw []byte, collection string) (IDSet, error) {
	if status/100 != 2 {
		var env struct {
			Errors []APIError `json:"errors"`
		}
		if json.Unmarshal(raw, &env) == nil && len(env.Errors) > 0 {
			return nil, apiErrors(env.Errors)
		}
		return nil, errors.New(tenant.Snippet(raw))
	}
	rec, err := Unwrap(raw, collection)
	if err != nil {
		return nil, fmt.Errorf("%w: %v: %s", ErrMalformedAnswer, err, tenant.Snippet(raw))
	}
	var r struct {
		ID json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(rec, &r); err != nil {
		return nil, fmt.Errorf("%w: record: %v", ErrMalformedAnswer, err)
	}
	ids, err := ParseID(r.ID)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedAnswer, err)
	}
	if ids.Connec() == "" {
		return nil, fmt.Errorf("%w: the record has no Connec! id", ErrMalformedAnswer)
	}
	return ids, nil
}

// maxPageSize bounds one page of a pull: 100 records of a few KB each,
// with room to spare (the listener takes notifications of 16 MiB).
const maxPageSize = 16 << 20

// Page is one page of a collection read from Connec!.
type Page struct {
	Records []json.RawMessage
	// Next is the query of the next page ("" on the last page), taken from
	// pagination.next and checked to stay on this client's host and path.
	Next  string
	Total int // pagination.total, 0 when absent
}

// GetPage reads one page of a group's collection: GET
// {base}/{group}/{collection}?{query}, with external ids so that our own
// triplets come back.
func (c *Client) GetPage(ctx context.Context, groupUID, collection, query string) (Page, error) {
	path := "/" + url.PathEscape(groupUID) + "/" + url.PathEscape(collection)
	e := &tenant.CallError{Op: "connec GET " + collection, Tenant: c.cfg.Key}
	raw, status, err := c.do(ctx, http.MethodGet, c.base+path+"?"+query, nil, maxPageSize)
	e.Status = status
	if err != nil {
		e.Err = err
		return Page{}, e
	}
	if status/100 != 2 {
		e.Details, e.Err = answerErrors(raw)
		return Page{}, e
	}
	p, next, err := decodePage(raw, collection)
	if err != nil {
		e.Err = err
		return Page{}, e
	}
	if next != "" {
		if p.Next, err = c.nextQuery(next, path); err != nil {
			e.Err = err
			return Page{}, e
		}
	}
	return p, nil
}

// decodePage reads a list answer {"<collection>": [...], "pagination":
// {..., "next": URL}}; next is pagination.next as given (unchecked).
func decodePage(raw []byte, collection string) (p Page, next string, err error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(raw, &env); err != nil {
		return Page{}, "", fmt.Errorf("%w: %v", ErrMalformedAnswer, err)
	}
	list, ok := env[collection]
	if !ok {
		return Page{}, "", fmt.Errorf("%w: no %q key: %s", ErrMalformedAnswer, collection, tenant.Snippet(raw))
	}
	switch firstByte(list) {
	case '[':
		if err := json.Unmarshal(list, &p.Records); err != nil {
			return Page{}, "", fmt.Errorf("%w: %s: %v", ErrMalformedAnswer, collection, err)
		}
	case '{': // a singleton collection ("company")
		p.Records = []json.RawMessage{list}
	case 'n':
	default:
		return Page{}, "", fmt.Errorf("%w: %s is not a list of records", ErrMalformedAnswer, collection)
	}
	var pg struct {
		Next  string `json:"next"`
		Total int    `json:"total"`
	}
	if rawPg, ok := env["pagination"]; ok && firstByte(rawPg) == '{' {
		if err := json.Unmarshal(rawPg, &pg); err != nil {
			return Page{}, "", fmt.Errorf("%w: pagination: %v", ErrMalformedAnswer, err)
		}
	}
	p.Total = pg.Total
	return p, pg.Next, nil
}

// nextQuery is the query of pagination.next. Like the connector, only the
// query is taken from it: our own base and path are used for the request,
// so a `next` naming another host never receives our credentials.
func (c *Client) nextQuery(next, path string) (string, error) {
	u, err := url.Parse(next)
	if err != nil {
		return "", fmt.Errorf("%w: pagination.next: %v", ErrMalformedAnswer, err)
	}
	base, _ := url.Parse(c.base)
	if u.Host != "" && (u.Host != base.Host || u.Scheme != base.Scheme) {
		return "", fmt.Errorf("%w: pagination.next points to another host (%s)", ErrMalformedAnswer, clip(u.Host))
	}
	if u.Path != "" && !strings.HasSuffix(u.Path, path) {
		return "", fmt.Errorf("%w: pagination.next points to another collection (%s)", ErrMalformedAnswer, clip(u.Path))
	}
	if u.RawQuery == "" {
		return "", fmt.Errorf("%w: pagination.next has no query", ErrMalformedAnswer)
	}
	return u.RawQuery, nil
}

// LinkOp is one link back: our id triplet for a Connec! record.
type LinkOp struct {
	ConnecID string
	Ours     Ref
}

// LinkResult is Connec!'s answer to one LinkOp: its HTTP status (0 when
// the batch itself failed) and error text.
type LinkResult struct {
	Status int
	Err    string
}

// Link sends our id triplets for records of a group's collection in one
// batch call (POST {connec.host}/batch), each op a PUT
// {base}/{group}/{collection}/{connec id} with {collection: {id: [ours]}},
// as maestrano-connector-rails does after creating records from Connec!.
func (c *Client) Link(ctx context.Context, groupUID, collection string, ops []LinkOp) ([]LinkResult, error) {
	e := &tenant.CallError{Op: "connec batch link " + collection, Tenant: c.cfg.Key}
	if c.baseErr != nil {
		e.Err = c.baseErr
		return nil, e
	}
	type op struct {
		Method string         `json:"method"`
		URL    string         `json:"url"`
		Params map[string]any `json:"params"`
	}
	req := struct {
		Sequential bool `json:"sequential"`
		Ops        []op `json:"ops"`
	}{Sequential: false}
	prefix := "/" + strings.Trim(c.cfg.ConnecBasePath(), "/") + "/" + url.PathEscape(groupUID) + "/" + url.PathEscape(collection) + "/"
	for _, o := range ops {
		req.Ops = append(req.Ops, op{Method: "put", URL: prefix + url.PathEscape(o.ConnecID),
			Params: map[string]any{collection: map[string]any{"id": []Ref{o.Ours}}}})
	}
	body, err := json.Marshal(req)
	if err != nil {
		e.Err = err
		return nil, e
	}
	raw, status, err := c.do(ctx, http.MethodPost, c.host+"/batch", body, maxPageSize)
	e.Status = status
	if err != nil {
		e.Err = err
		return nil, e
	}
	if status/100 != 2 {
		e.Details, e.Err = answerErrors(raw)
		return nil, e
	}
	var ans struct {
		Results []struct {
			Status int             `json:"status"`
			Body   json.RawMessage `json:"body"`
		} `json:"results"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil || len(ans.Results) != len(ops) {
		e.Err = fmt.Errorf("%w: batch answer with %d results for %d ops: %s", ErrMalformedAnswer, len(ans.Results), len(ops), tenant.Snippet(raw))
		return nil, e
	}
	out := make([]LinkResult, len(ops))
	for i, r := range ans.Results {
		out[i].Status = r.Status
		if r.Status/100 != 2 {
			out[i].Err = tenant.Snippet(r.Body)
		}
	}
	return out, nil
}

// do sends one request with the tenant's credentials and reads the answer
// (at most limit bytes). status is 0 when no answer came back.
func (c *Client) do(ctx context.Context, method, u string, body []byte, limit int64) ([]byte, int, error) {
	if c.baseErr != nil {
		return nil, 0, c.baseErr
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnecTimeout())
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, 0, err
	}
	req.SetBasicAuth(c.cfg.API.ID, string(c.cfg.API.Key))
	req.Header.Set("Accept", "application/vnd.api+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/vnd.api+json")
	}
	req.Header.Set("CONNEC-EXTERNAL-IDS", "true")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, c.cfg.API.Key.Redact(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	switch {
	case err != nil:
		return nil, resp.StatusCode, fmt.Errorf("read answer: %w", c.cfg.API.Key.Redact(err))
	case int64(len(raw)) > limit:
		return nil, resp.StatusCode, fmt.Errorf("%w: larger than %d bytes", ErrMalformedAnswer, limit)
	}
	return raw, resp.StatusCode, nil
}

// answerErrors reads an error answer: Connec!'s `errors` list, or a snippet.
func answerErrors(raw []byte) ([]string, error) {
	var env struct {
		Errors []APIError `json:"errors"`
	}
	if json.Unmarshal(raw, &env) == nil && len(env.Errors) > 0 {
		return apiDetails(env.Errors), nil
	}
	return nil, errors.New(tenant.Snippet(raw))
}
