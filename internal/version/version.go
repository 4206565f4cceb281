// Package version holds the build's version, set by the linker:
//
//	go build -ldflags "-X github.com/affluent-io/affluent/internal/version.Version=v1.2.3"
package version

import "runtime/debug"

// Version and Commit describe the build; Commit falls back to the VCS
// revision Go embeds when the linker did not set it.
var (
	Version = "dev"
	Commit  = ""
)

func init() {
	if Commit != "" {
		return
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				Commit = s.Value
			}
		}
	}
	if Commit == "" {
		Commit = "unknown"
	}
}
