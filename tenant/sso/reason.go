package sso

import "net/http"

// Reason is why a SAML login was refused. Its value is the stable code shown
// on the error page and stored in the audit event; handlers pick a Reason
// from the failing check, never from an error's text.
type Reason string

// Reasons a login can fail.
const (
	ReasonMalformed          Reason = "malformed"           // not a well-formed SAML Response
	ReasonDoctype            Reason = "doctype"             // a DOCTYPE declaration (entity tricks)
	ReasonTooLarge           Reason = "too_large"           // body or decoded document over the limit
	ReasonSignature          Reason = "signature"           // unsigned, wrong key, or tampered content
	ReasonIssuer             Reason = "issuer"              // Issuer is not this tenant's IdP
	ReasonDestination        Reason = "destination"         // Destination missing or not our consume URL
	ReasonRecipient          Reason = "recipient"           // SubjectConfirmationData/@Recipient is not our consume URL
	ReasonInResponseTo       Reason = "in_response_to"      // answers no pending request of this tenant
	ReasonUnsolicited        Reason = "unsolicited"         // IdP-initiated, and the tenant does not allow it
	ReasonReplay             Reason = "replay"              // the assertion was accepted before
	ReasonAudience           Reason = "audience"            // no AudienceRestriction naming us
	ReasonExpired            Reason = "expired"             // past NotOnOrAfter (plus skew)
	ReasonNotYetValid        Reason = "not_yet_valid"       // before NotBefore / IssueInstant (minus skew)
	ReasonMultipleAssertions Reason = "multiple_assertions" // anything but exactly one assertion
	ReasonMissingAttribute   Reason = "missing_attribute"   // uid, group_uid (or virtual_uid) missing
	ReasonTenantMismatch     Reason = "tenant_mismatch"     // addressed to another tenant's consume URL
	ReasonIdPStatus          Reason = "idp_status"          // the IdP answered with a non-success status
	ReasonOtherBrowser       Reason = "other_browser"       // SP-initiated, but posted by a browser that did not start it (login CSRF)
	ReasonRemovedLater       Reason = "removed_later"       // issued before the group was cancelled, the member removed or the user blocked
	ReasonConfig             Reason = "sso_config"          // this tenant's SSO settings are unusable
	ReasonInternal           Reason = "internal"            // the store failed
	ReasonBusy               Reason = "busy"                // every verification slot taken: try again shortly
	ReasonParameter          Reason = "parameter"           // an initialize parameter over its cap
)

// String returns the reason code.
func (r Reason) String() string { return string(r) }

// HTTPStatus is the status of the error page: 400 for input that is not a
// usable SAML Response, 413 for oversize input, 403 for a well-formed
// response that is refused, 500 for failures on our side, 503 when every
// verification slot is taken.
func (r Reason) HTTPStatus() int {
	switch r {
	case ReasonTooLarge:
		return http.StatusRequestEntityTooLarge
	case ReasonMalformed, ReasonDoctype, ReasonMultipleAssertions, ReasonMissingAttribute, ReasonParameter:
		return http.StatusBadRequest
	case ReasonConfig, ReasonInternal:
		return http.StatusInternalServerError
	case ReasonBusy:
		return http.StatusServiceUnavailable
	default:
		return http.StatusForbidden
	}
}

// Message is a short explanation for people (error page, activity log).
func (r Reason) Message() string {
	switch r {
	case ReasonMalformed:
		return "The sign-in message is not a well-formed SAML response."
	case ReasonDoctype:
		return "The sign-in message contains a DOCTYPE declaration."
	case ReasonTooLarge:
		return "The sign-in message is too large."
	case ReasonSignature:
		return "The sign-in message is not signed by this marketplace's identity provider."
	case ReasonIssuer:
		return "The sign-in message was issued by another identity provider."
	case ReasonDestination:
		return "The sign-in message is not addressed to this sign-in endpoint."
	case ReasonRecipient:
		return "The assertion is not addressed to this sign-in endpoint."
	case ReasonInResponseTo:
		return "The sign-in message does not answer a pending sign-in request of this marketplace."
	case ReasonUnsolicited:
		return "This marketplace does not allow sign-in started by the identity provider."
	case ReasonReplay:
		return "This sign-in message has already been used."
	case ReasonAudience:
		return "The assertion is meant for another service."
	case ReasonExpired:
		return "The sign-in message has expired."
	case ReasonNotYetValid:
		return "The sign-in message is not valid yet; check the clocks."
	case ReasonMultipleAssertions:
		return "The sign-in message must contain exactly one assertion."
	case ReasonMissingAttribute:
		return "The sign-in message lacks a required user or group attribute."
	case ReasonTenantMismatch:
		return "The sign-in message is addressed to another marketplace."
	case ReasonIdPStatus:
		return "The identity provider reported that sign-in failed."
	case ReasonOtherBrowser:
		return "This sign-in was not started in this browser; start it again from the marketplace."
	case ReasonRemovedLater:
		return "The account was removed after this sign-in message was issued."
	case ReasonConfig:
		return "Single sign-on is not configured correctly for this marketplace."
	case ReasonInternal:
		return "Sign-in failed because of an internal error."
	case ReasonParameter:
		return "The sign-in request carries too many parameters or one that is too long."
	case ReasonBusy:
		return "Sign-in is busy right now; please try again in a moment."
	}
	return "Sign-in failed."
}

// loginError carries a Reason through a store transaction so that the
// transaction rolls back and the handler still knows why.
type loginError struct {
	reason Reason
	err    error // detail for the log only
}

func (e *loginError) Error() string {
	if e.err != nil {
		return string(e.reason) + ": " + e.err.Error()
	}
	return string(e.reason)
}

func (e *loginError) Unwrap() error { return e.err }

func fail(r Reason, err error) *loginError { return &loginError{reason: r, err: err} }
