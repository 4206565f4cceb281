package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

// groupSummary is a line of `kafka group list`.
type groupSummary struct {
	Group        string `json:"group"`
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
}

// groupDescription is what `kafka group describe` shows.
type groupDescription struct {
	Group        string           `json:"group"`
	State        string           `json:"state"`
	ProtocolType string           `json:"protocol_type"`
	Protocol     string           `json:"protocol"`
	Members      []groupMember    `json:"members"`
	Partitions   []partitionLag   `json:"partitions"`
	TotalLag     int64            `json:"total_lag"`
	Coordinator  *groupCoordinate `json:"coordinator,omitempty"`
}

type groupCoordinate struct {
	NodeID int32  `json:"node_id"`
	Host   string `json:"host"`
	Port   int32  `json:"port"`
}

type groupMember struct {
	MemberID   string `json:"member_id"`
	InstanceID string `json:"instance_id"`
	ClientID   string `json:"client_id"`
	Host       string `json:"host"`
}

type partitionLag struct {
	Topic         string `json:"topic"`
	Partition     int32  `json:"partition"`
	CurrentOffset int64  `json:"current_offset"`
	LogEndOffset  int64  `json:"log_end_offset"`
	Lag           int64  `json:"lag"`
	MemberID      string `json:"member_id"`
	ClientID      string `json:"client_id"`
	Host          string `json:"host"`
}

func newGroupCommand(a *cliApp) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "group",
		Aliases: []string{"consumer-group"},
		Short:   "Inspect consumer groups (through the Kafka protocol)",
		Example: `  affluent kafka group list
  affluent kafka group describe billing`,
		Args: cobra.NoArgs,
	}

	var listSc scope
	list := &cobra.Command{
		Use:     "list",
		Short:   "List the consumer groups of a cluster",
		Example: "  affluent kafka group list -o json | jq -r '.[].group'",
		Args:    cobra.NoArgs,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, _ []string) error {
			adm, closeAdm, err := s.admin(cmd.Context(), listSc)
			if err != nil {
				return err
			}
			defer closeAdm()
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			listed, err := adm.ListGroups(ctx)
			if err != nil {
				return fmt.Errorf("list groups: %w", err)
			}
			groups := []groupSummary{}
			for _, g := range listed.Sorted() {
				groups = append(groups, groupSummary{Group: g.Group, State: g.State, ProtocolType: g.ProtocolType})
			}
			return printGroups(a.printer(cmd), groups)
		}),
	}
	listSc.addFlags(a, list)

	var descSc scope
	describe := &cobra.Command{
		Use:               "describe GROUP",
		Short:             "Show a consumer group: its members and, per partition, committed offset, end offset and lag",
		Example:           "  affluent kafka group describe billing\n  affluent kafka group describe billing -o json | jq .total_lag",
		Args:              exactArgs(1, "GROUP"),
		ValidArgsFunction: a.completeGroups,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			adm, closeAdm, err := s.admin(cmd.Context(), descSc)
			if err != nil {
				return err
			}
			defer closeAdm()
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			lags, err := adm.Lag(ctx, args[0])
			if err != nil {
				return fmt.Errorf("describe group %s: %w", args[0], err)
			}
			l, ok := lags[args[0]]
			if !ok {
				return fmt.Errorf("consumer group %q not found", args[0])
			}
			if err := l.Error(); err != nil {
				return fmt.Errorf("describe group %s: %w", args[0], err)
			}
			if l.State == "Dead" && len(l.Members) == 0 && len(l.Lag) == 0 {
				return fmt.Errorf("consumer group %q not found: see `affluent kafka group list`", args[0])
			}
			return printGroupDescription(a.printer(cmd), describeGroup(l))
		}),
	}
	descSc.addFlags(a, describe)

	var delSc scope
	del := &cobra.Command{
		Use:               "delete GROUP",
		Short:             "Delete an empty consumer group and its committed offsets",
		Example:           "  affluent kafka group delete billing",
		Args:              exactArgs(1, "GROUP"),
		ValidArgsFunction: a.completeGroups,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			adm, closeAdm, err := s.admin(cmd.Context(), delSc)
			if err != nil {
				return err
			}
			defer closeAdm()
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			resp, err := adm.DeleteGroup(ctx, args[0])
			if err == nil {
				err = resp.Err
			}
			if err != nil {
				return fmt.Errorf("delete group %s: %w", args[0], err)
			}
			return a.printer(cmd).message(deleted(args[0]), "Deleted consumer group %q.", args[0])
		}),
	}
	delSc.addFlags(a, del)

	cmd.AddCommand(list, describe, del)
	return cmd
}

// admin is a Kafka admin client of the scope's cluster.
func (s *session) admin(ctx context.Context, sc scope) (*kadm.Client, func(), error) {
	env, cluster, err := s.cluster(sc.env, sc.cluster)
	if err != nil {
		return nil, nil, err
	}
	cl, err := s.kafkaClient(ctx, env, cluster)
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl.Close, nil
}

func describeGroup(l kadm.DescribedGroupLag) groupDescription {
	d := groupDescription{Group: l.Group, State: l.State, ProtocolType: l.ProtocolType, Protocol: l.Protocol,
		Members: []groupMember{}, Partitions: []partitionLag{}}
	if l.Coordinator.Host != "" {
		d.Coordinator = &groupCoordinate{NodeID: l.Coordinator.NodeID, Host: l.Coordinator.Host, Port: l.Coordinator.Port}
	}
	for _, m := range l.Members {
		gm := groupMember{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost}
		if m.InstanceID != nil {
			gm.InstanceID = *m.InstanceID
		}
		d.Members = append(d.Members, gm)
	}
	for _, pl := range l.Lag.Sorted() {
		p := partitionLag{Topic: pl.Topic, Partition: pl.Partition, CurrentOffset: pl.Commit.At, LogEndOffset: pl.End.Offset, Lag: pl.Lag}
		if pl.Member != nil {
			p.MemberID, p.ClientID, p.Host = pl.Member.MemberID, pl.Member.ClientID, pl.Member.ClientHost
		}
		if p.Lag > 0 {
			d.TotalLag += p.Lag
		}
		d.Partitions = append(d.Partitions, p)
	}
	sort.SliceStable(d.Partitions, func(i, j int) bool {
		if d.Partitions[i].Topic != d.Partitions[j].Topic {
			return d.Partitions[i].Topic < d.Partitions[j].Topic
		}
		return d.Partitions[i].Partition < d.Partitions[j].Partition
	})
	return d
}

func printGroups(p printer, groups []groupSummary) error {
	return p.value(groups, func(w io.Writer) {
		fmt.Fprintln(w, "GROUP\tSTATE\tPROTOCOL TYPE")
		for _, g := range groups {
			fmt.Fprintf(w, "%s\t%s\t%s\n", g.Group, cell(g.State), cell(g.ProtocolType))
		}
	})
}

func printGroupDescription(p printer, d groupDescription) error {
	return p.value(d, func(w io.Writer) {
		fmt.Fprintf(w, "Group\t%s\nState\t%s\nProtocol Type\t%s\nProtocol\t%s\nMembers\t%d\nTotal Lag\t%d\n",
			d.Group, cell(d.State), cell(d.ProtocolType), cell(d.Protocol), len(d.Members), d.TotalLag)
		fmt.Fprintln(w, "\nTOPIC\tPARTITION\tCURRENT OFFSET\tLOG END OFFSET\tLAG\tMEMBER ID\tCLIENT ID\tHOST")
		for _, pl := range d.Partitions {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", pl.Topic, pl.Partition, offsetCell(pl.CurrentOffset),
				offsetCell(pl.LogEndOffset), offsetCell(pl.Lag), cell(pl.MemberID), cell(pl.ClientID), cell(pl.Host))
		}
	})
}

// offsetCell shows unknown offsets (-1) as "-".
func offsetCell(v int64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprint(v)
}

func (a *cliApp) completeGroups(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
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
	adm, closeAdm, err := s.admin(cmd.Context(), scope{env: envFlag, cluster: clusterFlag})
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	defer closeAdm()
	listed, err := adm.ListGroups(cmd.Context())
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	return listed.Groups(), cobra.ShellCompDirectiveNoFileComp
}
