package topic

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/controlplane/resource"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

func toProto(cl resource.Cluster, d kadm.TopicDetail, configs map[string]string) *pb.Topic {
	t := &pb.Topic{
		Name:            d.Topic,
		PartitionsCount: int32(len(d.Partitions)),
		Configs:         configs,
		Environment:     cl.EnvironmentID,
		Cluster:         cl.ID,
		Internal:        d.IsInternal,
	}
	if d.ID != (kadm.TopicID{}) {
		t.TopicId = d.ID.String()
	}
	t.Etag = etag(t.PartitionsCount, configs)
	return t
}

// explicitConfigs keeps the configs set on the topic, not the defaults.
func explicitConfigs(cs []kadm.Config) map[string]string {
	out := map[string]string{}
	for _, c := range cs {
		if c.Source == kmsg.ConfigSourceDynamicTopicConfig && c.Value != nil {
			out[c.Key] = *c.Value
		}
	}
	return out
}

// etag fingerprints what a user can change: partitions and configs.
func etag(partitions int32, configs map[string]string) string {
	keys := make([]string, 0, len(configs))
	for k := range configs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	fmt.Fprintf(h, "%d\n", partitions)
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\n", k, configs[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
