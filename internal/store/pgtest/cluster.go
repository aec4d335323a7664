package pgtest

// Cluster is a throwaway PostgreSQL server started outside a test, for
// tools that need a real database for a while, such as the load benchmark
// (go run ./bench). It is the same cluster URL starts for tests: fsync off,
// on a free loopback port, in a temporary directory removed by Stop.
type Cluster struct{ c *cluster }

// StartCluster starts a throwaway cluster from the PostgreSQL binaries in
// PATH or in the newest /usr/lib/postgresql/*/bin. The server dies with the
// calling process if Stop is never called. It preloads
// pg_stat_statements, so that a tool can count the statements run
// (CREATE EXTENSION pg_stat_statements in the database it reads).
func StartCluster() (*Cluster, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	c, err := startCluster(bin, "shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=top")
	if err != nil {
		return nil, err
	}
	return &Cluster{c}, nil
}

// URL is the connection URL of the cluster's maintenance database
// (postgres), as the superuser.
func (c *Cluster) URL() string { return c.c.url }

// Dir is the cluster's temporary directory (data, socket, postgres.log).
func (c *Cluster) Dir() string { return c.c.dir }

// Stop shuts the server down and removes its files.
func (c *Cluster) Stop() error { return c.c.stop() }
