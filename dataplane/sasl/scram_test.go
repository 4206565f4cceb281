package sasl

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// RFC 7677 §3: the SCRAM-SHA-256 exchange of user "user", password "pencil".
func TestScramRFC7677Vector(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	cred, err := ScramSHA256.NewCredentialWithSalt("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	s := NewScramServer(ScramSHA256)
	s.serverNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	cf, err := s.ClientFirst([]byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
	if err != nil {
		t.Fatal(err)
	}
	if cf.Username != "user" || cf.Nonce != "rOprNGfwEbeRWgbNEkqO" || cf.GS2Header != "n,," {
		t.Fatalf("client first parsed as %+v", cf)
	}
	first, err := s.ServerFirst(cred)
	if err != nil {
		t.Fatal(err)
	}
	if want := "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"; string(first) != want {
		t.Fatalf("server-first = %q, want %q", first, want)
	}
	final, err := s.ClientFinal([]byte("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="; string(final) != want {
		t.Fatalf("server-final = %q, want %q", final, want)
	}
}

// exchange runs franz-go's SCRAM client against a ScramServer holding cred.
func exchange(t *testing.T, m ScramMechanism, user, pass string, cred ScramCredential) error {
	t.Helper()
	auth := scram.Auth{User: user, Pass: pass}
	mech := auth.AsSha256Mechanism()
	if m == ScramSHA512 {
		mech = auth.AsSha512Mechanism()
	}
	session, msg, err := mech.Authenticate(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	s := NewScramServer(m)
	cf, err := s.ClientFirst(msg)
	if err != nil {
		return err
	}
	if cf.Username != user {
		t.Fatalf("username %q, want %q", cf.Username, user)
	}
	first, err := s.ServerFirst(cred)
	if err != nil {
		t.Fatal(err)
	}
	_, clientFinal, err := session.Challenge(first)
	if err != nil {
		t.Fatalf("client rejected server-first: %v", err)
	}
	serverFinal, err := s.ClientFinal(clientFinal)
	if err != nil {
		return err
	}
	done, _, err := session.Challenge(serverFinal)
	if err != nil || !done {
		t.Fatalf("client rejected server-final (done %v): %v", done, err)
	}
	return nil
}

func TestScramWithFranzGoClient(t *testing.T) {
	for _, m := range []ScramMechanism{ScramSHA256, ScramSHA512} {
		t.Run(m.String(), func(t *testing.T) {
			user := "alice,=odd@lkc-abc" // escaping of , and = on the wire
			cred, err := m.NewCredential("s3cret", 4096)
			if err != nil {
				t.Fatal(err)
			}
			if err := exchange(t, m, user, "s3cret", cred); err != nil {
				t.Fatalf("right password refused: %v", err)
			}
			if err := exchange(t, m, user, "wrong", cred); !errors.Is(err, ErrScramProof) {
				t.Fatalf("wrong password: %v, want ErrScramProof", err)
			}
			decoy := DecoyScramCredential(m, []byte("k"), user)
			if err := exchange(t, m, user, "s3cret", decoy); !errors.Is(err, ErrScramProof) {
				t.Fatalf("decoy credential: %v, want ErrScramProof", err)
			}
		})
	}
}

func TestDecoySaltIsStable(t *testing.T) {
	a := DecoyScramCredential(ScramSHA512, []byte("k"), "bob")
	b := DecoyScramCredential(ScramSHA512, []byte("k"), "bob")
	c := DecoyScramCredential(ScramSHA512, []byte("k"), "carol")
	if string(a.Salt) != string(b.Salt) || string(a.Salt) == string(c.Salt) {
		t.Fatal("decoy salts must be stable per user and differ between users")
	}
}

func TestCredentialFromSaltedRules(t *testing.T) {
	salted := make([]byte, 32)
	for _, tc := range []struct {
		name  string
		m     ScramMechanism
		salt  []byte
		iters int
		sp    []byte
		want  string
	}{
		{"unknown mechanism", 3, []byte("s"), 4096, salted, "unknown"},
		{"too few iterations", ScramSHA256, []byte("s"), 4095, salted, "iterations"},
		{"too many iterations", ScramSHA256, []byte("s"), 16385, salted, "iterations"},
		{"no salt", ScramSHA256, nil, 4096, salted, "salt"},
		{"wrong length", ScramSHA512, []byte("s"), 4096, salted, "64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.m.CredentialFromSalted(tc.sp, tc.salt, tc.iters)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestParseScramClientFirst(t *testing.T) {
	for _, tc := range []struct {
		msg     string
		wantErr string
		user    string
		ext     map[string]string
	}{
		{msg: "n,,n=user,r=abc", user: "user"},
		{msg: "n,a=user,n=user,r=abc", user: "user"},
		{msg: "n,,n=a=2Cb=3Dc,r=abc", user: "a,b=c"},
		{msg: "n,,n=user,r=abc,tokenauth=true,logicalCluster=lkc-1", user: "user", ext: map[string]string{"tokenauth": "true", "logicalCluster": "lkc-1"}},
		{msg: "y,,n=user,r=abc", wantErr: "channel binding flag"},
		{msg: "p=tls-unique,,n=user,r=abc", wantErr: "channel binding flag"},
		{msg: "x,,n=user,r=abc", wantErr: "bad channel binding"},
		{msg: "n,a=bob,n=user,r=abc", wantErr: "authorization id differs"},
		{msg: "n,,m=ext,n=user,r=abc", wantErr: "mandatory extension"},
		{msg: "n,,n=user", wantErr: "username and nonce"},
		{msg: "n,,r=abc,n=user", wantErr: "username expected"},
		{msg: "n,,n=,r=abc", wantErr: "empty username"},
		{msg: "n,,n=us=er,r=abc", wantErr: "bad escape"},
		{msg: "n,,n=user,r=", wantErr: "empty nonce"},
		{msg: "n,,n=user,r=a\x7fb", wantErr: "non-printable"},
		{msg: "n,,n=user,r=abc,1=x", wantErr: "bad extension"},
		{msg: "n,,n=user,r=abc,x=1,x=2", wantErr: "repeated"},
		{msg: "n,", wantErr: "not terminated"},
		{msg: "n", wantErr: "no gs2 header"},
		{msg: "n,,n=\xff,r=abc", wantErr: "UTF-8"},
	} {
		cf, err := ParseScramClientFirst([]byte(tc.msg))
		if tc.wantErr != "" {
			if err == nil || !errors.Is(err, ErrMalformedScram) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: err %v, want ErrMalformedScram mentioning %q", tc.msg, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.msg, err)
			continue
		}
		if cf.Username != tc.user || len(cf.Extensions) != len(tc.ext) {
			t.Errorf("%q: parsed %+v", tc.msg, cf)
		}
		for k, v := range tc.ext {
			if cf.Extensions[k] != v {
				t.Errorf("%q: extension %s = %q, want %q", tc.msg, k, cf.Extensions[k], v)
			}
		}
	}
}

func TestScramClientFinalChecks(t *testing.T) {
	cred, _ := ScramSHA256.NewCredential("pw", 4096)
	start := func() *ScramServer {
		s := NewScramServer(ScramSHA256)
		s.serverNonce = "SRV"
		if _, err := s.ClientFirst([]byte("n,,n=u,r=CLI")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ServerFirst(cred); err != nil {
			t.Fatal(err)
		}
		return s
	}
	proof := base64.StdEncoding.EncodeToString(make([]byte, 32))
	for _, tc := range []struct{ msg, want string }{
		{"c=biws,r=CLISRV", "proof expected"},
		{"c=biws,r=CLISRV,p=***", "not base64"},
		{"c=eSws,r=CLISRV,p=" + proof, "channel binding differs"}, // "y,,"
		{"c=biws,r=CLIXXX,p=" + proof, "nonce differs"},
		{"c=biws,r=CLICLICLISRV,p=" + proof, "nonce differs"},
		{"c=biws,r=CLICLISRV,p=" + proof, "invalid SCRAM client proof"}, // librdkafka's form gets to the proof
		{"r=CLISRV,c=biws,p=" + proof, "channel binding expected"},
		{"c=biws,r=CLISRV,p=" + proof, "invalid SCRAM client proof"},
		{"c=biws,r=CLISRV,p=AAAA", "invalid SCRAM client proof"},
	} {
		_, err := start().ClientFinal([]byte(tc.msg))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.msg, err, tc.want)
		}
	}
	s := start()
	if _, err := s.ClientFinal([]byte("c=biws,r=CLISRV,p=" + proof)); err == nil {
		t.Fatal("bad proof accepted")
	}
	if _, err := s.ClientFinal([]byte("c=biws,r=CLISRV,p=" + proof)); err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Fatalf("second client-final: %v, want out of order", err)
	}
}

func FuzzParseScramClientFirst(f *testing.F) {
	for _, s := range []string{"n,,n=user,r=abc", "n,a=u,n=u,r=x,tokenauth=true", "y,,n=a,r=b", "p=x,,n=a,r=b", "n,,m=x,n=a,r=b", "n,,n=a=2C=3D,r=b"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		cf, err := ParseScramClientFirst(msg)
		if err != nil {
			if !errors.Is(err, ErrMalformedScram) {
				t.Fatalf("error %v does not wrap ErrMalformedScram", err)
			}
			return
		}
		if cf.Username == "" || cf.Nonce == "" || !strings.HasPrefix(cf.GS2Header, "n,") {
			t.Fatalf("accepted %q as %+v", msg, cf)
		}
		if cf.GS2Header+cf.Bare != string(msg) {
			t.Fatalf("header %q + bare %q != message %q", cf.GS2Header, cf.Bare, msg)
		}
		// The username must survive escaping back onto the wire.
		again, err := ParseScramClientFirst([]byte("n,,n=" + EncodeSaslName(cf.Username) + ",r=" + cf.Nonce))
		if err != nil || again.Username != cf.Username {
			t.Fatalf("re-encoded username %q: %v %+v", cf.Username, err, again)
		}
	})
}

func FuzzParseScramClientFinal(f *testing.F) {
	for _, s := range []string{"c=biws,r=abc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "c=biws,r=a,x=y,p=AA==", "c=,r=a,p=", "p=AA=="} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		cf, err := ParseScramClientFinal(msg)
		if err != nil {
			if !errors.Is(err, ErrMalformedScram) {
				t.Fatalf("error %v does not wrap ErrMalformedScram", err)
			}
			return
		}
		if cf.Nonce == "" || len(cf.Proof) == 0 || !strings.HasPrefix(string(msg), cf.WithoutProof+",p=") {
			t.Fatalf("accepted %q as %+v", msg, cf)
		}
	})
}

// A server fed arbitrary client messages must never panic nor accept.
func FuzzScramServer(f *testing.F) {
	f.Add([]byte("n,,n=u,r=CLI"), []byte("c=biws,r=CLISRV,p=AAAA"))
	cred, _ := ScramSHA256.NewCredential("pw", 4096)
	f.Fuzz(func(t *testing.T, first, final []byte) {
		s := NewScramServer(ScramSHA256)
		s.serverNonce = "SRV"
		if _, err := s.ClientFirst(first); err != nil {
			return
		}
		if _, err := s.ServerFirst(cred); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ClientFinal(final); err == nil {
			t.Fatalf("accepted a proof without the password: %q %q", first, final)
		}
	})
}
