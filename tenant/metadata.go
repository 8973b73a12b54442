package tenant

import "strings"

// MetadataDoc is what GET /mno-enterprise/{tenant}/metadata answers
// (SPEC §3.3): the configuration a tenant needs to call us. It has no field
// that could hold api.key.
type MetadataDoc struct {
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

// MetadataAPI is api{id, host, base}, without the key.
type MetadataAPI struct {
	ID   string `json:"id"`
	Host string `json:"host"`
	Base string `json:"base"`
}

// MetadataSSO tells the IdP where our SSO routes are.
type MetadataSSO struct {
	InitPath        string `json:"init_path"`
	ConsumePath     string `json:"consume_path"`
	IdM             string `json:"idm"`
	IdP             string `json:"idp"`
	X509Fingerprint string `json:"x509_fingerprint"`
	CreationMode    string `json:"creation_mode"`
}

// MetadataConnec is the tenant's Connec! endpoint as we use it.
type MetadataConnec struct {
	Host     string `json:"host"`
	BasePath string `json:"base_path"`
}

// Webhook is the Ruby SDK spelling of our webhook paths.
type Webhook struct {
	Account struct {
		GroupsPath     string `json:"groups_path"`
		GroupUsersPath string `json:"group_users_path"`
	} `json:"account"`
	Connec struct {
		NotificationsPath string          `json:"notifications_path"`
		Subscriptions     map[string]bool `json:"subscriptions"`
	} `json:"connec"`
}

// Webhooks is the Java, PHP and developer-platform spelling of the same paths.
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

// Metadata builds the metadata document. Every path comes from the Route
// functions; the IdM and app host are the public URL.
func (c *Config) Metadata(publicURL string) MetadataDoc {
	base := strings.TrimRight(publicURL, "/")
	env := c.Environment
	if env == "" {
		env = string(c.Key) // as the developer platform does
	}
	d := MetadataDoc{
		Environment: env,
		App:         MetadataApp{Host: base},
		API:         MetadataAPI{ID: c.API.ID, Host: c.API.Host, Base: c.APIBase()},
		SSO: MetadataSSO{
			InitPath:        RouteSAMLInit.Path(c.Key),
			ConsumePath:     RouteSAMLConsume.Path(c.Key),
			IdM:             base,
			IdP:             c.SSO.IdP,
			X509Fingerprint: c.Fingerprint(),
			CreationMode:    c.CreationMode(),
		},
		Connec: MetadataConnec{Host: c.Connec.Host, BasePath: c.ConnecBasePath()},
	}
	d.Webhook.Account.GroupsPath = RouteGroup.Path(c.Key)
	d.Webhook.Account.GroupUsersPath = RouteGroupUser.Path(c.Key)
	d.Webhook.Connec.NotificationsPath = RouteConnecReceive.Path(c.Key)
	d.Webhook.Connec.Subscriptions = Subscriptions()
	d.Webhooks.Account.GroupPath = RouteGroup.Path(c.Key)
	d.Webhooks.Account.GroupUserPath = RouteGroupUser.Path(c.Key)
	d.Webhooks.Connec.NotificationPath = RouteConnecReceive.Path(c.Key)
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
