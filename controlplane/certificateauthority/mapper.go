package certificateauthority

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	"github.com/affluent-io/affluent/controlplane/validate"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

func toProto(ca resource.CertificateAuthority) *pb.CertificateAuthority {
	out := &pb.CertificateAuthority{
		Id:               ca.ID,
		DisplayName:      ca.DisplayName,
		CreateTime:       rpc.Timestamp(ca.CreateTime),
		UpdateTime:       rpc.Timestamp(ca.UpdateTime),
		Etag:             ca.Etag,
		Description:      ca.Description,
		CertificateChain: ca.CertificateChain,
		Fingerprints:     []string{},
		ExpirationTimes:  []*timestamppb.Timestamp{},
	}
	// The chain was validated when stored; describe it for the user.
	var r validate.Report
	info := r.CertificateChain("certificate_chain", ca.CertificateChain)
	out.Fingerprints = append(out.Fingerprints, info.Fingerprints...)
	for _, t := range info.NotAfter {
		out.ExpirationTimes = append(out.ExpirationTimes, timestamppb.New(t))
	}
	return out
}
