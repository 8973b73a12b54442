package sso

import (
	"strings"
	"time"

	saml2 "github.com/russellhaering/gosaml2"
	"github.com/russellhaering/gosaml2/types"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/account"
)

// profile is what a verified assertion says about the user, the group and
// the Maestrano session (maestrano-protocol.md §2.6–§2.8).
type profile struct {
	user       store.User // UID is the local uid (virtual in virtual mode)
	group      store.Group
	role       string
	mnoSession string
	mnoRecheck time.Time
}

// defaultRole is the IdP sandbox's own fallback when group_role is absent.
const defaultRole = "Guest"

func attributeValues(st *types.AttributeStatement) saml2.Values {
	vals := make(saml2.Values, len(st.Attributes))
	for _, a := range st.Attributes {
		vals[a.Name] = a
	}
	return vals
}

// readProfile maps the attributes; it fails with ReasonMissingAttribute when
// uid or group_uid (or, in virtual mode, a virtual uid) cannot be found.
func readProfile(vals saml2.Values, cfg *tenant.Config) (profile, *loginError) {
	get := func(name string) string { return strings.TrimSpace(vals.Get(name)) }
	realUID, groupUID := get("uid"), get("group_uid")
	if realUID == "" || groupUID == "" {
		return profile{}, fail(ReasonMissingAttribute, nil)
	}
	p := profile{
		user: store.User{
			UID:         realUID,
			RealUID:     realUID,
			Email:       get("email"),
			FirstName:   get("name"),
			LastName:    get("surname"),
			Country:     get("country"),
			CompanyName: get("company_name"),
		},
		group: store.Group{
			UID:           groupUID,
			Name:          get("group_name"),
			Email:         get("group_email"),
			Currency:      get("group_currency"),
			Timezone:      get("group_timezone"),
			Country:       firstNonEmpty(get("group_country"), get("country")),
			City:          get("group_city"),
			OrgUID:        get("group_org_uid"),
			FreeTrialEnd:  parseTime(get("group_end_free_trial")),
			HasCreditCard: get("group_has_credit_card") == "true",
		},
		role:       firstNonEmpty(get("group_role"), defaultRole),
		mnoSession: get("mno_session"),
		mnoRecheck: parseTime(get("mno_session_recheck")),
	}
	if cfg.CreationMode() == tenant.ModeVirtual {
		// One local user per (user, group): mask_user(uid, group_uid).
		p.user.UID = firstNonEmpty(get("virtual_uid"), account.VirtualUID(realUID, groupUID))
		p.user.Email = get("virtual_email")
		p.user.Virtual = true
	}
	return p, nil
}

// parseTime reads an ISO-8601 time; an unreadable one is the zero time.
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
