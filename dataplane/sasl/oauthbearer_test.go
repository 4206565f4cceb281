package sasl

import (
	"errors"
	"strings"
	"testing"
)

func TestParseOAuthBearer(t *testing.T) {
	for _, tc := range []struct {
		msg     string
		token   string
		authz   string
		ext     map[string]string
		wantErr string
	}{
		{msg: "n,,\x01auth=Bearer abc.def.ghi\x01\x01", token: "abc.def.ghi"},
		{msg: "n,a=sa-1,\x01auth=bearer abc==\x01logicalCluster=lkc-1\x01traceId=x y\x01\x01", token: "abc==", authz: "sa-1",
			ext: map[string]string{"logicalCluster": "lkc-1", "traceId": "x y"}},
		{msg: "n,,\x01logicalCluster=lkc-1\x01auth=Bearer t\x01\x01", token: "t", ext: map[string]string{"logicalCluster": "lkc-1"}},
		{msg: "y,,\x01auth=Bearer t\x01\x01", wantErr: "channel binding"},
		{msg: "p=x,,\x01auth=Bearer t\x01\x01", wantErr: "channel binding"},
		{msg: "n,,auth=Bearer t\x01\x01", wantErr: "kvsep expected"},
		{msg: "n,,\x01auth=Bearer t\x01", wantErr: "not terminated"},
		{msg: "n,,\x01auth=Bearer t", wantErr: "must end"},
		{msg: "n,,\x01\x01", wantErr: "required"},
		{msg: "n,,\x01k=v\x01\x01", wantErr: "required"},
		{msg: "n,,\x01auth=Basic dXNlcg==\x01\x01", wantErr: "must be Bearer"},
		{msg: "n,,\x01auth=Bearer \x01\x01", wantErr: "empty token"},
		{msg: "n,,\x01auth=Bearer a b\x01\x01", wantErr: "b64token"},
		{msg: "n,,\x01auth=Bearer ===\x01\x01", wantErr: "b64token"},
		{msg: "n,,\x01auth=Bearer t\x01auth=Bearer u\x01\x01", wantErr: "auth repeated"},
		{msg: "n,,\x01auth=Bearer t\x01k=1\x01k=2\x01\x01", wantErr: "repeated"},
		{msg: "n,,\x01auth=Bearer t\x01k1=v\x01\x01", wantErr: "bad key"},
		{msg: "n,,\x01auth=Bearer t\x01\x01\x01", wantErr: "bad key"},
		{msg: "n,,\x01auth=Bearer t\x01k=\x00\x01\x01", wantErr: "bad value"},
		{msg: "n,b=x,\x01auth=Bearer t\x01\x01", wantErr: "bad authzid"},
	} {
		m, err := ParseOAuthBearer([]byte(tc.msg))
		if tc.wantErr != "" {
			if err == nil || !errors.Is(err, ErrMalformedOAuthBearer) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: err %v, want ErrMalformedOAuthBearer mentioning %q", tc.msg, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.msg, err)
			continue
		}
		if m.Token != tc.token || m.AuthzID != tc.authz || len(m.Extensions) != len(tc.ext) {
			t.Errorf("%q: parsed %+v", tc.msg, m)
		}
		for k, v := range tc.ext {
			if m.Extensions[k] != v {
				t.Errorf("%q: extension %s = %q, want %q", tc.msg, k, m.Extensions[k], v)
			}
		}
	}
}

func TestParseOAuthBearerErrorHidesToken(t *testing.T) {
	_, err := ParseOAuthBearer([]byte("n,,\x01auth=Bearer secret-token-value\x01k=\x00\x01\x01"))
	if err == nil || strings.Contains(err.Error(), "secret-token-value") {
		t.Fatalf("error %v must exist and must not contain the token", err)
	}
}

func FuzzParseOAuthBearer(f *testing.F) {
	f.Add([]byte("n,,\x01auth=Bearer abc.def.ghi\x01\x01"))
	f.Add([]byte("n,a=x,\x01auth=Bearer t\x01logicalCluster=lkc-1\x01\x01"))
	f.Add([]byte("n,,\x01\x01"))
	f.Add(AppendOAuthBearer(nil, "tok", [2]string{"logicalCluster", "lkc-x"}))
	f.Fuzz(func(t *testing.T, msg []byte) {
		m, err := ParseOAuthBearer(msg)
		if err != nil {
			if !errors.Is(err, ErrMalformedOAuthBearer) {
				t.Fatalf("error %v does not wrap ErrMalformedOAuthBearer", err)
			}
			return
		}
		if m.Token == "" {
			t.Fatalf("accepted %q without a token", msg)
		}
		if _, ok := m.Extensions["auth"]; ok {
			t.Fatalf("auth leaked into extensions: %q", msg)
		}
		if m.AuthzID == "" && len(m.Extensions) == 0 && !strings.EqualFold(string(msg), string(AppendOAuthBearer(nil, m.Token))) {
			// Only the scheme's case or padding spaces may differ.
			if !strings.Contains(string(msg), m.Token) {
				t.Fatalf("token %q not in message %q", m.Token, msg)
			}
		}
	})
}
