package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/affluent-io/affluent/sdk"
)

// clientResource holds the SDK client the provider configured; resources
// embed it for their Configure method.
type clientResource struct {
	client *sdk.Client
}

func (r *clientResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if req.ProviderData == nil { // validation, before the provider is configured
		return
	}
	c, ok := req.ProviderData.(*sdk.Client)
	if !ok {
		resp.Diagnostics.AddError("Unexpected provider data", fmt.Sprintf("want *sdk.Client, got %T", req.ProviderData))
		return
	}
	r.client = c
}

// apiError turns an SDK error into a diagnostic naming what failed.
func apiError(diags *diag.Diagnostics, what string, err error) {
	var e *sdk.Error
	if errors.As(err, &e) && e.Reason != "" {
		diags.AddError("Cannot "+what, fmt.Sprintf("%s (%s)", e.Message, e.Reason))
		return
	}
	diags.AddError("Cannot "+what, err.Error())
}

// isNotFound reports whether err says the resource is gone.
func isNotFound(err error) bool { return errors.Is(err, sdk.ErrNotFound) }

// timeString renders an API timestamp in RFC 3339 (null when absent).
func timeString(ts *timestamppb.Timestamp) types.String {
	if ts == nil {
		return types.StringNull()
	}
	return types.StringValue(ts.AsTime().UTC().Format(time.RFC3339Nano))
}

// splitID splits a composite import id into n non-empty parts separated by
// "/"; the last part keeps any further "/".
func splitID(id string, n int, format string) ([]string, error) {
	parts := strings.SplitN(id, "/", n)
	if len(parts) != n {
		return nil, fmt.Errorf("import id %q: want %s", id, format)
	}
	for _, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("import id %q: want %s", id, format)
		}
	}
	return parts, nil
}

// optionalString maps "" to null, for optional attributes the API reports
// as empty when unset.
func optionalString(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

// regionRE is the API's rule for region names.
var regionRE = regexp.MustCompile(`^[a-z0-9-]{1,63}$`)

// prefixed validates that an id starts with prefix (env-, lkc-, sa-, …).
func prefixed(prefix string) validator.String {
	return stringvalidator.RegexMatches(regexp.MustCompile(`^`+regexp.QuoteMeta(prefix)+`.+`), "must be an id starting with "+prefix)
}

// topicNameRE is Kafka's rule for topic names.
var topicNameRE = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

var (
	ownerRE       = regexp.MustCompile(`^(sa|u)-.+`)
	keyResourceRE = regexp.MustCompile(`^(cloud|lkc-.+)$`)
	principalRE   = regexp.MustCompile(`^User:.+`)
)

// joinQuoted renders values as `a`, `b` or `c` for descriptions.
func joinQuoted(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = "`" + v + "`"
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// urlRE is a loose check of http(s) URLs; the API checks the rest.
var urlRE = regexp.MustCompile(`^https?://[^\s/]+`)
