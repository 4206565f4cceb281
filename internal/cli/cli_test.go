package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, &out, &errb, nil)
	return code, out.String(), errb.String()
}

func TestUsageErrorsExit2WithOneLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"dev", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"dev", "--http-addr", "nope"}, `http addr "nope"`},
		{[]string{"dev", "--config", "/nonexistent/affluent.yaml"}, "/nonexistent/affluent.yaml"},
		{[]string{"server", "--roles", "toaster"}, `unknown role "toaster"`},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"version", "extra"}, "extra"},
	} {
		code, _, stderr := run(tc.args...)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tc.args, code, ExitUsage, stderr)
		}
		if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: stderr %q, want one line containing %q", tc.args, stderr, tc.want)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := run("version")
	if code != ExitOK || !strings.HasPrefix(out, "affluent ") {
		t.Fatalf("exit %d, output %q", code, out)
	}
}
