package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func load(t *testing.T, args []string, file string, env []string) (Config, error) {
	t.Helper()
	var c Config
	c.SetDefaults()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	var path string
	fs.StringVar(&path, "config", "", "")
	c.RegisterFlags(fs, true)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	if file != "" {
		path = filepath.Join(t.TempDir(), "affluent.yaml")
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	err := c.Load(fs, path, env)
	return c, err
}

func TestPrecedence(t *testing.T) {
	file := "http:\n  addr: 127.0.0.1:1001\ngrpc:\n  addr: 127.0.0.1:1002\nkafka:\n  addr: 127.0.0.1:1003\n"
	env := []string{"AFFLUENT_GRPC_ADDR=127.0.0.1:2002", "AFFLUENT_KAFKA_ADDR=127.0.0.1:2003", "UNRELATED=1"}
	args := []string{"--kafka-addr", "127.0.0.1:3003"}
	c, err := load(t, args, file, env)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ what, got, want string }{
		{"file beats default", c.HTTP.Addr, "127.0.0.1:1001"},
		{"env beats file", c.GRPC.Addr, "127.0.0.1:2002"},
		{"flag beats env", c.Kafka.Addr, "127.0.0.1:3003"},
		{"default kept", c.Storage.DataDir, "./.affluent"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.what, tc.got, tc.want)
		}
	}
}

func TestDefaultsMatchContract(t *testing.T) {
	c, err := load(t, nil, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Kafka.Addr != "127.0.0.1:9092" || c.HTTP.Addr != "127.0.0.1:8080" || c.GRPC.Addr != "127.0.0.1:8090" || c.Storage.DataDir != "./.affluent" {
		t.Fatalf("defaults differ from CONTRACT.md: %+v", c)
	}
}

func TestInvalid(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		file  string
		env   []string
		wants []string // every problem is reported, not the first only
	}{
		{"bad addr and level", []string{"--http-addr", "nope", "--log-level", "loud"}, "", nil,
			[]string{`http addr "nope"`, `log level "loud"`}},
		{"bad port", []string{"--kafka-addr", "127.0.0.1:99999"}, "", nil, []string{`kafka addr`}},
		{"unknown role", []string{"--roles", "broker,toaster"}, "", nil, []string{`unknown role "toaster"`}},
		{"no role", []string{"--roles", " , "}, "", nil, []string{"at least one"}},
		{"unknown key in file", nil, "http:\n  adr: x\n", nil, []string{"line 2", "adr"}},
		{"malformed file", nil, "http: [\n", nil, []string{"config file"}},
		{"wrong type in file", nil, "http: 3\n", nil, []string{"line 1"}},
		{"bad env", nil, "", []string{"AFFLUENT_LOG_FORMAT=xml"}, []string{`log format "xml"`}},
		{"empty data dir", []string{"--data-dir", ""}, "", nil, []string{"data dir"}},
		{"unknown dedicated provisioner", []string{"--dedicated-provisioner", "docker"}, "", nil,
			[]string{`dedicated provisioner "docker": want local, kubernetes or none`}},
		{"kubernetes provisioner without its stores", []string{"--dedicated-provisioner", "kubernetes"}, "", nil,
			[]string{"dedicated kubernetes object store", "dedicated kubernetes metadata db"}},
		{"dedicated brokers on no address", []string{"--dedicated-host", "0.0.0.0"}, "", nil,
			[]string{`dedicated host "0.0.0.0": want an address clients can reach`}},
		{"dedicated cluster not an id", []string{"--dedicated-cluster", "payments"}, "", nil,
			[]string{`dedicated cluster "payments": want a cluster id`}},
		{"bad tls addrs", []string{"--kafka-tls-addr", "nope", "--kafka-mtls-addr", "127.0.0.1:70000"}, "", nil,
			[]string{`kafka tls addr "nope"`, `kafka mtls addr "127.0.0.1:70000"`}},
		{"tls cert without key", []string{"--kafka-tls-cert", "/x/cert.pem"}, "", nil, []string{"give both or neither"}},
		{"tls key without cert in file", nil, "kafka:\n  tls_key_file: /x/key.pem\n", nil, []string{"give both or neither"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.args, tc.file, tc.env)
			if err == nil {
				t.Fatal("want an error, got none")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestKafkaTLSListeners(t *testing.T) {
	for _, tc := range []struct {
		name           string
		args           []string
		file           string
		env            []string
		tls, mtls, crt string
	}{
		{"off by default", nil, "", nil, "", "", ""},
		{"flags", []string{"--kafka-tls-addr", "127.0.0.1:9093", "--kafka-mtls-addr", "127.0.0.1:9094"}, "", nil, "127.0.0.1:9093", "127.0.0.1:9094", ""},
		{"file", nil, "kafka:\n  tls_addr: 0.0.0.0:9093\n  tls_cert_file: /c.pem\n  tls_key_file: /k.pem\n", nil, "0.0.0.0:9093", "", "/c.pem"},
		{"env", nil, "", []string{"AFFLUENT_KAFKA_MTLS_ADDR=127.0.0.1:19094"}, "", "127.0.0.1:19094", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.args, tc.file, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if c.Kafka.TLSAddr != tc.tls || c.Kafka.MTLSAddr != tc.mtls || c.Kafka.TLSCertFile != tc.crt {
				t.Fatalf("got %+v", c.Kafka)
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	var c Config
	c.SetDefaults()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	c.RegisterFlags(fs, false)
	err := c.Load(fs, filepath.Join(t.TempDir(), "absent.yaml"), nil)
	if err == nil || !strings.Contains(err.Error(), "absent.yaml") {
		t.Fatalf("want an error naming the file, got %v", err)
	}
}

func TestExampleConfigParses(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/affluent.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := load(t, nil, string(raw), nil)
	if err != nil {
		t.Fatalf("deploy/affluent.example.yaml: %v", err)
	}
	if !c.HasRole(RoleBroker) || c.Storage.MetadataURL == "" || c.Log.Format != "json" {
		t.Fatalf("example not read as written: %+v", c)
	}
}

func TestStoreURLsDefaultToDataDir(t *testing.T) {
	c, err := load(t, []string{"--data-dir", "/var/lib/aff"}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	obj, _ := c.ObjectStoreURL()
	meta, _ := c.MetadataURL()
	cp, _ := c.ControlPlaneURL()
	if obj != "file:///var/lib/aff/objects" || meta != "sqlite:///var/lib/aff/dataplane.db" || cp != "sqlite:///var/lib/aff/controlplane.db" {
		t.Fatalf("got %s, %s and %s", obj, meta, cp)
	}
}
