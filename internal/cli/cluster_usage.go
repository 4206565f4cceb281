package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/affluent-io/affluent/sdk"
)

var usageColumns = []column[*sdk.UsageBucket]{
	{"Hour", func(b *sdk.UsageBucket) string { return timestamp(b.GetStartTime()) }},
	{"Principal", (*sdk.UsageBucket).GetPrincipal},
	{"Bytes In", func(b *sdk.UsageBucket) string { return itoa(b.GetBytesIn()) }},
	{"Bytes Out", func(b *sdk.UsageBucket) string { return itoa(b.GetBytesOut()) }},
	{"Requests", func(b *sdk.UsageBucket) string { return itoa(b.GetRequests()) }},
	{"Connections", func(b *sdk.UsageBucket) string { return itoa(b.GetConnections()) }},
	{"Partitions", func(b *sdk.UsageBucket) string { return itoa(b.GetPartitions()) }},
	{"Storage (bytes)", func(b *sdk.UsageBucket) string { return itoa(b.GetStorageBytes()) }},
}

// newClusterUsageCommand is `affluent kafka cluster usage`.
func newClusterUsageCommand(a *cliApp) *cobra.Command {
	var sc scope
	var since, until string
	var byPrincipal bool
	cmd := &cobra.Command{
		Use:   "usage [ID]",
		Short: "Show a cluster's hourly usage (the context's cluster by default)",
		Long: `Show the usage of a cluster per hour, as its brokers metered it (a few seconds
behind): record bytes produced and fetched, requests, peak connections,
partitions and stored bytes. --by-principal splits it by principal.`,
		Example: `  affluent kafka cluster usage
  affluent kafka cluster usage lkc-abc123 --start 2026-03-01T00:00:00Z --end 2026-03-02T00:00:00Z
  affluent kafka cluster usage --by-principal -o json`,
		Args:              maxArgs(1, "ID"),
		ValidArgsFunction: a.completeClusters,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			env, id, err := s.cluster(sc.env, firstArg(args))
			if err != nil {
				return err
			}
			r := sdk.UsageRange{ByPrincipal: byPrincipal}
			for _, t := range []struct {
				flag, value string
				dst         *time.Time
			}{{"--start", since, &r.Start}, {"--end", until, &r.End}} {
				if t.value == "" {
					continue
				}
				if *t.dst, err = time.Parse(time.RFC3339, t.value); err != nil {
					return usageError{fmt.Errorf("%s %q: want an RFC 3339 time such as 2026-03-01T00:00:00Z", t.flag, t.value)}
				}
			}
			buckets, err := s.client.ClusterUsage(cmd.Context(), env, id, r)
			if err != nil {
				return err
			}
			return printList(a.printer(cmd), buckets, usageColumns)
		}),
	}
	sc.addEnvFlag(a, cmd)
	cmd.Flags().StringVar(&since, "start", "", "start of the range, RFC 3339 (default: 24 hours before --end)")
	cmd.Flags().StringVar(&until, "end", "", "end of the range, RFC 3339 (default: now)")
	cmd.Flags().BoolVar(&byPrincipal, "by-principal", false, "one row per principal and hour")
	return cmd
}
