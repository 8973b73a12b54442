package connec

// This file reads Connec! ids (maestrano-protocol §5.4).
//
// A Connec! id is a plain UUID string, or — with external ids — an
// array of {id, provider, realm} triplets. The Connec! triplet has provider
// "connec" (ProviderConnec). Our own triplet has:
//   - provider = the tenant's api.id (cfg.API.ID, the app's id on that
//     tenant; see Provider). The Connec! docs let each app pick its provider
//     key; the app id is the one name the tenant already knows us by, and it
//     differs per tenant, so one tenant's triplets never match another's.
//   - realm = the group uid (cld-…): our "account id" for that customer.
//   - id = the local invoice id (store.Invoice.ID).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant"
)

// ProviderConnec is the provider of Connec!'s own id triplet, and the
// Provider of identity-map rows whose remote side is a Connec! record.
const ProviderConnec = "connec"

// EntityInvoices is the Connec! collection of invoices.
const EntityInvoices = "invoices"

// Provider is our provider key in the tenant's id triplets: the tenant's api.id.
func Provider(cfg *tenant.Config) string { return cfg.API.ID }

// Ref is one {id, provider, realm} triplet of an external-ids array.
type Ref struct {
	ID       string `json:"id"`
	Provider string `json:"provider"`
	Realm    string `json:"realm"`
}

// OurRef is our own triplet for a local object of a group.
func OurRef(cfg *tenant.Config, groupUID, localID string) Ref {
	return Ref{ID: localID, Provider: Provider(cfg), Realm: groupUID}
}

// IDSet is a decoded Connec! id. A plain string id becomes one Connec! triplet
// (provider "connec", no realm).
type IDSet []Ref

// Connec is the Connec! uuid: the id of the "connec" triplet, or "".
func (s IDSet) Connec() string {
	for _, r := range s {
		if r.Provider == ProviderConnec {
			return r.ID
		}
	}
	return ""
}

// Find is the id of the triplet of provider and realm, or "".
func (s IDSet) Find(provider, realm string) string {
	for _, r := range s {
		if r.Provider == provider && r.Realm == realm {
			return r.ID
		}
	}
	return ""
}

// Ours is our local id in the set for a group of the tenant, or "".
func (s IDSet) Ours(cfg *tenant.Config, groupUID string) string {
	if Provider(cfg) == "" {
		return ""
	}
	return s.Find(Provider(cfg), groupUID)
}

// ParseID reads an `id` value: a plain string, or an array of triplets. v may
// be raw JSON (json.RawMessage or []byte), or what encoding/json decodes into
// an `any` (string, []any of map[string]any).
func ParseID(v any) (IDSet, error) {
	switch v := v.(type) {
	case json.RawMessage:
		return parseRawID(v)
	case []byte:
		return parseRawID(v)
	case string:
		if v == "" {
			return nil, errors.New("empty id")
		}
		return IDSet{{ID: v, Provider: ProviderConnec}}, nil
	case []Ref:
		return checkRefs(v)
	case []any:
		refs := make([]Ref, 0, len(v))
		for i, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("id[%d]: not an object", i)
			}
			id, _ := m["id"].(string)
			provider, _ := m["provider"].(string)
			realm, _ := m["realm"].(string)
			refs = append(refs, Ref{ID: id, Provider: provider, Realm: realm})
		}
		return checkRefs(refs)
	case nil:
		return nil, errors.New("missing id")
	default:
		return nil, fmt.Errorf("id of type %T", v)
	}
}

func parseRawID(raw []byte) (IDSet, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errors.New("missing id")
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("id: %w", err)
		}
		return ParseID(s)
	case '[':
		var refs []Ref
		if err := json.Unmarshal(raw, &refs); err != nil {
			return nil, fmt.Errorf("id array: %w", err)
		}
		return checkRefs(refs)
	default:
		return nil, errors.New("id is neither a string nor an array of {id, provider, realm}")
	}
}

func checkRefs(refs []Ref) (IDSet, error) {
	if len(refs) == 0 {
		return nil, errors.New("empty id array")
	}
	for i, r := range refs {
		if r.ID == "" || r.Provider == "" {
			return nil, fmt.Errorf("id[%d]: id and provider are required", i)
		}
	}
	return IDSet(refs), nil
}

// Header is what every Connec! record carries besides its own fields.
type Header struct {
	IDs       IDSet
	GroupID   string
	UpdatedAt time.Time // zero when the record has none
}

// DecodeHeader reads id, group_id and updated_at of a record.
func DecodeHeader(rec json.RawMessage) (Header, error) {
	var h struct {
		ID        json.RawMessage `json:"id"`
		GroupID   string          `json:"group_id"`
		UpdatedAt string          `json:"updated_at"`
	}
	if err := json.Unmarshal(rec, &h); err != nil {
		return Header{}, fmt.Errorf("record: %w", err)
	}
	ids, err := ParseID(h.ID)
	if err != nil {
		return Header{}, fmt.Errorf("record: %w", err)
	}
	if h.GroupID == "" {
		return Header{}, errors.New("record: missing group_id")
	}
	var at time.Time
	if h.UpdatedAt != "" {
		if at, err = parseTime(h.UpdatedAt); err != nil {
			return Header{}, fmt.Errorf("record: updated_at: %w", err)
		}
	}
	return Header{IDs: ids, GroupID: h.GroupID, UpdatedAt: at}, nil
}

// Unwrap returns the record inside a Connec! envelope `{"<collection>": …}`
// (the body of a read, create or update answer).
func Unwrap(body []byte, collection string) (json.RawMessage, error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("connec answer: %w", err)
	}
	rec, ok := env[collection]
	if !ok {
		return nil, fmt.Errorf("connec answer: no %q key", collection)
	}
	return rec, nil
}
