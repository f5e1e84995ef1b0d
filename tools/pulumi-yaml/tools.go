//go:build tools

// Package tools pins the Pulumi YAML language host that scripts/pulumi-toolchain.sh builds from this module with
// `go build github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml`. It is a module of its own because
// pulumi-yaml v1.25.0 (the newest the proxy serves) does not compile against the CLI's pkg/v3 v3.276.0: it keeps
// the dependency versions pulumi-yaml was released with (pkg/v3 v3.206.0).
package tools

import (
	_ "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml"
)
