package sso

// Session check (single logout), as Maestrano's SDKs do it (maestrano-ruby
// lib/maestrano/sso/session.rb, maestrano-java sso/Session.java): once the
// session's mno_session_recheck has passed, the next use of the session
// asks the hub GET {api.host}{api.base}auth/saml/{uid}?session={mno_session}
// and gets {"valid":bool,"recheck":ISO-8601}. Valid with a recheck time:
// the session goes on until then. Anything else (invalid, an error, no
// answer within SessionCheckTimeout): the session ends.
//
// At most one check per session is in flight: concurrent uses of the same
// session wait for the one check and share its outcome, and a use that
// arrives after a check finished sees the recheck time it stored. The call
// is made outside any store transaction; its outcome is written afterwards
// in a short one.
//
// Across replicas (SPEC §14) the check is claimed in the session record
// itself before the hub is called: a short write of CheckBy/CheckUntil,
// which one replica wins (etcd's optimistic commit: the others' reads of
// the record have changed, they run again and find it claimed). The
// others do not call the hub: they watch the session for the outcome,
// and fail closed (the use is refused) when it does not arrive within the
// claim's time. A claim whose replica died runs out, and the next use
// claims the check anew.
//
// The SDKs send no credentials with the check (the sandbox asks none);
// we send api.id:api.key as HTTP Basic, which a hub that asks for them
// needs and one that does not ignores. The call goes to api.host, the host
// that already receives these credentials for the account API.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

// SessionCheckTimeout is how long the hub has to answer a session check.
const SessionCheckTimeout = 5 * time.Second

// maxSessionCheckBody bounds the hub's answer.
const maxSessionCheckBody = 64 << 10

// checkClaimMargin is how long a replica's claim of a check outlives the
// hub's timeout: time to write the outcome.
const checkClaimMargin = 2 * time.Second

// checkPoll is how often a replica waiting for another's check reads the
// session.
const checkPoll = 50 * time.Millisecond

// checkDue reports whether a session must be checked with the hub: it
// carries a Maestrano session token and its recheck time has passed (no
// recheck time counts as passed, as in the SDKs). A session from an IdP
// that sends no mno_session (a standard SAML IdP) has nothing to check.
func checkDue(sess store.Session, now time.Time) bool {
	return sess.MnoSession != "" && !now.Before(sess.MnoRecheck)
}

// checks is the per-session single flight of session checks.
type checks struct {
	mu       sync.Mutex
	inflight map[string]*checkFlight
	// timeout and client are the hub call's limits (tests shorten them).
	timeout time.Duration
	client  *http.Client
}

type checkFlight struct {
	done  chan struct{}
	valid bool
}

// checkSession runs (or joins) the session check of live's session and
// reports whether the session is still valid.
func (s *Service) checkSession(ctx context.Context, cfg *tenant.Config, live liveSession) bool {
	id := live.sess.ID
	s.checks.mu.Lock()
	if f, ok := s.checks.inflight[id]; ok {
		s.checks.mu.Unlock()
		select {
		case <-f.done:
			return f.valid
		case <-ctx.Done():
			return false
		}
	}
	f := &checkFlight{done: make(chan struct{})}
	if s.checks.inflight == nil {
		s.checks.inflight = map[string]*checkFlight{}
	}
	s.checks.inflight[id] = f
	s.checks.mu.Unlock()

	// The outcome is stored before the flight ends, so a use that read
	// the session before it and arrives after it finds no check due.
	f.valid = s.runCheck(cfg, live)
	s.checks.mu.Lock()
	delete(s.checks.inflight, id)
	s.checks.mu.Unlock()
	close(f.done)
	return f.valid
}

// runCheck is the leader's part in this process: look again (a check
// that just finished may have settled it), claim the check across
// replicas (or wait for the replica that has), ask the hub, store the
// outcome.
func (s *Service) runCheck(cfg *tenant.Config, live liveSession) bool {
	key := string(cfg.Key)
	now := s.now()
	cur, err := s.readSession(live.sess.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false // ended meanwhile
	case err != nil:
		s.log.Error("session check: read session", "tenant", key, "err", err)
		return false
	case !checkDue(cur, now):
		return true // another check already renewed it
	}
	claim, mine, err := s.claimCheck(cur, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false
	case err != nil:
		s.log.Error("session check: claim", "tenant", key, "err", err)
		return false
	case !mine && !checkDue(claim, now):
		return true
	case !mine:
		return s.awaitCheck(cfg, live, claim)
	}

	start := time.Now()
	recheck, err := s.askHub(cfg, live.realUID, cur.MnoSession, now)
	took := time.Since(start)
	if err == nil {
		err = s.db.Update(func(tx *store.Tx) error {
			sess, err := tx.Session(cur.ID)
			if err != nil {
				return err
			}
			sess.MnoRecheck = recheck
			sess.CheckBy, sess.CheckUntil = "", time.Time{}
			return tx.PutSession(sess)
		})
		if err == nil {
			s.log.Info("session check", "tenant", key, "user", live.realUID, "outcome", "valid",
				"recheck", recheck.Format(time.RFC3339), "duration", took)
			return true
		}
		if errors.Is(err, store.ErrNotFound) {
			return false
		}
		s.log.Error("session check: store recheck", "tenant", key, "err", err)
		return false
	}

	s.log.Info("session check", "tenant", key, "user", live.realUID, "outcome", "ended", "reason", err, "duration", took)
	if werr := s.db.Update(func(tx *store.Tx) error {
		if err := tx.DeleteSession(cur.ID); err != nil {
			return err
		}
		_, err := tx.AppendEvent(store.Event{At: now, Tenant: key, Kind: store.EventLogin, Outcome: "ended",
			Reason: "session_check", Message: fmt.Sprintf("session of %s ended: %v", live.realUID, err)})
		return err
	}); werr != nil {
		s.log.Error("session check: end session", "tenant", key, "err", werr)
	}
	return false
}

func (s *Service) readSession(id string) (store.Session, error) {
	var sess store.Session
	err := s.db.View(func(tx *store.Tx) (err error) {
		sess, err = tx.Session(id)
		return err
	})
	return sess, err
}

// claimCheck claims the due check of session cur for this process, unless
// a live claim of another replica holds it (or a check settled it
// meanwhile). It returns the session as it found or left it, and whether
// the claim is this process's. On a bbolt file this process is the only
// one, and its single flight (checkSession) already makes the check one:
// nothing to write.
func (s *Service) claimCheck(cur store.Session, now time.Time) (store.Session, bool, error) {
	if !s.db.Etcd() {
		return cur, true, nil
	}
	token := rand.Text()
	var sess store.Session
	var mine bool
	err := s.db.Update(func(tx *store.Tx) (err error) {
		if sess, err = tx.Session(cur.ID); err != nil {
			return err
		}
		mine = false
		if !checkDue(sess, now) || (sess.CheckBy != "" && now.Before(sess.CheckUntil)) {
			return nil
		}
		sess.CheckBy, sess.CheckUntil = token, now.Add(s.checks.timeout+checkClaimMargin)
		mine = true
		return tx.PutSession(sess)
	})
	return sess, mine, err
}

// awaitCheck waits for the outcome of the check that another replica
// claimed: valid when the session's recheck time moves on, ended when the
// session is gone. It follows a claim that another replica took over, and
// fails closed (false) when the claim ends without an outcome.
func (s *Service) awaitCheck(cfg *tenant.Config, live liveSession, claim store.Session) bool {
	key := string(cfg.Key)
	limit := s.checks.timeout + checkClaimMargin
	deadline := time.Now().Add(min(claim.CheckUntil.Sub(s.now()), limit))
	for time.Now().Before(deadline) {
		time.Sleep(checkPoll)
		sess, err := s.readSession(claim.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return false // the check ended it
		case err != nil:
			s.log.Error("session check: read session", "tenant", key, "err", err)
			return false
		case !checkDue(sess, s.now()):
			return true
		case sess.CheckBy == "":
			deadline = time.Time{} // the check gave up without an outcome
		case sess.CheckBy != claim.CheckBy:
			claim = sess // another replica took the check over
			deadline = time.Now().Add(min(claim.CheckUntil.Sub(s.now()), limit))
		}
	}
	s.log.Warn("session check", "tenant", key, "user", live.realUID, "outcome", "refused",
		"reason", "the replica checking the session gave no outcome in time")
	return false
}

// errSessionInvalid is the hub's "valid": false.
var errSessionInvalid = errors.New("the marketplace says the session is no longer valid")

// askHub calls the hub's session check and returns the next recheck time
// of a valid session, or why it is not valid.
func (s *Service) askHub(cfg *tenant.Config, uid, token string, now time.Time) (time.Time, error) {
	u := SessionCheckURL(cfg, uid, token)
	ctx, cancel := context.WithTimeout(context.Background(), s.checks.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return time.Time{}, fmt.Errorf("session check URL: %w", err)
	}
	req.SetBasicAuth(cfg.API.ID, cfg.API.Key.Reveal())
	req.Header.Set("Accept", "application/json")
	resp, err := s.checks.client.Do(req)
	if err != nil {
		// Not err itself: *url.Error names the URL, whose query holds the
		// session token.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return time.Time{}, fmt.Errorf("session check: no answer within %s", s.checks.timeout)
		}
		return time.Time{}, fmt.Errorf("session check: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSessionCheckBody))
	if err != nil {
		return time.Time{}, fmt.Errorf("session check: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return time.Time{}, fmt.Errorf("session check: hub answered %d", resp.StatusCode)
	}
	var ans struct {
		Valid   any    `json:"valid"`
		Recheck string `json:"recheck"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return time.Time{}, errors.New("session check: the hub's answer is not JSON")
	}
	// Ruby requires valid and recheck; Java also reads "true" as a string.
	if v, ok := ans.Valid.(bool); !(ok && v) && ans.Valid != "true" {
		return time.Time{}, errSessionInvalid
	}
	recheck, err := time.Parse(time.RFC3339, ans.Recheck)
	if err != nil {
		return time.Time{}, errors.New("session check: valid, but no readable recheck time")
	}
	if limit := now.Add(SessionTTL); recheck.After(limit) {
		recheck = limit
	}
	return recheck.UTC(), nil
}

// SessionCheckURL is {api.host}{api.base}auth/saml/{uid}?session={token}
// (maestrano-ruby SSO.session_check_url).
func SessionCheckURL(cfg *tenant.Config, uid, token string) string {
	return strings.TrimRight(cfg.API.Host, "/") + cfg.APIBase() + "auth/saml/" + url.PathEscape(uid) +
		"?session=" + url.QueryEscape(token)
}
