// Package user serves affluent.v1.UserService: the people of an
// organization, principals like service accounts.
package user

import (
	"context"

	"github.com/affluent-io/affluent/controlplane/access"
	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	"github.com/affluent-io/affluent/controlplane/store"
	"github.com/affluent-io/affluent/controlplane/validate"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

const kind = "user"

// Service manages users.
type Service struct {
	pb.UnimplementedUserServiceServer
	guard *access.Guard
	users rpc.Collection[resource.User]
}

var _ pb.UserServiceServer = (*Service)(nil)

// New returns the service. Deleting a principal deletes its API keys and
// role bindings with it.
func New(guard *access.Guard, users rpc.Collection[resource.User]) *Service {
	return &Service{guard: guard, users: users}
}

var mask = rpc.Mask{Updatable: []string{"display_name"}, OutputOnly: append([]string{"principal", "email"}, rpc.CommonOutputOnly...)}

func (s *Service) CreateUser(ctx context.Context, req *pb.CreateUserRequest) (*pb.CreateUserResponse, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetUser()
	var r validate.Report
	r.Email("user.email", in.GetEmail())
	r.DisplayName("user.display_name", in.GetDisplayName(), false)
	r.RequestID("request_id", req.GetRequestId())
	if err := r.Err(); err != nil {
		return nil, err
	}
	if err := s.guard.Authorize(ctx, authz.UserCreate, resource.OrganizationCRN(caller.OrgID)); err != nil {
		return nil, err
	}
	u := resource.User{Meta: rpc.Meta(caller.OrgID, resource.PrefixUser), DisplayName: in.GetDisplayName(), Email: in.GetEmail()}
	created, err := s.users.Create(ctx, u, rpc.RequestKey("CreateUser", req.GetRequestId(), req))
	if err := rpc.AlreadyExists(err, kind, "email", u.Email); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, rpc.StoreError(err, kind, u.ID)
	}
	return &pb.CreateUserResponse{User: toProto(created)}, nil
}

func (s *Service) get(ctx context.Context, id string, action authz.Action) (resource.User, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return resource.User{}, err
	}
	var r validate.Report
	r.ID("id", id, resource.PrefixUser)
	if err := r.Err(); err != nil {
		return resource.User{}, err
	}
	if err := s.guard.Authorize(ctx, action, resource.UserCRN(caller.OrgID, id)); err != nil {
		return resource.User{}, err
	}
	u, err := s.users.Get(ctx, caller.OrgID, id)
	return u, rpc.StoreError(err, kind, id)
}

func (s *Service) GetUser(ctx context.Context, req *pb.GetUserRequest) (*pb.GetUserResponse, error) {
	u, err := s.get(ctx, req.GetId(), authz.UserDescribe)
	if err != nil {
		return nil, err
	}
	return &pb.GetUserResponse{User: toProto(u)}, nil
}

func (s *Service) ListUsers(ctx context.Context, req *pb.ListUsersRequest) (*pb.ListUsersResponse, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return nil, err
	}
	var r validate.Report
	size := r.PageSize("page_size", req.GetPageSize())
	if err := r.Err(); err != nil {
		return nil, err
	}
	if err := s.guard.Authorize(ctx, authz.OrganizationDescribe, resource.OrganizationCRN(caller.OrgID)); err != nil {
		return nil, err
	}
	q := store.Query{PageSize: size, PageToken: req.GetPageToken()}
	if req.GetEmail() != "" {
		q.Filters = append(q.Filters, store.Eq("email", req.GetEmail()))
	}
	users, next, err := s.users.List(ctx, caller.OrgID, q)
	if err != nil {
		return nil, rpc.StoreError(err, kind, "")
	}
	resp := &pb.ListUsersResponse{Users: []*pb.User{}, NextPageToken: next}
	for _, u := range users {
		if s.guard.Allowed(ctx, authz.UserDescribe, resource.UserCRN(caller.OrgID, u.ID)) {
			resp.Users = append(resp.Users, toProto(u))
		}
	}
	return resp, nil
}

func (s *Service) UpdateUser(ctx context.Context, req *pb.UpdateUserRequest) (*pb.UpdateUserResponse, error) {
	in := req.GetUser()
	paths, err := mask.Paths(req.GetUpdateMask(), func(string) bool { return in.GetDisplayName() != "" })
	if err != nil {
		return nil, err
	}
	u, err := s.get(ctx, req.GetId(), authz.UserUpdate)
	if err != nil {
		return nil, err
	}
	if err := rpc.CheckEtag(in.GetEtag(), u.Etag, kind, u.ID); err != nil {
		return nil, err
	}
	prev := u.Etag
	var r validate.Report
	for range paths {
		r.DisplayName("user.display_name", in.GetDisplayName(), false)
		u.DisplayName = in.GetDisplayName()
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	updated, err := s.users.Update(ctx, u, prev)
	if err != nil {
		return nil, rpc.StoreError(err, kind, u.ID)
	}
	return &pb.UpdateUserResponse{User: toProto(updated)}, nil
}

func (s *Service) DeleteUser(ctx context.Context, req *pb.DeleteUserRequest) (*pb.DeleteUserResponse, error) {
	var r validate.Report
	r.Etag("etag", req.GetEtag())
	if err := r.Err(); err != nil {
		return nil, err
	}
	u, err := s.get(ctx, req.GetId(), authz.UserDelete)
	if err != nil {
		return nil, err
	}
	if err := s.users.Delete(ctx, u.OrgID, u.ID, req.GetEtag()); err != nil {
		return nil, rpc.StoreError(err, kind, u.ID)
	}
	return &pb.DeleteUserResponse{}, nil
}
