package provider

import (
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	dschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"

	"github.com/affluent-io/affluent/sdk"
)

// lookupDataSource reads one object by its key attributes. Its schema is
// the resource's, with the keys required and every other attribute
// computed, so a data source and its resource always describe an object
// the same way; M is the resource's model (without blocks).
type lookupDataSource[M any] struct {
	client   *sdk.Client
	typeName string
	resource func() resource.Resource
	keys     []string
	// read fills the model, whose keys are set, from the API.
	read func(ctx context.Context, c *sdk.Client, m *M) error
}

func (d *lookupDataSource[M]) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_" + d.typeName
}

func (d *lookupDataSource[M]) Schema(ctx context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	var rs resource.SchemaResponse
	d.resource().Schema(ctx, resource.SchemaRequest{}, &rs)
	attrs := map[string]dschema.Attribute{}
	for name, a := range rs.Schema.Attributes {
		required := slices.Contains(d.keys, name)
		desc := a.GetDescription()
		switch a := a.(type) {
		case rschema.StringAttribute:
			attrs[name] = dschema.StringAttribute{Required: required, Computed: !required, Sensitive: a.Sensitive, Description: desc}
		case rschema.Int64Attribute:
			attrs[name] = dschema.Int64Attribute{Required: required, Computed: !required, Description: desc}
		case rschema.BoolAttribute:
			attrs[name] = dschema.BoolAttribute{Required: required, Computed: !required, Description: desc}
		case rschema.MapAttribute:
			attrs[name] = dschema.MapAttribute{Computed: true, ElementType: a.ElementType, Description: desc}
		case rschema.SetAttribute:
			attrs[name] = dschema.SetAttribute{Computed: true, ElementType: a.ElementType, Description: desc}
		default:
			panic(fmt.Sprintf("data source %s: attribute %s of type %T", d.typeName, name, a))
		}
	}
	resp.Schema = dschema.Schema{
		Description: "Reads an existing object, looked up by " + joinQuoted(d.keys) + ". " + rs.Schema.Description,
		Attributes:  attrs,
	}
}

func (d *lookupDataSource[M]) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	if req.ProviderData == nil {
		return
	}
	c, ok := req.ProviderData.(*sdk.Client)
	if !ok {
		resp.Diagnostics.AddError("Unexpected provider data", fmt.Sprintf("want *sdk.Client, got %T", req.ProviderData))
		return
	}
	d.client = c
}

func (d *lookupDataSource[M]) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m M
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := d.read(ctx, d.client, &m); err != nil {
		apiError(&resp.Diagnostics, "read "+d.typeName, err)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
