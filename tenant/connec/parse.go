package connec

// This file parses a Connec! notification (maestrano-protocol §5.7): a JSON
// object whose keys are collection names and whose values are arrays of
// full records (a singleton collection such as "company" may come as one
// object). Parsing writes nothing; every error about the body wraps
// ErrMalformed. What is then done with each record is ingest.go.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

// ErrMalformed is wrapped by every error about the notification's content
// (as opposed to a store failure); the listener answers it with 400.
var ErrMalformed = errors.New("malformed notification")

// Notification is a parsed, checked notification body.
type Notification struct {
	tenant  string
	records []notified
}

// notified is one record of a notification.
type notified struct {
	entity    string
	ids       IDSet
	connecID  string
	groupUID  string
	updatedAt time.Time
	name      string
	raw       json.RawMessage
	invoice   *store.Invoice // invoices only
}

// Len is the number of records in the notification.
func (n *Notification) Len() int { return len(n.records) }

// ParseNotification decodes and checks a notification body for a tenant.
// It writes nothing; every error wraps ErrMalformed.
func ParseNotification(cfg *tenant.Config, body []byte) (*Notification, error) {
	n := &Notification{tenant: string(cfg.Key)}
	err := parseStream(cfg, body, func(recs []notified) bool {
		n.records = append(n.records, recs...)
		return true
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// parseBatch is how many records parseStream hands over at a time.
const parseBatch = 256

// errStopped: the consumer of parseStream asked it to stop.
var errStopped = errors.New("parse stopped")

// parseStream decodes a notification body and hands its records to emit
// in batches, in body order; emit returns false to stop. A 16 MiB body of
// invoices is the listener's heaviest request, so the body is read by a
// scanner of its own (jsonscan.go) rather than encoding/json's Decoder:
// one strict pass finds and checks each record, and invoices are decoded
// from it without reflection (falling back to encoding/json for anything
// unusual). Every error about the body wraps ErrMalformed.
func parseStream(cfg *tenant.Config, body []byte, emit func([]notified) bool) error {
	sc := &jsonScan{b: body}
	if sc.ws(); sc.peek() != '{' {
		return fmt.Errorf("%w: the body must be a JSON object of collections", ErrMalformed)
	}
	sc.i++
	batch := make([]notified, 0, parseBatch)
	add := func(rec notified) bool {
		batch = append(batch, rec)
		if len(batch) < parseBatch {
			return true
		}
		ok := emit(batch)
		batch = make([]notified, 0, parseBatch)
		return ok
	}
	for first := true; ; first = false {
		if sc.ws(); sc.peek() == '}' && first {
			sc.i++
			break
		}
		if !first {
			if sc.peek() == '}' {
				sc.i++
				break
			}
			if err := sc.expect(','); err != nil {
				return fmt.Errorf("%w: %v", ErrMalformed, err)
			}
		}
		entity, err := sc.key()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if !tenant.ValidCollection(entity) {
			return fmt.Errorf("%w: collection name %q: use lowercase letters, digits and '_'", ErrMalformed, clip(entity))
		}
		switch sc.peek() {
		case '[':
			sc.i++
			for i := 0; ; i++ {
				if sc.ws(); sc.peek() == ']' && i == 0 {
					sc.i++
					break
				}
				if i > 0 {
					if sc.peek() == ']' {
						sc.i++
						break
					}
					if err := sc.expect(','); err != nil {
						return fmt.Errorf("%w: %s: %v", ErrMalformed, entity, err)
					}
				}
				rec, err := scanRecord(sc, cfg, entity)
				if err != nil {
					return fmt.Errorf("%w: %s[%d]: %v", ErrMalformed, entity, i, err)
				}
				if !add(rec) {
					return errStopped
				}
			}
		case '{': // a singleton collection ("company")
			rec, err := scanRecord(sc, cfg, entity)
			if err != nil {
				return fmt.Errorf("%w: %s: %v", ErrMalformed, entity, err)
			}
			if !add(rec) {
				return errStopped
			}
		case 'n': // null: nothing of this collection
			if _, err := sc.value(); err != nil {
				return fmt.Errorf("%w: %s: %v", ErrMalformed, entity, err)
			}
		default:
			return fmt.Errorf("%w: %s: want an array of records", ErrMalformed, entity)
		}
	}
	if sc.ws(); sc.i != len(body) {
		return fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	if len(batch) > 0 && !emit(batch) {
		return errStopped
	}
	return nil
}

// scanRecord reads the next record of the body.
func scanRecord(sc *jsonScan, cfg *tenant.Config, entity string) (notified, error) {
	raw, err := sc.value()
	if err != nil {
		return notified{}, err
	}
	return decodeRecord(raw, cfg, entity)
}

// decodeRecord decodes one record; raw is a checked JSON value.
func decodeRecord(raw []byte, cfg *tenant.Config, entity string) (notified, error) {
	if entity == EntityInvoices {
		var r remoteInvoice
		if !r.decodeFast(raw) {
			r = remoteInvoice{}
			if err := json.Unmarshal(raw, &r); err != nil {
				return notified{}, err
			}
		}
		inv, err := r.invoice(string(cfg.Key), r.GroupID)
		if err != nil {
			return notified{}, err
		}
		rec := notified{entity: entity, invoice: &inv, name: firstOf(inv.Number, inv.Title)}
		return rec, finishRecord(&rec, r.ID, r.GroupID, r.UpdatedAt)
	}
	if firstByte(raw) != '{' {
		return notified{}, errors.New("a record must be a JSON object")
	}
	raw = bytes.Clone(raw) // kept as the record's data: not a view of the body
	var r struct {
		ID                json.RawMessage `json:"id"`
		GroupID           string          `json:"group_id"`
		UpdatedAt         string          `json:"updated_at"`
		Name              string          `json:"name"`
		FirstName         string          `json:"first_name"`
		LastName          string          `json:"last_name"`
		Title             string          `json:"title"`
		TransactionNumber string          `json:"transaction_number"`
		Code              string          `json:"code"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return notified{}, err
	}
	person := r.FirstName
	if r.LastName != "" {
		person = firstOf(person+" "+r.LastName, r.LastName)
	}
	rec := notified{entity: entity, raw: raw, name: firstOf(r.Name, person, r.Title, r.TransactionNumber, r.Code)}
	return rec, finishRecord(&rec, r.ID, r.GroupID, r.UpdatedAt)
}

// finishRecord checks and sets what every record carries.
func finishRecord(rec *notified, idRaw json.RawMessage, groupUID, updatedAt string) error {
	ids, err := ParseID(idRaw)
	if err != nil {
		return err
	}
	rec.ids = ids
	if rec.connecID = ids.Connec(); !validRemoteID(rec.connecID) {
		return errors.New("no usable Connec! id (the triplet of provider \"connec\")")
	}
	if rec.groupUID = groupUID; !ValidGroupUID(groupUID) {
		return fmt.Errorf("group_id %q is missing or invalid", clip(groupUID))
	}
	if updatedAt != "" {
		if rec.updatedAt, err = parseTime(updatedAt); err != nil {
			return fmt.Errorf("updated_at: %w", err)
		}
	}
	return nil
}

// ValidGroupUID reports whether s can be a group uid (cld-…) or user uid
// (usr-…): 1 to 128 characters of letters, digits, '-', '_' and '.'.
// The listener uses it for webhook path values too.
func ValidGroupUID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validRemoteID accepts a Connec! id: printable, no NUL, at most 256 bytes.
func validRemoteID(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func clip(s string) string {
	if len(s) <= 70 {
		return s
	}
	return s[:70] + "…"
}
