package sso

import (
	"bytes"
	"errors"
	"fmt"

	saml2 "github.com/russellhaering/gosaml2"
)

// Caps on a SAML document, checked by inspectXML before gosaml2 (and its
// etree and canonicaliser) sees it. A signed response of the test IdP
// (crewjam/saml, Maestrano's attribute set) is 9.8 KB with 261 tokens
// counting attributes, 26 namespace declarations and a depth of 7; each cap
// leaves a wide margin over that while keeping what gosaml2 may spend on a
// hostile document small.
const (
	// maxXMLTokens counts tags, comments, processing instructions, CDATA
	// sections and attributes.
	maxXMLTokens = 4096
	// maxXMLDepth is the deepest element nesting accepted.
	maxXMLDepth = 32
	// maxXMLNamespaces counts xmlns and xmlns:p attributes in the whole
	// document: etree and the canonicaliser copy the namespace scope per
	// element, so the cost of many declarations multiplies.
	maxXMLNamespaces = 128
	// maxXMLName is the longest element or attribute name, the scanner's
	// only look-ahead that is not consumed.
	maxXMLName = 256
)

// prescan is one forward pass over a document. pos only moves forward and
// every byte it passes over is looked at a bounded number of times, so the
// cost is linear in the length whatever the content. Names are sub-slices
// of doc, never copies.
type prescan struct {
	doc        []byte
	pos        int
	tokens     int
	namespaces int
	depth      int
	open       [maxXMLDepth][]byte // names of the open elements
	root       []byte              // local name of the root element
	rootClosed bool
	assertions int
}

// inspectXML checks, before anything parses the document, what gosaml2
// does not: no DOCTYPE (or any other markup declaration), a Response root,
// exactly one Assertion or EncryptedAssertion anywhere (by local name,
// whatever the namespace: the count errs on refusing), and the caps on
// tokens, depth and namespace declarations. It reads the document once,
// front to back; a refusal comes as soon as the first fault is seen.
func inspectXML(raw []byte) *loginError {
	p := prescan{doc: raw}
	if lerr := p.run(); lerr != nil {
		return lerr
	}
	switch {
	case string(p.root) != saml2.ResponseTag:
		return fail(ReasonMalformed, fmt.Errorf("root element %q", truncate(p.root)))
	case p.assertions == 0:
		return fail(ReasonMalformed, errors.New("no assertion"))
	case p.assertions > 1:
		return fail(ReasonMultipleAssertions, fmt.Errorf("%d assertions", p.assertions))
	}
	return nil
}

func (p *prescan) run() *loginError {
	// A byte-order mark and white space may come first.
	p.pos = len(p.doc) - len(bytes.TrimLeft(p.doc, " \t\r\n\ufeff"))
	if p.pos == len(p.doc) || p.doc[p.pos] != '<' {
		return malformed("not an XML document")
	}
	for p.pos < len(p.doc) {
		lt := bytes.IndexByte(p.doc[p.pos:], '<')
		if lt < 0 {
			if p.depth == 0 && !blank(p.doc[p.pos:]) {
				return malformed("text outside the root element")
			}
			p.pos = len(p.doc)
			break
		}
		if p.depth == 0 && !blank(p.doc[p.pos:p.pos+lt]) {
			return malformed("text outside the root element")
		}
		p.pos += lt + 1
		p.tokens++
		if p.tokens > maxXMLTokens {
			return malformed(fmt.Sprintf("more than %d tokens", maxXMLTokens))
		}
		if lerr := p.markup(); lerr != nil {
			return lerr
		}
	}
	switch {
	case p.root == nil:
		return malformed("no root element")
	case p.depth > 0:
		return malformed("unclosed elements at the end")
	}
	return nil
}

// markup reads one construct; pos is just past its '<'.
func (p *prescan) markup() *loginError {
	rest := p.doc[p.pos:]
	switch {
	case bytes.HasPrefix(rest, []byte("!--")):
		return p.skipPast(3, "-->", "unterminated comment")
	case bytes.HasPrefix(rest, []byte("![CDATA[")):
		if p.depth == 0 {
			return malformed("CDATA outside the root element")
		}
		return p.skipPast(8, "]]>", "unterminated CDATA section")
	case bytes.HasPrefix(rest, []byte("!")):
		return fail(ReasonDoctype, nil)
	case bytes.HasPrefix(rest, []byte("?")):
		return p.skipPast(1, "?>", "unterminated processing instruction")
	case bytes.HasPrefix(rest, []byte("/")):
		return p.endTag()
	}
	return p.startTag()
}

// skipPast moves pos past the first end after skip bytes.
func (p *prescan) skipPast(skip int, end, what string) *loginError {
	p.pos += skip
	k := bytes.Index(p.doc[p.pos:], []byte(end))
	if k < 0 {
		return malformed(what)
	}
	p.pos += k + len(end)
	return nil
}

func (p *prescan) startTag() *loginError {
	name, lerr := p.name()
	if lerr != nil {
		return lerr
	}
	if p.rootClosed {
		return malformed("a second root element")
	}
	local := localName(name)
	if p.root == nil {
		p.root = local
	}
	if string(local) == saml2.AssertionTag || string(local) == saml2.EncryptedAssertionTag {
		p.assertions++
	}
	for {
		p.space()
		if p.pos >= len(p.doc) {
			return malformed("unterminated start tag")
		}
		switch p.doc[p.pos] {
		case '>':
			p.pos++
			return p.push(name)
		case '/':
			if p.pos+1 >= len(p.doc) || p.doc[p.pos+1] != '>' {
				return malformed("stray / in a start tag")
			}
			p.pos += 2
			if p.depth == 0 {
				p.rootClosed = true
			}
			return nil
		}
		if lerr := p.attribute(); lerr != nil {
			return lerr
		}
	}
}

// attribute reads name="value" or name='value'.
func (p *prescan) attribute() *loginError {
	start := p.pos
	name, lerr := p.name()
	if lerr != nil {
		return lerr
	}
	if p.pos == start {
		return malformed("expected an attribute")
	}
	p.tokens++
	if p.tokens > maxXMLTokens {
		return malformed(fmt.Sprintf("more than %d tokens", maxXMLTokens))
	}
	if string(name) == "xmlns" || bytes.HasPrefix(name, []byte("xmlns:")) {
		p.namespaces++
		if p.namespaces > maxXMLNamespaces {
			return malformed(fmt.Sprintf("more than %d namespace declarations", maxXMLNamespaces))
		}
	}
	p.space()
	if p.pos >= len(p.doc) || p.doc[p.pos] != '=' {
		return malformed("attribute without a value")
	}
	p.pos++
	p.space()
	if p.pos >= len(p.doc) || (p.doc[p.pos] != '"' && p.doc[p.pos] != '\'') {
		return malformed("attribute value not quoted")
	}
	quote := p.doc[p.pos]
	p.pos++
	k := bytes.IndexByte(p.doc[p.pos:], quote)
	if k < 0 {
		return malformed("unterminated attribute value")
	}
	if bytes.IndexByte(p.doc[p.pos:p.pos+k], '<') >= 0 {
		return malformed("< in an attribute value")
	}
	p.pos += k + 1
	return nil
}

func (p *prescan) endTag() *loginError {
	p.pos++ // the '/'
	name, lerr := p.name()
	if lerr != nil {
		return lerr
	}
	p.space()
	if p.pos >= len(p.doc) || p.doc[p.pos] != '>' {
		return malformed("unterminated end tag")
	}
	p.pos++
	if p.depth == 0 || !bytes.Equal(p.open[p.depth-1], name) {
		return malformed("end tag does not match its start tag")
	}
	p.depth--
	if p.depth == 0 {
		p.rootClosed = true
	}
	return nil
}

func (p *prescan) push(name []byte) *loginError {
	if p.depth == maxXMLDepth {
		return malformed(fmt.Sprintf("elements nested deeper than %d", maxXMLDepth))
	}
	p.open[p.depth] = name
	p.depth++
	return nil
}

// name reads an XML name of at most maxXMLName bytes: at most one colon,
// with a non-empty part either side of it. The look-ahead stops at the
// cap, so a long run of name bytes costs no more than a short one.
func (p *prescan) name() ([]byte, *loginError) {
	start, colons := p.pos, 0
	for p.pos < len(p.doc) && p.pos-start <= maxXMLName && isNameByte(p.doc[p.pos]) {
		if p.doc[p.pos] == ':' {
			colons++
		}
		p.pos++
	}
	name := p.doc[start:p.pos]
	switch {
	case len(name) == 0:
		return nil, malformed("expected a name")
	case len(name) > maxXMLName:
		return nil, malformed(fmt.Sprintf("a name longer than %d bytes", maxXMLName))
	case !isNameStart(name[0]):
		return nil, malformed("a name starts with a character names cannot start with")
	case colons > 1 || name[0] == ':' || name[len(name)-1] == ':':
		return nil, malformed("a name with an empty prefix or local part")
	}
	return name, nil
}

func (p *prescan) space() {
	for p.pos < len(p.doc) && isSpace(p.doc[p.pos]) {
		p.pos++
	}
}

// localName is the part of a name after its prefix.
func localName(name []byte) []byte { return name[bytes.IndexByte(name, ':')+1:] }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// isNameByte admits the ASCII name characters and every byte of a
// multi-byte UTF-8 sequence; encoding/xml, behind gosaml2, judges the
// non-ASCII ones.
func isNameByte(c byte) bool {
	return c >= 0x80 || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == ':' || c == '_' || c == '-' || c == '.'
}

func isNameStart(c byte) bool {
	return c >= 0x80 || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':'
}

func blank(b []byte) bool { return len(bytes.TrimLeft(b, " \t\r\n")) == 0 }

func malformed(what string) *loginError { return fail(ReasonMalformed, errors.New(what)) }

// truncate keeps an attacker's bytes in a log line short.
func truncate(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}
