package sso

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	saml2 "github.com/russellhaering/gosaml2"
	"github.com/russellhaering/gosaml2/types"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/account"
	"github.com/tenantdesk/tenantdesk/tenant/guard"
)

// login is a response that passed every check that needs no store access.
type login struct {
	assertionID  string
	inResponseTo string    // "" for an IdP-initiated login
	replayUntil  time.Time // keep the assertion ID this long
	sessionEnd   time.Time // SessionNotOnOrAfter, or zero
	profile      profile
	issuedAt     time.Time // the assertion's IssueInstant
	browser      string    // the login cookie's nonce ("" when absent)
}

// Consume is the assertion consumer service (POST …/saml/consume). It
// verifies the response with the tenant's SP plus the checks gosaml2 leaves
// to its caller, then records the login in one transaction, sets the session
// cookie and redirects to the post-login URL. Any failure answers an HTML
// page with the reason code, sets no cookie and writes only an audit event.
func (s *Service) Consume(w http.ResponseWriter, r *http.Request, cfg *tenant.Config) {
	now := s.now()
	log := s.log.With("tenant", cfg.Key, "route", "saml_consume")

	l, lerr := s.verify(w, r, cfg, now)
	if l != nil && l.browser != "" {
		// The login cookie is spent whatever happens next.
		http.SetCookie(w, s.loginCookie(l.inResponseTo, "", -1))
	}
	var sess store.Session
	if lerr == nil {
		sess, lerr = s.commit(cfg, l, now)
	}
	if lerr != nil && lerr.reason == ReasonBusy {
		// Nothing was looked at: no audit event, nothing to count.
		log.Warn("sso consume shed", "reason", lerr.reason)
		writeErrorPage(w, lerr.reason)
		return
	}
	if lerr != nil {
		s.refuse(w, r, cfg, lerr, now, log)
		return
	}

	log.Info("sso login", "outcome", "ok", "user", sess.UserUID, "group", sess.GroupUID, "role", sess.Role)
	http.SetCookie(w, s.sessionCookie(cfg, sess.ID, sess.ExpiresAt, now))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, cfg.PostLoginURL(s.publicURL), http.StatusFound)
}

// refuse answers a failed login. The failure is counted (guard.Failures),
// not written: the audit log gets one event per tenant, reason and minute,
// so a flood of bad responses costs no fsync each. The login's
// transaction, if any, has already been rolled back.
func (s *Service) refuse(w http.ResponseWriter, r *http.Request, cfg *tenant.Config, lerr *loginError, _ time.Time, log *slog.Logger) {
	level := slog.LevelWarn
	if lerr.reason.HTTPStatus() >= 500 {
		level = slog.LevelError
	}
	detail := ""
	if lerr.err != nil {
		detail = guard.Clip(lerr.err.Error())
	}
	log.Log(r.Context(), level, "sso login refused", "outcome", "failed", "reason", lerr.reason, "err", detail)
	s.failures.Load().Add(string(cfg.Key), store.EventLogin, lerr.reason.String(), "SSO login refused: "+lerr.reason.Message())
	writeErrorPage(w, lerr.reason)
}

// verify runs every check that needs no store: size, shape, gosaml2's
// signature and structure validation, Destination, issuer, times, audience,
// InResponseTo policy, attributes.
func (s *Service) verify(w http.ResponseWriter, r *http.Request, cfg *tenant.Config, now time.Time) (*login, *loginError) {
	// The body is read before a slot is taken: a client that sends it
	// slowly holds a connection, never a slot. Everything after this costs
	// CPU and runs in a slot, so strangers' documents, whatever they hold,
	// keep at most half the cores busy.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxResponseBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, fail(ReasonTooLarge, err)
		}
		return nil, fail(ReasonMalformed, fmt.Errorf("read body: %w", err))
	}
	if !s.verifications.acquire(r.Context()) {
		return nil, fail(ReasonBusy, nil)
	}
	defer s.verifications.release()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err := r.ParseForm(); err != nil {
		return nil, fail(ReasonMalformed, fmt.Errorf("read form: %w", err))
	}
	encoded := r.PostForm.Get("SAMLResponse")
	if encoded == "" {
		return nil, fail(ReasonMalformed, errors.New("no SAMLResponse"))
	}
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, fail(ReasonMalformed, fmt.Errorf("decode base64: %w", err))
	}
	if len(raw) > MaxResponseBytes {
		return nil, fail(ReasonTooLarge, nil)
	}
	if lerr := inspectXML(raw); lerr != nil {
		return nil, lerr
	}

	sps, err := s.serviceProviders(cfg)
	if err != nil {
		return nil, fail(ReasonConfig, err)
	}
	sp := sps.sp
	resp, err := sp.ValidateEncodedResponse(encoded)
	if expiredConfirmation(err) {
		// Signature and certificate passed on the real clock; only the
		// SubjectConfirmationData expiry wants ClockSkew (checkTimes
		// enforces the window below).
		resp, err = sps.lenient.ValidateEncodedResponse(encoded)
	}
	if err != nil {
		return nil, fail(s.classify(err, cfg), err)
	}

	// gosaml2 uses only the first assertion; accept exactly one.
	if len(resp.Assertions) != 1 || len(resp.EncryptedAssertions) > 0 {
		return nil, fail(ReasonMultipleAssertions, nil)
	}
	a := &resp.Assertions[0]
	// gosaml2 checks Destination only when present; the POST binding
	// requires it on a signed response.
	if resp.Destination != sp.AssertionConsumerServiceURL {
		return nil, fail(ReasonDestination, fmt.Errorf("destination %q", resp.Destination))
	}
	// The Assertion's Issuer is signed; the Response's is not, but a
	// Response naming another IdP is refused all the same.
	if a.Issuer == nil || !cfg.IssuerMatches(a.Issuer.Value) ||
		resp.Issuer == nil || !cfg.IssuerMatches(resp.Issuer.Value) {
		return nil, fail(ReasonIssuer, nil)
	}
	if a.ID == "" || a.Subject == nil || a.Subject.NameID == nil ||
		a.Subject.SubjectConfirmation == nil || a.Subject.SubjectConfirmation.SubjectConfirmationData == nil {
		return nil, fail(ReasonMalformed, errors.New("assertion lacks ID or subject"))
	}
	l := &login{assertionID: a.ID, issuedAt: a.IssueInstant}
	if lerr := checkTimes(a, now, l); lerr != nil {
		return nil, lerr
	}
	if lerr := checkAudience(sp, a, cfg.Audiences(s.publicURL)); lerr != nil {
		return nil, lerr
	}

	l.inResponseTo, err = inResponseTo(resp, a.Subject.SubjectConfirmation.SubjectConfirmationData)
	if err != nil {
		return nil, fail(ReasonInResponseTo, err)
	}
	if l.inResponseTo == "" && !cfg.SSO.AllowIdPInitiated {
		return nil, fail(ReasonUnsolicited, nil)
	}
	if l.inResponseTo != "" {
		// An SP-initiated login finishes only in the browser that started
		// it (login CSRF); commit compares the nonce with the request's.
		if c, err := r.Cookie(loginCookieName(l.inResponseTo)); err == nil {
			l.browser = c.Value
		}
	}

	if a.AttributeStatement == nil {
		return nil, fail(ReasonMissingAttribute, errors.New("no AttributeStatement"))
	}
	p, lerr := readProfile(attributeValues(a.AttributeStatement), cfg)
	if lerr != nil {
		return nil, lerr
	}
	l.profile = p
	if st := a.AuthnStatement; st != nil && st.SessionNotOnOrAfter != nil {
		l.sessionEnd = *st.SessionNotOnOrAfter
	}
	return l, nil
}

// expiredConfirmation reports whether gosaml2 refused a response only for
// an expired SubjectConfirmationData, which it checks after the signature.
func expiredConfirmation(err error) bool {
	var iv saml2.ErrInvalidValue
	return errors.As(err, &iv) && iv.Key == saml2.NotOnOrAfterAttr && iv.Reason == saml2.ReasonExpired
}

// classify maps a gosaml2 validation error to a Reason by its type and
// field. Errors without a gosaml2 type come from signature verification,
// decryption, or XML that only gosaml2's stricter parser refuses: all of
// them mean the content cannot be trusted, reported as ReasonSignature.
func (s *Service) classify(err error, cfg *tenant.Config) Reason {
	var iv saml2.ErrInvalidValue
	var me saml2.ErrMissingElement
	var pe saml2.ErrParsing
	if errors.As(err, &iv) {
		switch iv.Key {
		case saml2.DestinationAttr:
			if s.otherTenantConsumeURL(iv.Actual, cfg) {
				return ReasonTenantMismatch
			}
			return ReasonDestination
		case saml2.RecipientAttr:
			if s.otherTenantConsumeURL(iv.Actual, cfg) {
				return ReasonTenantMismatch
			}
			return ReasonRecipient
		case saml2.IssuerTag:
			return ReasonIssuer
		case saml2.NotOnOrAfterAttr:
			return ReasonExpired
		case saml2.StatusCodeTag:
			return ReasonIdPStatus
		}
		return ReasonMalformed
	}
	if errors.As(err, &me) {
		if me.Tag == saml2.IssuerTag && me.Attribute == "" {
			return ReasonIssuer
		}
		return ReasonMalformed
	}
	if errors.As(err, &pe) {
		return ReasonMalformed
	}
	return ReasonSignature
}

// otherTenantConsumeURL reports whether u is the consume URL of a tenant
// other than cfg's.
func (s *Service) otherTenantConsumeURL(u string, cfg *tenant.Config) bool {
	before, after, _ := strings.Cut(tenant.RouteSAMLConsume.URL(s.publicURL, "\x00"), "\x00")
	if len(u) > len(before)+len(after) && strings.HasPrefix(u, before) && strings.HasSuffix(u, after) {
		key := u[len(before) : len(u)-len(after)]
		return key != string(cfg.Key) && !strings.Contains(key, "/")
	}
	// Or another tenant's registered consume URL (only read on this
	// failure path).
	found := false
	_ = s.db.View(func(tx *store.Tx) error {
		ts, err := tx.Tenants()
		if err != nil {
			return err
		}
		for _, t := range ts {
			if t.Key == string(cfg.Key) {
				continue
			}
			if c, err := tenant.FromStored(t); err == nil && tenant.RouteSAMLConsume.RegisteredURL(c, s.publicURL) == u {
				found = true
				return nil
			}
		}
		return nil
	})
	return found
}

// checkTimes enforces the assertion's validity window with ClockSkew either
// side (gosaml2 only warns), and sets how long the ID must be remembered.
func checkTimes(a *types.Assertion, now time.Time, l *login) *loginError {
	c := a.Conditions
	if c == nil {
		return fail(ReasonMalformed, errors.New("no Conditions"))
	}
	notBefore, err1 := time.Parse(time.RFC3339, c.NotBefore)
	notOnOrAfter, err2 := time.Parse(time.RFC3339, c.NotOnOrAfter)
	scdEnd, err3 := time.Parse(time.RFC3339, a.Subject.SubjectConfirmation.SubjectConfirmationData.NotOnOrAfter)
	if err := errors.Join(err1, err2, err3); err != nil {
		return fail(ReasonMalformed, fmt.Errorf("assertion times: %w", err))
	}
	early, late := now.Add(ClockSkew), now.Add(-ClockSkew)
	if early.Before(notBefore) || early.Before(a.IssueInstant) {
		return fail(ReasonNotYetValid, fmt.Errorf("not before %s, issued %s", c.NotBefore, a.IssueInstant))
	}
	if !late.Before(notOnOrAfter) || !late.Before(scdEnd) {
		return fail(ReasonExpired, fmt.Errorf("not on or after %s / %s", c.NotOnOrAfter, scdEnd))
	}
	l.replayUntil = notOnOrAfter
	if scdEnd.After(l.replayUntil) {
		l.replayUntil = scdEnd
	}
	l.replayUntil = l.replayUntil.Add(ClockSkew)
	return nil
}

// checkAudience requires an AudienceRestriction, and every restriction to
// name one of the accepted values (SAML core §2.5.1.4: each restriction
// must be met). gosaml2 compares with one value only, so its NotInAudience
// warning is not consulted; its other condition checks still run.
func checkAudience(sp *saml2.SAMLServiceProvider, a *types.Assertion, accepted []string) *loginError {
	if len(a.Conditions.AudienceRestrictions) == 0 {
		return fail(ReasonAudience, errors.New("no AudienceRestriction"))
	}
	if _, err := sp.VerifyAssertionConditions(a); err != nil {
		return fail(ReasonMalformed, err)
	}
	for _, ar := range a.Conditions.AudienceRestrictions {
		if !slices.ContainsFunc(ar.Audiences, func(v types.Audience) bool { return slices.Contains(accepted, v.Value) }) {
			return fail(ReasonAudience, nil)
		}
	}
	return nil
}

// inResponseTo is the request ID the response answers. The assertion's
// SubjectConfirmationData is signed; the Response's attribute counts only
// when the Response itself is signed, and the two must agree.
func inResponseTo(resp *types.Response, scd *types.SubjectConfirmationData) (string, error) {
	switch {
	case resp.InResponseTo != "" && scd.InResponseTo != "" && resp.InResponseTo != scd.InResponseTo:
		return "", errors.New("the Response and its SubjectConfirmationData disagree on InResponseTo")
	case scd.InResponseTo != "":
		return scd.InResponseTo, nil
	case resp.InResponseTo != "" && !resp.SignatureValidated:
		return "", errors.New("InResponseTo only on an unsigned Response")
	}
	return resp.InResponseTo, nil
}

// commit records the login in one transaction: the request ID is consumed,
// the assertion ID remembered, group, user, membership, identity-map rows,
// session and the ok audit event written. Any failure rolls all of it back.
func (s *Service) commit(cfg *tenant.Config, l *login, now time.Time) (store.Session, *loginError) {
	key := string(cfg.Key)
	sess := store.Session{
		Tenant:     key,
		Role:       l.profile.role,
		MnoSession: l.profile.mnoSession,
		MnoRecheck: l.profile.mnoRecheck,
		CreatedAt:  now,
		ExpiresAt:  now.Add(SessionTTL),
	}
	if !l.sessionEnd.IsZero() && l.sessionEnd.Before(sess.ExpiresAt) {
		sess.ExpiresAt = l.sessionEnd
	}
	var err error
	if sess.ID, err = newSessionID(); err != nil {
		return store.Session{}, fail(ReasonInternal, err)
	}

	err = s.db.Update(func(tx *store.Tx) error {
		fresh, err := tx.RememberAssertion(key, l.assertionID, l.replayUntil, now)
		if err != nil {
			return fmt.Errorf("remember assertion: %w", err)
		}
		if !fresh {
			return fail(ReasonReplay, nil)
		}
		if l.inResponseTo != "" {
			req, err := tx.ConsumeAuthnRequest(key, l.inResponseTo, now)
			if errors.Is(err, store.ErrNotFound) {
				return fail(ReasonInResponseTo, err)
			} else if err != nil {
				return fmt.Errorf("consume AuthnRequest: %w", err)
			}
			if !sameBrowser(req.Browser, l.browser) {
				return fail(ReasonOtherBrowser, errors.New("login cookie does not match the request"))
			}
		}
		signed, err := account.SignInTx(tx, account.SignIn{
			Tenant: key, Group: l.profile.group, User: l.profile.user, Role: l.profile.role,
			IssuedAt: l.issuedAt,
		}, now)
		if errors.Is(err, account.ErrRemovedLater) {
			return fail(ReasonRemovedLater, err)
		} else if err != nil {
			return err
		}
		g, u, reactivated := signed.Group, signed.User, signed.Reactivated
		sess.UserUID, sess.GroupUID = u.UID, g.UID
		if err := tx.PutSession(sess); err != nil {
			return fmt.Errorf("put session: %w", err)
		}
		msg := fmt.Sprintf("%s signed in to group %s as %s", u.UID, g.UID, sess.Role)
		ev := store.Event{At: now, Tenant: key, Kind: store.EventLogin, Outcome: "ok", UserUID: u.UID, GroupUID: g.UID}
		if l.inResponseTo == "" {
			msg += " (IdP-initiated)"
			ev.Reason = "idp_initiated"
		}
		if reactivated {
			msg += " (cancelled group reactivated)"
		}
		ev.Message = msg
		_, err = tx.AppendEvent(ev)
		return err
	})
	var lerr *loginError
	if errors.As(err, &lerr) {
		return store.Session{}, lerr
	}
	if err != nil {
		return store.Session{}, fail(ReasonInternal, err)
	}
	return sess, nil
}

func newSessionID() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("session id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
