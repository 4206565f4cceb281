package sasl

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParsePlain(t *testing.T) {
	tests := []struct {
		name    string
		msg     string
		want    PlainCredentials
		wantErr string // substring; empty means success
	}{
		{name: "no authzid", msg: "\x00alice\x00secret", want: PlainCredentials{Username: "alice", Password: "secret"}},
		{name: "authzid equal", msg: "alice\x00alice\x00secret", want: PlainCredentials{AuthzID: "alice", Username: "alice", Password: "secret"}},
		{name: "password with spaces and unicode", msg: "\x00bob\x00p w é", want: PlainCredentials{Username: "bob", Password: "p w é"}},
		{name: "authzid differs", msg: "mallory\x00alice\x00secret", wantErr: "authorization id differs"},
		{name: "empty", msg: "", wantErr: "missing separator"},
		{name: "one separator", msg: "\x00alice", wantErr: "missing separator"},
		{name: "empty username", msg: "\x00\x00secret", wantErr: "username not specified"},
		{name: "empty password", msg: "\x00alice\x00", wantErr: "password not specified"},
		{name: "extra field", msg: "\x00alice\x00secret\x00more", wantErr: "too many fields"},
		{name: "bad utf8", msg: "\x00al\xffice\x00secret", wantErr: "not UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePlain([]byte(tt.msg))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrMalformedPlain) {
					t.Fatalf("ParsePlain(%q) error = %v, want one containing %q wrapping ErrMalformedPlain", tt.msg, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePlain(%q): %v", tt.msg, err)
			}
			if got != tt.want {
				t.Fatalf("ParsePlain(%q) = %+v, want %+v", tt.msg, got, tt.want)
			}
		})
	}
}

func TestParsePlainErrorHidesPassword(t *testing.T) {
	_, err := ParsePlain([]byte("mallory\x00alice\x00hunter2"))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v must exist and must not contain the password", err)
	}
}

func FuzzParsePlain(f *testing.F) {
	f.Add([]byte("\x00alice\x00secret"))
	f.Add([]byte("alice\x00alice\x00secret"))
	f.Add([]byte("\x00\x00"))
	f.Add([]byte("\x00a\x00b\x00c"))
	f.Add([]byte{0xff, 0, 0xfe, 0, 0xfd})
	f.Fuzz(func(t *testing.T, msg []byte) {
		creds, err := ParsePlain(msg)
		if err != nil {
			if !errors.Is(err, ErrMalformedPlain) {
				t.Fatalf("error %v does not wrap ErrMalformedPlain", err)
			}
			return
		}
		if creds.Username == "" || creds.Password == "" {
			t.Fatalf("accepted empty username or password: %+v", creds)
		}
		// A message without authzid must round-trip through AppendPlain.
		if creds.AuthzID == "" {
			if again := AppendPlain(nil, creds.Username, creds.Password); !bytes.Equal(again, msg) {
				t.Fatalf("round trip: got %q from %q", again, msg)
			}
		}
	})
}
