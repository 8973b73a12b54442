package sso

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

// SessionInfo is the JSON answer of the session route.
type SessionInfo struct {
	Tenant    string       `json:"tenant"`
	User      SessionUser  `json:"user"`
	Group     SessionGroup `json:"group"`
	Role      string       `json:"role"`
	ExpiresAt time.Time    `json:"expires_at"`
}

// SessionUser is the signed-in user in SessionInfo.
type SessionUser struct {
	UID       string `json:"uid"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

// SessionGroup is the signed-in group in SessionInfo.
type SessionGroup struct {
	UID  string `json:"uid"`
	Name string `json:"name"`
}

type sessionError struct {
	Error string `json:"error"`
	// InitURL is where the app sends the user to sign in again through
	// the marketplace (SPEC §5): the tenant's init URL as its hub knows it.
	InitURL string `json:"init_url,omitempty"`
}

// errNoSession is any reason a request has no usable session of the tenant;
// the answer does not say which.
var errNoSession = errors.New("no valid session")

// liveSession is a session found for a request, with what a session check
// needs.
type liveSession struct {
	info    SessionInfo
	sess    store.Session
	realUID string
}

// Session answers the signed-in user of this tenant (GET …/session), or 401
// without a live session of this tenant: a cookie issued by tenant A never
// works on tenant B, and a session ends with its membership or its user.
// Once the session's mno_session_recheck has passed, the hub is asked
// whether the user is still signed in there (single logout, checkSession);
// a session the hub no longer knows ends here too.
func (s *Service) Session(w http.ResponseWriter, r *http.Request, cfg *tenant.Config) {
	now := s.now()
	var live liveSession
	err := s.db.View(func(tx *store.Tx) error {
		for _, c := range r.Cookies() {
			if c.Name != CookieName {
				continue
			}
			if err := lookupSession(tx, string(cfg.Key), c.Value, now, &live); err == nil {
				return nil
			} else if !errors.Is(err, errNoSession) {
				return err
			}
		}
		return errNoSession
	})
	if err == nil && checkDue(live.sess, now) {
		if !s.checkSession(r.Context(), cfg, live) {
			s.clearCookie(w, cfg)
			writeJSON(w, http.StatusUnauthorized, sessionError{"Session ended at the marketplace: sign in again",
				tenant.RouteSAMLInit.TenantURL(cfg, s.publicURL)})
			return
		}
	}
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, live.info)
	case errors.Is(err, errNoSession):
		writeJSON(w, http.StatusUnauthorized, sessionError{"Not signed in", tenant.RouteSAMLInit.TenantURL(cfg, s.publicURL)})
	default:
		s.log.Error("read session", "tenant", cfg.Key, "route", "session", "err", err)
		writeJSON(w, http.StatusInternalServerError, sessionError{Error: "Internal error"})
	}
}

func lookupSession(tx *store.Tx, key, id string, now time.Time, live *liveSession) error {
	if len(id) != 64 {
		return errNoSession
	}
	sess, err := tx.Session(id)
	if errors.Is(err, store.ErrNotFound) {
		return errNoSession
	} else if err != nil {
		return fmt.Errorf("load session: %w", err)
	}
	if sess.Tenant != key || !now.Before(sess.ExpiresAt) {
		return errNoSession
	}
	u, err := tx.User(key, sess.UserUID)
	if errors.Is(err, store.ErrNotFound) {
		return errNoSession
	} else if err != nil {
		return fmt.Errorf("load user: %w", err)
	}
	g, err := tx.Group(key, sess.GroupUID)
	if errors.Is(err, store.ErrNotFound) {
		return errNoSession
	} else if err != nil {
		return fmt.Errorf("load group: %w", err)
	}
	m, err := tx.Membership(key, sess.GroupUID, sess.UserUID)
	if errors.Is(err, store.ErrNotFound) {
		return errNoSession
	} else if err != nil {
		return fmt.Errorf("load membership: %w", err)
	}
	if u.Blocked || g.Cancelled || m.Ended {
		return errNoSession
	}
	live.sess = sess
	live.realUID = firstNonEmpty(u.RealUID, u.UID)
	live.info = SessionInfo{
		Tenant:    key,
		User:      SessionUser{UID: u.UID, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName},
		Group:     SessionGroup{UID: g.UID, Name: g.Name},
		Role:      sess.Role,
		ExpiresAt: sess.ExpiresAt.UTC(),
	}
	return nil
}

// sessionCookie scopes the session to the tenant's own routes.
func (s *Service) sessionCookie(cfg *tenant.Config, id string, expires, now time.Time) *http.Cookie {
	return &http.Cookie{
		Name:     CookieName,
		Value:    id,
		Path:     s.cookiePath(cfg.Key),
		Expires:  expires,
		MaxAge:   int(expires.Sub(now).Seconds()),
		HttpOnly: true,
		Secure:   strings.HasPrefix(s.publicURL, "https://"),
		SameSite: http.SameSiteLaxMode,
	}
}

// cookiePath is the folder every route of the tenant lives under, as the
// browser sees it (with the public URL's own path, if any).
func (s *Service) cookiePath(key tenant.Key) string {
	a, b := tenant.RouteSAMLConsume.Path(key), tenant.RouteSession.Path(key)
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	dir := a[:strings.LastIndexByte(a[:n], '/')+1]
	if u, err := url.Parse(s.publicURL); err == nil {
		dir = strings.TrimRight(u.Path, "/") + dir
	}
	return dir
}

// Logout ends this tenant's session of the browser (GET …/logout), clears
// the cookie and sends the browser to the hub's sign-out page,
// {api.host}/app_logout?user_uid=…, as the SDKs' logout_url does, so that
// the user leaves the marketplace too (single logout).
func (s *Service) Logout(w http.ResponseWriter, r *http.Request, cfg *tenant.Config) {
	now := s.now()
	key := string(cfg.Key)
	var userUID string
	err := s.db.Update(func(tx *store.Tx) error {
		for _, c := range r.Cookies() {
			if c.Name != CookieName || len(c.Value) != 64 {
				continue
			}
			sess, err := tx.Session(c.Value)
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return fmt.Errorf("load session: %w", err)
			}
			if sess.Tenant != key {
				continue
			}
			if err := tx.DeleteSession(sess.ID); err != nil {
				return fmt.Errorf("delete session: %w", err)
			}
			userUID = sess.UserUID
			if u, err := tx.User(key, sess.UserUID); err == nil && u.RealUID != "" {
				userUID = u.RealUID
			}
			_, err = tx.AppendEvent(store.Event{At: now, Tenant: key, Kind: store.EventLogin, Outcome: "ok",
				Reason: "logout", Message: userUID + " signed out"})
			return err
		}
		return nil
	})
	if err != nil {
		s.log.Error("logout", "tenant", cfg.Key, "route", "logout", "err", err)
		writeJSON(w, http.StatusInternalServerError, sessionError{Error: "Internal error"})
		return
	}
	s.clearCookie(w, cfg)
	target := strings.TrimRight(cfg.API.Host, "/") + "/app_logout"
	if userUID != "" {
		target += "?user_uid=" + url.QueryEscape(userUID)
	}
	s.log.Info("sso logout", "tenant", cfg.Key, "user", userUID)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
}

// clearCookie tells the browser to forget the session cookie.
func (s *Service) clearCookie(w http.ResponseWriter, cfg *tenant.Config) {
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    "",
		Path:     s.cookiePath(cfg.Key),
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   strings.HasPrefix(s.publicURL, "https://"),
		SameSite: http.SameSiteLaxMode,
	})
}
