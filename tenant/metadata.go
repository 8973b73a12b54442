package tenant

import (
	"runtime"
	"strings"
)

// AppVersion is this build's version, sent as api.version (main sets it
// at start from FyneApp.toml).
var AppVersion = "dev"

// MetadataDoc is what GET /mno-enterprise/{tenant}/metadata answers
// (SPEC §3.3): the configuration a tenant needs to call us. It has no field
// that could hold api.key. It carries what Ruby's and Java's SDKs emitted
// (Java's Preset.toMetadataHash: marketplace, api.version/lang/lang_version,
// sso.x509_certificate), so a hub written for either reads it.
type MetadataDoc struct {
	Marketplace string         `json:"marketplace"`
	Environment string         `json:"environment"`
	App         MetadataApp    `json:"app"`
	API         MetadataAPI    `json:"api"`
	SSO         MetadataSSO    `json:"sso"`
	Connec      MetadataConnec `json:"connec"`
	Webhook     Webhook        `json:"webhook"`
	Webhooks    Webhooks       `json:"webhooks"`
}

// MetadataApp is app{host}: our public base URL.
type MetadataApp struct {
	Host string `json:"host"`
}

// MetadataAPI is api{id, version, lang, lang_version, host, base}, without
// the key.
type MetadataAPI struct {
	ID          string `json:"id"`
	Version     string `json:"version"`
	Lang        string `json:"lang"`
	LangVersion string `json:"lang_version"`
	Host        string `json:"host"`
	Base        string `json:"base"`
}

// MetadataSSO tells the IdP where our SSO routes are.
type MetadataSSO struct {
	InitPath        string `json:"init_path"`
	ConsumePath     string `json:"consume_path"`
	IdM             string `json:"idm"`
	IdP             string `json:"idp"`
	X509Fingerprint string `json:"x509_fingerprint"`
	X509Certificate string `json:"x509_certificate"`
	CreationMode    string `json:"creation_mode"`
}

// MetadataConnec is the tenant's Connec! endpoint as we use it.
type MetadataConnec struct {
	Host     string `json:"host"`
	BasePath string `json:"base_path"`
}

// Webhook is the `webhook` block. Ruby's SDK wrote the paths there as
// groups_path, group_users_path and notifications_path; Java's
// Preset.toMetadataHash writes the same block name with group_path,
// group_user_path, notification_path and external_ids. Both spellings are
// here, so either reader finds its own.
type Webhook struct {
	Account struct {
		GroupsPath     string `json:"groups_path"`
		GroupUsersPath string `json:"group_users_path"`
		GroupPath      string `json:"group_path"`
		GroupUserPath  string `json:"group_user_path"`
	} `json:"account"`
	Connec struct {
		NotificationsPath string          `json:"notifications_path"`
		Subscriptions     map[string]bool `json:"subscriptions"`
		NotificationPath  string          `json:"notification_path"`
		ExternalIDs       bool            `json:"external_ids"`
	} `json:"connec"`
}

// Webhooks is the `webhooks` block of PHP's SDK and of the developer
// platform's marketplaces document: the Java names under the plural block.
type Webhooks struct {
	Account struct {
		GroupPath     string `json:"group_path"`
		GroupUserPath string `json:"group_user_path"`
	} `json:"account"`
	Connec struct {
		NotificationPath string `json:"notification_path"`
		ExternalIDs      bool   `json:"external_ids"`
	} `json:"connec"`
}

// Subscriptions are the Connec! collections we ask to be notified about:
// invoices (the shared model) and what an invoice refers to, so that its
// customer, items and tax codes have identity-map rows when it arrives.
// Other collections are accepted if sent, but not asked for.
func Subscriptions() map[string]bool {
	return map[string]bool{"invoices": true, "organizations": true, "items": true, "tax_codes": true}
}

// Metadata builds the metadata document. Every path comes from the route
// table: a path registered on the developer platform where there is one,
// else our /mno-enterprise/ path; the IdM is the registered sso.idm or the
// public URL, and the app host the public URL.
func (c *Config) Metadata(publicURL string) MetadataDoc {
	base := strings.TrimRight(publicURL, "/")
	env := c.Environment
	if env == "" {
		env = string(c.Key) // as the developer platform does
	}
	idm := base
	if c.SSO.IdM != "" && (RouteSAMLInit.RegisteredPath(c) != "" || RouteSAMLConsume.RegisteredPath(c) != "") {
		idm = c.SSO.IdM
	}
	d := MetadataDoc{
		Marketplace: string(c.Key),
		Environment: env,
		App:         MetadataApp{Host: base},
		API: MetadataAPI{ID: c.API.ID, Version: AppVersion, Lang: "go", LangVersion: runtime.Version(),
			Host: c.API.Host, Base: c.APIBase()},
		SSO: MetadataSSO{
			InitPath:        RouteSAMLInit.TenantPath(c),
			ConsumePath:     RouteSAMLConsume.TenantPath(c),
			IdM:             idm,
			IdP:             c.SSO.IdP,
			X509Fingerprint: c.Fingerprint(),
			X509Certificate: c.SSO.X509Certificate,
			CreationMode:    c.CreationMode(),
		},
		Connec: MetadataConnec{Host: c.Connec.Host, BasePath: c.ConnecBasePath()},
	}
	group, groupUser, notif := RouteGroup.TenantPath(c), RouteGroupUser.TenantPath(c), RouteConnecReceive.TenantPath(c)
	d.Webhook.Account.GroupsPath, d.Webhook.Account.GroupPath = group, group
	d.Webhook.Account.GroupUsersPath, d.Webhook.Account.GroupUserPath = groupUser, groupUser
	d.Webhook.Connec.NotificationsPath, d.Webhook.Connec.NotificationPath = notif, notif
	d.Webhook.Connec.Subscriptions = Subscriptions()
	d.Webhook.Connec.ExternalIDs = c.ExternalIDs()
	d.Webhooks.Account.GroupPath = group
	d.Webhooks.Account.GroupUserPath = groupUser
	d.Webhooks.Connec.NotificationPath = notif
	d.Webhooks.Connec.ExternalIDs = c.ExternalIDs()
	return d
}

// Fingerprint is sso.x509_fingerprint, or the SHA-1 fingerprint of the
// first certificate, or "" when neither is available.
func (c *Config) Fingerprint() string {
	if c.SSO.X509Fingerprint != "" {
		return c.SSO.X509Fingerprint
	}
	certs, err := c.Certificates()
	if err != nil {
		return ""
	}
	return FingerprintSHA1(certs[0])
}
