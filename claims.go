package httpoidc

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// A new token's claims are read here without reflection: the JSON is
// checked by encoding/json's json.Valid, then walked once, and each claim
// the token checks need is kept as the JSON text of its value, a substring
// of the document that costs no allocation. Decoding the whole document
// into a map[string]any cost more than everything but the signature check
// on a new JWT; the map is now built only for those who ask for it
// (Token.Claims, groups and the proxy's identity headers).
//
// The reading agrees with json.Unmarshal into a map[string]any, which
// FuzzClaimValues checks: member names are unescaped and compared exactly
// (encoding/json's struct decoding would also match "SUB" to sub), and
// when a name repeats, the last value counts.

// jsonValue is the JSON text of one value; "" when the member is absent.
type jsonValue string

var errNotJSONObject = errors.New("not a JSON object")

// stringOf returns the bytes of b as a string without copying them. The
// caller owns b and never changes it afterwards.
func stringOf(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// eachMember calls f with the name and value of every member of doc, a
// JSON object, in order. It returns errNotJSONObject if doc is not valid
// JSON or not an object; f is then never called.
func eachMember(doc string, f func(name string, v jsonValue)) error {
	if !json.Valid(unsafe.Slice(unsafe.StringData(doc), len(doc))) {
		return errNotJSONObject
	}
	i := skipSpace(doc, 0)
	if i == len(doc) || doc[i] != '{' {
		return errNotJSONObject
	}
	walkMembers(doc[i:], f)
	return nil
}

// walkMembers calls f for every member of obj, valid JSON text starting
// with '{'. Every index below stays within obj because the JSON is valid.
func walkMembers(obj string, f func(name string, v jsonValue)) {
	i := skipSpace(obj, 1)
	if obj[i] == '}' {
		return
	}
	for {
		end := valueEnd(obj, i)
		name, _ := jsonValue(obj[i:end]).str()
		i = skipSpace(obj, skipSpace(obj, end)+1) // past the colon
		end = valueEnd(obj, i)
		f(name, jsonValue(obj[i:end]))
		i = skipSpace(obj, end)
		if obj[i] == '}' {
			return
		}
		i = skipSpace(obj, i+1) // past the comma
	}
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// valueEnd returns the index just after the JSON value starting at i in
// the valid JSON text s.
func valueEnd(s string, i int) int {
	switch s[i] {
	case '"':
		for j := i + 1; j < len(s); j++ {
			switch s[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return len(s)
	case '{', '[':
		depth := 0
		for j := i; j < len(s); j++ {
			switch s[j] {
			case '"':
				j = valueEnd(s, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(s)
	}
	// A number, true, false or null ends at a delimiter.
	for j := i; j < len(s); j++ {
		switch s[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
	}
	return len(s)
}

func (v jsonValue) present() bool { return v != "" }

// str returns the string v holds, unescaped, and false if v is not a JSON
// string. A string without escapes is a substring of the document.
func (v jsonValue) str() (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	inner := string(v[1 : len(v)-1])
	// json.Unmarshal replaces invalid UTF-8 with U+FFFD: such strings take
	// its path, so that both readings agree.
	if strings.IndexByte(inner, '\\') < 0 && utf8.ValidString(inner) {
		return inner, true
	}
	var s string
	if json.Unmarshal([]byte(v), &s) != nil {
		return "", false
	}
	return s, true
}

// number returns the number v holds, as json.Unmarshal would give it to
// an any, and false if v is not a JSON number.
func (v jsonValue) number() (float64, bool) {
	if v == "" || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	return f, err == nil
}

// boolean returns the boolean v holds, and false if it holds none.
func (v jsonValue) boolean() (value, ok bool) {
	return v == "true", v == "true" || v == "false"
}

// strs returns the strings of an array of strings; a single string gives
// split(string). It returns nil and true for an absent or null value, and
// false for anything else.
func (v jsonValue) strs(split func(string) []string) ([]string, bool) {
	switch {
	case v == "" || v == "null":
		return nil, true
	case v[0] == '"':
		s, ok := v.str()
		return split(s), ok
	case v[0] != '[':
		return nil, false
	}
	var values []string
	arr := string(v)
	i := skipSpace(arr, 1)
	for arr[i] != ']' {
		end := valueEnd(arr, i)
		s, ok := jsonValue(arr[i:end]).str()
		if !ok {
			return nil, false
		}
		values = append(values, s)
		if i = skipSpace(arr, end); arr[i] == ',' {
			i = skipSpace(arr, i+1)
		}
	}
	return values, true
}

// oneString makes a one-string aud claim its only audience (RFC 7519
// §4.1.3), for strs.
func oneString(s string) []string { return []string{s} }

// member returns the value of the member name of v, a JSON object, and
// "" if v is no object or has no such member.
func (v jsonValue) member(name string) jsonValue {
	var found jsonValue
	if len(v) > 0 && v[0] == '{' {
		walkMembers(string(v), func(n string, value jsonValue) {
			if n == name {
				found = value
			}
		})
	}
	return found
}

// claimValues are the members of a token's claims (or of an introspection
// answer) that the token checks read.
type claimValues struct {
	iss, sub, aud, exp, nbf, iat     jsonValue
	scope, scp                       jsonValue
	clientID, azp, cid, appid        jsonValue
	typ, tokenUse, tokenType, active jsonValue
	events, cHash, sHash, atHash     jsonValue
	nonce, cnf                       jsonValue
}

// readClaims reads the JSON object doc into c. It returns errNotJSONObject
// if doc is not one.
func readClaims(doc string, c *claimValues) error {
	return eachMember(doc, c.set)
}

func (c *claimValues) set(name string, v jsonValue) {
	switch name {
	case "iss":
		c.iss = v
	case "sub":
		c.sub = v
	case "aud":
		c.aud = v
	case "exp":
		c.exp = v
	case "nbf":
		c.nbf = v
	case "iat":
		c.iat = v
	case "scope":
		c.scope = v
	case "scp":
		c.scp = v
	case "client_id":
		c.clientID = v
	case "azp":
		c.azp = v
	case "cid":
		c.cid = v
	case "appid":
		c.appid = v
	case "typ":
		c.typ = v
	case "token_use":
		c.tokenUse = v
	case "token_type":
		c.tokenType = v
	case "active":
		c.active = v
	case "events":
		c.events = v
	case "c_hash":
		c.cHash = v
	case "s_hash":
		c.sHash = v
	case "at_hash":
		c.atHash = v
	case "nonce":
		c.nonce = v
	case "cnf":
		c.cnf = v
	}
}

// confirmation returns the cnf.jkt of the claims (RFC 9449 §6) and
// whether the token is DPoP-bound: a cnf with a jkt member, whatever its
// type (a malformed one binds the token to no key that can sign).
func (c *claimValues) confirmation() (string, bool) {
	v := c.cnf.member("jkt")
	jkt, _ := v.str()
	return jkt, v.present()
}
