package gateway_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/affluent-io/affluent/controlplane/cptest"
	"github.com/affluent-io/affluent/controlplane/store"
)

// tokenRequest posts form to /oauth2/token, with Basic credentials when
// user is set, and decodes the JSON answer.
func tokenRequest(t *testing.T, base, contentType, query string, form url.Values, user, pass string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/oauth2/token"+query, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("token endpoint answered %d with non-JSON %q", resp.StatusCode, raw)
	}
	return resp.StatusCode, resp.Header, body
}

const form = "application/x-www-form-urlencoded"

func TestTokenEndpoint(t *testing.T) {
	env := cptest.Start(t, "sqlite", cptest.Options{})
	cloudKey, cloudSecret := env.Boot.CloudAPIKey, env.Boot.CloudAPISecret
	grant := url.Values{"grant_type": {"client_credentials"}}
	withCreds := url.Values{"grant_type": {"client_credentials"}, "client_id": {cloudKey}, "client_secret": {cloudSecret}}

	status, h, body := tokenRequest(t, env.BaseURL, form, "", grant, cloudKey, cloudSecret)
	if status != 200 || body["token_type"] != "Bearer" || body["expires_in"] != float64(3600) || body["access_token"] == "" {
		t.Fatalf("basic auth: %d %v", status, body)
	}
	if h.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", h.Get("Cache-Control"))
	}
	token := body["access_token"].(string)
	if status, _, body := tokenRequest(t, env.BaseURL, form+"; charset=utf-8", "", withCreds, "", ""); status != 200 || body["access_token"] == "" {
		t.Fatalf("client_secret_post: %d %v", status, body)
	}

	for _, tc := range []struct {
		name, contentType, query string
		form                     url.Values
		user, pass               string
		status                   int
		code                     string
	}{
		{"wrong secret", form, "", grant, cloudKey, strings.Repeat("A", 64), 401, "invalid_client"},
		{"unknown key", form, "", grant, "ABCDEFGHIJKLMNOP", cloudSecret, 401, "invalid_client"},
		{"no credentials", form, "", grant, "", "", 401, "invalid_client"},
		{"both methods", form, "", withCreds, cloudKey, cloudSecret, 400, "invalid_request"},
		{"password grant", form, "", url.Values{"grant_type": {"password"}}, cloudKey, cloudSecret, 400, "unsupported_grant_type"},
		{"no grant type", form, "", url.Values{}, cloudKey, cloudSecret, 400, "unsupported_grant_type"},
		{"JSON body", "application/json", "", grant, cloudKey, cloudSecret, 400, "invalid_request"},
		{"secret in the URL", form, "?client_secret=" + cloudSecret, grant, cloudKey, cloudSecret, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := tokenRequest(t, env.BaseURL, tc.contentType, tc.query, tc.form, tc.user, tc.pass)
			if status != tc.status || body["error"] != tc.code {
				t.Fatalf("got %d %v, want %d %s", status, body, tc.status, tc.code)
			}
			if status == 401 && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("401 without WWW-Authenticate: Basic")
			}
		})
	}

	t.Run("discovery and JWKS", func(t *testing.T) {
		var disc map[string]any
		getJSON(t, env.BaseURL+"/.well-known/openid-configuration", &disc)
		if disc["issuer"] != env.BaseURL || disc["token_endpoint"] != env.BaseURL+"/oauth2/token" || disc["jwks_uri"] != env.BaseURL+"/.well-known/jwks.json" {
			t.Fatalf("discovery %v", disc)
		}
		var set struct {
			Keys []map[string]string `json:"keys"`
		}
		getJSON(t, env.BaseURL+"/.well-known/jwks.json", &set)
		header, _ := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
		var hdr map[string]string
		_ = json.Unmarshal(header, &hdr)
		if len(set.Keys) == 0 || set.Keys[0]["kid"] != hdr["kid"] || set.Keys[0]["kty"] != "EC" || hdr["alg"] != "ES256" {
			t.Fatalf("jwks %v does not publish the key of token header %v", set, hdr)
		}
		for _, k := range set.Keys {
			if k["d"] != "" {
				t.Fatal("the JWKS publishes a private key")
			}
		}
	})

	t.Run("the API accepts bearer tokens of cloud keys", func(t *testing.T) {
		call := func(tok string) (int, string) {
			req, _ := http.NewRequest("GET", env.BaseURL+"/v1/environments", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(raw)
		}
		if code, body := call(token); code != 200 || !strings.Contains(body, env.Boot.EnvironmentID) {
			t.Fatalf("cloud key token: %d %s", code, body)
		}
		_, _, kb := tokenRequest(t, env.BaseURL, form, "", grant, env.Boot.KafkaAPIKey, env.Boot.KafkaAPISecret)
		if code, body := call(kb["access_token"].(string)); code != 401 || !strings.Contains(body, "Kafka API key") {
			t.Fatalf("Kafka key token on the API: %d %s, want 401", code, body)
		}
		parts := strings.Split(token, ".")
		if code, _ := call(parts[0] + "." + parts[1] + "x." + parts[2]); code != 401 {
			t.Fatalf("tampered token: %d, want 401", code)
		}
	})

	t.Run("audit and logs", func(t *testing.T) {
		deadline := time.Now().Add(5 * time.Second)
		for {
			events, _, err := env.CP.Store().ListAuditEvents(t.Context(), env.Boot.OrganizationID, store.AuditQuery{Action: "oauth.token.issue"})
			if err != nil {
				t.Fatal(err)
			}
			var ok, refused bool
			for _, e := range events {
				ok = ok || e.Outcome == "OK"
				refused = refused || e.Outcome == "UNAUTHENTICATED"
			}
			if ok && refused {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("audit events %+v: want an issued token and a refused secret", events)
			}
			time.Sleep(50 * time.Millisecond)
		}
		logs := env.Logs.String()
		for what, s := range map[string]string{"token": token, "secret": cloudSecret} {
			if strings.Contains(logs, s) {
				t.Errorf("the %s appears in the logs", what)
			}
		}
	})
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
