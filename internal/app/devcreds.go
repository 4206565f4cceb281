package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/affluent-io/affluent/controlplane"
	"github.com/affluent-io/affluent/internal/config"
)

// DevCredentialsFile is the name of the file `affluent dev` writes in its
// data directory (CONTRACT.md).
const DevCredentialsFile = "dev-credentials.json"

// DevCredentials is the content of dev-credentials.json.
type DevCredentials struct {
	OrganizationID     string `json:"organization_id"`
	EnvironmentID      string `json:"environment_id"`
	ClusterID          string `json:"cluster_id"`
	BootstrapServers   string `json:"bootstrap_servers"`
	RESTEndpoint       string `json:"rest_endpoint"`
	GRPCEndpoint       string `json:"grpc_endpoint"`
	CloudAPIKey        string `json:"cloud_api_key"`
	CloudAPISecret     string `json:"cloud_api_secret"`
	KafkaAPIKey        string `json:"kafka_api_key"`
	KafkaAPISecret     string `json:"kafka_api_secret"`
	OAuthTokenEndpoint string `json:"oauth_token_endpoint,omitempty"`
	CACertFile         string `json:"ca_cert_file,omitempty"`
}

// bootstrapDev makes sure the dev tenant exists and that the credentials
// file holds working keys. Secrets exist only in that file: when it is lost
// new keys are minted, since the stored hashes cannot give them back.
func bootstrapDev(ctx context.Context, cfg config.Config, cp *controlplane.ControlPlane, p *Process) (*DevCredentials, string, error) {
	path := filepath.Join(cfg.Storage.DataDir, DevCredentialsFile)
	var prev DevCredentials
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, "", err
	default:
		if err := json.Unmarshal(raw, &prev); err != nil {
			return nil, "", fmt.Errorf("%s is not valid JSON (delete it to mint new keys): %w", path, err)
		}
	}
	haveKeys := prev.CloudAPISecret != "" && prev.KafkaAPISecret != ""
	b, err := cp.Bootstrap(ctx, controlplane.BootstrapOptions{NewKeys: !haveKeys})
	if err != nil {
		return nil, "", err
	}
	creds := &DevCredentials{
		OrganizationID:   b.OrganizationID,
		EnvironmentID:    b.EnvironmentID,
		ClusterID:        b.ClusterID,
		BootstrapServers: b.BootstrapServers,
		RESTEndpoint:     "http://" + p.HTTPAddr,
		GRPCEndpoint:     p.GRPCAddr,
		CloudAPIKey:      prev.CloudAPIKey, CloudAPISecret: prev.CloudAPISecret,
		KafkaAPIKey: prev.KafkaAPIKey, KafkaAPISecret: prev.KafkaAPISecret,
		OAuthTokenEndpoint: "http://" + p.HTTPAddr + "/oauth2/token",
		CACertFile:         p.CACertFile,
	}
	if b.KeysCreated {
		creds.CloudAPIKey, creds.CloudAPISecret = b.CloudAPIKey, b.CloudAPISecret
		creds.KafkaAPIKey, creds.KafkaAPISecret = b.KafkaAPIKey, b.KafkaAPISecret
	}
	out, err := json.MarshalIndent(creds, "", "  ")
	if err != nil {
		return nil, "", err
	}
	// Written whole or not at all, readable by its owner only.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(out, '\n'), 0o600); err != nil {
		return nil, "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, "", err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return creds, abs, nil
}
