package httpoidc

import (
	"encoding/json"
	"errors"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// claimsSeeds are JSON documents whose reading must agree with
// json.Unmarshal: escapes, repeated names, nesting, whitespace, and what
// is not an object.
var claimsSeeds = []string{
	`{"iss":"https://op.example","sub":"alice","aud":["api","other"],"exp":1796213156,"scope":"read write"}`,
	`{"sub":"a\"b\\c\u00e9\ud83d\ude00","aud":"api other"}`,
	`{"\u0073ub":"escaped name","SUB":"not sub","sub ":"not sub either"}`,
	`{"sub":"first","sub":"last"}`,
	` { "cnf" : { "jkt" : "abc" , "x" : [ 1 , { "jkt" : "nested" } ] } , "active" : true } `,
	`{"exp":1e300,"iat":-1,"nbf":0.5,"typ":null,"events":{},"nonce":""}`,
	`{"scp":["a",1],"aud":[],"token_use":"access"}`,
	"{\"sub\":\"\xff\xfe\"}",
	`{}`, `[]`, `null`, `"sub"`, `{"sub":}`, `{"sub":"a"`, `{"sub":"a"}x`, ``,
}

// knownClaims are the names claimValues keeps.
var knownClaims = map[string]func(*claimValues) jsonValue{
	"iss": func(c *claimValues) jsonValue { return c.iss }, "sub": func(c *claimValues) jsonValue { return c.sub },
	"aud": func(c *claimValues) jsonValue { return c.aud }, "exp": func(c *claimValues) jsonValue { return c.exp },
	"nbf": func(c *claimValues) jsonValue { return c.nbf }, "iat": func(c *claimValues) jsonValue { return c.iat },
	"scope": func(c *claimValues) jsonValue { return c.scope }, "scp": func(c *claimValues) jsonValue { return c.scp },
	"client_id": func(c *claimValues) jsonValue { return c.clientID }, "azp": func(c *claimValues) jsonValue { return c.azp },
	"cid": func(c *claimValues) jsonValue { return c.cid }, "appid": func(c *claimValues) jsonValue { return c.appid },
	"typ": func(c *claimValues) jsonValue { return c.typ }, "token_use": func(c *claimValues) jsonValue { return c.tokenUse },
	"token_type": func(c *claimValues) jsonValue { return c.tokenType }, "active": func(c *claimValues) jsonValue { return c.active },
	"events": func(c *claimValues) jsonValue { return c.events }, "c_hash": func(c *claimValues) jsonValue { return c.cHash },
	"s_hash": func(c *claimValues) jsonValue { return c.sHash }, "at_hash": func(c *claimValues) jsonValue { return c.atHash },
	"nonce": func(c *claimValues) jsonValue { return c.nonce }, "cnf": func(c *claimValues) jsonValue { return c.cnf },
}

// checkClaimsAgree fails unless reading doc agrees with json.Unmarshal
// into a map[string]any, the reading it replaces: the same documents are
// objects, every member has the value the map has (the last of a repeated
// name), and every accessor gives what a type assertion on the map gives.
func checkClaimsAgree(t *testing.T, doc string) {
	var want map[string]any
	wantErr := json.Unmarshal([]byte(doc), &want)
	var c claimValues
	members := map[string]jsonValue{}
	err := eachMember(doc, func(name string, v jsonValue) { members[name] = v })
	require.Equal(t, err, readClaims(doc, &c))
	var rangeErr *json.UnmarshalTypeError
	switch {
	case wantErr == nil && want != nil:
		require.NoError(t, err, "%q", doc)
	case err == nil:
		// json.Unmarshal refuses a number beyond float64 anywhere in the
		// document; the claims reader only where a claim needs a number.
		require.True(t, errors.As(wantErr, &rangeErr), "%q is read as an object, json.Unmarshal says %v", doc, wantErr)
		return
	default:
		return
	}
	got := map[string]any{}
	for name, v := range members {
		var value any
		require.NoError(t, json.Unmarshal([]byte(v), &value), "member %q: %q", name, v)
		got[name] = value
	}
	require.Equal(t, want, got)
	for name, field := range knownClaims {
		v := field(&c)
		value, present := want[name]
		require.Equal(t, present, v.present(), name)
		s, isString := value.(string)
		gotString, ok := v.str()
		require.Equal(t, isString, ok, name)
		require.Equal(t, s, gotString, name)
		f, isNumber := value.(float64)
		gotNumber, ok := v.number()
		require.Equal(t, isNumber, ok, name)
		require.Equal(t, f, gotNumber, name) //nolint:testifylint // exact: both come from strconv.ParseFloat
		b, isBool := value.(bool)
		gotBool, ok := v.boolean()
		require.Equal(t, isBool, ok, name)
		require.Equal(t, b, gotBool, name)
		var wantList []string
		wantListOK := true
		switch value := value.(type) {
		case nil:
		case string:
			wantList = []string{value}
		case []any:
			for _, item := range value {
				s, ok := item.(string)
				wantListOK = wantListOK && ok
				wantList = append(wantList, s)
			}
		default:
			wantListOK = false
		}
		gotList, ok := v.strs(oneString)
		require.Equal(t, wantListOK, ok, name)
		if ok {
			require.Equal(t, len(wantList), len(gotList), name)
			for i := range wantList {
				require.Equal(t, wantList[i], gotList[i], name)
			}
		}
	}
	cnf, _ := want["cnf"].(map[string]any)
	jktValue, wantBound := cnf["jkt"]
	wantJKT, _ := jktValue.(string)
	jkt, bound := c.confirmation()
	require.Equal(t, wantBound, bound)
	require.Equal(t, wantJKT, jkt)
}

func TestClaimValues(t *testing.T) {
	t.Parallel()
	for _, doc := range claimsSeeds {
		t.Run(doc, func(t *testing.T) { checkClaimsAgree(t, doc) })
	}
	t.Run("an escaped name is the name", func(t *testing.T) {
		var c claimValues
		require.NoError(t, readClaims(`{"\u0073ub":"alice","SUB":"mallory"}`, &c))
		sub, _ := c.sub.str()
		require.Equal(t, "alice", sub)
	})
	t.Run("a string without escapes shares the document", func(t *testing.T) {
		doc := `{"sub":"alice"}`
		var c claimValues
		require.NoError(t, readClaims(doc, &c))
		sub, _ := c.sub.str()
		require.Equal(t, "alice", sub)
		require.Equal(t, unsafe.StringData(doc[8:]), unsafe.StringData(sub))
	})
}

// FuzzClaimValues checks that the claims reader and json.Unmarshal read
// every document alike (checkClaimsAgree).
func FuzzClaimValues(f *testing.F) {
	for _, doc := range claimsSeeds {
		f.Add(doc)
	}
	f.Fuzz(checkClaimsAgree)
}
