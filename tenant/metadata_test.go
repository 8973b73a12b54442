package tenant

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestMetadataDocument(t *testing.T) {
	certs := newCerts(t)
	c := validConfig(t, certs.Valid)
	c.SSO.X509Fingerprint = ""
	b, err := json.Marshal(c.Metadata(testPublicURL + "/"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), c.API.Key.Reveal()) || strings.Contains(string(b), `"key"`) {
		t.Fatalf("metadata carries the secret or a key field: %s", b)
	}

	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	get := func(path string) any {
		var v any = doc
		for _, p := range strings.Split(path, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[p]
		}
		return v
	}
	want := map[string]any{
		"environment":                           "production",
		"app.host":                              "https://desk.example.com",
		"api.id":                                "app-acme",
		"api.host":                              "https://api-hub.acme.test",
		"api.base":                              "/api/v1/",
		"sso.init_path":                         "/mno-enterprise/acme/saml/initialize",
		"sso.consume_path":                      "/mno-enterprise/acme/saml/consume",
		"sso.idm":                               "https://desk.example.com",
		"sso.idp":                               "https://api-hub.acme.test",
		"sso.x509_fingerprint":                  FingerprintSHA1(certs.Valid.Cert),
		"sso.creation_mode":                     "virtual",
		"connec.host":                           "https://api-connec.acme.test",
		"connec.base_path":                      "/api/v2",
		"webhook.account.groups_path":           "/mno-enterprise/acme/account/group/:id",
		"webhook.account.group_users_path":      "/mno-enterprise/acme/account/group/:group_id/user/:id",
		"webhook.connec.notifications_path":     "/mno-enterprise/acme/connec/receive",
		"webhook.connec.subscriptions.invoices": true,
		"webhooks.account.group_path":           "/mno-enterprise/acme/account/group/:id",
		"webhooks.account.group_user_path":      "/mno-enterprise/acme/account/group/:group_id/user/:id",
		"webhooks.connec.notification_path":     "/mno-enterprise/acme/connec/receive",
		"webhooks.connec.external_ids":          true,
		"marketplace":                           "acme",
		"api.lang":                              "go",
		"api.version":                           AppVersion,
		"sso.x509_certificate":                  c.SSO.X509Certificate,
		"webhook.account.group_path":            "/mno-enterprise/acme/account/group/:id",
		"webhook.connec.notification_path":      "/mno-enterprise/acme/connec/receive",
	}
	for path, w := range want {
		if got := get(path); got != w {
			t.Errorf("%s = %v, want %v", path, got, w)
		}
	}
	// Every path the document names is one the listener serves.
	for _, path := range []string{"sso.init_path", "sso.consume_path", "webhook.account.groups_path", "webhook.connec.notifications_path"} {
		if !strings.HasPrefix(get(path).(string), "/mno-enterprise/acme/") {
			t.Errorf("%s is not tenant-scoped", path)
		}
	}
}

func TestMetadataFingerprintAndDefaults(t *testing.T) {
	certs := newCerts(t)
	c := Config{Key: "bare", API: API{ID: "app-bare", Key: "bare-secret", Host: "https://h.test"},
		SSO: SSO{IdP: "https://h.test", X509Certificate: certs.Expiring.PEM + certs.Valid.PEM}}
	d := c.Metadata(testPublicURL)
	if d.SSO.X509Fingerprint != FingerprintSHA1(certs.Expiring.Cert) {
		t.Errorf("fingerprint = %q, want the first certificate's SHA-1", d.SSO.X509Fingerprint)
	}
	if d.Environment != "bare" || d.SSO.CreationMode != ModeReal || d.API.Base != "/api/v1/" || !d.Webhooks.Connec.ExternalIDs {
		t.Errorf("defaults: %+v", d)
	}
	c.SSO.X509Fingerprint = strings.ToUpper(FingerprintSHA256(certs.Valid.Cert))
	if d := c.Metadata(testPublicURL); d.SSO.X509Fingerprint != c.SSO.X509Fingerprint {
		t.Errorf("configured fingerprint not used: %q", d.SSO.X509Fingerprint)
	}
}

// TestMetadataNamesRegisteredPaths: what the vendor registered on the
// developer platform is what the document says the hub calls.
func TestMetadataNamesRegisteredPaths(t *testing.T) {
	c := validConfig(t, newCerts(t).Valid)
	c.SSO.IdM = "https://app.example.com"
	c.SSO.InitPath = "/maestrano/auth/saml/init?marketplace=acme"
	c.Hooks.Account.GroupPath = "/maestrano/account/groups/:id/acme"
	d := c.Metadata(testPublicURL)
	if d.SSO.IdM != "https://app.example.com" || d.SSO.InitPath != c.SSO.InitPath ||
		d.SSO.ConsumePath != RouteSAMLConsume.Path("acme") ||
		d.Webhooks.Account.GroupPath != c.Hooks.Account.GroupPath || d.Webhook.Account.GroupsPath != c.Hooks.Account.GroupPath {
		t.Errorf("metadata with registered paths: %+v", d)
	}
	if got := RouteSAMLInit.TenantURL(&c, testPublicURL); got != "https://app.example.com/maestrano/auth/saml/init?marketplace=acme" {
		t.Errorf("init URL %q", got)
	}
}
