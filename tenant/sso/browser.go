package sso

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Login CSRF (SPEC §5): initialize gives the browser a short-lived HttpOnly
// cookie named after the AuthnRequest ID, holding a random nonce whose hash
// is stored with the request; consume requires the cookie of the request the
// response answers, compares the hashes and clears it. A response that an
// attacker's page posts from a victim's browser carries no such cookie.

// loginCookieName is the cookie of one AuthnRequest.
func loginCookieName(requestID string) string { return LoginCookiePrefix + requestID }

// newBrowserNonce returns a cookie nonce and the digest stored with the
// request.
func newBrowserNonce() (nonce, digest string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("login nonce: %w", err)
	}
	nonce = hex.EncodeToString(b[:])
	return nonce, browserDigest(nonce), nil
}

func browserDigest(nonce string) string {
	sum := sha256.Sum256([]byte(nonce))
	return hex.EncodeToString(sum[:])
}

// sameBrowser compares the stored digest with the cookie's nonce in
// constant time; a request stored without a digest matches nothing.
func sameBrowser(stored, nonce string) bool {
	if stored == "" || nonce == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(stored), []byte(browserDigest(nonce))) == 1
}

// loginCookie sets (maxAge > 0) or clears (maxAge < 0) the login cookie of
// requestID. The IdP posts the response cross-site, so on https the cookie
// is SameSite=None (and Secure, which None requires); on plain http, the
// loopback set-up, it keeps the browser's default. Its path is the public
// URL's root: a consume path registered on the developer platform may lie
// outside the tenant's /mno-enterprise/{tenant}/ folder.
func (s *Service) loginCookie(requestID, nonce string, maxAge int) *http.Cookie {
	c := &http.Cookie{
		Name:     loginCookieName(requestID),
		Value:    nonce,
		Path:     s.rootPath(),
		MaxAge:   maxAge,
		HttpOnly: true,
	}
	if strings.HasPrefix(s.publicURL, "https://") {
		c.Secure, c.SameSite = true, http.SameSiteNoneMode
	}
	return c
}

// rootPath is the public URL's path with a trailing slash ("/" for none).
func (s *Service) rootPath() string {
	if u, err := url.Parse(s.publicURL); err == nil {
		return strings.TrimRight(u.Path, "/") + "/"
	}
	return "/"
}
