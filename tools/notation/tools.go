//go:build tools

// Package tools pins the command this module builds: go build github.com/notaryproject/notation/cmd/notation.
package tools

import _ "github.com/notaryproject/notation/cmd/notation"
