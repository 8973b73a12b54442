package sso

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

const testResponseOpen = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">`

// hostileDoc builds the documents of issue 9's probes, n bytes long (or a
// little less): a run of '<', elements nested n deep, one element carrying
// namespace declarations until the size is reached, and ("text") a
// well-formed unsigned response padded with text.
func hostileDoc(kind string, n int) []byte {
	var b bytes.Buffer
	switch kind {
	case "lt":
		return bytes.Repeat([]byte("<"), n)
	case "nested":
		b.WriteString(testResponseOpen)
		for b.Len()+len("<a>") <= n {
			b.WriteString("<a>")
		}
	case "namespaces":
		b.WriteString(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"`)
		for i := 0; b.Len()+40 <= n; i++ {
			fmt.Fprintf(&b, ` xmlns:n%d="urn:x:%d"`, i, i)
		}
		b.WriteString(`><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"/></samlp:Response>`)
	case "text":
		// Passes the pre-scan: one assertion full of text, for gosaml2 to
		// parse and refuse (no signature).
		b.WriteString(testResponseOpen + `<saml:Assertion ID="a"><saml:Issuer>`)
		tail := `</saml:Issuer></saml:Assertion></samlp:Response>`
		b.Write(bytes.Repeat([]byte("x"), max(0, n-b.Len()-len(tail))))
		b.WriteString(tail)
	default:
		panic(kind)
	}
	return b.Bytes()
}

func TestInspectXMLHostile(t *testing.T) {
	for _, c := range []struct {
		kind string
		want string // a fragment of the refusal's detail
	}{
		{"lt", "name"},
		{"nested", "nested deeper"},
		{"namespaces", "namespace declarations"},
	} {
		for _, size := range []int{MaxResponseBytes, 1 << 20} {
			lerr := inspectXML(hostileDoc(c.kind, size))
			if lerr == nil || lerr.reason != ReasonMalformed || !strings.Contains(lerr.err.Error(), c.want) {
				t.Errorf("%s, %d bytes: got %v, want %s refusal mentioning %q", c.kind, size, lerr, ReasonMalformed, c.want)
			}
		}
	}
}

func TestInspectXMLCaps(t *testing.T) {
	nest := func(depth int) string {
		// the Response root is the first level
		return testResponseOpen + strings.Repeat("<x>", depth-1) + "<saml:Assertion/>" +
			strings.Repeat("</x>", depth-1) + "</samlp:Response>"
	}
	attrs := func(n int) string {
		var b strings.Builder
		b.WriteString(testResponseOpen + "<saml:Assertion")
		for i := range n {
			fmt.Fprintf(&b, ` a%d="v"`, i)
		}
		b.WriteString("/></samlp:Response>")
		return b.String()
	}
	namespaces := func(n int) string {
		var b strings.Builder
		b.WriteString(`<samlp:Response xmlns:samlp="urn:p"><saml:Assertion xmlns:saml="urn:a"`)
		for i := range n - 2 {
			fmt.Fprintf(&b, ` xmlns:n%d="urn:%d"`, i, i)
		}
		b.WriteString("/></samlp:Response>")
		return b.String()
	}
	// Response, Assertion, end tag: 3 tokens besides the root's 2 attributes.
	cases := []struct {
		name string
		doc  string
		ok   bool
	}{
		{"depth at the cap", nest(maxXMLDepth - 1), true},
		{"depth over the cap", nest(maxXMLDepth + 1), false},
		{"tokens at the cap", attrs(maxXMLTokens - 5), true},
		{"tokens over the cap", attrs(maxXMLTokens - 4), false},
		{"namespaces at the cap", namespaces(maxXMLNamespaces), true},
		{"namespaces over the cap", namespaces(maxXMLNamespaces + 1), false},
		{"name at the cap", testResponseOpen + "<saml:Assertion " + strings.Repeat("a", maxXMLName) + `="v"/></samlp:Response>`, true},
		{"name over the cap", testResponseOpen + "<saml:Assertion " + strings.Repeat("a", maxXMLName+1) + `="v"/></samlp:Response>`, false},
		{"mismatched end tag", testResponseOpen + "<saml:Assertion></saml:Assertio></samlp:Response>", false},
		{"unclosed root", testResponseOpen + "<saml:Assertion/>", false},
		{"second root", testResponseOpen + "<saml:Assertion/></samlp:Response><samlp:Response/>", false},
		{"text after the root", testResponseOpen + "<saml:Assertion/></samlp:Response>junk", false},
		{"comment after the root", testResponseOpen + "<saml:Assertion/></samlp:Response>\n<!-- fine -->\n", true},
		{"< in an attribute value", testResponseOpen + `<saml:Assertion ID="<"/></samlp:Response>`, false},
		{"empty local part", testResponseOpen + `<saml:Assertion/><saml:/></samlp:Response>`, false},
		{"two colons", testResponseOpen + `<saml:Assertion/><a:b:c/></samlp:Response>`, false},
		{"unquoted attribute", testResponseOpen + `<saml:Assertion ID=a/></samlp:Response>`, false},
	}
	for _, c := range cases {
		lerr := inspectXML([]byte(c.doc))
		if (lerr == nil) != c.ok {
			t.Errorf("%s: inspectXML = %v, want ok=%v", c.name, lerr, c.ok)
		}
		if lerr != nil && lerr.reason != ReasonMalformed {
			t.Errorf("%s: reason %s, want %s", c.name, lerr.reason, ReasonMalformed)
		}
	}
}

// xmlFacts is what encoding/xml's tokenizer (the one under gosaml2's
// etree) says about the facts inspectXML decides on.
type xmlFacts struct {
	root       string
	assertions int
	depth      int
	tokens     int
	namespaces int
	directive  bool
}

// tokenize reads doc with a strict encoding/xml decoder; err is its first
// error, and the facts gathered up to it are returned either way.
func tokenize(doc []byte) (xmlFacts, error) {
	var f xmlFacts
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	depth := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			if depth != 0 {
				return f, io.ErrUnexpectedEOF
			}
			return f, nil
		}
		if err != nil {
			return f, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			f.tokens += 1 + len(t.Attr)
			if f.root == "" {
				f.root = t.Name.Local
			}
			if t.Name.Local == "Assertion" || t.Name.Local == "EncryptedAssertion" {
				f.assertions++
			}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					f.namespaces++
				}
			}
			depth++
			f.depth = max(f.depth, depth)
		case xml.EndElement:
			f.tokens++
			depth--
		case xml.Comment, xml.ProcInst:
			f.tokens++
		case xml.Directive:
			f.directive = true
			return f, nil
		}
	}
}

// wellInside reports whether a document that encoding/xml read whole is
// one the pre-scan must accept: ASCII, the facts within the caps and
// nothing but markup and white space outside the root element (the
// pre-scan is stricter there on purpose; gosaml2 wants none of it).
func wellInside(doc []byte, f xmlFacts) bool {
	for _, c := range doc {
		if c >= 0x80 {
			return false
		}
	}
	root := bytes.IndexByte(doc, '<')
	end := bytes.LastIndexByte(doc, '>')
	return !f.directive && f.root == "Response" && f.assertions == 1 && f.depth <= maxXMLDepth &&
		f.namespaces <= maxXMLNamespaces && 2*f.tokens <= maxXMLTokens && root >= 0 &&
		blank(doc[:root]) && blank(doc[end+1:]) && !bytes.Contains(doc, []byte("]]>"))
}

// FuzzInspectXML checks the pre-scan against encoding/xml: it never
// panics; whatever it accepts, a strict tokenizer that reads the whole
// document sees the same root, exactly one assertion, and no more depth,
// namespace declarations or tokens than the caps allow; and a document in
// which the tokenizer meets a DOCTYPE or other declaration is never
// accepted. Conversely, an ASCII document encoding/xml reads whole within
// the caps is accepted. (Self-closing tags count as one token here and as
// two in encoding/xml, so the token checks allow for that.)
func FuzzInspectXML(f *testing.F) {
	f.Add([]byte(`<?xml version="1.0"?>` + testResponseOpen + `<saml:Assertion ID="a"><saml:Issuer>x</saml:Issuer></saml:Assertion></samlp:Response>`))
	f.Add([]byte(testResponseOpen + `<!-- <saml:Assertion> --><![CDATA[<x>]]><saml:Assertion/></samlp:Response>`))
	f.Add([]byte(`<!DOCTYPE r [<!ENTITY a "b">]>` + testResponseOpen + `<saml:Assertion/></samlp:Response>`))
	f.Add([]byte(testResponseOpen + `<saml:Assertion/><saml:Assertion/></samlp:Response>`))
	f.Add(hostileDoc("nested", 200))
	f.Add(hostileDoc("namespaces", 2000))
	f.Add(hostileDoc("lt", 50))
	f.Fuzz(func(t *testing.T, doc []byte) {
		lerr := inspectXML(doc)
		facts, err := tokenize(doc)
		if lerr == nil && facts.directive {
			t.Fatalf("accepted a document with a declaration: %q", doc)
		}
		if err == nil && lerr != nil && wellInside(doc, facts) {
			t.Fatalf("refused (%v) a document encoding/xml reads whole within the caps: %q", lerr, doc)
		}
		if lerr != nil || err != nil {
			return
		}
		switch {
		case facts.root != "Response":
			t.Fatalf("accepted root %q: %q", facts.root, doc)
		case facts.assertions != 1:
			t.Fatalf("accepted %d assertions: %q", facts.assertions, doc)
		case facts.depth > maxXMLDepth:
			t.Fatalf("accepted depth %d: %q", facts.depth, doc)
		case facts.namespaces > maxXMLNamespaces:
			t.Fatalf("accepted %d namespace declarations: %q", facts.namespaces, doc)
		case facts.tokens > 2*maxXMLTokens:
			t.Fatalf("accepted %d tokens: %q", facts.tokens, doc)
		}
	})
}
