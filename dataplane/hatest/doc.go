// Package hatest holds the acceptance tests of a cell of stateless brokers:
// broker processes sharing PostgreSQL and an S3 bucket, crashed with
// SIGKILL and restarted under an idempotent producer and a consumer group,
// and PostgreSQL itself crashed under produce. They check what DESIGN.md
// promises: no acknowledged record lost, none written twice, order kept
// per partition, committed offsets never going back; and a
// consume-transform-produce pipeline of transactional sessions, whose
// output must hold each input record exactly once (txn_test.go).
//
// The default run is sized for CI (about a minute per test on two cores);
// AFFLUENT_LONG_TESTS=1 runs the full load of the issues (2M records for the
// idempotent producer, 1M through the transactional pipeline;
// AFFLUENT_EOS_RECORDS sets the latter).
package hatest
