package tiered_test

import (
	"os"
	"testing"

	"github.com/affluent-io/affluent/dataplane/storage/tiered"
	"github.com/affluent-io/affluent/internal/testutil"
)

// TestMain gives the internal tests the shared PostgreSQL and S3 servers of
// internal/testutil, started on first use and stopped at the end. First, it
// lets testutil.StartBrokerProcess re-execute this binary as a broker that
// a test can kill.
func TestMain(m *testing.M) {
	testutil.MaybeServeBrokerProcess()
	tiered.TestPostgresURL = testutil.PostgresURL
	tiered.TestS3URL = testutil.S3URL
	code := testutil.RunWithPostgres(m)
	testutil.StopSharedS3()
	os.Exit(code)
}
