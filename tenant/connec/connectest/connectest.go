// Package connectest is a Connec! emulator for tests: an httptest server
// that speaks the wire of maestrano-protocol §5 as maestrano-connector-rails
// reads it (Entity#get_connec_entities, ConnecHelper), so pulls, pushes and
// links run against real HTTP:
//
//   - GET {base}/{group}/{collection}?$top&$skip&$filter answers
//     {"<collection>": [...], "pagination": {skip, top, total, next}}, with
//     `next` an absolute URL present only while more pages exist; $filter
//     understands `updated_at gt '<ISO-8601>'` (and `and`-joined copies);
//   - ids come as [{id, provider, realm}] triplets when the request carries
//     CONNEC-EXTERNAL-IDS: true, as a plain uuid otherwise;
//   - PUT {base}/{group}/{collection}/{id} with {"<collection>": {"id":
//     [triplets]}} records the app's triplets (a link back), and POST
//     {host}/batch runs a list of such ops; other fields of a PUT body
//     are merged into the record (an update), which sets its updated_at;
//   - HTTP Basic api.id:api.key, 401 with Connec!'s errors array otherwise;
//   - failures and latency are injected per request, and so are cut
//     connections: a request served whose answer never comes back
//     (CutAnswer), or one cut before it is served (CutRequest).
//
// A link back leaves updated_at alone: it records an id mapping, not a
// change of the record [INFERRED; the sources do not say].
package connectest

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Ref is an {id, provider, realm} triplet.
type Ref struct {
	ID       string `json:"id"`
	Provider string `json:"provider"`
	Realm    string `json:"realm"`
}

// Record is one stored record: its Connec! uuid, its group and fields
// (everything but id, group_id, channel_id, updated_at, created_at).
type Record struct {
	ConnecID  string
	Group     string
	Fields    map[string]any
	External  []Ref // other apps' triplets, ours once linked
	UpdatedAt time.Time
	CreatedAt time.Time
	// Raw, when set, is served instead of the encoded record (a malformed record).
	Raw json.RawMessage
}

// Request is one request the emulator served, for assertions.
type Request struct {
	Method, Path string
	Query        url.Values
	Status       int
	ExternalIDs  bool
	Body         []byte
}

// Server is the emulator.
type Server struct {
	*httptest.Server
	APIID, APIKey string
	BasePath      string // default /api/v2
	Channel       string // realm of the Connec! triplets, default org-emu

	mu       sync.Mutex
	records  map[string][]*Record // group\x00collection → in creation order
	byID     map[string]*Record   // group\x00collection\x00connec id
	requests []Request
	latency  time.Duration
	failures []failure
	cuts     []cut
	holds    []hold
	links    int // link ops applied
}

type hold struct {
	match   func(r *http.Request) bool
	arrived chan struct{} // closed when the held request arrives
	release chan struct{} // closed to let it go on
}

// cut closes the connection of matching requests instead of answering,
// times times; serve says whether the request is served first.
type cut struct {
	match func(r *http.Request) bool
	serve bool
	times int
}

type failure struct {
	match  func(r *http.Request) bool
	status int
	times  int
}

// New starts an emulator with the given credentials.
func New(apiID, apiKey string) *Server {
	s := &Server{APIID: apiID, APIKey: apiKey, BasePath: "/api/v2", Channel: "org-emu", records: map[string][]*Record{}, byID: map[string]*Record{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// SetLatency delays every answer by d.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	s.latency = d
	s.mu.Unlock()
}

// FailPage answers the GET of the page at $skip of a collection with
// status, times times (then serves it normally).
func (s *Server) FailPage(collection string, skip, status, times int) {
	s.Fail(func(r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/"+collection) {
			return false
		}
		got := r.URL.Query().Get("$skip")
		return got == strconv.Itoa(skip) || (skip == 0 && got == "")
	}, status, times)
}

// Fail answers requests that match with status, times times.
func (s *Server) Fail(match func(*http.Request) bool, status, times int) {
	s.mu.Lock()
	s.failures = append(s.failures, failure{match: match, status: status, times: times})
	s.mu.Unlock()
}

// CutAnswer serves requests that match, times times, but closes the
// connection instead of answering: the work is done (a POST creates its
// record) and the answer is lost, as when the network breaks or the
// caller dies. The request is listed with Status 0.
func (s *Server) CutAnswer(match func(*http.Request) bool, times int) {
	s.mu.Lock()
	s.cuts = append(s.cuts, cut{match: match, serve: true, times: times})
	s.mu.Unlock()
}

// CutRequest closes the connection of requests that match, times times,
// before they are served: nothing is done. The request is listed with
// Status 0.
func (s *Server) CutRequest(match func(*http.Request) bool, times int) {
	s.mu.Lock()
	s.cuts = append(s.cuts, cut{match: match, times: times})
	s.mu.Unlock()
}

// cutOf takes one use of the first cut that r matches, if any.
func (s *Server) cutOf(r *http.Request) *cut {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.cuts {
		if c := &s.cuts[i]; c.times > 0 && c.match(r) {
			c.times--
			taken := *c
			return &taken
		}
	}
	return nil
}

// Hold keeps the first request that matches waiting, before it is
// answered, until release is called (or 10 s pass); arrived is closed when
// it comes. Later requests that match are answered at once.
func (s *Server) Hold(match func(*http.Request) bool) (arrived <-chan struct{}, release func()) {
	h := hold{match: match, arrived: make(chan struct{}), release: make(chan struct{})}
	s.mu.Lock()
	s.holds = append(s.holds, h)
	s.mu.Unlock()
	var once sync.Once
	return h.arrived, func() { once.Do(func() { close(h.release) }) }
}

// held takes the first hold that r matches, if any.
func (s *Server) held(r *http.Request) *hold {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, h := range s.holds {
		if h.match(r) {
			s.holds = append(s.holds[:i], s.holds[i+1:]...)
			return &h
		}
	}
	return nil
}

// Add stores records of a group's collection; a zero UpdatedAt/CreatedAt is
// set to at.
func (s *Server) Add(group, collection string, recs ...*Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := group + "\x00" + collection
	for _, r := range recs {
		r.Group = group
		if r.Fields == nil {
			r.Fields = map[string]any{}
		}
		s.records[k] = append(s.records[k], r)
		s.byID[k+"\x00"+r.ConnecID] = r
	}
}

// Update changes a record's fields and sets its updated_at.
func (s *Server) Update(group, collection, connecID string, at time.Time, fields map[string]any) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.records[group+"\x00"+collection] {
		if r.ConnecID == connecID {
			for k, v := range fields {
				r.Fields[k] = v
			}
			r.UpdatedAt = at
			return true
		}
	}
	return false
}

// Records returns copies of a group's collection.
func (s *Server) Records(group, collection string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	for _, r := range s.records[group+"\x00"+collection] {
		c := *r
		c.External = append([]Ref(nil), r.External...)
		out = append(out, c)
	}
	return out
}

// Requests returns the requests served so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// LinkOps is how many link-back ops (PUTs, alone or in batches) were applied.
func (s *Server) LinkOps() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.links
}

// ResetRequests forgets the requests served so far.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	s.requests, s.links = nil, 0
	s.mu.Unlock()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	s.mu.Lock()
	lat := s.latency
	s.mu.Unlock()
	if lat > 0 {
		time.Sleep(lat)
	}
	if h := s.held(r); h != nil {
		close(h.arrived)
		select {
		case <-h.release:
		case <-time.After(10 * time.Second):
		}
	}
	var status int
	if c := s.cutOf(r); c != nil {
		if c.serve {
			s.answer(httptest.NewRecorder(), r, body)
		}
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	} else {
		status = s.answer(w, r, body)
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Status: status,
		ExternalIDs: r.Header.Get("CONNEC-EXTERNAL-IDS") == "true", Body: body})
	s.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	w.Header().Set("Content-Type", "application/vnd.api+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return status
}

func apiError(w http.ResponseWriter, status int, title string) int {
	return writeJSON(w, status, map[string]any{"errors": []map[string]any{{
		"id": "emu", "href": "https://maestrano.github.io/connec/", "status": strconv.Itoa(status), "code": strconv.Itoa(status), "title": title, "detail": title,
	}}})
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, body []byte) int {
	id, key, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(id), []byte(s.APIID)) != 1 || subtle.ConstantTimeCompare([]byte(key), []byte(s.APIKey)) != 1 {
		return apiError(w, http.StatusUnauthorized, "Unauthorized Access")
	}
	s.mu.Lock()
	for i := range s.failures {
		f := &s.failures[i]
		if f.times > 0 && f.match(r) {
			f.times--
			s.mu.Unlock()
			return apiError(w, f.status, "Injected failure")
		}
	}
	s.mu.Unlock()
	ext := r.Header.Get("CONNEC-EXTERNAL-IDS") == "true"
	if r.Method == http.MethodPost && r.URL.Path == "/batch" {
		return s.batch(w, body, ext)
	}
	rest, ok := strings.CutPrefix(r.URL.Path, s.BasePath+"/")
	if !ok {
		return apiError(w, http.StatusNotFound, "Resource not found")
	}
	parts := strings.Split(rest, "/")
	switch {
	case r.Method == http.MethodGet && len(parts) == 2:
		return s.list(w, r, parts[0], parts[1], ext)
	case r.Method == http.MethodPost && len(parts) == 2:
		st, out := s.create(parts[0], parts[1], body, ext)
		return writeJSON(w, st, out)
	case r.Method == http.MethodPut && len(parts) == 3:
		st, out := s.put(parts[0], parts[1], parts[2], body, ext)
		return writeJSON(w, st, out)
	}
	return apiError(w, http.StatusNotFound, "Resource not found")
}

var filterClause = regexp.MustCompile(`^\s*updated_at\s+gt\s+'([^']+)'\s*$`)

func (s *Server) list(w http.ResponseWriter, r *http.Request, group, collection string, ext bool) int {
	q := r.URL.Query()
	top, skip := 100, 0
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return apiError(w, http.StatusBadRequest, "Invalid $top")
		}
		top = n
	}
	if v := q.Get("$skip"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return apiError(w, http.StatusBadRequest, "Invalid $skip")
		}
		skip = n
	}
	var after time.Time
	if f := q.Get("$filter"); f != "" {
		for _, clause := range strings.Split(f, " and ") {
			m := filterClause.FindStringSubmatch(clause)
			if m == nil {
				return apiError(w, http.StatusBadRequest, "Unsupported $filter "+clause)
			}
			t, err := time.Parse(time.RFC3339, m[1])
			if err != nil {
				return apiError(w, http.StatusBadRequest, "Invalid date in $filter")
			}
			if t.After(after) {
				after = t
			}
		}
	}
	s.mu.Lock()
	var match []*Record
	for _, rec := range s.records[group+"\x00"+collection] {
		if after.IsZero() || rec.UpdatedAt.After(after) {
			match = append(match, rec)
		}
	}
	out := make([]json.RawMessage, 0, top)
	for i := skip; i < len(match) && i < skip+top; i++ {
		out = append(out, s.encode(match[i], collection, ext))
	}
	s.mu.Unlock()
	pg := map[string]any{"skip": skip, "top": top, "total": len(match)}
	if skip+top < len(match) {
		nq := url.Values{}
		nq.Set("$skip", strconv.Itoa(skip+top))
		nq.Set("$top", strconv.Itoa(top))
		if f := q.Get("$filter"); f != "" {
			nq.Set("$filter", f)
		}
		pg["next"] = s.URL + r.URL.Path + "?" + nq.Encode()
	}
	return writeJSON(w, http.StatusOK, map[string]any{collection: out, "pagination": pg})
}

// encode writes a record as Connec! serves it; s.mu is held.
func (s *Server) encode(rec *Record, collection string, ext bool) json.RawMessage {
	if rec.Raw != nil {
		return rec.Raw
	}
	m := make(map[string]any, len(rec.Fields)+6)
	for k, v := range rec.Fields {
		m[k] = v
	}
	if ext {
		ids := []Ref{{ID: rec.ConnecID, Provider: "connec", Realm: s.Channel}}
		m["id"] = append(ids, rec.External...)
	} else {
		m["id"] = rec.ConnecID
	}
	m["group_id"], m["channel_id"], m["resource_type"] = rec.Group, s.Channel, collection
	m["updated_at"] = rec.UpdatedAt.UTC().Format(time.RFC3339)
	m["created_at"] = rec.CreatedAt.UTC().Format(time.RFC3339)
	b, _ := json.Marshal(m)
	return b
}

// create stores the record of a POST body (an app pushing a record of its
// own: its fields, and its id triplets as external ids) under a new
// Connec! id; it answers status and the record as stored.
func (s *Server) create(group, collection string, body []byte, ext bool) (int, any) {
	var env map[string]map[string]any
	if err := json.Unmarshal(body, &env); err != nil {
		return http.StatusBadRequest, map[string]any{"errors": []map[string]any{{"status": "400", "title": "Invalid JSON"}}}
	}
	fields, ok := env[collection]
	if !ok {
		return http.StatusBadRequest, map[string]any{"errors": []map[string]any{{"status": "400", "title": "Unknown Resource"}}}
	}
	var refs []Ref
	if raw, ok := fields["id"]; ok {
		b, _ := json.Marshal(raw)
		if err := json.Unmarshal(b, &refs); err != nil {
			return http.StatusBadRequest, map[string]any{"errors": []map[string]any{{"status": "400", "title": "id must be an array of triplets"}}}
		}
		delete(fields, "id")
	}
	now := time.Now().UTC().Truncate(time.Second)
	s.mu.Lock()
	defer s.mu.Unlock()
	k := group + "\x00" + collection
	rec := &Record{ConnecID: fmt.Sprintf("c0ffee00-0000-0000-0000-%012d", len(s.byID)+1), Group: group,
		Fields: fields, External: refs, UpdatedAt: now, CreatedAt: now}
	s.records[k] = append(s.records[k], rec)
	s.byID[k+"\x00"+rec.ConnecID] = rec
	return http.StatusCreated, map[string]any{collection: s.encode(rec, collection, ext)}
}

// put records the triplets of a PUT body and merges its other fields
// (opts aside); it answers status and the record.
func (s *Server) put(group, collection, id string, body []byte, ext bool) (int, any) {
	var env map[string]map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return http.StatusBadRequest, map[string]any{"errors": []map[string]any{{"status": "400", "title": "Invalid JSON"}}}
	}
	obj, ok := env[collection]
	if !ok {
		return http.StatusBadRequest, map[string]any{"errors": []map[string]any{{"status": "400", "title": "Unknown Resource"}}}
	}
	var refs []Ref
	if raw := obj["id"]; len(raw) > 0 {
		if err := json.Unmarshal(raw, &refs); err != nil {
			return http.StatusBadRequest, map[string]any{"errors": []map[string]any{{"status": "400", "title": "id must be an array of triplets"}}}
		}
	}
	fields := map[string]any{}
	for k, raw := range obj {
		if k == "id" || k == "opts" {
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return http.StatusBadRequest, map[string]any{"errors": []map[string]any{{"status": "400", "title": "Invalid field " + k}}}
		}
		fields[k] = v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec := s.byID[group+"\x00"+collection+"\x00"+id]; rec != nil {
		if len(fields) > 0 {
			for k, v := range fields {
				rec.Fields[k] = v
			}
			rec.UpdatedAt = time.Now().UTC().Truncate(time.Second)
		}
		for _, ref := range refs {
			if ref.Provider == "connec" {
				continue
			}
			replaced := false
			for i, have := range rec.External {
				if have.Provider == ref.Provider && have.Realm == ref.Realm {
					rec.External[i], replaced = ref, true
				}
			}
			if !replaced {
				rec.External = append(rec.External, ref)
			}
		}
		s.links++
		return http.StatusOK, map[string]any{collection: s.encode(rec, collection, ext)}
	}
	return http.StatusNotFound, map[string]any{"errors": []map[string]any{{"status": "404", "title": "Resource not found"}}}
}

func (s *Server) batch(w http.ResponseWriter, body []byte, ext bool) int {
	var req struct {
		Ops []struct {
			Method string          `json:"method"`
			URL    string          `json:"url"`
			Params json.RawMessage `json:"params"`
		} `json:"ops"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return apiError(w, http.StatusBadRequest, "Invalid JSON")
	}
	results := make([]map[string]any, 0, len(req.Ops))
	for _, op := range req.Ops {
		rest, ok := strings.CutPrefix(op.URL, s.BasePath+"/")
		parts := strings.Split(rest, "/")
		if !ok || strings.ToLower(op.Method) != "put" || len(parts) != 3 {
			results = append(results, map[string]any{"status": 400, "body": map[string]any{"errors": []map[string]any{{"status": "400", "title": "Unsupported op " + op.Method + " " + op.URL}}}})
			continue
		}
		st, out := s.put(parts[0], parts[1], parts[2], op.Params, ext)
		results = append(results, map[string]any{"status": st, "body": out})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// Invoice builds an invoice record with n as its number and total.
func Invoice(connecID string, n int, updated time.Time) *Record {
	return &Record{
		ConnecID: connecID,
		Fields: map[string]any{
			"transaction_number": fmt.Sprintf("INV-%05d", n),
			"title":              fmt.Sprintf("Invoice %d", n),
			"type":               "CUSTOMER",
			"status":             "AUTHORISED",
			"currency":           "AUD",
			"transaction_date":   updated.UTC().Format(time.RFC3339),
			"amount":             map[string]any{"net_amount": fmt.Sprintf("%d.00", n), "tax_amount": "0.00", "total_amount": fmt.Sprintf("%d.00", n), "currency": "AUD"},
			"lines": []any{map[string]any{
				"line_number": 1, "description": "Service", "quantity": 1,
				"unit_price":  map[string]any{"net_amount": fmt.Sprintf("%d.00", n), "currency": "AUD"},
				"total_price": map[string]any{"net_amount": fmt.Sprintf("%d.00", n), "currency": "AUD"},
			}},
		},
		UpdatedAt: updated,
		CreatedAt: updated,
	}
}

// ConnecIDs lists the uuids of a group's collection, sorted.
func (s *Server) ConnecIDs(group, collection string) []string {
	var ids []string
	for _, r := range s.Records(group, collection) {
		ids = append(ids, r.ConnecID)
	}
	sort.Strings(ids)
	return ids
}

// Unlink forgets every app triplet (links back) of every record.
func (s *Server) Unlink() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, recs := range s.records {
		for _, r := range recs {
			r.External = nil
		}
	}
}
