package hubtest

import (
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Browser follows the SSO dance as a browser does: the app's init URL
// redirects to the hub, the hub answers its auto-posting form, the form is
// posted to the app's ACS. Its client keeps cookies and does not follow
// redirects by itself.
type Browser struct {
	Client *http.Client
	// IdPURL and ACS are where the last sign-in was redirected and posted.
	IdPURL, ACS string
}

var (
	reAction = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	reValue  = regexp.MustCompile(`name="SAMLResponse" value="([^"]*)"`)
)

// SignIn GETs initURL, follows the redirect to the hub and posts the hub's
// form to the ACS it names. It returns the ACS's answer (body unread).
func (b *Browser) SignIn(initURL string) (*http.Response, error) {
	resp, err := b.Client.Get(initURL)
	if err != nil {
		return nil, err
	}
	drain(resp)
	if resp.StatusCode != http.StatusFound {
		return nil, fmt.Errorf("init %s: status %d, want 302", initURL, resp.StatusCode)
	}
	idp := resp.Header.Get("Location")
	b.IdPURL = idp
	resp, err = b.Client.Get(idp)
	if err != nil {
		return nil, err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("hub %s: status %d: %s", idp, resp.StatusCode, page)
	}
	return b.PostForm(string(page))
}

// PostForm submits the hub's auto-posting form. A browser submits the
// value's line breaks as CRLF (HTML form submission normalises them).
func (b *Browser) PostForm(page string) (*http.Response, error) {
	action, value := reAction.FindStringSubmatch(page), reValue.FindStringSubmatch(page)
	if action == nil || value == nil {
		return nil, errors.New("the hub answered no SAML form: " + clip(page))
	}
	saml := strings.ReplaceAll(html.UnescapeString(value[1]), "\n", "\r\n")
	b.ACS = html.UnescapeString(action[1])
	return b.Client.PostForm(b.ACS, url.Values{"SAMLResponse": {saml}})
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// Webhook is a call the hub makes to the app, with the app's credentials.
func (h *Hub) Webhook(method, rawURL, appID, appKey string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(appID, appKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return http.DefaultClient.Do(req)
}

// DeleteGroup is the group webhook: DELETE {app.host}{group_path}, with
// :id replaced by the group uid.
func (h *Hub) DeleteGroup(appHost, groupPath, groupUID, appID, appKey string) (*http.Response, error) {
	return h.Webhook(http.MethodDelete, appHost+strings.Replace(groupPath, ":id", groupUID, 1), appID, appKey, nil)
}

// DeleteGroupUser is the member webhook: DELETE {app.host}{group_user_path},
// :group_id and :id replaced by the group and (real) user uids.
func (h *Hub) DeleteGroupUser(appHost, groupUserPath, groupUID, userUID, appID, appKey string) (*http.Response, error) {
	p := strings.Replace(groupUserPath, ":group_id", groupUID, 1)
	p = strings.Replace(p, ":id", userUID, 1)
	return h.Webhook(http.MethodDelete, appHost+p, appID, appKey, nil)
}

// Notify is a Connec! notification: POST {app.host}{notification_path}.
func (h *Hub) Notify(appHost, notificationPath, appID, appKey string, body io.Reader) (*http.Response, error) {
	return h.Webhook(http.MethodPost, appHost+notificationPath, appID, appKey, body)
}
