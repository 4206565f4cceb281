package groups

// OffsetFetch (key 9), v0-v10: one group before v8, many from v8; all
// committed offsets when topics are null (v2+); offset -1 for partitions
// without a commit; topics by id from v10. Offsets come from the Store, so
// a group's offsets are readable whatever its state. RequireStable (v7+)
// needs nothing here: there are no pending transactional commits yet.

import (
	"cmp"
	"context"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetFetch returns committed offsets, in the v0-v7 single-group form or
// the v8+ Groups form.
func (c *Coordinator) OffsetFetch(ctx context.Context, cluster string, req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	resp.Version = req.Version
	open := c.enter()
	if open {
		defer c.leave()
	}

	if req.Version >= 8 {
		byID := req.Version >= 10
		for _, rg := range req.Groups {
			group := kmsg.NewOffsetFetchResponseGroup()
			group.Group = rg.Group
			var requested []requestedTopic
			if rg.Topics != nil {
				requested = make([]requestedTopic, 0, len(rg.Topics))
				for _, t := range rg.Topics {
					requested = append(requested, requestedTopic{name: t.Topic, id: t.TopicID, partitions: t.Partitions})
				}
			}
			var fetched []fetchedTopic
			code := kerr.NotCoordinator.Code
			if open && c.coordinates(cluster, rg.Group) {
				code = 0
				if req.Version >= 9 {
					code = c.checkOffsetFetchMember(ctx, cluster, rg.Group, rg.MemberID, rg.MemberEpoch)
				}
				if code == 0 {
					fetched, code = c.fetchOffsets(ctx, cluster, rg.Group, requested, rg.Topics == nil, byID)
				}
			}
			group.ErrorCode = code
			for _, ft := range fetched {
				gt := kmsg.NewOffsetFetchResponseGroupTopic()
				gt.Topic, gt.TopicID = ft.name, ft.id
				for _, fp := range ft.partitions {
					gp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					gp.Partition, gp.Offset, gp.LeaderEpoch = fp.partition, fp.offset, fp.leaderEpoch
					gp.Metadata = kmsg.StringPtr(fp.metadata)
					gp.ErrorCode = fp.code
					gt.Partitions = append(gt.Partitions, gp)
				}
				group.Topics = append(group.Topics, gt)
			}
			resp.Groups = append(resp.Groups, group)
		}
		return resp
	}

	var requested []requestedTopic
	for _, t := range req.Topics {
		requested = append(requested, requestedTopic{name: t.Topic, partitions: t.Partitions})
	}
	// Null topics mean "all" from v2; before, the array is not nullable.
	all := req.Topics == nil && req.Version >= 2
	var fetched []fetchedTopic
	code := kerr.NotCoordinator.Code
	if open && c.coordinates(cluster, req.Group) {
		fetched, code = c.fetchOffsets(ctx, cluster, req.Group, requested, all, false)
	}
	if code != 0 {
		if req.Version >= 2 {
			resp.ErrorCode = code
			return resp
		}
		// v0 and v1 have no top-level error: it goes on every partition.
		fetched = unfetched(requested, code)
	}
	for _, ft := range fetched {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = ft.name
		for _, fp := range ft.partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch = fp.partition, fp.offset, fp.leaderEpoch
			rp.Metadata = kmsg.StringPtr(fp.metadata)
			rp.ErrorCode = fp.code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

type requestedTopic struct {
	name       string
	id         [16]byte
	partitions []int32
}

type fetchedTopic struct {
	name       string
	id         [16]byte
	partitions []fetchedPartition
}

type fetchedPartition struct {
	partition   int32
	offset      int64
	leaderEpoch int32
	metadata    string
	code        int16
}

// unfetched answers every requested partition with "no offset" and code.
func unfetched(requested []requestedTopic, code int16) []fetchedTopic {
	out := make([]fetchedTopic, 0, len(requested))
	for _, rt := range requested {
		ft := fetchedTopic{name: rt.name, id: rt.id}
		for _, p := range rt.partitions {
			ft.partitions = append(ft.partitions, fetchedPartition{partition: p, offset: -1, leaderEpoch: -1, code: code})
		}
		out = append(out, ft)
	}
	return out
}

// fetchOffsets reads one group's offsets: all of them, or the requested
// partitions (-1 where nothing is committed). A non-zero code is the
// group's error.
func (c *Coordinator) fetchOffsets(ctx context.Context, cluster, group string, requested []requestedTopic, all, byID bool) ([]fetchedTopic, int16) {
	if group == "" {
		return nil, kerr.InvalidGroupID.Code
	}
	var names []string
	resolved := make([]string, len(requested))
	resolveCodes := make([]int16, len(requested))
	for i, rt := range requested {
		resolved[i], resolveCodes[i] = c.topicName(cluster, rt.name, rt.id, byID)
		if resolveCodes[i] == 0 {
			names = append(names, resolved[i])
		}
	}
	if !all && len(names) == 0 {
		return c.answerRequested(requested, resolved, resolveCodes, nil), 0
	}
	if all {
		names = nil
	} else {
		slices.Sort(names)
		names = slices.Compact(names)
	}
	committed, err := c.store.FetchOffsets(ctx, cluster, group, names)
	if err != nil {
		c.log.Warn("fetch offsets", "cluster", cluster, "group", group, "err", err)
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	type topicPartition struct {
		topic     string
		partition int32
	}
	byPartition := make(map[topicPartition]CommittedOffset, len(committed))
	for _, o := range committed {
		byPartition[topicPartition{o.Topic, o.Partition}] = o
	}
	if !all {
		return c.answerRequested(requested, resolved, resolveCodes, func(topic string, partition int32) (CommittedOffset, bool) {
			o, ok := byPartition[topicPartition{topic, partition}]
			return o, ok
		}), 0
	}

	// Everything committed, by topic then partition.
	byTopic := make(map[string][]CommittedOffset)
	for _, o := range byPartition {
		byTopic[o.Topic] = append(byTopic[o.Topic], o)
	}
	var out []fetchedTopic
	for _, topic := range slices.Sorted(maps.Keys(byTopic)) {
		ft := fetchedTopic{name: topic}
		if byID {
			id, ok := c.topicID(cluster, topic)
			if !ok {
				continue // deleted topic: it has no id to answer with
			}
			ft.id = id
		}
		offsets := byTopic[topic]
		slices.SortFunc(offsets, func(a, b CommittedOffset) int { return cmp.Compare(a.Partition, b.Partition) })
		for _, o := range offsets {
			ft.partitions = append(ft.partitions, committedPartition(o))
		}
		out = append(out, ft)
	}
	return out, 0
}

func (c *Coordinator) answerRequested(requested []requestedTopic, resolved []string, codes []int16, lookup func(string, int32) (CommittedOffset, bool)) []fetchedTopic {
	out := make([]fetchedTopic, 0, len(requested))
	for i, rt := range requested {
		ft := fetchedTopic{name: rt.name, id: rt.id}
		for _, p := range rt.partitions {
			fp := fetchedPartition{partition: p, offset: -1, leaderEpoch: -1, code: codes[i]}
			if codes[i] == 0 && lookup != nil {
				if o, ok := lookup(resolved[i], p); ok {
					fp = committedPartition(o)
				}
			}
			ft.partitions = append(ft.partitions, fp)
		}
		out = append(out, ft)
	}
	return out
}

func committedPartition(o CommittedOffset) fetchedPartition {
	return fetchedPartition{partition: o.Partition, offset: o.Offset, leaderEpoch: o.LeaderEpoch, metadata: o.Metadata}
}

func (c *Coordinator) topicID(cluster, topic string) ([16]byte, bool) {
	if c.opts.TopicIDs == nil {
		return [16]byte{}, false
	}
	return c.opts.TopicIDs.TopicID(cluster, topic)
}
