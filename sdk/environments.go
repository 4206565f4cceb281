package sdk

import (
	"context"
	"iter"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

// updateMask is the mask of paths; none lets the server update every
// updatable field that is set.
func updateMask(paths []string) *fieldmaskpb.FieldMask {
	if len(paths) == 0 {
		return nil
	}
	return &fieldmaskpb.FieldMask{Paths: paths}
}

// EnvironmentFilter narrows ListEnvironments; zero fields do not filter.
type EnvironmentFilter struct {
	DisplayName string
}

// CreateEnvironment creates an environment (display_name, description).
func (c *Client) CreateEnvironment(ctx context.Context, env *Environment, opts ...CallOption) (*Environment, error) {
	s := applyCall(opts)
	resp, err := c.environments.CreateEnvironment(ctx, &pb.CreateEnvironmentRequest{Environment: env, RequestId: s.requestID})
	return resp.GetEnvironment(), err
}

// GetEnvironment reads an environment by id (env-…).
func (c *Client) GetEnvironment(ctx context.Context, id string) (*Environment, error) {
	resp, err := c.environments.GetEnvironment(ctx, &pb.GetEnvironmentRequest{Id: id})
	return resp.GetEnvironment(), err
}

// ListEnvironments iterates over the environments of the organization.
func (c *Client) ListEnvironments(ctx context.Context, f EnvironmentFilter) iter.Seq2[*Environment, error] {
	return pages(func(token string) ([]*Environment, string, error) {
		resp, err := c.environments.ListEnvironments(ctx, &pb.ListEnvironmentsRequest{PageSize: c.pageSize, PageToken: token, DisplayName: f.DisplayName})
		return resp.GetEnvironments(), resp.GetNextPageToken(), err
	})
}

// UpdateEnvironment changes the environment env.Id: the fields named by
// paths (display_name, description), or without paths every updatable field
// that is set. A non-empty env.Etag must match the current one.
func (c *Client) UpdateEnvironment(ctx context.Context, env *Environment, paths ...string) (*Environment, error) {
	resp, err := c.environments.UpdateEnvironment(ctx, &pb.UpdateEnvironmentRequest{Id: env.GetId(), Environment: env, UpdateMask: updateMask(paths)})
	return resp.GetEnvironment(), err
}

// DeleteEnvironment deletes an environment; it fails with ErrConflict while
// the environment holds clusters.
func (c *Client) DeleteEnvironment(ctx context.Context, id string, opts ...CallOption) error {
	s := applyCall(opts)
	_, err := c.environments.DeleteEnvironment(ctx, &pb.DeleteEnvironmentRequest{Id: id, Etag: s.etag})
	return err
}

// GetOrganization reads an organization by id.
func (c *Client) GetOrganization(ctx context.Context, id string) (*Organization, error) {
	resp, err := c.organizations.GetOrganization(ctx, &pb.GetOrganizationRequest{Id: id})
	return resp.GetOrganization(), err
}

// ListOrganizations iterates over the organizations the caller may see:
// its own, when it may describe it.
func (c *Client) ListOrganizations(ctx context.Context) iter.Seq2[*Organization, error] {
	return pages(func(token string) ([]*Organization, string, error) {
		resp, err := c.organizations.ListOrganizations(ctx, &pb.ListOrganizationsRequest{PageSize: c.pageSize, PageToken: token})
		return resp.GetOrganizations(), resp.GetNextPageToken(), err
	})
}

// UpdateOrganization changes the organization org.Id (display_name).
func (c *Client) UpdateOrganization(ctx context.Context, org *Organization, paths ...string) (*Organization, error) {
	resp, err := c.organizations.UpdateOrganization(ctx, &pb.UpdateOrganizationRequest{Id: org.GetId(), Organization: org, UpdateMask: updateMask(paths)})
	return resp.GetOrganization(), err
}
