//go:build tools

// Package tools pins the Pulumi CLI (with its engine) that scripts/pulumi-toolchain.sh builds from this module with
// `go build github.com/pulumi/pulumi/pkg/v3/cmd/pulumi`. The module also holds our Python language host
// (cmd/pulumi-language-python), built against the same sdk/v3.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
