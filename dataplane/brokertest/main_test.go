package brokertest

import (
	"os"
	"testing"

	"github.com/affluent-io/affluent/internal/testutil"
)

// TestMain lets testutil.StartBrokerProcess re-execute this binary as a
// broker that a test can kill.
func TestMain(m *testing.M) {
	testutil.MaybeServeBrokerProcess()
	os.Exit(m.Run())
}
