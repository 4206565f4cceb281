package scramcredential

import (
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/affluent-io/affluent/controlplane/resource"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

func mechanismByName(name string) (kadm.ScramMechanism, bool) {
	switch name {
	case "SCRAM-SHA-256":
		return kadm.ScramSha256, true
	case "SCRAM-SHA-512":
		return kadm.ScramSha512, true
	}
	return 0, false
}

// toProto describes a user's credentials: never a password, salt or key.
func toProto(c resource.Cluster, d kadm.DescribedUserSCRAM) *pb.ScramCredential {
	out := &pb.ScramCredential{User: d.User, Principal: resource.Principal(d.User), Environment: c.EnvironmentID,
		Cluster: c.ID, Mechanisms: []string{}}
	for _, info := range d.CredInfos {
		out.Mechanisms = append(out.Mechanisms, info.Mechanism.String())
		out.Iterations = max(out.Iterations, info.Iterations)
	}
	return out
}
