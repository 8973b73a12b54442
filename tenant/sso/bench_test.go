package sso

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/russellhaering/gosaml2/types"
	"go.etcd.io/bbolt"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/sso/hubtest"
)

// SPEC §11: the whole consume handler within 1.3× of bare gosaml2
// RetrieveAssertionInfo on the same kind of response. Both benchmarks live
// here so that one `go test -bench Consume|Bare` run measures them side by
// side. Responses (RSA signing by the IdP) and pending AuthnRequests are
// made in batches with the timer stopped.

const benchBatch = 200

// benchLogin is a response and the AuthnRequest it answers.
type benchLogin struct{ id, response string }

// benchNonce is the login cookie of every benchmark request: the browser
// that started them all.
const benchNonce = "bench-browser"

// request is the consume POST of the browser that started the login.
func (l benchLogin) request(target string) *http.Request {
	body := url.Values{"SAMLResponse": {l.response}}.Encode()
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(&http.Cookie{Name: loginCookieName(l.id), Value: benchNonce})
	return r
}

// benchResponses issues n fresh responses, each answering its own pending
// AuthnRequest of acme.
func benchResponses(b *testing.B, h *harness, n int) []benchLogin {
	now := time.Now()
	out := make([]benchLogin, n)
	reqs := make([]store.AuthnRequest, n)
	for i := range out {
		id := "_bench-" + randomID(b)
		reqs[i] = store.AuthnRequest{Tenant: "acme", ID: id, Browser: browserDigest(benchNonce), CreatedAt: now, ExpiresAt: now.Add(RequestTTL)}
		out[i] = benchLogin{id: id, response: h.response("acme", id, now, attrs())}
	}
	err := h.db.Update(func(tx *store.Tx) error {
		for _, r := range reqs {
			if err := tx.PutAuthnRequest(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return out
}

func randomID(b *testing.B) string {
	id, err := newSessionID()
	if err != nil {
		b.Fatal(err)
	}
	return id[:32]
}

func BenchmarkConsumeHandler(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts store.Options
	}{{"durable", store.Options{}}, {"nosync", store.Options{NoSync: true}}} {
		b.Run(bc.name, func(b *testing.B) {
			h := newHarnessWith(b, bc.opts)
			cfg := h.tenant("acme")
			target := tenant.RouteSAMLConsume.URL(h.srv.URL, "acme")
			var batch []benchLogin
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if len(batch) == 0 {
					b.StopTimer()
					batch = benchResponses(b, h, min(benchBatch, b.N-i))
					b.StartTimer()
				}
				r := batch[0].request(target)
				batch = batch[1:]
				w := httptest.NewRecorder()
				h.svc.Consume(w, r, cfg)
				if w.Code != http.StatusFound {
					b.Fatalf("consume: %d %s", w.Code, w.Body)
				}
			}
		})
	}
}

func BenchmarkBareRetrieveAssertionInfo(b *testing.B) {
	h := newHarnessWith(b, store.Options{NoSync: true})
	sp, err := h.svc.serviceProvider(h.tenant("acme"))
	if err != nil {
		b.Fatal(err)
	}
	// Bare gosaml2 knows one audience (the first we accept): the IdP names it.
	h.idp.Audience = sp.AudienceURI
	var batch []benchLogin
	var sink []types.Assertion
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(batch) == 0 {
			b.StopTimer()
			batch = benchResponses(b, h, min(benchBatch, b.N-i))
			b.StartTimer()
		}
		info, err := sp.RetrieveAssertionInfo(batch[0].response)
		batch = batch[1:]
		if err != nil || info.WarningInfo.NotInAudience {
			b.Fatalf("RetrieveAssertionInfo: %v", err)
		}
		sink = info.Assertions
	}
	_ = sink
}

// BenchmarkConsumeVsBare interleaves three things on alternate fresh
// responses, so that a noisy machine slows them alike: bare gosaml2
// RetrieveAssertionInfo, a bare bbolt commit of the writes one login makes
// (loginCommit), and the whole consume handler. It reports handler/bare
// and (handler-commit)/bare. The durable handler must put the login on
// disk before its redirect: one commit, two fdatasyncs, which on this
// project's 2-core machine alone cost 0.2-0.5 × bare. SPEC §11 asks
// handler/bare ≤ 1.3; the honest floor of a durable login is bare plus
// that one commit, so both ratios are reported, and (handler-commit)/bare
// ≤ 1.3 is the reading proposed for the target (SPEC is not changed here).
func BenchmarkConsumeVsBare(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts store.Options
	}{{"durable", store.Options{}}, {"nosync", store.Options{NoSync: true}}} {
		b.Run(bc.name, func(b *testing.B) {
			h := newHarnessWith(b, bc.opts)
			cfg := h.tenant("acme")
			sp, err := h.svc.serviceProvider(cfg)
			if err != nil {
				b.Fatal(err)
			}
			h.idp.Audience = sp.AudienceURI // what bare gosaml2 checks
			target := tenant.RouteSAMLConsume.URL(h.srv.URL, "acme")
			commit := newLoginCommit(b, h, bc.opts, target)
			var bare, raw, handler time.Duration
			var batch []benchLogin
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if len(batch) < 2 {
					b.StopTimer()
					batch = benchResponses(b, h, 2*min(benchBatch, b.N-i))
					b.StartTimer()
				}
				start := time.Now()
				if _, err := sp.RetrieveAssertionInfo(batch[0].response); err != nil {
					b.Fatal(err)
				}
				bare += time.Since(start)

				raw += commit.run(b)

				r := batch[1].request(target)
				batch = batch[2:]
				w := httptest.NewRecorder()
				start = time.Now()
				h.svc.Consume(w, r, cfg)
				handler += time.Since(start)
				if w.Code != http.StatusFound {
					b.Fatalf("consume: %d %s", w.Code, w.Body)
				}
			}
			b.ReportMetric(float64(bare.Nanoseconds())/float64(b.N), "bare-ns/op")
			b.ReportMetric(float64(raw.Nanoseconds())/float64(b.N), "commit-ns/op")
			b.ReportMetric(float64(handler.Nanoseconds())/float64(b.N), "handler-ns/op")
			b.ReportMetric(float64(handler)/float64(bare), "handler/bare")
			b.ReportMetric(float64(handler-raw)/float64(bare), "(handler-commit)/bare")
		})
	}
}

// loginCommit is the floor of a login's transaction: a bare bbolt commit,
// on a copy of the harness's file opened as the store opens it, of the
// very keys and values one consume writes (found by comparing the file
// before and after a consume: a repeat login puts its assertion, group,
// user, membership, session, event and event count, and deletes its
// AuthnRequest). Each run dirties the pages the login dirties: puts
// rewrite the same keys, and a deleted key is put back and deleted in
// turn.
type loginCommit struct {
	db     *bbolt.DB
	writes []rawWrite
	round  int
}

type rawWrite struct {
	bucket, key, value []byte
	del                bool
}

func newLoginCommit(b *testing.B, h *harness, opts store.Options, target string) *loginCommit {
	dir := b.TempDir()
	before, after := filepath.Join(dir, "before.db"), filepath.Join(dir, "after.db")
	logins := benchResponses(b, h, 2)
	consume := func(l benchLogin) {
		w := httptest.NewRecorder()
		h.svc.Consume(w, l.request(target), h.tenant("acme"))
		if w.Code != http.StatusFound {
			b.Fatalf("consume: %d %s", w.Code, w.Body)
		}
	}
	consume(logins[0]) // the first login creates the user; the measured ones are repeats
	if err := h.db.Backup(before); err != nil {
		b.Fatal(err)
	}
	consume(logins[1])
	if err := h.db.Backup(after); err != nil {
		b.Fatal(err)
	}
	was, is := fileRecords(b, before), fileRecords(b, after)
	c := &loginCommit{}
	for k, v := range is {
		if old, ok := was[k]; !ok || old != v {
			c.writes = append(c.writes, rawWrite{bucket: []byte(k.bucket), key: []byte(k.key), value: []byte(v)})
		}
	}
	for k, v := range was {
		if _, ok := is[k]; !ok {
			c.writes = append(c.writes, rawWrite{bucket: []byte(k.bucket), key: []byte(k.key), value: []byte(v), del: true})
		}
	}
	if len(c.writes) == 0 {
		b.Fatal("a consume wrote nothing")
	}
	db, err := bbolt.Open(before, 0o600, &bbolt.Options{
		Timeout:         time.Second,
		FreelistType:    bbolt.FreelistMapType, // as store.Open
		NoSync:          opts.NoSync,
		NoFreelistSync:  opts.NoSync,
		InitialMmapSize: 1 << 30,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	c.db = db
	return c
}

// run commits the login's writes once and says how long it took.
func (c *loginCommit) run(b *testing.B) time.Duration {
	c.round++
	start := time.Now()
	err := c.db.Update(func(tx *bbolt.Tx) error {
		for _, w := range c.writes {
			bk := tx.Bucket(w.bucket)
			if w.del && c.round%2 == 1 {
				if err := bk.Delete(w.key); err != nil {
					return err
				}
			} else if err := bk.Put(w.key, w.value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

type recordKey struct{ bucket, key string }

// fileRecords reads every record of a closed data file (the store's buckets
// are all top-level).
func fileRecords(b *testing.B, path string) map[recordKey]string {
	db, err := bbolt.Open(path, 0o400, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	out := map[recordKey]string{}
	err = db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bbolt.Bucket) error {
			return bk.ForEach(func(k, v []byte) error {
				if v == nil {
					return fmt.Errorf("nested bucket %q in %q", k, name)
				}
				out[recordKey{string(name), string(k)}] = string(v)
				return nil
			})
		})
	})
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkSessionCheck times one use of the session route with a due
// session check (a round trip to the hub emulator on loopback plus storing
// the new recheck time) against the same route with no check due, in the
// same run. hub-calls/op shows that the first makes one call per use and
// the second none.
func BenchmarkSessionCheck(b *testing.B) {
	for _, due := range []bool{false, true} {
		name := "no-check-due"
		if due {
			name = "check-due"
		}
		b.Run(name, func(b *testing.B) {
			h := newHarness(b)
			hub := hubtest.New(h.idp.Signer)
			b.Cleanup(hub.Close)
			hub.AddApp("app-hub", "secret-hub")
			hub.AddGroup(hubtest.Group{UID: "cld-9", Name: "Hub Co", AppID: "app-hub"})
			hub.AddUser(hubtest.User{UID: "usr-9", Groups: map[string]string{"cld-9": "Admin"}})
			hub.SignIn("usr-9")
			h.addTenant("hub", func(c *tenant.Config) {
				c.API = tenant.API{ID: "app-hub", Key: "secret-hub", Host: hub.URL()}
				c.SSO = tenant.SSO{IdP: hub.URL(), X509Certificate: hub.CertPEM()}
			})
			if due {
				hub.Recheck = -time.Minute // every use finds its recheck passed
			}
			resp, err := h.browser().SignIn(tenant.RouteSAMLInit.URL(h.srv.URL, "hub"))
			if err != nil || resp.StatusCode != http.StatusFound {
				b.Fatalf("login: %v %v", resp, err)
			}
			resp.Body.Close()
			sessURL := tenant.RouteSession.URL(h.srv.URL, "hub")
			before, _ := hub.SessionChecks()
			b.ResetTimer()
			for b.Loop() {
				resp, err := h.client.Get(sessURL)
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatalf("session: %v %v", resp, err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			after, _ := hub.SessionChecks()
			b.ReportMetric(float64(after-before)/float64(b.N), "hub-calls/op")
		})
	}
}

// BenchmarkRefusedConsume: a flood of signed responses that answer no
// pending request of this browser (the attacker's own logins, replayed at
// the consume URL). Each is verified in full and refused; commits/1k-req
// shows what the refusals cost in fsyncs (the audit log counts them per
// minute instead of writing each).
func BenchmarkRefusedConsume(b *testing.B) {
	h := newHarnessWith(b, store.Options{})
	cfg := h.tenant("acme")
	target := tenant.RouteSAMLConsume.URL(h.srv.URL, "acme")
	var batch []benchLogin
	var commits int64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(batch) == 0 {
			b.StopTimer()
			batch = benchResponses(b, h, min(benchBatch, b.N-i))
			b.StartTimer()
		}
		before := h.db.Commits()
		r := batch[0].request(target)
		r.Header.Del("Cookie") // not the browser that started it
		batch = batch[1:]
		w := httptest.NewRecorder()
		h.svc.Consume(w, r, cfg)
		if w.Code != http.StatusForbidden {
			b.Fatalf("consume: %d %s", w.Code, w.Body)
		}
		commits += h.db.Commits() - before
	}
	b.StopTimer()
	b.ReportMetric(float64(commits)*1000/float64(b.N), "commits/1k-req")
}

// BenchmarkHostileVsValid posts issue 9's hostile documents to the consume
// handler, each interleaved with a valid consume in the same loop, and
// reports hostile/valid (SPEC §11 target: ≤ 20) and the slowest hostile
// request (never more than 1 s). Each kind comes at 1 MiB (refused 413
// while reading, at the body limit) and as the largest document within the
// body limit: '<' run, nesting and namespaces are refused by the pre-scan;
// "text" passes it and is refused by gosaml2 (no signature), the worst a
// document that gets past the pre-scan can cost.
func BenchmarkHostileVsValid(b *testing.B) {
	for _, kind := range []string{"lt", "nested", "namespaces", "text"} {
		for _, size := range []string{"1MiB", "limit"} {
			b.Run(kind+"/"+size, func(b *testing.B) {
				doc := hostileDoc(kind, 1<<20)
				want := http.StatusRequestEntityTooLarge
				if size == "limit" {
					doc = atBodyLimit(kind)
					want = http.StatusBadRequest
					if kind == "text" {
						want = http.StatusForbidden
					}
				}
				hostile := url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(doc)}}.Encode()
				h := newHarnessWith(b, store.Options{NoSync: true})
				cfg := h.tenant("acme")
				target := tenant.RouteSAMLConsume.URL(h.srv.URL, "acme")
				post := func(r *http.Request) (int, time.Duration) {
					w := httptest.NewRecorder()
					start := time.Now()
					h.svc.Consume(w, r, cfg)
					return w.Code, time.Since(start)
				}
				hostileRequest := func() *http.Request {
					r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(hostile))
					r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					return r
				}
				var valid, bad, worst time.Duration
				var batch []benchLogin
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if len(batch) == 0 {
						b.StopTimer()
						batch = benchResponses(b, h, min(benchBatch, b.N-i))
						b.StartTimer()
					}
					code, d := post(batch[0].request(target))
					batch = batch[1:]
					if code != http.StatusFound {
						b.Fatalf("valid consume: %d", code)
					}
					valid += d
					code, d = post(hostileRequest())
					if code != want {
						b.Fatalf("%s document of %d bytes: %d, want %d", kind, len(doc), code, want)
					}
					bad += d
					worst = max(worst, d)
				}
				b.ReportMetric(float64(len(doc)), "doc-bytes")
				b.ReportMetric(float64(valid.Nanoseconds())/float64(b.N), "valid-ns/op")
				b.ReportMetric(float64(bad.Nanoseconds())/float64(b.N), "hostile-ns/op")
				b.ReportMetric(float64(worst.Nanoseconds()), "worst-hostile-ns")
				b.ReportMetric(float64(bad)/float64(valid), "hostile/valid")
			})
		}
	}
}
