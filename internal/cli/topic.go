package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/affluent-io/affluent/sdk"
)

var topicColumns = []column[*sdk.Topic]{
	{"Name", (*sdk.Topic).GetName},
	{"Partitions", func(t *sdk.Topic) string { return itoa(t.GetPartitionsCount()) }},
	{"Internal", func(t *sdk.Topic) string { return strconv.FormatBool(t.GetInternal()) }},
}

var topicFields = []column[*sdk.Topic]{
	{"Name", (*sdk.Topic).GetName},
	{"Topic ID", (*sdk.Topic).GetTopicId},
	{"Partitions", func(t *sdk.Topic) string { return itoa(t.GetPartitionsCount()) }},
	{"Internal", func(t *sdk.Topic) string { return strconv.FormatBool(t.GetInternal()) }},
	{"Configs", func(t *sdk.Topic) string { return formatConfigs(t.GetConfigs()) }},
}

func formatConfigs(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// parseConfigs reads k=v pairs; an empty value is allowed (it resets a
// config on update).
func parseConfigs(pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, usageError{fmt.Errorf("--config %q: want key=value", p)}
		}
		out[k] = v
	}
	return out, nil
}

func newTopicCommand(a *cliApp) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topic",
		Short: "Manage topics, and produce and consume records",
		Example: `  affluent kafka topic create orders --partitions 3 --config retention.ms=86400000
  affluent kafka topic describe orders`,
		Args: cobra.NoArgs,
	}

	var createSc scope
	var partitions int32
	var configs []string
	var ifNotExists bool
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a topic",
		Example: `  affluent kafka topic create orders --partitions 3
  affluent kafka topic create events --config cleanup.policy=compact,retention.ms=-1 --if-not-exists`,
		Args: exactArgs(1, "NAME"),
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			env, cluster, err := s.cluster(createSc.env, createSc.cluster)
			if err != nil {
				return err
			}
			cfgs, err := parseConfigs(configs)
			if err != nil {
				return err
			}
			t, err := s.client.CreateTopic(cmd.Context(), env, cluster, &sdk.Topic{Name: args[0], PartitionsCount: partitions, Configs: cfgs})
			if errors.Is(err, sdk.ErrAlreadyExists) && ifNotExists {
				t, err = s.client.GetTopic(cmd.Context(), env, cluster, args[0])
			}
			if err != nil {
				return err
			}
			return printOne(a.printer(cmd), t, topicFields)
		}),
	}
	createSc.addFlags(a, create)
	create.Flags().Int32Var(&partitions, "partitions", 0, "number of partitions (default 6)")
	create.Flags().StringSliceVar(&configs, "config", nil, "topic config key=value (repeatable, or comma-separated)")
	create.Flags().BoolVar(&ifNotExists, "if-not-exists", false, "succeed if the topic exists already")

	var listSc scope
	var prefix string
	var internal bool
	list := &cobra.Command{
		Use:     "list",
		Short:   "List topics",
		Example: "  affluent kafka topic list --prefix orders.\n  affluent kafka topic list -o json | jq -r '.[].name'",
		Args:    cobra.NoArgs,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, _ []string) error {
			env, cluster, err := s.cluster(listSc.env, listSc.cluster)
			if err != nil {
				return err
			}
			ts, err := sdk.Collect(s.client.ListTopics(cmd.Context(), env, cluster, sdk.TopicFilter{NamePrefix: prefix, IncludeInternal: internal}))
			if err != nil {
				return err
			}
			return printList(a.printer(cmd), ts, topicColumns)
		}),
	}
	listSc.addFlags(a, list)
	list.Flags().StringVar(&prefix, "prefix", "", "only topics whose name starts with this")
	list.Flags().BoolVar(&internal, "internal", false, "also list internal topics")

	var descSc scope
	describe := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a topic: configs, and each partition's leader and earliest and latest offsets",
		Long: `Show a topic as the API knows it (partitions, configs set on it) and, through the
Kafka protocol with the context's Kafka API key for the cluster, each
partition's leader and earliest and latest offsets.`,
		Example:           "  affluent kafka topic describe orders\n  affluent kafka topic describe orders -o json | jq '.partitions[].latest_offset'",
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: a.completeTopics,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			env, cluster, err := s.cluster(descSc.env, descSc.cluster)
			if err != nil {
				return err
			}
			t, err := s.client.GetTopic(cmd.Context(), env, cluster, args[0])
			if err != nil {
				return err
			}
			d := topicDescription{Name: t.GetName(), TopicID: t.GetTopicId(), PartitionsCount: t.GetPartitionsCount(),
				Internal: t.GetInternal(), Configs: t.GetConfigs()}
			if d.Configs == nil {
				d.Configs = map[string]string{}
			}
			if d.Partitions, err = s.partitionOffsets(cmd.Context(), env, cluster, t.GetName()); err != nil {
				fmt.Fprintf(a.stderr, "affluent: warning: no partition offsets: %v\n", explain(err))
			}
			return printTopicDescription(a.printer(cmd), d)
		}),
	}
	descSc.addFlags(a, describe)

	var updSc scope
	var updPartitions int32
	var updConfigs []string
	update := &cobra.Command{
		Use:               "update NAME",
		Short:             "Add partitions to a topic or change its configs",
		Long:              "Add partitions (their number can only grow) or set configs; a config given with an empty value (retention.ms=) goes back to the default.",
		Example:           "  affluent kafka topic update orders --partitions 6\n  affluent kafka topic update orders --config retention.ms=3600000",
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: a.completeTopics,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			env, cluster, err := s.cluster(updSc.env, updSc.cluster)
			if err != nil {
				return err
			}
			cfgs, err := parseConfigs(updConfigs)
			if err != nil {
				return err
			}
			paths := changed(cmd, map[string]string{"partitions": "partitions_count", "config": "configs"})
			if len(paths) == 0 {
				return usageError{errors.New("nothing to update: give --partitions or --config")}
			}
			t, err := s.client.UpdateTopic(cmd.Context(), env, cluster, &sdk.Topic{Name: args[0], PartitionsCount: updPartitions, Configs: cfgs}, paths...)
			if err != nil {
				return err
			}
			return printOne(a.printer(cmd), t, topicFields)
		}),
	}
	updSc.addFlags(a, update)
	update.Flags().Int32Var(&updPartitions, "partitions", 0, "new number of partitions")
	update.Flags().StringSliceVar(&updConfigs, "config", nil, "topic config key=value to set (key= resets it)")

	var delSc scope
	del := &cobra.Command{
		Use:               "delete NAME",
		Short:             "Delete a topic and its records",
		Example:           "  affluent kafka topic delete orders",
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: a.completeTopics,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			env, cluster, err := s.cluster(delSc.env, delSc.cluster)
			if err != nil {
				return err
			}
			if err := s.client.DeleteTopic(cmd.Context(), env, cluster, args[0]); err != nil {
				return err
			}
			return a.printer(cmd).message(deletedResult{ID: args[0], Deleted: true}, "Deleted topic %q.", args[0])
		}),
	}
	delSc.addFlags(a, del)

	cmd.AddCommand(create, list, describe, update, del, newProduceCommand(a), newConsumeCommand(a))
	return cmd
}

// topicDescription is what `kafka topic describe` shows.
type topicDescription struct {
	Name            string             `json:"name"`
	TopicID         string             `json:"topic_id"`
	PartitionsCount int32              `json:"partitions_count"`
	Internal        bool               `json:"internal"`
	Configs         map[string]string  `json:"configs"`
	Partitions      []partitionOffsets `json:"partitions"`
}

type partitionOffsets struct {
	Partition      int32 `json:"partition"`
	Leader         int32 `json:"leader"`
	EarliestOffset int64 `json:"earliest_offset"`
	LatestOffset   int64 `json:"latest_offset"`
}

func printTopicDescription(p printer, d topicDescription) error {
	return p.value(d, func(w io.Writer) {
		fmt.Fprintf(w, "Name\t%s\nTopic ID\t%s\nPartitions\t%d\nInternal\t%t\n", d.Name, cell(d.TopicID), d.PartitionsCount, d.Internal)
		if len(d.Configs) > 0 {
			fmt.Fprintln(w, "\nCONFIG\tVALUE")
			for _, k := range slices.Sorted(maps.Keys(d.Configs)) {
				fmt.Fprintf(w, "%s\t%s\n", k, cell(d.Configs[k]))
			}
		}
		if d.Partitions != nil {
			fmt.Fprintln(w, "\nPARTITION\tLEADER\tEARLIEST OFFSET\tLATEST OFFSET")
			for _, po := range d.Partitions {
				fmt.Fprintf(w, "%d\t%d\t%d\t%d\n", po.Partition, po.Leader, po.EarliestOffset, po.LatestOffset)
			}
		}
	})
}

// partitionOffsets asks the cluster's brokers for each partition's leader
// and offsets.
func (s *session) partitionOffsets(ctx context.Context, env, cluster, topic string) ([]partitionOffsets, error) {
	cl, err := s.kafkaClient(ctx, env, cluster)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	meta, err := adm.Metadata(ctx, topic)
	if err != nil {
		return nil, err
	}
	td, ok := meta.Topics[topic]
	if !ok || td.Err != nil {
		return nil, fmt.Errorf("metadata of %s: %v", topic, td.Err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := []partitionOffsets{}
	for _, p := range td.Partitions.Sorted() {
		po := partitionOffsets{Partition: p.Partition, Leader: p.Leader, EarliestOffset: -1, LatestOffset: -1}
		if o, ok := starts.Lookup(topic, p.Partition); ok && o.Err == nil {
			po.EarliestOffset = o.Offset
		}
		if o, ok := ends.Lookup(topic, p.Partition); ok && o.Err == nil {
			po.LatestOffset = o.Offset
		}
		out = append(out, po)
	}
	return out, nil
}

// requireTopic fails with a clear line when topic does not exist, instead
// of letting Kafka clients retry for it.
func requireTopic(ctx context.Context, cl *kgo.Client, topic string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	topics, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err == nil {
		if td, ok := topics[topic]; !ok {
			err = kerr.UnknownTopicOrPartition
		} else {
			err = td.Err
		}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return fmt.Errorf("topic %q not found: create it with `affluent kafka topic create %s`", topic, topic)
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		// Kafka does not tell a topic the caller may not see from a missing one.
		return fmt.Errorf("topic %q not found or not authorized: the cluster's Kafka API key needs a role binding on it (DeveloperRead, DeveloperWrite)", topic)
	}
	return fmt.Errorf("reach the cluster's brokers: %w", err)
}

func (a *cliApp) completeTopics(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	s, err := a.session(cmd)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	defer s.client.Close()
	envFlag, _ := cmd.Flags().GetString("environment")
	clusterFlag, _ := cmd.Flags().GetString("cluster")
	env, cluster, err := s.cluster(envFlag, clusterFlag)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []string
	for t, err := range s.client.ListTopics(cmd.Context(), env, cluster, sdk.TopicFilter{}) {
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		out = append(out, t.GetName())
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
