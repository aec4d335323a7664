// Package validate checks flexidp's deployment files offline, in the test
// suite: every Kubernetes manifest in deploy/kubernetes is decoded strictly
// into the official k8s.io/api types (the structs the API server's OpenAPI
// schema is generated from, so a misspelt or misplaced field fails, as it
// would with kubeconform -strict), and the properties a production IdP
// needs are asserted. deploy/docker-compose.yml and the Dockerfile get the
// same treatment.
//
// It is a module of its own so that k8s.io/* stays out of the IdP's
// dependencies. scripts/test.sh runs it: cd deploy/kubernetes/validate && go test ./...
package validate
